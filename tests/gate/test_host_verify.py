"""``gate.py verify``: an intact passing bundle verifies; every kind of tampering does not."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from aksara_release import stages
from aksara_release.host import executor
from aksara_release.host.cli import main as cli_main
from aksara_release.host.progress import Progress
from aksara_release.host.verify import verify
from aksara_release.stages import Step


def _stage(name: str, *steps: Step, **kw: object) -> stages.Stage:
    return stages.Stage(name=name, title=name.title(), proves="t", steps=steps, **kw)  # type: ignore[arg-type]


BUILD = _stage("package-build", Step((
    "python", "-c", "import pathlib; d=pathlib.Path('{dist}'); "
    "(d/'aksara_framework-0.8.0-py3-none-any.whl').write_bytes(b'w'); "
    "(d/'aksara_framework-0.8.0.tar.gz').write_bytes(b's')")))


def _install(monkeypatch: pytest.MonkeyPatch, defs: tuple[stages.Stage, ...]) -> None:
    monkeypatch.setattr(stages, "build_stages", lambda options=None, config=None: defs)


@pytest.fixture()
def bundle(monkeypatch, tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "src" / "aksara").mkdir(parents=True)
    (repo / "pyproject.toml").write_text("[project]\nname='x'\n")
    (repo / "src" / "aksara" / "__init__.py").write_text('__version__ = "0.8.0"\n')
    scan = _stage("secret-scan", Step(("python", "-c", "print('{}')"), stdout="{out}/r.json"))
    twine = _stage("twine-check", Step(("python", "-c", "pass", "{wheel}")))
    _install(monkeypatch, (BUILD, twine, scan))
    config = executor.GateConfig(source=repo, evidence_dir=tmp_path / "ev",
                                 gate_home=tmp_path / "home", live=False)
    assert executor.run_gate(config) == 0
    ev = tmp_path / "ev"
    assert verify(ev) == []
    return ev


def test_verify_cli_accepts_an_intact_bundle(bundle: Path, capsys) -> None:
    assert cli_main(["verify", str(bundle)]) == 0
    assert "OK" in capsys.readouterr().out


def test_modified_artifact_is_caught(bundle: Path) -> None:
    wheel = next((bundle / "dist").glob("*.whl"))
    wheel.write_bytes(b"swapped")
    assert any("SHA-256 mismatch" in p and wheel.name in p for p in verify(bundle))


def test_modified_stage_evidence_is_caught(bundle: Path) -> None:
    (bundle / "stages" / "secret-scan" / "r.json").write_text('{"results": {}}\n')
    assert any("stages/secret-scan/r.json" in p for p in verify(bundle))


def test_unlisted_file_is_caught(bundle: Path) -> None:
    (bundle / "dist" / "extra-1.0-py3-none-any.whl").write_bytes(b"x")
    assert any("not listed" in p for p in verify(bundle))


def test_sha256sums_disagreeing_is_caught(bundle: Path) -> None:
    sums = bundle / "dist" / "SHA256SUMS"
    sums.write_text(sums.read_text().replace("a", "b", 1))
    problems = verify(bundle)
    assert any("SHA256SUMS" in p for p in problems)


def test_summary_md_out_of_sync_is_caught(bundle: Path) -> None:
    (bundle / "summary.md").write_text("# all good, trust me\n")
    assert "summary.md: does not match summary.json" in verify(bundle)


def test_schema_violation_is_caught(bundle: Path) -> None:
    path = bundle / "summary.json"
    data = json.loads(path.read_text())
    data["verdict"] = "great"
    path.write_text(json.dumps(data))
    assert any(p.startswith("summary.json schema: verdict") for p in verify(bundle))


def test_forged_pass_over_a_failed_stage_is_caught(bundle: Path) -> None:
    path = bundle / "summary.json"
    data = json.loads(path.read_text())
    data["stages"][1]["status"] = "failed"
    path.write_text(json.dumps(data, indent=2) + "\n")
    problems = verify(bundle)
    assert any("required stage twine-check: failed" in p for p in problems)


def test_not_an_evidence_directory(tmp_path: Path, capsys) -> None:
    assert cli_main(["verify", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "summary.json: missing" in err and "Traceback" not in err


def test_live_progress_redraws_in_place_and_plain_mode_prints_lines() -> None:
    live = io.StringIO()
    board = Progress(["a", "b"], stream=live, live=True)
    board.update("a", "installing")
    board._draw()
    board._draw()
    text = live.getvalue()
    assert "\x1b[3F" in text and "installing" in text and "waiting" in text
    plain = io.StringIO()
    board = Progress(["a"], stream=plain, live=False)
    board.update("a", "step 1/2")
    assert "a: step 1/2" in plain.getvalue() and "\x1b" not in plain.getvalue()
