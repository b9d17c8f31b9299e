"""The gate helpers a configured project uses: tamper by glob, expect-exit --match,
expect-applied, write-files, and the pytest plugin that proves tests ran on the wheel.
Each is shown to go red on the fault it exists for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from aksara_release import stages, tools

PY = sys.executable
GATE_ENV = {"PYTHONPATH": stages.GATE_SRC, "PATH": "/usr/bin:/bin"}


def test_tamper_by_glob_edits_the_first_python_migration_with_a_python_comment(tmp_path):
    (tmp_path / "b_0002.py").write_text("X = 2\n")
    (tmp_path / "a_0001.py").write_text("X = 1\n")
    (tmp_path / "__init__.py").write_text("")
    assert tools.main(["tamper", str(tmp_path), "--pattern", "*.py"]) == 0
    assert (tmp_path / "a_0001.py").read_text().endswith("\n# tampered by the release gate "
                                                          "smoke check\n")
    assert (tmp_path / "b_0002.py").read_text() == "X = 2\n"
    assert (tmp_path / "__init__.py").read_text() == ""
    assert tools.main(["tamper", str(tmp_path), "--pattern", "*.sql"]) == 2  # nothing matches


def test_expect_exit_match_needs_both_the_code_and_the_output(capsys):
    say = [PY, "-c", "import sys; print('Migration checksum mismatch'); sys.exit(1)"]
    other = [PY, "-c", "import sys; print('connection refused'); sys.exit(1)"]
    assert tools.main(["expect-exit", "--match", "checksum mismatch", "1", "--", *say]) == 0
    assert tools.main(["expect-exit", "--match", "checksum mismatch", "1", "--", *other]) == 1
    assert "does not match" in capsys.readouterr().err
    assert tools.main(["expect-exit", "--match", "(", "1", "--", *say]) == 2


def test_expect_applied_reads_a_text_status(tmp_path, capsys):
    mig = tmp_path / "m"
    mig.mkdir()
    (mig / "app_0001_init.py").write_text("")
    (mig / "app_0002_more.py").write_text("")
    status = tmp_path / "status.txt"
    status.write_text("app_0001_init   Python  ✓ applied\napp_0002_more   Python  ○ pending\n")
    assert tools.main(["expect-applied", str(status), str(mig), "--pattern", "*.py"]) == 1
    assert "app_0002_more.py: not reported as applied" in capsys.readouterr().err
    status.write_text("app_0001_init  ✓ applied\napp_0002_more  ✓ applied\n")
    assert tools.main(["expect-applied", str(status), str(mig), "--pattern", "*.py"]) == 0
    status.write_text("app_0001_init  ✓ applied\n")
    assert tools.main(["expect-applied", str(status), str(mig), "--pattern", "*.py"]) == 1
    # JSON, one entry a line; a longer name containing the stem does not count.
    status.write_text('{\n "app_0001_init": "applied",\n "app_0002_more": "applied"\n}\n')
    assert tools.main(["expect-applied", str(status), str(mig), "--pattern", "*.py"]) == 0
    status.write_text('{\n "app_0001_init": "applied",\n "app_0002_more_x": "applied"\n}\n')
    assert tools.main(["expect-applied", str(status), str(mig), "--pattern", "*.py"]) == 1


def test_write_files_writes_plain_names_only(tmp_path):
    out = tmp_path / "out"
    assert tools.main(["write-files", str(out), json.dumps({"a.py": "A", "b.sql": "B"})]) == 0
    assert (out / "a.py").read_text() == "A" and (out / "b.sql").read_text() == "B"
    assert tools.main(["write-files", str(tmp_path / "x"), json.dumps({"../evil": "E"})]) == 2
    assert not (tmp_path / "evil").exists() and not (tmp_path / "x").exists()
    assert tools.main(["write-files", str(tmp_path / "y"), "[]"]) == 2


def _pytest(cwd: Path, name: str, *extra: str) -> tuple[int, dict[str, object]]:
    origin = cwd / "origin.json"
    done = subprocess.run(
        [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", stages.ORIGIN_PLUGIN,
         f"--gate-import-name={name}", f"--gate-origin-file={origin}", *extra],
        cwd=cwd, env=GATE_ENV, capture_output=True, text=True, check=False,
    )
    return done.returncode, json.loads(origin.read_text())


def test_origin_plugin_fails_when_the_source_tree_shadows_the_installed_package(tmp_path):
    # A flat source tree named like an installed package (jsonschema is in this env):
    # `python -m pytest` puts the working directory first, so the source wins.
    (tmp_path / "jsonschema").mkdir()
    (tmp_path / "jsonschema" / "__init__.py").write_text("SHADOW = True\n")
    (tmp_path / "test_it.py").write_text("import jsonschema\n\ndef test_x():\n"
                                         "    assert jsonschema\n")
    code, report = _pytest(tmp_path, "jsonschema")
    assert code == 1
    assert report["from_installed_wheel"] is False
    assert report["origin"] == str(tmp_path / "jsonschema" / "__init__.py")


def test_origin_plugin_passes_on_the_installed_package(tmp_path):
    (tmp_path / "test_it.py").write_text("import jsonschema\n\ndef test_x():\n"
                                         "    assert jsonschema\n")
    code, report = _pytest(tmp_path, "jsonschema")
    assert code == 0
    assert report["from_installed_wheel"] is True and report["imported_by_tests"] is True
    assert "site-packages" in str(report["origin"])


def test_secret_baseline_accepts_only_the_same_secret_in_the_same_file(tmp_path, capsys):
    def report(results):
        return {"version": "1.5.0", "results": results}

    finding = {"type": "Secret Keyword", "hashed_secret": "abc", "line_number": 3}
    base = tmp_path / "baseline.json"
    base.write_text(json.dumps(report({"a.py": [finding]})))
    scan = tmp_path / "scan.json"
    sarif = str(tmp_path / "s.sarif")
    scan.write_text(json.dumps(report({"a.py": [finding]})))
    assert tools.main(["secrets-verdict", str(scan), "--sarif", sarif,
                       "--baseline", str(base)]) == 0
    moved = {"b.py": [finding]}
    new = {"a.py": [finding, {**finding, "hashed_secret": "def", "line_number": 9}]}
    for results in (moved, new):
        scan.write_text(json.dumps(report(results)))
        assert tools.main(["secrets-verdict", str(scan), "--sarif", sarif,
                           "--baseline", str(base)]) == 1
    assert tools.main(["secrets-verdict", str(scan), "--sarif", sarif,
                       "--baseline", str(tmp_path / "none.json")]) == 2
    capsys.readouterr()


def test_origin_plugin_enforces_the_configured_minimum_of_tests(tmp_path):
    (tmp_path / "test_it.py").write_text("import jsonschema\n\ndef test_x():\n"
                                         "    assert jsonschema\n")
    code, report = _pytest(tmp_path, "jsonschema", "--gate-min-tests=2")
    assert code == 1 and report["tests_collected"] == 1 and report["min_tests"] == 2
    code, report = _pytest(tmp_path, "jsonschema", "--gate-min-tests=1")
    assert code == 0


def test_secret_scan_judge_honours_the_baseline_the_stage_passes(tmp_path, capsys):
    """The stage runs detect-secrets under ``run-tool --judge detect-secrets``: a reviewed
    finding in the baseline passes, a new one fails, and the SARIF holds only the new one."""
    finding = {"type": "Secret Keyword", "hashed_secret": "abc", "line_number": 3}
    base = tmp_path / "baseline.json"
    base.write_text(json.dumps({"version": "1.5.0", "results": {"a.py": [finding]}}))
    scan = tmp_path / "scan.json"
    out = tmp_path / "out"

    def judged(results):
        scan.write_text(json.dumps({"version": "1.5.0", "results": results}))
        assert tools.main(["run-tool", "--name", "detect-secrets", "--judge", "detect-secrets",
                           "--out", str(out), "--report", str(scan),
                           "--sarif", str(tmp_path / "s.sarif"), "--baseline", str(base),
                           "--", "true"]) == 0
        record = json.loads((out / "checks" / "detect-secrets.json").read_text())
        sarif = json.loads((tmp_path / "s.sarif").read_text())
        return record, sarif["runs"][0]["results"]

    record, results = judged({"a.py": [finding]})
    assert record["status"] == "passed" and results == []
    record, results = judged({"a.py": [finding, {**finding, "hashed_secret": "def",
                                                 "line_number": 9}]})
    assert record["status"] == "failed" and len(results) == 1
    assert results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 9
    capsys.readouterr()
