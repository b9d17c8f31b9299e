"""The report judges (``judges/reports.py``) in-process: real reports where a tool in the
dev environment can write one (ruff's SARIF, mypy's output, pytest's JUnit XML), and
hand-made ones for what no tool can be made to write (truncated files, missing keys,
wrong types, counts that disagree). A fail-closed judge must refuse each of those:
``JudgeError`` (cannot judge) or a problem, never a clean judgement.

Complements ``test_judges.py`` (the same judges through ``run-tool`` in the tools venv,
which coverage cannot see) and ``test_judges_units.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aksara_release.judges import Finding, JudgeError, one_line
from aksara_release.judges.reports import (
    error_line,
    judge_detect_secrets,
    judge_junit,
    judge_mkdocs,
    judge_mypy,
    judge_sarif,
    read_json,
    read_text,
)


def _tool(module: str) -> list[str]:
    """``python -m <module>``: ruff and mypy come with the [dev] extra, which the gate's
    unit-tests stage (running this suite against the wheel) does not install."""
    pytest.importorskip(module, reason=f"{module} comes with the [dev] extra")
    return [sys.executable, "-m", module]


def _write(path: Path, data: Any) -> str:
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


# ----------------------------------------------------------------------------- reading
def test_missing_unreadable_and_truncated_reports_cannot_be_judged(tmp_path: Path) -> None:
    with pytest.raises(JudgeError, match=r"^report gone\.sarif is missing$"):
        read_text(str(tmp_path / "gone.sarif"))
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"caf\xe9 \xff\n")
    with pytest.raises(JudgeError, match=r"^report latin\.txt is unreadable "
                       r"\(UnicodeDecodeError\)$"):
        read_text(str(latin))
    (tmp_path / "a-dir").mkdir()
    with pytest.raises(JudgeError, match=r"^report a-dir is unreadable \(IsADirectoryError\)$"):
        read_text(str(tmp_path / "a-dir"))
    blank = _write(tmp_path / "blank.json", "  \n\n")
    with pytest.raises(JudgeError, match=r"^report blank\.json is empty$"):
        read_json(blank)
    truncated = _write(tmp_path / "cut.json", '{\n  "runs": [\n    {"results": [')
    with pytest.raises(JudgeError, match=r"^report cut\.json is not valid JSON \(line 3\)$"):
        read_json(truncated)


# ----------------------------------------------------------------------------- SARIF
def _ruff_sarif(tree: Path, report: Path) -> None:
    subprocess.run([*_tool("ruff"), "check", "--isolated", "--output-format", "sarif",
                    "--output-file", str(report), "."], cwd=tree, check=False,
                   capture_output=True)


def test_sarif_of_real_ruff_names_rule_and_relative_location(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "clean.py").write_text("VALUE = 1\n")
    report = tmp_path / "ruff.sarif"
    _ruff_sarif(tree, report)
    clean = judge_sarif(str(report), root=str(tree))
    assert clean.findings == [] and clean.problems == []
    # ruff's SARIF lists no artifacts: the files count comes from --list-files instead
    assert clean.counts == {"findings": 0} and clean.examined == "files"

    (tree / "pkg" / "bad.py").write_text("import os\n")
    _ruff_sarif(tree, report)
    bad = judge_sarif(str(report), root=str(tree))
    assert [f.text() for f in bad.findings] == ["F401 pkg/bad.py:1: `os` imported but unused"]
    # without the root the file URI is still decoded to a plain path
    absolute = judge_sarif(str(report))
    assert absolute.findings[0].location == f"{tree}/pkg/bad.py:1"


def _sarif(*runs: dict[str, Any]) -> dict[str, Any]:
    return {"version": "2.1.0", "runs": list(runs)}


def _result(rule: str, uri: str | None, line: int | None = None, **extra: Any
            ) -> dict[str, Any]:
    phys: dict[str, Any] = {}
    if uri is not None:
        phys["artifactLocation"] = {"uri": uri}
    if line is not None:
        phys["region"] = {"startLine": line}
    return {"ruleId": rule, "message": {"text": f"{rule} message\nsecond line"},
            "locations": [{"physicalLocation": phys}], **extra}


@pytest.mark.parametrize(("document", "reason"), [
    ([], "is not a SARIF log with runs"),
    ({"version": "2.1.0"}, "is not a SARIF log with runs"),
    ({"runs": {}}, "is not a SARIF log with runs"),
    ({"runs": []}, "is not a SARIF log with runs"),
    ({"runs": ["not a run"]}, "a run without a results list"),
    ({"runs": [{"results": {"F401": 1}}]}, "a run without a results list"),
    # no results at all: the tool did not analyse (an empty list would mean "clean")
    ({"runs": [{"tool": {"driver": {"name": "ruff"}}}]}, "a run without a results list"),
])
def test_sarif_that_is_not_a_log_with_runs_cannot_be_judged(tmp_path: Path, document: Any,
                                                            reason: str) -> None:
    path = _write(tmp_path / "tool.sarif", document)
    with pytest.raises(JudgeError, match=rf"^report tool\.sarif(: | ){reason}$"):
        judge_sarif(path)


def test_sarif_files_come_from_artifacts_or_bandit_metrics(tmp_path: Path) -> None:
    run = {"results": [], "artifacts": [
        {"location": {"uri": "file:///src/tree/a%20b.py"}}, {"location": {"uri": "b.py"}},
        {"location": {}}, {}]}
    judged = judge_sarif(_write(tmp_path / "a.sarif", _sarif(run)), root="/src/tree/")
    assert judged.counts == {"files": 2, "findings": 0}
    metrics = {"results": [], "properties": {"metrics": {
        "_totals": {"loc": 3}, "src/one.py": {"loc": 1}, "src/two.py": {"loc": 2}}}}
    assert judge_sarif(_write(tmp_path / "m.sarif", _sarif(metrics))).counts["files"] == 2


def test_sarif_suppressed_results_pass_rejected_suppressions_do_not(tmp_path: Path) -> None:
    run = {"results": [
        _result("B101", "a.py", 3, suppressions=[{"kind": "inSource"}]),  # accepted
        _result("B102", "a.py", 4, suppressions=[{"kind": "external",
                                                  "status": "accepted"}]),
        _result("B103", "b.py", 5, suppressions=[{"kind": "external",
                                                  "status": "rejected"}]),
        _result("B104", "c.py", None),  # no region: location without a line
        _result("B105", None, 7),  # no uri: no location
        {"message": {}},  # nothing at all
    ]}
    judged = judge_sarif(_write(tmp_path / "s.sarif", _sarif(run)))
    assert [f.text() for f in judged.findings] == [
        "B103 b.py:5: B103 message", "B104 c.py: B104 message", "B105 B105 message", ""]
    assert judged.counts == {"findings": 4}


def test_sarif_zizmor_logical_path_wins_over_the_input_relative_uri(tmp_path: Path) -> None:
    key = {"Local": {"verbatim_path": ".github/workflows/ci.yml"}}
    result = _result("zizmor/template-injection", "ci.yml", 8)
    result["locations"][0]["logicalLocations"] = [
        {"properties": {"symbolic": {"key": {"Remote": {}}}}},  # not a local path
        {"properties": {"symbolic": {"key": key}}}]
    other = _result("zizmor/other", "other.yml", 2)
    other["locations"][0]["logicalLocations"] = [
        {"properties": {"symbolic": {"key": key}}}]  # names a different file: uri kept
    only_logical = {"ruleId": "zizmor/x", "message": {"text": "m"}, "locations": [
        {"logicalLocations": [{"properties": {"symbolic": {"key": key}}}]}]}
    judged = judge_sarif(_write(tmp_path / "z.sarif",
                                _sarif({"results": [result, other, only_logical]})))
    assert [f.location for f in judged.findings] == [
        ".github/workflows/ci.yml:8", "other.yml:2", ".github/workflows/ci.yml"]


def test_sarif_tool_that_did_not_look_is_a_problem(tmp_path: Path) -> None:
    """bandit on a missing path exits 0 and says so only in a notification."""
    invocation = {"executionSuccessful": False, "toolConfigurationNotifications": [
        {"level": "error", "message": {"text": "no-such-src: No such file or directory"}},
        {"level": "error", "message": {"text": "cannot parse\ndetails"},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": "x.py"},
                                             "region": {"startLine": 2}}}]},
        {"level": "warning", "message": {"text": "only a warning"}},
    ]}
    run = {"results": [], "invocations": [invocation, {"executionSuccessful": True}]}
    judged = judge_sarif(_write(tmp_path / "b.sarif", _sarif(run)))
    assert judged.problems == [
        "the tool reports an unsuccessful execution",
        "tool error: no-such-src: No such file or directory",
        "tool error: x.py:2: cannot parse",
    ]
    assert judged.findings == []


# ----------------------------------------------------------------------------- JUnit
def test_junit_of_a_real_pytest_run(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "test_demo.py").write_text(
        "import pytest\n\ndef test_ok():\n    pass\n\ndef test_bad():\n    assert 1 == 2\n\n"
        "@pytest.fixture\ndef broken():\n    raise RuntimeError('fixture broke')\n\n"
        "def test_error(broken):\n    pass\n\n"
        "@pytest.mark.skip(reason='x')\ndef test_skip():\n    pass\n")
    junit = tmp_path / "junit.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    f"--junitxml={junit}", "-o", "junit_family=xunit2", "test_demo.py"],
                   cwd=tree, check=False, capture_output=True)
    judged = judge_junit(str(junit))
    assert judged.counts == {"tests_collected": 4, "tests_run": 3, "failures": 1, "errors": 1,
                             "skipped": 1}
    assert [(f.rule, f.location) for f in judged.findings] == [
        ("failure", "test_demo.py::test_bad"), ("error", "test_demo.py::test_error")]
    assert "assert 1 == 2" in judged.findings[0].message
    assert "fixture broke" in judged.findings[1].message


def test_junit_single_testsuite_root_and_a_case_without_module(tmp_path: Path) -> None:
    xml = ('<testsuite tests="2" failures="1" errors="0" skipped="0">'
           '<testcase name="lonely"><failure>boom\nmore</failure></testcase>'
           '<testcase classname="pkg.mod" name="quiet"><error/></testcase></testsuite>')
    judged = judge_junit(_write(tmp_path / "j.xml", xml))
    assert judged.counts["tests_run"] == 2
    assert [f.text() for f in judged.findings] == ["failure lonely: boom",
                                                   "error pkg/mod.py::quiet: error"]


def test_junit_counting_failures_it_does_not_list_is_a_problem(tmp_path: Path) -> None:
    """Regression: failures="2" with no failure element was judged clean."""
    xml = ('<testsuites><testsuite tests="5" failures="2" errors="1" skipped="0">'
           '<testcase classname="t" name="a"/></testsuite></testsuites>')
    judged = judge_junit(_write(tmp_path / "junit.xml", xml))
    assert judged.findings == []
    assert judged.problems == ["report junit.xml counts 3 failures and errors but lists none"]


@pytest.mark.parametrize(("xml", "reason"), [
    ("<testsuites><testsuite tests='3'", r"is not valid XML \(.*\)"),
    ("<html><body/></html>", "has no testsuite"),
    ("<testsuites><testsuite tests='three'/></testsuites>", ": non-numeric test counts"),
])
def test_junit_that_cannot_be_judged(tmp_path: Path, xml: str, reason: str) -> None:
    with pytest.raises(JudgeError, match=rf"^report junit\.xml:? ?{reason}$"):
        judge_junit(_write(tmp_path / "junit.xml", xml))


# ----------------------------------------------------------------------------- mypy
def _mypy(tree: Path, out: Path) -> str:
    proc = subprocess.run([*_tool("mypy"), "--no-incremental", "--cache-dir", "/dev/null", "."],
                          cwd=tree, check=False, capture_output=True, text=True)
    out.write_text(proc.stdout)
    return str(out)


def test_mypy_real_output_counts_files_and_errors(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "ok.py").write_text("VALUE: int = 1\n")
    ok = judge_mypy(_mypy(tree, tmp_path / "ok.txt"))
    assert ok.counts == {"files": 1, "findings": 0} and not ok.problems
    (tree / "bad.py").write_text("def f() -> int:\n    return 'x'\n\n\nY: str = 2\n")
    bad = judge_mypy(_mypy(tree, tmp_path / "bad.txt"))
    assert bad.counts == {"files": 2, "findings": 2}
    assert [(f.rule, f.location) for f in bad.findings] == [("return-value", "bad.py:2"),
                                                            ("assignment", "bad.py:5")]


def test_mypy_without_a_summary_or_with_unparsed_errors(tmp_path: Path) -> None:
    crashed = _write(tmp_path / "mypy.txt", "a.py:1: error: x\nINTERNAL ERROR: mypy crashed\n")
    with pytest.raises(JudgeError, match=r"^report mypy\.txt has no mypy summary line: "
                       r"INTERNAL ERROR: mypy crashed$"):
        judge_mypy(crashed)
    # the summary says 3 errors but no error line has the expected shape
    odd = _write(tmp_path / "odd.txt", "a.py: something odd\n"
                 "Found 3 errors in 1 file (checked 4 source files)\n")
    judged = judge_mypy(odd)
    assert judged.problems == ["mypy reports 3 errors but none parsed"]
    assert judged.counts == {"files": 4, "findings": 0}
    # an error without an error code is still a finding
    plain = _write(tmp_path / "plain.txt", "b.py:7:3: error: Name 'x' is not defined\n"
                   "Found 1 error in 1 file (checked 1 source file)\n")
    assert [f.text() for f in judge_mypy(plain).findings] == [
        "error b.py:7: Name 'x' is not defined"]


# ----------------------------------------------------------------------------- mkdocs
def test_mkdocs_without_a_site_examined_no_pages(tmp_path: Path) -> None:
    judged = judge_mkdocs("ERROR   -  Config value 'nav': bad\n", str(tmp_path / "no-site"))
    assert judged.counts == {"pages": 0, "findings": 1}
    assert judged.findings[0] == Finding("ERROR", "", "Config value 'nav': bad")


# ----------------------------------------------------------------------------- error_line
def test_error_line_fallbacks() -> None:
    assert error_line("") is None
    assert error_line("building\nall done\n") == "all done"
    assert error_line("$ error: the prompt is noise\nfile x: No such file\nbye\n") == (
        "file x: No such file")
    # a traceback cut off before its exception line: fall back to the error-like lines
    cut = 'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n'
    assert error_line("Error: before\n" + cut) == "Error: before"
    # the caret line after the message is not quoted input
    caret = ("Traceback (most recent call last):\n  File \"x\", line 1\n"
             "SyntaxError: invalid syntax\n    ^\n")
    assert error_line(caret) == "SyntaxError: invalid syntax"
    assert one_line("  first   line \n second") == "first line" and one_line("   ") == ""


# ----------------------------------------------------------------------------- secrets
def test_detect_secrets_findings_in_file_and_line_order() -> None:
    report = {"version": "1.5.0", "results": {
        "z.py": [{"type": "Secret Keyword", "line_number": 9,
                  "hashed_secret": "h1"}],  # pragma: allowlist secret
        "a.py": [{"type": "AWS Access Key", "line_number": 12,
                  "hashed_secret": "h2"},  # pragma: allowlist secret
                 {"type": "Basic Auth Credentials", "line_number": 3,
                  "hashed_secret": "h3"},  # pragma: allowlist secret
                 {"hashed_secret": "h4"}],  # pragma: allowlist secret
    }}
    judged = judge_detect_secrets(report)
    assert [f.text() for f in judged.findings] == [
        "secret a.py:?: credential-shaped string",
        "Basic Auth Credentials a.py:3: credential-shaped string",
        "AWS Access Key a.py:12: credential-shaped string",
        "Secret Keyword z.py:9: credential-shaped string",
    ]
    assert "h1" not in json.dumps(judged.as_dict())  # hashes are not even echoed
    assert judge_detect_secrets({"results": {}}).counts == {"findings": 0}


@pytest.mark.parametrize("report", [[], {"version": "1"}, {"results": []}])
def test_detect_secrets_report_of_the_wrong_shape(report: Any) -> None:
    with pytest.raises(JudgeError, match=r"^report ds\.json is not a detect-secrets report$"):
        judge_detect_secrets(report, name="ds.json")
