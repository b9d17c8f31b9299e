"""The release gate's evidence: one result per stage, one summary, one verdict.

Why a module of its own: both executors (the Dagger module and the host runner)
must write the *same* ``summary.json`` (schema: ``summary.schema.json`` next to this
file) and the same ``summary.md`` / ``SHA256SUMS``, and ``verify`` must judge them
the same way. The verdict rule lives here once: the gate passes only when every
required stage *passed*; a skipped or missing stage makes it ``incomplete`` (never a
pass), a failed or errored stage makes it ``fail``.

Stdlib only: the Dagger runtime imports it without the host runner's dependencies.

Layout of an evidence directory (both executors)::

    summary.json  summary.md
    dist/<wheel> dist/<sdist> dist/SHA256SUMS
    stages/<stage>/log.txt  stages/<stage>/result.json  stages/<stage>/<evidence files>
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

#: Bump when summary.json changes incompatibly (the schema file pins this value).
SCHEMA_VERSION = 1
#: ``summary.json``'s ``kind``: lets ``verify`` reject an unrelated JSON file early.
SUMMARY_KIND = "aksara-release-gate-summary"
SCHEMA_FILE = Path(__file__).with_name("summary.schema.json")

StageStatus = Literal["passed", "failed", "skipped", "error", "interrupted"]
Verdict = Literal["pass", "fail", "incomplete"]
#: ``interrupted``: the gate was stopped (SIGINT/SIGTERM) before the stage finished;
#: like a skip it is no finding about the code, and like a skip it never passes.
STAGE_STATUSES: tuple[str, ...] = ("passed", "failed", "skipped", "error", "interrupted")
VERDICTS: tuple[str, ...] = ("pass", "fail", "incomplete")

#: Fixed names inside an evidence directory.
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
DIST_DIR = "dist"
SHA256SUMS = "SHA256SUMS"
STAGES_DIR = "stages"
LOG_FILE = "log.txt"
RESULT_FILE = "result.json"


@dataclass(frozen=True)
class Artifact:
    """A file of the evidence, by its path relative to the evidence root (POSIX)."""

    path: str
    sha256: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Artifact:
        return cls(path=str(data["path"]), sha256=str(data["sha256"]), size=int(data["size"]))


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks (wheels may be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def artifact_from_bytes(path: str, data: bytes) -> Artifact:
    """An :class:`Artifact` for content already in memory (the Dagger executor's case)."""
    return Artifact(path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def artifact_from_file(root: Path, path: Path) -> Artifact:
    """An :class:`Artifact` for ``path`` (absolute, or relative to ``root``)."""
    full = path if path.is_absolute() else root / path
    rel = full.relative_to(root).as_posix()
    return Artifact(path=rel, sha256=sha256_file(full), size=full.stat().st_size)


@dataclass(frozen=True)
class StageResult:
    """What one stage did. ``status`` is one of :data:`STAGE_STATUSES`.

    ``exit_code`` is the failing (or last) command's exit code, ``None`` when nothing
    ran (skipped) or the executor itself broke (error). ``failed_step`` is a short,
    secret-free description of the step that failed. ``artifacts`` are the stage's
    evidence files (``log.txt`` and ``result.json`` excluded: they are written last).
    """

    name: str
    title: str
    status: StageStatus
    exit_code: int | None = None
    duration_s: float = 0.0
    artifacts: tuple[Artifact, ...] = ()
    reason: str | None = None
    failed_step: str | None = None
    started_at: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: Per tool: ran, exit code, counts of what it examined, findings, status (from the
    #: stage's ``verdict.json``; see :func:`apply_verdict`).
    checks: tuple[Mapping[str, Any], ...] = ()
    #: Seconds spent installing (tools and wheel) and running the steps; None when that
    #: part never started. Where a gate's time goes (benchmarks/gate_bench.py reads them).
    install_s: float | None = None
    run_s: float | None = None

    def __post_init__(self) -> None:
        if self.status not in STAGE_STATUSES:
            raise ValueError(f"invalid stage status {self.status!r}")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "exit_code": self.exit_code,
            "duration_s": round(self.duration_s, 3),
            "install_s": None if self.install_s is None else round(self.install_s, 3),
            "run_s": None if self.run_s is None else round(self.run_s, 3),
            "started_at": self.started_at,
            "reason": self.reason,
            "failed_step": self.failed_step,
            "artifacts": [a.to_json() for a in self.artifacts],
        }
        if self.checks:
            data["checks"] = [dict(c) for c in self.checks]
        if self.extra:
            data["extra"] = dict(self.extra)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StageResult:
        return cls(
            name=str(data["name"]),
            title=str(data["title"]),
            status=data["status"],
            exit_code=data.get("exit_code"),
            duration_s=float(data.get("duration_s", 0.0)),
            artifacts=tuple(Artifact.from_json(a) for a in data.get("artifacts", ())),
            reason=data.get("reason"),
            failed_step=data.get("failed_step"),
            started_at=data.get("started_at"),
            extra=dict(data.get("extra", {})),
            checks=tuple(dict(c) for c in data.get("checks", ())),
            install_s=seconds(data.get("install_s")),
            run_s=seconds(data.get("run_s")),
        )


def seconds(value: Any) -> float | None:
    """A recorded duration in seconds (None stays None: that part never started)."""
    return None if value is None else float(value)


#: Written by the stage's ``verdict`` step (``aksara_release.judges.checks``).
VERDICT_FILE = "verdict.json"
CHECKS_DIR = "checks"


def apply_verdict(result: StageResult, stage_dir: Path) -> StageResult:
    """Fold the stage's ``verdict.json`` into its result (both executors call this).

    The per-tool checks and counts go into ``checks``; a failed stage's reason becomes
    the verdict's actionable reason line. Fail-closed: tool records without a verdict,
    or a verdict that failed while the stage passed, fail the stage.
    """
    if result.status not in ("passed", "failed"):
        return result
    path = stage_dir / VERDICT_FILE
    has_checks = (stage_dir / CHECKS_DIR).is_dir()
    if not path.is_file():
        if has_checks and result.status == "passed":
            return replace(result, status="failed",
                           reason="tools recorded checks but no verdict step judged them")
        return result
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        checks = tuple(dict(c) for c in data["checks"])
        passed = bool(data["passed"])
        reason = data.get("reason")
    except (OSError, ValueError, KeyError, TypeError):
        return replace(result, status="failed", reason=f"{VERDICT_FILE} is unreadable")
    result = replace(result, checks=checks)
    if not passed:
        return replace(result, status="failed", reason=str(reason or "a tool failed"))
    return result
def interrupted(name: str, title: str, reason: str) -> StageResult:
    """A stage the gate stopped (or never started) because it was interrupted."""
    return StageResult(name=name, title=title, status="interrupted", reason=reason)


def skipped(name: str, title: str, reason: str) -> StageResult:
    """A stage that did not run (``--only`` / ``--skip`` / a failed dependency)."""
    return StageResult(name=name, title=title, status="skipped", reason=reason)


def compute_verdict(results: Iterable[StageResult], required: Sequence[str]) -> Verdict:
    """``fail`` if anything failed or errored; ``pass`` only if every required stage
    passed; otherwise (skipped, interrupted or missing required stages) ``incomplete``."""
    by_name = {r.name: r for r in results}
    if any(r.status in ("failed", "error") for r in by_name.values()):
        return "fail"
    if all(name in by_name and by_name[name].status == "passed" for name in required):
        return "pass"
    return "incomplete"


def verdict_exit_code(verdict: str) -> int:
    """Exit code of a gate run: 0 pass, 1 fail, 3 incomplete (never 0 with skips)."""
    return {"pass": 0, "fail": 1}.get(verdict, 3)


def now_iso() -> str:
    """UTC timestamp, second precision, ``Z`` suffix."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def build_summary(
    results: Sequence[StageResult],
    *,
    executor: str,
    required: Sequence[str],
    package: str,
    version: str | None,
    dist: Sequence[Artifact] = (),
    started_at: str | None = None,
    finished_at: str | None = None,
    wall_time_s: float | None = None,
    database: str | None = None,
    options: Mapping[str, Any] | None = None,
    environment: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``summary.json`` document (see ``summary.schema.json``).

    ``dist`` are the built distributions (paths ``dist/<file>``); ``database`` is a
    secret-free description of the server used (never a URL with a password).
    """
    counts = {status: 0 for status in STAGE_STATUSES}
    for result in results:
        counts[result.status] += 1
    verdict = compute_verdict(results, required)
    names = {r.name for r in results}
    missing = [name for name in required if name not in names]
    not_passed = [r.name for r in results if r.name in required and r.status != "passed"]
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": sys.platform,
        "machine": platform.machine(),
    }
    env.update(environment or {})
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": SUMMARY_KIND,
        "executor": executor,
        "package": package,
        "version": version,
        "verdict": verdict,
        "exit_code": verdict_exit_code(verdict),
        "started_at": started_at,
        "finished_at": finished_at or now_iso(),
        "wall_time_s": None if wall_time_s is None else round(wall_time_s, 3),
        "stage_time_sum_s": round(sum(r.duration_s for r in results), 3),
        "database": database,
        "options": dict(options or {}),
        "environment": env,
        "required_stages": list(required),
        "missing_stages": missing,
        "not_passed": not_passed,
        "counts": counts,
        "dist": [a.to_json() for a in dist],
        "stages": [r.to_json() for r in results],
    }


def all_artifacts(summary: Mapping[str, Any]) -> list[Artifact]:
    """Every file ``summary.json`` vouches for (dist files and stage evidence)."""
    files = [Artifact.from_json(a) for a in summary.get("dist", ())]
    for stage in summary.get("stages", ()):
        files.extend(Artifact.from_json(a) for a in stage.get("artifacts", ()))
    return files


def render_sha256sums(files: Iterable[Artifact] | Mapping[str, str]) -> str:
    """``sha256sum``-compatible lines (``<hex>  <name>``), sorted by name.

    Accepts :class:`Artifact` objects (their base names are used: ``SHA256SUMS`` sits
    next to the files in ``dist/``) or a mapping of file name to hex digest.
    """
    if isinstance(files, Mapping):
        pairs = [(str(name), str(digest)) for name, digest in files.items()]
    else:
        pairs = [(a.path.rsplit("/", 1)[-1], a.sha256) for a in files]
    return "".join(f"{digest}  {name}\n" for name, digest in sorted(pairs))


def parse_sha256sums(text: str) -> dict[str, str]:
    """Inverse of :func:`render_sha256sums` (``ValueError`` on a malformed line)."""
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name:
            raise ValueError(f"SHA256SUMS line {number} is malformed")
        out[name.lstrip("*")] = digest.lower()
    return out


_ICON = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP", "error": "ERROR",
         "interrupted": "INTERRUPTED"}


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_summary_md(summary: Mapping[str, Any]) -> str:
    """A human-readable ``summary.md`` (also fit for a GitHub job summary)."""
    verdict = str(summary["verdict"])
    headline = {
        "pass": "PASS: every required stage passed",
        "fail": "FAIL: at least one stage failed",
        "incomplete": "INCOMPLETE: not every required stage ran (skipped stages never pass)",
    }.get(verdict, verdict)
    lines = [
        f"# Release gate: {summary.get('package')} {summary.get('version') or ''}".rstrip(),
        "",
        f"**Verdict: {headline}**",
        "",
        f"- Executor: {summary.get('executor')}",
        f"- Started: {summary.get('started_at')}; finished: {summary.get('finished_at')}",
    ]
    if summary.get("wall_time_s") is not None:
        lines.append(
            f"- Wall time: {summary['wall_time_s']:.1f} s "
            f"(sum of stage times {summary.get('stage_time_sum_s', 0):.1f} s)"
        )
    if summary.get("database"):
        lines.append(f"- Database: {summary['database']}")
    options = summary.get("options") or {}
    if options.get("interrupted"):
        lines.append(f"- Interrupted by {options['interrupted']}: unfinished stages did not run")
    if options.get("commit") or options.get("tag"):
        lines.append(
            f"- Source: commit {options.get('commit') or 'unknown'}, "
            f"tag {options.get('tag') or 'none'}"
        )
    lines += [
        "",
        "| Stage | Status | Time (s) | Exit | Notes |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    for stage in summary.get("stages", ()):
        note = stage.get("reason") or ""
        if stage.get("failed_step"):
            note = f"{note} (step: {stage['failed_step']})".strip()
        exit_code = "" if stage.get("exit_code") is None else stage["exit_code"]
        lines.append(
            f"| {_cell(stage['name'])} | {_ICON.get(stage['status'], stage['status'])} "
            f"| {stage.get('duration_s', 0):.1f} | {exit_code} | {_cell(note)} |"
        )
    for name in summary.get("missing_stages", ()):
        lines.append(f"| {_cell(name)} | MISSING | | | required stage has no result |")
    checked = [(stage, check) for stage in summary.get("stages", ())
               for check in stage.get("checks", ())]
    if checked:
        lines += [
            "",
            "## What each stage examined",
            "",
            "| Stage | Tool | Ran | Examined | Findings | Passed |",
            "| --- | --- | --- | --- | ---: | --- |",
        ]
        for stage, check in checked:
            counts = check.get("counts") or {}
            examined = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items()
                                 if k != "findings")
            lines.append(
                f"| {_cell(stage['name'])} | {_cell(check.get('name'))} "
                f"| {'yes' if check.get('ran') else 'no'} | {_cell(examined or '-')} "
                f"| {check.get('findings', 0)} "
                f"| {'yes' if check.get('status') == 'passed' else _cell(check.get('status'))} |"
            )
    if summary.get("dist"):
        lines += ["", "## Distributions", ""]
        lines += [f"- `{a['path']}` sha256 `{a['sha256']}`" for a in summary["dist"]]
    return "\n".join(lines) + "\n"


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Stable, diff-friendly JSON (sorted keys are avoided: field order is meaningful)."""
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


__all__ = [
    "SCHEMA_FILE",
    "SCHEMA_VERSION",
    "STAGE_STATUSES",
    "SUMMARY_KIND",
    "Artifact",
    "StageResult",
    "all_artifacts",
    "apply_verdict",
    "artifact_from_bytes",
    "artifact_from_file",
    "build_summary",
    "compute_verdict",
    "interrupted",
    "parse_sha256sums",
    "render_sha256sums",
    "render_summary_md",
    "sha256_file",
    "skipped",
    "verdict_exit_code",
]
