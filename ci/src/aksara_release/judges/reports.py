"""Judges of report files: SARIF, JUnit XML, mypy's summary, mkdocs and build output,
detect-secrets JSON. Stdlib only."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from aksara_release.judges import Finding, JudgeError, Judgement, one_line


def read_text(path: str) -> str:
    """The report's text; missing or empty fails (the tool did not report)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JudgeError(f"report {Path(path).name} is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise JudgeError(f"report {Path(path).name} is unreadable ({exc.__class__.__name__})"
                         ) from None
    if not text.strip():
        raise JudgeError(f"report {Path(path).name} is empty")
    return text


def read_json(path: str) -> Any:
    text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JudgeError(f"report {Path(path).name} is not valid JSON (line {exc.lineno})"
                         ) from None


# ----------------------------------------------------------------------------- SARIF
def _uri(uri: str, root: str | None) -> str:
    if uri.startswith("file://"):
        uri = unquote(urlparse(uri).path)
    if root and uri.startswith(root.rstrip("/") + "/"):
        uri = uri[len(root.rstrip("/")) + 1:]
    return uri


def _sarif_location(result: dict[str, Any], root: str | None) -> str:
    """``file:line`` of a result's first location (zizmor's logical path preferred:
    its physical URI is relative to the input directory)."""
    for loc in result.get("locations") or []:
        phys = loc.get("physicalLocation") or {}
        uri = (phys.get("artifactLocation") or {}).get("uri")
        path = _uri(str(uri), root) if uri else ""
        for logical in loc.get("logicalLocations") or []:
            key = (((logical.get("properties") or {}).get("symbolic") or {}).get("key") or {})
            verbatim = (key.get("Local") or {}).get("verbatim_path")
            if verbatim and (not path or str(verbatim).endswith(path)):
                path = str(verbatim)
        if path:
            line = (phys.get("region") or {}).get("startLine")
            return f"{path}:{line}" if line else path
    return ""


def judge_sarif(path: str, *, root: str | None = None) -> Judgement:
    """Findings are the unsuppressed results of every run; files examined come from the
    run's ``artifacts``, or bandit's per-file ``metrics``, or (when the tool records
    neither) the caller's own count. A tool configuration notification of level
    ``error`` (bandit: "No such file or directory") means the tool did not look."""
    log = read_json(path)
    if not isinstance(log, dict) or not isinstance(log.get("runs"), list) or not log["runs"]:
        raise JudgeError(f"report {Path(path).name} is not a SARIF log with runs")
    judgement = Judgement(examined="files")
    files: set[str] = set()
    for run in log["runs"]:
        # SARIF 2.1.0 (3.14.23): results absent means the tool did not analyse; [] is clean
        if not isinstance(run, dict) or not isinstance(run.get("results"), list):
            raise JudgeError(f"report {Path(path).name}: a run without a results list")
        for artifact in run.get("artifacts") or []:
            uri = (artifact.get("location") or {}).get("uri")
            if uri:
                files.add(_uri(str(uri), root))
        metrics = ((run.get("properties") or {}).get("metrics") or {})
        files.update(name for name in metrics if name != "_totals")
        for invocation in run.get("invocations") or []:
            if invocation.get("executionSuccessful") is False:
                judgement.problems.append("the tool reports an unsuccessful execution")
            for note in invocation.get("toolConfigurationNotifications") or []:
                if note.get("level") == "error":
                    where = _sarif_location(note, root)
                    text = one_line((note.get("message") or {}).get("text", "error"))
                    judgement.problems.append(f"tool error: {where}: {text}" if where
                                              else f"tool error: {text}")
        for result in run["results"]:
            suppressed = [s for s in result.get("suppressions") or []
                          if s.get("status", "accepted") == "accepted"]
            if suppressed:
                continue
            judgement.findings.append(Finding(
                rule=str(result.get("ruleId") or ""),
                location=_sarif_location(result, root),
                message=one_line((result.get("message") or {}).get("text", ""), 160),
            ))
    if files:
        judgement.counts["files"] = len(files)
    judgement.counts["findings"] = len(judgement.findings)
    return judgement


# ----------------------------------------------------------------------------- JUnit
def judge_junit(path: str) -> Judgement:
    """pytest's JUnit XML: tests collected and run, each failure or error a finding."""
    text = read_text(path)
    try:
        # our own pytest run's report, not untrusted XML
        root = ET.fromstring(text)  # noqa: S314  # nosec B314
    except ET.ParseError as exc:
        raise JudgeError(f"report {Path(path).name} is not valid XML ({exc})") from None
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    if not suites:
        raise JudgeError(f"report {Path(path).name} has no testsuite")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    try:
        for suite in suites:
            for key in totals:
                totals[key] += int(suite.get(key, "0"))
    except ValueError:
        raise JudgeError(f"report {Path(path).name}: non-numeric test counts") from None
    judgement = Judgement(
        examined="tests_run",
        counts={
            "tests_collected": totals["tests"],
            "tests_run": totals["tests"] - totals["skipped"],
            "failures": totals["failures"],
            "errors": totals["errors"],
            "skipped": totals["skipped"],
        },
    )
    for case in root.iter("testcase"):
        for kind in ("failure", "error"):
            node = case.find(kind)
            if node is None:
                continue
            module = str(case.get("classname", ""))
            test = str(case.get("name", ""))
            where = module.replace(".", "/") + ".py" if module else ""
            nodeid = f"{where}::{test}" if where else test
            message = one_line(node.get("message") or node.text or kind, 200)
            judgement.findings.append(Finding(rule=kind, location=nodeid, message=message))
    claimed = totals["failures"] + totals["errors"]
    if claimed and not judgement.findings:  # counts that disagree with the test cases
        judgement.problems.append(f"report {Path(path).name} counts {claimed} failures and "
                                  "errors but lists none")
    return judgement


# ----------------------------------------------------------------------------- mypy
_MYPY_SUMMARY = re.compile(
    r"^(?:Success: no issues found in (?P<ok>\d+) source files?"
    r"|Found (?P<errors>\d+) errors? in \d+ files? \(checked (?P<checked>\d+) source files?\))",
    re.M,
)
_MYPY_ERROR = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?:\d+:)? error: (?P<msg>.*?)"
                         r"(?:  \[(?P<code>[a-z0-9-]+)\])?$", re.M)


def judge_mypy(path: str) -> Judgement:
    """mypy's plain output: its summary line gives the files checked; every
    ``file:line: error:`` line is a finding. No summary line: mypy did not finish."""
    text = read_text(path)
    summaries = list(_MYPY_SUMMARY.finditer(text))
    if not summaries:
        raise JudgeError(f"report {Path(path).name} has no mypy summary line: "
                         f"{one_line(text.strip().splitlines()[-1])}")
    match = summaries[-1]
    checked = int(match.group("ok") or match.group("checked"))
    judgement = Judgement(examined="files", counts={"files": checked})
    for err in _MYPY_ERROR.finditer(text):
        judgement.findings.append(Finding(
            rule=err.group("code") or "error", location=f"{err.group('file')}:{err.group('line')}",
            message=one_line(err.group("msg"), 200)))
    if match.group("errors") and not judgement.findings:
        judgement.problems.append(f"mypy reports {match.group('errors')} errors but none parsed")
    judgement.counts["findings"] = len(judgement.findings)
    return judgement


# ----------------------------------------------------------------------------- mkdocs
_MKDOCS_PROBLEM = re.compile(r"^(?P<level>WARNING|ERROR)\s*-\s*(?P<msg>.+)$", re.M)


def judge_mkdocs(output: str, site: str) -> Judgement:
    """Every ``WARNING -`` / ``ERROR -`` line of mkdocs' output is a finding; the pages
    examined are the HTML files of the built site."""
    site_dir = Path(site)
    pages = len(list(site_dir.rglob("*.html"))) if site_dir.is_dir() else 0
    judgement = Judgement(examined="pages", counts={"pages": pages})
    for match in _MKDOCS_PROBLEM.finditer(output):
        judgement.findings.append(Finding(rule=match.group("level"), location="",
                                          message=one_line(match.group("msg"), 240)))
    judgement.counts["findings"] = len(judgement.findings)
    return judgement


# ----------------------------------------------------------------------------- any text
_ERROR_LINE = re.compile(
    r"(?i)(\berror\b|\binvalid\b|exception|failed|not allowed|must be|cannot|no such)")
_NOISE = re.compile(r"^(\$ |#|\s*$|Traceback|\s+File \")")


def error_line(output: str) -> str | None:
    """The most specific error line of a failed command's output.

    A traceback's final line (the exception and its message) wins; otherwise the last
    line that reads like an error; otherwise the last non-empty line."""
    lines = [ln.rstrip() for ln in output.splitlines() if ln.strip()]
    raised: list[str] = []  # the exception line ending each traceback, in order
    for index, line in enumerate(lines):
        if line.startswith("Traceback"):
            rest = lines[index + 1:]
            at = next((i for i, ln in enumerate(rest) if not ln.startswith((" ", "\t"))), None)
            if at is None:
                continue
            text = rest[at]
            # an indented line right after the message quotes the offending input
            quoted = rest[at + 1].strip() if at + 1 < len(rest) else ""
            if quoted and rest[at + 1].startswith((" ", "\t")) and not quoted.startswith(
                    ("File ", "^")):
                text = f"{text}: {quoted}"
            raised.append(text)
    if raised:
        last = raised[-1]
        if ": " not in last and len(raised) > 1:  # a bare re-raise: name its cause too
            return one_line(f"{last} (caused by {raised[-2]})")
        return one_line(last)
    candidates = [ln for ln in lines if _ERROR_LINE.search(ln) and not _NOISE.match(ln)]
    if candidates:
        return one_line(candidates[-1].strip())
    return one_line(lines[-1]) if lines else None


# ----------------------------------------------------------------------------- secrets
def judge_detect_secrets(report: Any, *, name: str = "detect-secrets.json") -> Judgement:
    """Every detect-secrets result is a finding, in file and line order (the reason
    names the first; values are never read, only hashed ids and locations). ``report``
    is the parsed report, already without the findings a reviewed baseline accepts."""
    if not isinstance(report, dict) or not isinstance(report.get("results"), dict):
        raise JudgeError(f"report {name} is not a detect-secrets report")
    judgement = Judgement()
    for filename in sorted(report["results"]):
        items = sorted(report["results"][filename], key=lambda i: int(i.get("line_number", 0)))
        for item in items:
            judgement.findings.append(Finding(
                rule=str(item.get("type", "secret")),
                location=f"{filename}:{item.get('line_number', '?')}",
                message="credential-shaped string"))
    judgement.counts["findings"] = len(judgement.findings)
    return judgement


__all__ = [
    "error_line",
    "judge_detect_secrets",
    "judge_junit",
    "judge_mkdocs",
    "judge_mypy",
    "judge_sarif",
    "read_json",
    "read_text",
]
