"""A project that is not Aksara is gated end to end by its configuration alone.

``tests/fixtures/tally_project`` has another name (tally-ledger), a flat layout
(``tally/`` at the root, no ``ci/``) and a CLI of its own (``tally migrate|status
--dir``, exit 4 on a changed applied file). The real host gate builds it, imports the
wheel, runs its tests against the installed wheel and runs the migration smoke check
with its own commands, all from ``[tool.aksara-release]``; the stages it does not
configure are skipped with the reason. A second run overlays ``layout = "src"``: the
source tree then shadows the wheel and the test stage must fail saying so.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from aksara_release.host.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "tally_project"
ONLY = "package-build,wheel-import,unit-tests,migration-smoke"

pytestmark = [pytest.mark.db]


def _gate(tmp_path: Path, *extra: str) -> tuple[int, Path]:
    source = tmp_path / "tally_project"
    shutil.copytree(FIXTURE, source)
    assert not (source / "ci").exists()  # the gate brings its own code
    evidence = tmp_path / "evidence"
    cache = REPO / ".gate" / "cache" / "pip"
    code = cli_main([
        "run", "--source", str(source), "--evidence", str(evidence), "--jobs", "2",
        "--only", ONLY, *(("--pip-cache", str(cache)) if cache.is_dir() else ()), *extra,
    ])
    return code, evidence


def _results(evidence: Path) -> dict[str, dict[str, object]]:
    summary = json.loads((evidence / "summary.json").read_text())
    return {"summary": summary, **{s["name"]: s for s in summary["stages"]}}


def test_the_fixture_project_is_gated_by_configuration_alone(tmp_path) -> None:
    code, evidence = _gate(tmp_path)
    results = _results(evidence)
    summary = results["summary"]
    for name in ONLY.split(","):
        assert results[name]["status"] == "passed", (name, results[name].get("reason"))
    assert code == 3 and summary["verdict"] == "incomplete"  # not every stage ran
    assert summary["package"] == "tally-ledger"
    assert summary["version"] == "1.2.3"  # from the built wheel
    assert results["docs-build"]["reason"] == (
        "not configured in pyproject.toml: the fixture has no documentation")
    assert results["sbom"]["reason"] == "not configured in pyproject.toml"
    origin = json.loads((evidence / "stages" / "unit-tests" / "import-origin.json").read_text())
    assert origin["from_installed_wheel"] is True and origin["imported_by_tests"] is True
    assert origin["tests_collected"] == 2 and origin["min_tests"] == 2
    smoke = evidence / "stages" / "migration-smoke"
    assert json.loads((smoke / "migration-status.json").read_text()) == {
        "0001_open": "applied", "0002_credit": "applied"}
    assert "ledger mismatch" in (smoke / "log.txt").read_text()


def test_a_source_tree_shadowing_the_wheel_fails_the_test_stage(tmp_path) -> None:
    overlay = tmp_path / "src-layout.toml"
    overlay.write_text('layout = "src"\n')  # wrong for this project: cwd shadows the wheel
    code, evidence = _gate(tmp_path, "--config", str(overlay))
    results = _results(evidence)
    assert code == 1
    assert results["unit-tests"]["status"] == "failed"
    origin = json.loads((evidence / "stages" / "unit-tests" / "import-origin.json").read_text())
    assert origin["from_installed_wheel"] is False
    assert origin["origin"].endswith("/src/tally/__init__.py")
    assert "not from the installed wheel" in (
        evidence / "stages" / "unit-tests" / "log.txt").read_text()
