"""Small verdict helpers the gate's stages run: ``python -m aksara_release.tools <cmd>``.

Why they exist: several tools report problems without failing (pip-audit exits 0 when
it *could not audit* a dependency; detect-secrets ``scan`` always exits 0; an SBOM can
be schema-valid yet miss the runtime dependencies). Each command here turns one such
report into an exit code, so the stage definitions stay plain argv lists that both
executors run unchanged.

Exit codes: 0 the check holds, 1 it does not (one line per problem on stderr), 2 bad
usage or unreadable input (one line, never a traceback).

Stdlib only, except ``sbom-verify`` (cyclonedx-python-lib and packaging, installed in
the SBOM stage).
"""

from __future__ import annotations

import argparse
import email.parser
import hashlib
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aksara_release.judges import JudgeError
from aksara_release.judges.checks import JUDGES, ToolSpec, run_tool, verdict

OK = 0
CHECK_FAILED = 1
USAGE = 2

PROG = "aksara_release.tools"
_MIGRATION_RE = re.compile(r"^(\d+)_(.+)\.sql$")
TAMPER_LINE = "-- tampered by the release gate smoke check\n"


class ToolError(Exception):
    """Bad input: reported as one line with exit code 2."""


def _fail(problems: Sequence[str], what: str) -> int:
    for problem in problems:
        print(f"{PROG}: {what}: {problem}", file=sys.stderr)
    return CHECK_FAILED


def _load_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ToolError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ToolError(f"{path}: cannot read ({exc.__class__.__name__})") from None
    except json.JSONDecodeError as exc:
        raise ToolError(f"{path}: not valid JSON (line {exc.lineno})") from None


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------- expect-exit
def expect_exit(code: int, argv: Sequence[str], match: str | None = None) -> int:
    """Run ``argv``; its stdout passes through; succeed only on exit ``code``.

    Used where the *correct* outcome is a specific failure (a tampered migration must
    make ``aksara status`` exit 5, not 0 and not a crash). With ``match``, the
    command's output (stdout or stderr) must also match that regular expression: for a
    CLI whose exit code alone (1) cannot tell a detected edit from any other error.
    """
    if not argv:
        raise ToolError("expect-exit needs a command after --")
    try:
        pattern = re.compile(match) if match else None
    except re.error as exc:
        raise ToolError(f"--match: not a regular expression ({exc})") from None
    sys.stdout.flush()
    output = ""
    try:
        if pattern is None:
            returncode = subprocess.run(list(argv), check=False).returncode
        else:
            captured = subprocess.run(list(argv), check=False, capture_output=True, text=True,
                                      errors="replace")
            sys.stdout.write(captured.stdout)
            sys.stderr.write(captured.stderr)
            sys.stdout.flush()
            output = captured.stdout + captured.stderr
            returncode = captured.returncode
    except FileNotFoundError:
        raise ToolError(f"command not found: {argv[0]}") from None
    if returncode != code:
        return _fail([f"{argv[0]} exited {returncode}, expected {code}"], "expect-exit")
    if pattern is not None and not pattern.search(output):
        return _fail([f"{argv[0]} exited {code} but its output does not match {match!r}"],
                      "expect-exit")
    print(f"{PROG}: expect-exit: {argv[0]} exited {code} as expected", file=sys.stderr)
    return OK


# --------------------------------------------------------------------------- migrations
def _checksum(data: bytes) -> str:
    """SHA-256 of the file with CRLF/CR normalised to LF (aksara's checksum rule)."""
    return hashlib.sha256(data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")).hexdigest()


def _migration_files(directory: str) -> list[Path]:
    root = Path(directory)
    if not root.is_dir():
        raise ToolError(f"{directory}: not a directory")
    files = [p for p in root.iterdir() if p.is_file() and _MIGRATION_RE.match(p.name)]
    return sorted(files, key=lambda p: int(_MIGRATION_RE.match(p.name).group(1)))  # type: ignore[union-attr]


def smoke_verify(status_json: str, migrations_dir: str) -> int:
    """``aksara status`` says clean, every file is applied, and checksums match.

    The checksum is recomputed here, independently of aksara, so a bug that records
    the wrong checksum cannot vouch for itself.
    """
    report = _load_json(status_json)
    if not isinstance(report, dict) or not isinstance(report.get("migrations"), list):
        raise ToolError(f"{status_json}: not an aksara status document")
    files = _migration_files(migrations_dir)
    if not files:
        raise ToolError(f"{migrations_dir}: no migration files")
    problems: list[str] = []
    if report.get("status") != "clean":
        problems.append(f"status is {report.get('status')!r}, expected 'clean'")
    by_file = {str(m.get("file", "")).rsplit("/", 1)[-1]: m for m in report["migrations"]}
    for path in files:
        entry = by_file.get(path.name)
        if entry is None:
            problems.append(f"{path.name}: not in the status report")
            continue
        if entry.get("state") != "applied":
            problems.append(f"{path.name}: state {entry.get('state')!r}, expected 'applied'")
        expected = _checksum(path.read_bytes())
        if entry.get("checksum") != expected:
            problems.append(f"{path.name}: reported checksum differs from the file's")
        if entry.get("recorded_checksum") != entry.get("checksum"):
            problems.append(f"{path.name}: recorded_checksum != checksum")
    if problems:
        return _fail(problems, "smoke-verify")
    print(f"{PROG}: smoke-verify: {len(files)} migrations applied, checksums verified")
    return OK


def tamper(migrations_dir: str, pattern: str | None = None) -> int:
    """Append a comment to the first migration: an edit after it was applied.

    ``pattern`` (a glob) selects the migration files of a project whose migrations are
    not ``NNNN_name.sql``; the first by name is edited, with a ``#`` comment for Python
    files and a ``--`` comment otherwise.
    """
    if pattern is None:
        files = _migration_files(migrations_dir)
    else:
        root = Path(migrations_dir)
        if not root.is_dir():
            raise ToolError(f"{migrations_dir}: not a directory")
        files = sorted(p for p in root.glob(pattern)
                       if p.is_file() and not p.name.startswith("_"))
    if not files:
        raise ToolError(f"{migrations_dir}: no migration files")
    target = files[0]
    data = target.read_bytes()
    separator = b"" if data.endswith(b"\n") or not data else b"\n"
    line = TAMPER_LINE.replace("--", "#", 1) if target.suffix == ".py" else TAMPER_LINE
    target.write_bytes(data + separator + line.encode())
    print(f"{PROG}: tamper: appended a comment to {target.name}")
    return OK


def expect_applied(status_file: str, migrations_dir: str, pattern: str) -> int:
    """A plain-text status report lists every migration file as applied.

    For a CLI without a JSON status: each file matching ``pattern`` must appear (by
    its stem) on a line of the report that also says ``applied`` and not ``pending``.
    """
    try:
        lines = Path(status_file).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        raise ToolError(f"{status_file}: cannot read") from None
    root = Path(migrations_dir)
    if not root.is_dir():
        raise ToolError(f"{migrations_dir}: not a directory")
    files = sorted(p for p in root.glob(pattern) if p.is_file() and not p.name.startswith("_"))
    if not files:
        raise ToolError(f"{migrations_dir}: no migration files match {pattern!r}")
    problems: list[str] = []
    for path in files:
        token = re.compile(rf"(?<![\w.-]){re.escape(path.stem)}(?![\w.-])")
        rows = [ln for ln in lines if token.search(ln)]
        if not rows:
            problems.append(f"{path.name}: not in the status report")
        elif not any("applied" in ln and "pending" not in ln for ln in rows):
            problems.append(f"{path.name}: not reported as applied")
    if problems:
        return _fail(problems, "expect-applied")
    print(f"{PROG}: expect-applied: {len(files)} migrations reported applied")
    return OK


def write_files(directory: str, payload: str) -> int:
    """Write the files of a JSON object (name -> text) into ``directory``: the smoke
    migrations a ``--config`` file carries from beside itself into the stage."""
    try:
        files = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise ToolError(f"write-files: not valid JSON (line {exc.lineno})") from None
    if not isinstance(files, dict) or not files or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        raise ToolError("write-files: expected a non-empty JSON object of name -> text")
    root = Path(directory)
    for name in files:
        if "/" in name or "\\" in name or name in (".", "..") or not name:
            raise ToolError(f"write-files: {name!r} is not a plain file name")
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    print(f"{PROG}: write-files: {len(files)} files in {directory}")
    return OK


def coverage_json(rcfile: str, output: str) -> int:
    """Combine a test stage's per-process coverage data and write coverage.py's JSON
    report (the ``coverage`` judge reads it). coverage.py's own messages and exit code
    pass through: "No data to combine" is for the judge to call "examined nothing"."""
    cov = (sys.executable, "-m", "coverage")
    for argv in ((*cov, "combine", f"--rcfile={rcfile}", "--quiet"),
                 (*cov, "json", f"--rcfile={rcfile}", "--quiet", "-o", output)):
        sys.stdout.flush()
        done = subprocess.run(argv, check=False)
        if done.returncode != 0:
            return done.returncode
    return OK


# --------------------------------------------------------------------------- audit
def _requirements(path: str) -> dict[str, str]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        raise ToolError(f"{path}: cannot read") from None
    out: dict[str, str] = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name, sep, version = line.partition("==")
        if not sep:
            raise ToolError(f"{path}: {line!r} is not pinned with ==")
        out[canonical_name(name.split("[", 1)[0].strip())] = version.strip()
    return out


def audit_verdict(report_path: str, requirements_path: str) -> int:
    """Fail on any vulnerability, any dependency pip-audit skipped, any one missing.

    pip-audit exits 0 when the vulnerability service is unreachable and merely marks
    the dependencies as skipped: that is "not audited", not "clean".
    """
    report = _load_json(report_path)
    deps = report.get("dependencies") if isinstance(report, dict) else None
    if not isinstance(deps, list):
        raise ToolError(f"{report_path}: not a pip-audit JSON report")
    wanted = _requirements(requirements_path)
    problems: list[str] = []
    seen: set[str] = set()
    for dep in deps:
        name = canonical_name(str(dep.get("name", "")))
        seen.add(name)
        version = dep.get("version", "?")
        if dep.get("skip_reason"):
            problems.append(f"{name} could not be audited: {dep['skip_reason']}")
            continue
        for vuln in dep.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions", [])) or "none"
            problems.append(f"{name}=={version} is vulnerable: {vuln.get('id')} (fixed in {fixes})")
    for name in sorted(set(wanted) - seen):
        problems.append(f"{name}=={wanted[name]} is missing from the audit report")
    if problems:
        return _fail(problems, "audit-verdict")
    print(f"{PROG}: audit-verdict: {len(wanted)} dependencies audited, no known vulnerabilities")
    return OK


# --------------------------------------------------------------------------- secrets
def secrets_sarif(report: dict[str, Any]) -> dict[str, Any]:
    """A SARIF 2.1.0 log of detect-secrets findings (hashed secrets only, never values)."""
    findings = report.get("results", {})
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for filename in sorted(findings):
        for item in findings[filename]:
            kind = str(item.get("type", "Secret"))
            rule_id = re.sub(r"[^A-Za-z0-9]+", "-", kind).strip("-").lower() or "secret"
            rules.setdefault(
                rule_id,
                {
                    "id": rule_id,
                    "name": kind,
                    "shortDescription": {"text": f"{kind} found in the source tree"},
                    "defaultConfiguration": {"level": "error"},
                },
            )
            results.append(
                {
                    "ruleId": rule_id,
                    "level": "error",
                    "message": {"text": f"Possible {kind} (sha1 {item.get('hashed_secret')})"},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": filename},
                                "region": {"startLine": int(item.get("line_number", 1))},
                            }
                        }
                    ],
                }
            )
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "detect-secrets",
                        "version": str(report.get("version", "unknown")),
                        "informationUri": "https://github.com/Yelp/detect-secrets",
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
            }
        ],
    }


def apply_baseline(report: dict[str, Any], baseline_path: str) -> dict[str, Any]:
    """``report`` without the findings a detect-secrets baseline accepts.

    A finding is accepted only when the same file holds the same hashed secret in the
    baseline (the project's reviewed list); a new secret, or a known one moved to
    another file, still fails.
    """
    baseline = _load_json(baseline_path)
    if not isinstance(baseline, dict) or not isinstance(baseline.get("results"), dict):
        raise ToolError(f"{baseline_path}: not a detect-secrets baseline")
    known = {
        (filename, str(item.get("hashed_secret")))
        for filename, items in baseline["results"].items()
        for item in items
        if isinstance(item, dict)
    }
    kept = {
        filename: [i for i in items if (filename, str(i.get("hashed_secret"))) not in known]
        for filename, items in report["results"].items()
    }
    return {**report, "results": {k: v for k, v in kept.items() if v}}


def secrets_verdict(report_path: str, sarif_out: str, baseline: str | None = None) -> int:
    """Write SARIF for the findings (minus a baseline's); fail when there is any."""
    report = _load_json(report_path)
    if not isinstance(report, dict) or not isinstance(report.get("results"), dict):
        raise ToolError(f"{report_path}: not a detect-secrets JSON report")
    if baseline is not None:
        report = apply_baseline(report, baseline)
    sarif = secrets_sarif(report)
    Path(sarif_out).write_text(json.dumps(sarif, indent=2) + "\n", encoding="utf-8")
    results = sarif["runs"][0]["results"]
    if results:
        return _fail(
            [
                f"{r['locations'][0]['physicalLocation']['artifactLocation']['uri']}:"
                f"{r['locations'][0]['physicalLocation']['region']['startLine']}: "
                f"{r['ruleId']}"
                for r in results
            ],
            "secrets-verdict",
        )
    print(f"{PROG}: secrets-verdict: no secrets found")
    return OK


# --------------------------------------------------------------------------- sbom
def wheel_requirements(wheel: str) -> list[str]:
    """Canonical names of the wheel's Requires-Dist that apply here, extras excluded."""
    from packaging.requirements import (  # type: ignore[import-not-found,unused-ignore]
        InvalidRequirement,
        Requirement,
    )

    try:
        with zipfile.ZipFile(wheel) as archive:
            meta_name = next(
                n for n in archive.namelist()
                if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
            )
            metadata = archive.read(meta_name).decode("utf-8")
    except (OSError, zipfile.BadZipFile, StopIteration):
        raise ToolError(f"{wheel}: not a readable wheel") from None
    message = email.parser.Parser().parsestr(metadata, headersonly=True)
    names: list[str] = []
    for line in message.get_all("Requires-Dist") or []:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            raise ToolError(f"{wheel}: invalid Requires-Dist {line!r}") from None
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            names.append(canonical_name(req.name))
    return names


def sbom_verify(sbom_path: str, wheel: str) -> int:
    """Validate the CycloneDX JSON for its own spec version; require every dependency."""
    from cyclonedx.schema import SchemaVersion  # type: ignore[import-not-found,unused-ignore]
    from cyclonedx.validation.json import (  # type: ignore[import-not-found,unused-ignore]
        JsonStrictValidator,
    )

    try:
        text = Path(sbom_path).read_text(encoding="utf-8")
    except OSError:
        raise ToolError(f"{sbom_path}: cannot read") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ToolError(f"{sbom_path}: not valid JSON (line {exc.lineno})") from None
    spec = str(document.get("specVersion", "")) if isinstance(document, dict) else ""
    try:
        version = SchemaVersion.from_version(spec)
    except ValueError:
        raise ToolError(f"{sbom_path}: unsupported CycloneDX specVersion {spec!r}") from None
    problems: list[str] = []
    error = JsonStrictValidator(version).validate_str(text)
    if error is not None:
        problems.append(f"not valid CycloneDX {spec} JSON: {str(error).splitlines()[0][:300]}")
    components = {
        canonical_name(str(c.get("name", "")))
        for c in document.get("components", [])
        if isinstance(c, dict)
    }
    required = wheel_requirements(wheel)
    problems += [f"runtime dependency {name} is not a component" for name in required
                 if name not in components]
    if problems:
        return _fail(problems, "sbom-verify")
    print(
        f"{PROG}: sbom-verify: valid CycloneDX {spec}, {len(components)} components, "
        f"all {len(required)} runtime dependencies present"
    )
    return OK


# --------------------------------------------------------------------------- CLI
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m {PROG}", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("expect-exit", help="run a command, succeed only on an exact exit code")
    p.add_argument("code", type=int)
    p.add_argument("--match", default=None, help="regular expression the output must match")
    p.add_argument("argv", nargs=argparse.REMAINDER)
    p = sub.add_parser("smoke-verify", help="check an `aksara status --format json` report")
    p.add_argument("status_json")
    p.add_argument("migrations_dir")
    p = sub.add_parser("tamper", help="edit the first migration file after it was applied")
    p.add_argument("migrations_dir")
    p.add_argument("--pattern", default=None, help="glob of the migration files")
    p = sub.add_parser("expect-applied", help="a text status report lists every file applied")
    p.add_argument("status_file")
    p.add_argument("migrations_dir")
    p.add_argument("--pattern", required=True, help="glob of the migration files")
    p = sub.add_parser("write-files", help="write a JSON object of name -> text as files")
    p.add_argument("directory")
    p.add_argument("payload")
    p = sub.add_parser("audit-verdict", help="judge a pip-audit JSON report")
    p.add_argument("report")
    p.add_argument("requirements")
    p = sub.add_parser("secrets-verdict", help="judge a detect-secrets report, write SARIF")
    p.add_argument("report")
    p.add_argument("--sarif", required=True)
    p.add_argument("--baseline", default=None, help="detect-secrets baseline of accepted findings")
    p = sub.add_parser("sbom-verify", help="validate a CycloneDX SBOM against the wheel")
    p.add_argument("sbom")
    p.add_argument("--wheel", required=True)
    p = sub.add_parser(
        "run-tool",
        help="run one tool, judge its report and exit code, record checks/<name>.json; "
        "exits 0 (the stage's verdict step fails it) unless --fatal",
    )
    p.add_argument("--name", required=True, help="the check's name (ruff, pytest, ...)")
    p.add_argument("--judge", required=True, choices=JUDGES)
    p.add_argument("--out", required=True, help="the stage's evidence directory")
    p.add_argument("--report", help="the report file the tool writes")
    p.add_argument("--stdout", help="write the tool's stdout to this file")
    p.add_argument("--ok-exit", type=int, action="append", dest="ok_exit",
                   help="an exit code that means success (default 0; repeatable)")
    p.add_argument("--min", type=int, default=1, dest="minimum",
                   help="the least it must examine (files, tests, dependencies...)")
    p.add_argument("--list-files", help="a command listing the files the tool examines")
    p.add_argument("--examined-pattern", help="regex: distinct matches in the output are "
                   "the files examined")
    p.add_argument("--target-python", help="the interpreter of the audited environment")
    p.add_argument("--package", help="the distribution the environment was built for")
    p.add_argument("--schema", help="the JSON schema the report must match")
    p.add_argument("--not-evaluated", action="append", default=[],
                   help="a doctor check id the stage skips (repeatable)")
    p.add_argument("--site", help="the built documentation directory (mkdocs)")
    p.add_argument("--wheel")
    p.add_argument("--sdist")
    p.add_argument("--sarif", help="also write the findings as SARIF here (detect-secrets)")
    p.add_argument("--baseline", help="a detect-secrets baseline of reviewed findings, "
                   "left out of the judgement (detect-secrets)")
    p.add_argument("--root", help="strip this prefix from file URIs in findings")
    p.add_argument("--measure", action="append", default=[],
                   help="an import name whose installed files coverage counts (repeatable)")
    p.add_argument("--floor-lines", type=float, help="least statement coverage, percent")
    p.add_argument("--floor-branches", type=float, help="least branch coverage, percent")
    p.add_argument("--fatal", action="store_true",
                   help="later steps need this tool: on failure write the verdict, exit 1")
    p.add_argument("argv", nargs=argparse.REMAINDER)
    p = sub.add_parser("coverage-json", help="combine a test stage's coverage data and "
                       "write coverage.py's JSON report")
    p.add_argument("--rcfile", required=True, help="the rcfile the gate wrote for the stage")
    p.add_argument("--output", required=True, help="where the JSON report goes")
    p = sub.add_parser("verdict", help="fail the stage if any recorded tool failed; write "
                       "verdict.json")
    p.add_argument("out")
    p.add_argument("--expect", action="append", default=[],
                   help="a check that must have a record (repeatable)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "expect-exit":
            command = list(args.argv)
            if command and command[0] == "--":
                command = command[1:]
            return expect_exit(args.code, command, args.match)
        if args.command == "smoke-verify":
            return smoke_verify(args.status_json, args.migrations_dir)
        if args.command == "tamper":
            return tamper(args.migrations_dir, args.pattern)
        if args.command == "expect-applied":
            return expect_applied(args.status_file, args.migrations_dir, args.pattern)
        if args.command == "write-files":
            return write_files(args.directory, args.payload)
        if args.command == "audit-verdict":
            return audit_verdict(args.report, args.requirements)
        if args.command == "secrets-verdict":
            return secrets_verdict(args.report, args.sarif, args.baseline)
        if args.command == "sbom-verify":
            return sbom_verify(args.sbom, args.wheel)
        if args.command == "run-tool":
            command = list(args.argv)
            if command and command[0] == "--":
                command = command[1:]
            return run_tool(ToolSpec(
                name=args.name, judge=args.judge, argv=command, out=args.out,
                report=args.report, stdout=args.stdout, ok_exit=tuple(args.ok_exit or (0,)),
                minimum=args.minimum, list_files=args.list_files,
                examined_pattern=args.examined_pattern, target_python=args.target_python,
                package=args.package, schema=args.schema,
                not_evaluated=tuple(args.not_evaluated), site=args.site, wheel=args.wheel,
                sdist=args.sdist, sarif=args.sarif, baseline=args.baseline, root=args.root,
                measure=tuple(args.measure), floor_lines=args.floor_lines,
                floor_branches=args.floor_branches,
                fatal=args.fatal,
            ))
        if args.command == "coverage-json":
            return coverage_json(args.rcfile, args.output)
        if args.command == "verdict":
            return verdict(args.out, args.expect)
    except (ToolError, JudgeError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return USAGE
    except ImportError as exc:
        print(f"{PROG}: error: {args.command} needs {exc.name} installed", file=sys.stderr)
        return USAGE
    raise AssertionError(args.command)  # pragma: no cover - argparse enforces choices


if __name__ == "__main__":
    raise SystemExit(main())
