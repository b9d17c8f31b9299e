"""``run-tool`` and ``verdict``: run every tool of a stage, judge each, fail at the end.

Why inside the gate's own helpers: both executors (host runner, Dagger module) stay
dumb, running steps in order and stopping at the first failing one. Each tool step
is ``run-tool``, which runs the tool, judges its report *and* its exit code, records
the outcome in ``{out}/checks/<name>.json`` and exits 0 (so the next tool still runs);
with ``--fatal`` (a step the later ones depend on, such as installing the environment
they describe) a failure writes the verdict at once and exits 1, stopping the stage.
The stage's last step is ``verdict``, which reads every record, writes
``{out}/verdict.json`` (schema: ``verdict.schema.json``) with the counts and the one
actionable reason line, and exits 1 when any tool failed. ``evidence.py`` copies
``verdict.json`` into ``result.json`` for both executors.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aksara_release.judges import JudgeError, Judgement, one_line
from aksara_release.judges import reports as rep

CHECKS_DIR = "checks"
VERDICT_FILE = "verdict.json"
VERDICT_KIND = "aksara-release-gate-verdict"
VERDICT_SCHEMA_VERSION = 1
#: Findings kept per check record (the count is always exact).
KEEP_FINDINGS = 20
JUDGES = ("sarif", "junit", "mypy", "mkdocs", "pip-audit", "cyclonedx", "doctor",
          "detect-secrets", "readme", "coverage", "install", "exit")
#: Judges that read files only and need no tool command.
STANDALONE = frozenset({"readme"})
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


@dataclass
class ToolSpec:
    """One ``run-tool`` invocation (its command-line options)."""

    name: str
    judge: str
    argv: Sequence[str]
    out: str
    report: str | None = None
    stdout: str | None = None
    ok_exit: tuple[int, ...] = (0,)
    minimum: int = 1
    list_files: str | None = None
    examined_pattern: str | None = None
    target_python: str | None = None
    package: str | None = None
    schema: str | None = None
    not_evaluated: tuple[str, ...] = ()
    site: str | None = None
    wheel: str | None = None
    sdist: str | None = None
    sarif: str | None = None
    baseline: str | None = None
    root: str | None = None
    #: coverage: the import names measured and the floors (percent) they must reach.
    measure: tuple[str, ...] = ()
    floor_lines: float | None = None
    floor_branches: float | None = None
    #: Later steps depend on this tool: when it fails, write the verdict now and exit 1.
    fatal: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _run(argv: Sequence[str], stdout: str | None) -> tuple[int | None, str, str | None]:
    """Run the tool; relay its output to our stderr (the stage log) and return
    (exit code or None when it could not start, its output, why it could not start)."""
    if not argv:
        return None, "", "no command given after --"
    sys.stderr.flush()
    chunks: list[str] = []
    try:
        with ExitStack() as stack:
            handle = None
            if stdout is not None:
                Path(stdout).parent.mkdir(parents=True, exist_ok=True)
                handle = stack.enter_context(open(stdout, "wb"))
            # With a redirected stdout, the log is stderr; otherwise both, interleaved.
            proc = subprocess.Popen(
                list(argv),
                stdout=handle if handle is not None else subprocess.PIPE,
                stderr=subprocess.PIPE if handle is not None else subprocess.STDOUT,
            )
            stream = proc.stderr if handle is not None else proc.stdout
            assert stream is not None
            for raw in iter(stream.readline, b""):
                text = raw.decode("utf-8", "replace")
                chunks.append(text)
                sys.stderr.write(text)
            code = proc.wait()
    except FileNotFoundError:
        return None, "", f"command not found: {argv[0]}"
    except PermissionError:
        return None, "", f"command not executable: {argv[0]}"
    sys.stderr.flush()
    return code, "".join(chunks), None


def _count_listed(command: str) -> tuple[int | None, str | None]:
    """Lines a file-listing command prints (e.g. ``ruff check --show-files .``)."""
    try:
        proc = subprocess.run(shlex.split(command), capture_output=True, text=True, check=False)
    except OSError as exc:
        return None, f"cannot run {command!r}: {exc.__class__.__name__}"
    if proc.returncode != 0:
        return None, f"{command!r} exited {proc.returncode}: {one_line(proc.stderr)}"
    return sum(1 for line in proc.stdout.splitlines() if line.strip()), None


def judge(spec: ToolSpec, output: str) -> Judgement:
    """The judgement of ``spec``'s report (JudgeError when it cannot be judged)."""
    def need(value: str | None, option: str) -> str:
        if value is None:
            raise JudgeError(f"judge {spec.judge} needs {option}")
        return value

    kind = spec.judge
    if kind == "sarif":
        return rep.judge_sarif(need(spec.report, "--report"), root=spec.root)
    if kind == "junit":
        return rep.judge_junit(need(spec.report, "--report"))
    if kind == "mypy":
        return rep.judge_mypy(need(spec.report, "--report"))
    if kind == "mkdocs":
        return rep.judge_mkdocs(output, need(spec.site, "--site"))
    if kind == "detect-secrets":
        from aksara_release.tools import ToolError, apply_baseline, secrets_sarif

        found = rep.read_json(need(spec.report, "--report"))
        if spec.baseline is not None and isinstance(found, dict):
            try:
                found = apply_baseline(found, spec.baseline)
            except ToolError as exc:  # an unreadable baseline: judged, not a crash
                raise JudgeError(f"baseline {exc}") from None
        judgement = rep.judge_detect_secrets(found, name=Path(spec.report or "").name)
        if spec.sarif:
            sarif = secrets_sarif(found)
            Path(spec.sarif).write_text(json.dumps(sarif, indent=2) + "\n", encoding="utf-8")
        return judgement
    if kind in ("pip-audit", "cyclonedx"):
        from aksara_release.judges import environment as env

        fn = env.judge_pip_audit if kind == "pip-audit" else env.judge_cyclonedx
        return fn(need(spec.report, "--report"),
                  target_python=need(spec.target_python, "--target-python"),
                  package=need(spec.package, "--package"))
    if kind == "install":
        from aksara_release.judges.environment import judge_install

        return judge_install(output, spec.report)
    if kind == "doctor":
        from aksara_release.judges.doctor import judge_doctor

        return judge_doctor(need(spec.report, "--report"), schema=need(spec.schema, "--schema"),
                            not_evaluated=spec.not_evaluated)
    if kind == "readme":
        from aksara_release.judges.metadata import judge_readme

        return judge_readme(need(spec.wheel, "--wheel"), need(spec.sdist, "--sdist"))
    if kind == "coverage":
        from aksara_release.judges.coverage import judge_coverage

        return judge_coverage(need(spec.report, "--report"), output, packages=spec.measure,
                              lines=spec.floor_lines, branches=spec.floor_branches)
    return Judgement()  # "exit": the exit code is the only signal


def record(spec: ToolSpec) -> dict[str, Any]:
    """Run and judge one tool; the check record (also written to ``checks/``)."""
    code: int | None
    not_started: str | None
    Path(spec.out).mkdir(parents=True, exist_ok=True)
    if not spec.argv and spec.judge in STANDALONE:
        code, output, not_started = 0, "", None  # nothing to run: the judge reads files
    else:
        code, output, not_started = _run(spec.argv, spec.stdout)
    problems: list[str] = []
    judgement = Judgement()
    if not_started:
        problems.append(not_started)
    else:
        try:
            judgement = judge(spec, output)
        except JudgeError as exc:
            problems.append(str(exc))
        except ImportError as exc:
            problems.append(f"judge {spec.judge} needs {exc.name} installed")
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # Right top level, wrong inner types (a string where a result object belongs):
            # the report cannot be trusted. A check record, not a traceback, so the
            # stage's remaining tools still run and its verdict names this one.
            report = Path(spec.report).name if spec.report else "output"
            problems.append(f"judge {spec.judge}: report {report} has an unexpected shape "
                            f"({exc.__class__.__name__}: {one_line(exc, 120)})")
        if spec.list_files:
            listed, why = _count_listed(spec.list_files)
            if why:
                problems.append(why)
            elif listed is not None and "files" not in judgement.counts:
                judgement.counts["files"] = listed
            judgement.examined = judgement.examined or "files"
        if spec.examined_pattern:
            matches = set(re.findall(spec.examined_pattern, output, flags=re.M))
            judgement.counts.setdefault("files", len(matches))
            judgement.examined = judgement.examined or "files"
    problems += judgement.problems
    examined = judgement.counts.get(judgement.examined) if judgement.examined else None
    if not_started is None and judgement.examined and not problems:
        if examined is None:
            problems.append(f"the report does not say how many {judgement.examined} it examined")
        elif examined < spec.minimum:
            problems.append(f"examined {examined} {judgement.examined.replace('_', ' ')} "
                            f"(minimum {spec.minimum})")
    exit_ok = code in spec.ok_exit
    passed = not problems and not judgement.findings and exit_ok
    status = "passed" if passed else ("error" if problems and not judgement.findings
                                      else "failed")
    result: dict[str, Any] = {
        "name": spec.name,
        "judge": spec.judge,
        "command": Path(spec.argv[0]).name if spec.argv else None,
        "ran": not_started is None,
        "exit_code": code,
        "ok_exit_codes": list(spec.ok_exit),
        "report": None if spec.report is None else Path(spec.report).name,
        "status": status,
        "counts": dict(judgement.counts),
        "examined": judgement.examined,
        "minimum": spec.minimum if judgement.examined else None,
        "findings": len(judgement.findings),
        "first_findings": [f.to_json() for f in judgement.findings[:KEEP_FINDINGS]],
        "problems": problems,
        "reason": None,
    }
    if judgement.percent:
        result["percent"] = dict(judgement.percent)
    if not passed:
        result["reason"] = _tool_reason(spec.name, code, exit_ok, judgement, problems, output)
    return result


def _tool_reason(name: str, code: int | None, exit_ok: bool, judgement: Judgement,
                 problems: list[str], output: str) -> str:
    """One actionable line: the first finding or problem, then "and N more"."""
    items = [*problems, *(f.text() for f in judgement.findings)]
    if items:
        more = len(items) - 1
        text = f"{name}: {items[0]}" + (f", and {more} more" if more else "")
        if not exit_ok and code is not None and not judgement.findings:
            line = rep.error_line(output)
            text += f" (exit {code}: {line})" if line else f" (exit {code})"
        return text
    line = rep.error_line(output)
    return f"{name} exited {code}" + (f": {line}" if line else "")


def write_record(out: str, data: dict[str, Any]) -> Path:
    directory = Path(out) / CHECKS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    data["order"] = len(list(directory.glob("*.json")))
    path = directory / f"{data['name']}.json"
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def run_tool(spec: ToolSpec) -> int:
    if not _NAME.match(spec.name):
        raise JudgeError(f"invalid check name {spec.name!r}")
    data = record(spec)
    write_record(spec.out, data)
    counts = ", ".join(f"{k} {v}" for k, v in data["counts"].items())
    print(f"aksara_release.tools: run-tool: {spec.name}: {data['status']}"
          + (f" ({counts})" if counts else "")
          + (f": {data['reason']}" if data["reason"] else ""), file=sys.stderr)
    if spec.fatal and data["status"] != "passed":
        # What follows needs this tool's result (an environment it installs): judging
        # the rest would only repeat its failure. The verdict is this record's.
        verdict(spec.out, ())
        return 1
    return 0


def build_verdict(out: str, expect: Sequence[str]) -> dict[str, Any]:
    """The stage's verdict from its check records (missing expected tools fail)."""
    directory = Path(out) / CHECKS_DIR
    checks: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            checks.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            checks.append({"name": path.stem, "status": "error", "ran": False,
                           "reason": f"{path.stem}: check record unreadable"})
    checks.sort(key=lambda c: int(c.get("order", 0)))
    names = [str(c.get("name")) for c in checks]
    missing = [name for name in expect if name not in names]
    failed = [c for c in checks if c.get("status") != "passed"]
    reasons = [str(c.get("reason") or f"{c.get('name')} {c.get('status')}") for c in failed]
    reasons += [f"{name}: did not run (no check record)" for name in missing]
    if not checks and not expect:
        reasons.append("no tool ran (no check records)")
    reason = None
    if reasons:
        others = [str(c.get("name")) for c in failed[1:]] + missing[(0 if failed else 1):]
        reason = reasons[0] + (f"; also failed: {', '.join(others)}" if others else "")
    summary = [
        {k: c.get(k) for k in ("name", "ran", "exit_code", "status", "counts", "examined",
                                "minimum", "findings", "reason")}
        for c in checks
    ]
    for entry, check in zip(summary, checks, strict=True):
        if check.get("percent"):
            entry["percent"] = check["percent"]
    return {
        "kind": VERDICT_KIND,
        "schema_version": VERDICT_SCHEMA_VERSION,
        "passed": not reasons,
        "reason": reason,
        "checks": summary,
    }


def verdict(out: str, expect: Sequence[str]) -> int:
    data = build_verdict(out, expect)
    (Path(out) / VERDICT_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if data["passed"]:
        print(f"aksara_release.tools: verdict: {len(data['checks'])} checks passed",
              file=sys.stderr)
        return 0
    print(f"aksara_release.tools: verdict: {data['reason']}", file=sys.stderr)
    return 1


__all__ = ["CHECKS_DIR", "JUDGES", "VERDICT_FILE", "ToolSpec", "build_verdict", "judge",
           "record", "run_tool", "verdict"]
