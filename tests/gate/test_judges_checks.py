"""``run-tool`` and ``verdict`` (``judges/checks.py``) in-process, with real commands.

Every way a tool step can go wrong must end in a check record whose status says
which: ``failed`` (the tool found something) or ``error`` (it could not look, or its
report cannot be trusted), with the one reason line the stage reports. ``run-tool``
itself exits 0 whatever the tool did, so the stage's next tool still runs; only
``verdict`` fails the stage.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from aksara_release.judges import JudgeError
from aksara_release.judges.checks import (
    ToolSpec,
    build_verdict,
    judge,
    record,
    run_tool,
    verdict,
    write_record,
)

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable
DOCTOR_SCHEMA = str(REPO / "src" / "aksara" / "doctor" / "report.schema.json")


def _tool(module: str) -> list[str]:
    """``python -m <module>``: ruff and mypy come with the [dev] extra, which the gate's
    unit-tests stage (running this suite against the wheel) does not install."""
    pytest.importorskip(module, reason=f"{module} comes with the [dev] extra")
    return [sys.executable, "-m", module]


def _py(code: str) -> list[str]:
    return [PY, "-c", code]


def _spec(tmp_path: Path, name: str, judge_name: str, argv: list[str], **kw: Any) -> ToolSpec:
    return ToolSpec(name=name, judge=judge_name, argv=argv, out=str(tmp_path / "out"), **kw)


# ----------------------------------------------------------------------------- not started
def test_a_tool_that_cannot_start_is_an_error_not_a_failure(tmp_path: Path) -> None:
    none = record(_spec(tmp_path, "empty", "exit", []))
    assert (none["status"], none["ran"], none["reason"]) == (
        "error", False, "empty: no command given after --")
    missing = record(_spec(tmp_path, "ghost", "exit", ["no-such-tool-xyz", "--flag"]))
    assert missing["reason"] == "ghost: command not found: no-such-tool-xyz"
    assert missing["exit_code"] is None and missing["command"] == "no-such-tool-xyz"
    script = tmp_path / "not-executable.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)  # no execute bit: even root cannot exec it
    denied = record(_spec(tmp_path, "denied", "exit", [str(script)]))
    assert denied["status"] == "error"
    assert denied["reason"] == f"denied: command not executable: {script}"


# ----------------------------------------------------------------------------- exit judge
def test_exit_judge_relays_output_and_names_the_error_line(tmp_path: Path,
                                                           capfd: pytest.CaptureFixture[str]
                                                           ) -> None:
    ok = record(_spec(tmp_path, "ok", "exit", _py("print('fine')")))
    assert ok["status"] == "passed" and ok["reason"] is None and ok["examined"] is None
    bad = record(_spec(tmp_path, "bad", "exit", _py(
        "import sys; print('step one'); print('error: planted', file=sys.stderr); "
        "sys.exit(4)")))
    assert (bad["status"], bad["exit_code"]) == ("failed", 4)
    assert bad["reason"] == "bad exited 4: error: planted"
    silent = record(_spec(tmp_path, "silent", "exit", _py("raise SystemExit(2)")))
    assert silent["reason"] == "silent exited 2"
    assert "error: planted" in capfd.readouterr().err  # the tool's output is the stage log
    tolerated = record(_spec(tmp_path, "tolerated", "exit", _py("raise SystemExit(1)"),
                             ok_exit=(0, 1)))
    assert tolerated["status"] == "passed"


# ----------------------------------------------------------------------------- dispatch
@pytest.mark.parametrize(("kind", "option"), [
    ("sarif", "--report"), ("junit", "--report"), ("mypy", "--report"),
    ("mkdocs", "--site"), ("detect-secrets", "--report"), ("doctor", "--report"),
    ("readme", "--wheel"), ("pip-audit", "--report"), ("cyclonedx", "--report"),
])
def test_a_judge_without_its_option_cannot_judge(tmp_path: Path, kind: str,
                                                 option: str) -> None:
    with pytest.raises(JudgeError, match=rf"^judge {kind} needs {option}$"):
        judge(_spec(tmp_path, "x", kind, ["true"]), "")


def test_doctor_needs_its_schema_and_pip_audit_its_target(tmp_path: Path) -> None:
    report = str(tmp_path / "r.json")
    with pytest.raises(JudgeError, match=r"^judge doctor needs --schema$"):
        judge(_spec(tmp_path, "x", "doctor", ["true"], report=report), "")
    with pytest.raises(JudgeError, match=r"^judge pip-audit needs --target-python$"):
        judge(_spec(tmp_path, "x", "pip-audit", ["true"], report=report), "")
    with pytest.raises(JudgeError, match=r"^judge cyclonedx needs --package$"):
        judge(_spec(tmp_path, "x", "cyclonedx", ["true"], report=report,
                    target_python=PY), "")


def test_a_judge_whose_library_is_missing_is_an_error(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cyclonedx", None)  # as in a stage without it
    monkeypatch.setitem(sys.modules, "cyclonedx.schema", None)
    rec = record(_spec(tmp_path, "cyclonedx", "cyclonedx", ["true"],
                       report=str(tmp_path / "sbom.json"), target_python=PY, package="demo"))
    assert rec["status"] == "error"
    assert rec["reason"] == "cyclonedx: judge cyclonedx needs cyclonedx.schema installed"


def test_missing_report_is_an_error_even_when_the_tool_exits_0(tmp_path: Path) -> None:
    rec = record(_spec(tmp_path, "bandit", "sarif", ["true"],
                       report=str(tmp_path / "bandit.sarif")))
    assert rec["status"] == "error" and rec["ran"] and rec["exit_code"] == 0
    assert rec["reason"] == "bandit: report bandit.sarif is missing"


def test_problem_and_failed_exit_name_the_exit_line(tmp_path: Path) -> None:
    rec = record(_spec(tmp_path, "mypy", "mypy", _py(
        "import sys; print('mypy: error: cannot read file \"x\"'); sys.exit(2)"),
        report=str(tmp_path / "mypy.txt")))
    assert rec["reason"] == ("mypy: report mypy.txt is missing (exit 2: mypy: error: cannot "
                             "read file \"x\")")
    quiet = record(_spec(tmp_path, "quiet", "mypy", _py("raise SystemExit(2)"),
                         report=str(tmp_path / "mypy.txt")))
    assert quiet["reason"] == "quiet: report mypy.txt is missing (exit 2)"


# ----------------------------------------------------------------------------- real tools
def test_ruff_with_listed_files_and_a_finding(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.py").write_text("VALUE = 1\n")
    ruff = _tool("ruff")
    sarif = tmp_path / "ruff.sarif"
    argv = [*ruff, "check", "--isolated", "--output-format", "sarif", "--output-file",
            str(sarif), str(tree)]
    spec = _spec(tmp_path, "ruff", "sarif", argv, report=str(sarif), root=str(tree),
                 list_files=f"{' '.join(ruff)} check --isolated --show-files {tree}")
    ok = record(spec)
    assert ok["status"] == "passed" and ok["counts"] == {"findings": 0, "files": 1}
    (tree / "b.py").write_text("import os\n")
    bad = record(spec)
    assert bad["status"] == "failed" and bad["counts"]["files"] == 2
    assert bad["reason"] == "ruff: F401 b.py:1: `os` imported but unused"
    assert bad["first_findings"] == [{"rule": "F401", "location": "b.py:1",
                                      "message": "`os` imported but unused"}]
    # three files, the minimum four: it looked at too little
    (tree / "c.py").write_text("C = 3\n")
    (tree / "b.py").write_text("B = 2\n")
    spec.minimum = 4
    short = record(spec)
    assert short["status"] == "error"
    assert short["reason"] == "ruff: examined 3 files (minimum 4)"


def test_a_file_listing_command_that_fails_is_an_error(tmp_path: Path) -> None:
    sarif = tmp_path / "empty.sarif"
    sarif.write_text(json.dumps({"runs": [{"results": []}]}))
    broken = record(_spec(tmp_path, "lister", "sarif", ["true"], report=str(sarif),
                          list_files=f"{PY} -c \"import sys; sys.exit('no config found')\""))
    assert broken["status"] == "error"
    assert broken["reason"].startswith("lister: ") and "exited 1: no config found" in (
        broken["reason"])
    absent = record(_spec(tmp_path, "absent", "sarif", ["true"], report=str(sarif),
                          list_files="no-such-lister-xyz --show-files"))
    assert absent["reason"] == ("absent: cannot run 'no-such-lister-xyz --show-files': "
                                "FileNotFoundError")
    # no artifacts, no metrics, no listing: the count is unknown, which is not zero
    unknown = record(_spec(tmp_path, "unknown", "sarif", ["true"], report=str(sarif)))
    assert unknown["reason"] == "unknown: the report does not say how many files it examined"


def test_mypy_report_written_from_the_tools_stdout(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "bad.py").write_text("def f() -> int:\n    return 'x'\n")
    report = tmp_path / "nested" / "dir" / "mypy.txt"
    rec = record(_spec(tmp_path, "mypy", "mypy",
                       [*_tool("mypy"), "--no-incremental", "--cache-dir", "/dev/null",
                        str(tree / "bad.py")], report=str(report), stdout=str(report)))
    assert rec["status"] == "failed" and rec["exit_code"] == 1
    assert rec["counts"] == {"files": 1, "findings": 1}
    assert rec["reason"].startswith(f"mypy: return-value {tree}/bad.py:2: Incompatible return")
    assert "Found 1 error" in report.read_text()  # stdout went to the report, not the log


def test_examined_pattern_counts_distinct_files_of_the_output(tmp_path: Path) -> None:
    code = ("print('completed a.yml'); print('completed b.yml'); print('completed a.yml'); "
            "print('summary: done')")
    rec = record(_spec(tmp_path, "zizmor", "exit", _py(code),
                       examined_pattern=r"^completed (\S+)$", minimum=2))
    assert rec["status"] == "passed" and rec["counts"] == {"files": 2}
    none = record(_spec(tmp_path, "zizmor2", "exit", _py("print('nothing to do')"),
                        examined_pattern=r"^completed (\S+)$"))
    assert none["reason"] == "zizmor2: examined 0 files (minimum 1)"


def test_mkdocs_junit_and_readme_through_run_tool(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "sub").mkdir(parents=True)
    (site / "index.html").write_text("<html/>")
    (site / "sub" / "page.html").write_text("<html/>")
    docs = record(_spec(tmp_path, "mkdocs", "mkdocs", _py(
        "print('INFO    -  Building'); print('WARNING -  A reference to gone.md')"),
        site=str(site)))
    assert docs["counts"] == {"pages": 2, "findings": 1}
    assert docs["reason"] == "mkdocs: WARNING A reference to gone.md"
    junit = tmp_path / "junit.xml"
    junit.write_text('<testsuites><testsuite tests="3" skipped="3"/></testsuites>')
    skipped = record(_spec(tmp_path, "pytest", "junit", ["true"], report=str(junit)))
    assert skipped["reason"] == "pytest: examined 0 tests run (minimum 1)"
    readme = record(_spec(tmp_path, "readme", "readme", [], wheel=str(tmp_path / "w.whl"),
                          sdist=str(tmp_path / "s.tar.gz")))
    assert readme["ran"] and readme["command"] is None and readme["status"] == "error"
    assert readme["reason"].startswith("readme: ") and "not a readable sdist" in (
        readme["reason"])


# ----------------------------------------------------------------------------- secrets
def _secrets_report(tmp_path: Path) -> Path:
    report = tmp_path / "detect-secrets.json"
    report.write_text(json.dumps({"version": "1.5.0", "results": {
        "app/settings.py": [{"type": "Secret Keyword", "line_number": 4, "is_verified": False,
                             "hashed_secret": "aaa"}],  # pragma: allowlist secret
        "docs/example.md": [{"type": "Basic Auth Credentials", "line_number": 9,
                             "hashed_secret": "bbb"}],  # pragma: allowlist secret
    }}))
    return report


def test_detect_secrets_with_baseline_and_sarif(tmp_path: Path) -> None:
    report = _secrets_report(tmp_path)
    baseline = tmp_path / ".secrets.baseline"
    baseline.write_text(json.dumps({"results": {"docs/example.md": [
        {"type": "Basic Auth Credentials", "line_number": 9,
         "hashed_secret": "bbb"}]}}))  # pragma: allowlist secret
    sarif = tmp_path / "secrets.sarif"
    rec = record(_spec(tmp_path, "detect-secrets", "detect-secrets", ["true"],
                       report=str(report), baseline=str(baseline), sarif=str(sarif)))
    assert rec["status"] == "failed" and rec["findings"] == 1
    assert rec["reason"] == ("detect-secrets: Secret Keyword app/settings.py:4: "
                             "credential-shaped string")
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["secret-keyword"]
    baseline.write_text(json.dumps({"results": {
        "app/settings.py": [{"hashed_secret": "aaa"}],  # pragma: allowlist secret
        "docs/example.md": [{"hashed_secret": "bbb"}]}}))  # pragma: allowlist secret
    clean = record(_spec(tmp_path, "detect-secrets", "detect-secrets", ["true"],
                         report=str(report), baseline=str(baseline)))
    assert clean["status"] == "passed" and clean["counts"] == {"findings": 0}


@pytest.mark.parametrize(("text", "why"), [
    (None, "no such file"),
    ("{not json", "not valid JSON (line 1)"),
    ('{"results": []}', "not a detect-secrets baseline"),
])
def test_a_broken_baseline_is_an_error_record_not_a_crash(tmp_path: Path, text: str | None,
                                                          why: str) -> None:
    """Regression: an unreadable baseline raised ToolError out of ``run-tool``, which
    then exited 2 without a check record, so the stage's next tools never ran."""
    baseline = tmp_path / "baseline.json"
    if text is not None:
        baseline.write_text(text)
    spec = _spec(tmp_path, "detect-secrets", "detect-secrets", ["true"],
                 report=str(_secrets_report(tmp_path)), baseline=str(baseline))
    assert run_tool(spec) == 0
    rec = json.loads((tmp_path / "out" / "checks" / "detect-secrets.json").read_text())
    assert rec["status"] == "error"
    assert rec["reason"] == f"detect-secrets: baseline {baseline}: {why}"


# ----------------------------------------------------------------------------- bad shapes
@pytest.mark.parametrize(("kind", "document"), [
    ("sarif", {"runs": [{"results": ["F401 in a.py"]}]}),
    ("sarif", {"runs": [{"results": [], "artifacts": ["a.py"]}]}),
    ("sarif", {"runs": [{"results": [], "invocations": [None]}]}),
    ("sarif", {"runs": [{"results": [{"ruleId": "X", "message": "text"}]}]}),
    ("detect-secrets", {"results": {"a.py": ["hash"]}}),
    ("detect-secrets", {"results": {"a.py": None}}),
    ("detect-secrets", {"results": {"a.py": [{"line_number": "four"}]}}),
])
def test_a_report_of_unexpected_shape_is_an_error_record_not_a_crash(
        tmp_path: Path, kind: str, document: Any) -> None:
    """Regression: a report with the right top level but wrong inner types crashed
    ``run-tool`` with a traceback (AttributeError, TypeError, ValueError): no check
    record, and the stage's remaining tools did not run."""
    report = tmp_path / "report.json"
    report.write_text(json.dumps(document))
    spec = _spec(tmp_path, "tool", kind, ["true"], report=str(report))
    assert run_tool(spec) == 0
    rec = json.loads((tmp_path / "out" / "checks" / "tool.json").read_text())
    assert rec["status"] == "error" and rec["findings"] == 0
    assert rec["reason"].startswith(f"tool: judge {kind}: report report.json has an "
                                    "unexpected shape ("), rec["reason"]


# ----------------------------------------------------------------------------- records
def test_run_tool_writes_numbered_records_and_refuses_bad_names(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(JudgeError, match=r"^invalid check name 'Bad Name'$"):
        run_tool(_spec(tmp_path, "Bad Name", "exit", ["true"]))
    assert not (tmp_path / "out" / "checks").exists()
    assert run_tool(_spec(tmp_path, "first", "exit", ["true"])) == 0
    assert run_tool(_spec(tmp_path, "second", "exit", ["false"])) == 0
    err = capsys.readouterr().err
    assert "run-tool: first: passed\n" in err and "run-tool: second: failed: second exited 1" in err
    checks = tmp_path / "out" / "checks"
    assert [json.loads((checks / f"{n}.json").read_text())["order"]
            for n in ("first", "second")] == [0, 1]


def test_verdict_passes_only_when_every_expected_tool_passed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    run_tool(_spec(tmp_path, "one", "exit", ["true"]))
    run_tool(_spec(tmp_path, "two", "exit", ["true"]))
    assert verdict(str(out), ["one", "two"]) == 0
    assert "verdict: 2 checks passed" in capsys.readouterr().err
    written = json.loads((out / "verdict.json").read_text())
    assert written["passed"] and written["reason"] is None and len(written["checks"]) == 2
    # only a missing tool: the reason names it, nothing else failed
    assert build_verdict(str(out), ["one", "two", "three"])["reason"] == (
        "three: did not run (no check record)")
    # a record nobody can read fails the stage under its own name
    (out / "checks" / "two.json").write_text('{"name": "two", "status": "pa')
    data = build_verdict(str(out), ["one", "two"])
    assert not data["passed"]
    assert data["reason"] == "two: check record unreadable"
    assert verdict(str(out), ["one", "two", "four"]) == 1
    assert "verdict: two: check record unreadable; also failed: four" in capsys.readouterr().err


def test_write_record_creates_the_checks_directory(tmp_path: Path) -> None:
    path = write_record(str(tmp_path / "fresh"), {"name": "x", "status": "passed"})
    assert path == tmp_path / "fresh" / "checks" / "x.json"
    assert json.loads(path.read_text()) == {"name": "x", "status": "passed", "order": 0}
    assert os.access(path, os.R_OK)


def test_the_reports_own_file_count_wins_over_the_listing(tmp_path: Path) -> None:
    sarif = tmp_path / "bandit.sarif"
    sarif.write_text(json.dumps({"runs": [{"results": [], "artifacts": [
        {"location": {"uri": "src/a.py"}}]}]}))
    lister = f"{PY} -c \"print('src/a.py'); print('src/b.py'); print('src/c.py')\""
    rec = record(_spec(tmp_path, "bandit", "sarif", ["true"], report=str(sarif),
                       list_files=lister, minimum=2))
    # what the tool says it examined, not what it could have: 1 file, below the minimum
    assert rec["counts"] == {"files": 1, "findings": 0}
    assert rec["reason"] == "bandit: examined 1 files (minimum 2)"


def test_run_tool_cli_records_a_malformed_report_and_exits_0(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The command the stages run: a malformed report must not stop the stage's other
    tools (exit 0, a record with the reason; the verdict then fails the stage)."""
    from aksara_release import tools

    report = tmp_path / "pip-audit.json"
    report.write_text(json.dumps({"dependencies": ["demo-mid==1.0"]}))
    out = tmp_path / "out"
    code = tools.main(["run-tool", "--out", str(out), "--name", "pip-audit", "--judge",
                       "pip-audit", "--report", str(report), "--target-python", PY,
                       "--package", "pytest", "--", "true"])
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err
    assert "run-tool: pip-audit: error: pip-audit: judge pip-audit: report pip-audit.json " \
           "has an unexpected shape (AttributeError: " in err
    assert tools.main(["verdict", str(out), "--expect", "pip-audit"]) == 1
