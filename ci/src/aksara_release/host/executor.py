"""Schedule the stages: dependency order, bounded parallelism, evidence at the end.

``package-build`` is the only producer (``Stage.produces_dist``); every stage that
``needs_dist`` waits for it and is recorded as skipped when it did not pass. Stages
without that dependency start at once. At most ``jobs`` stages run at a time
(default: the CPU count).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path

from aksara_release import config as gate_config
from aksara_release import evidence, stages, versions, wheelenv
from aksara_release.host import snapshot
from aksara_release.host.database import DatabaseServer, database_server
from aksara_release.host.progress import Progress, final_table
from aksara_release.host.runner import (
    DEFAULT_STAGE_TIMEOUT,
    GateInterrupted,
    StageContext,
    kill_active,
    reset_abort,
    run_stage,
    wait_gone,
)

#: Heavier stages first so the long poles start early (names not listed go last).
PRIORITY: tuple[str, ...] = (
    "package-build", "unit-tests", "static-analysis", "docs-build", "sbom", "reproducible-build",
    "dependency-audit", "migration-tests", "security-tests", "diagnostics-tests",
    "fuzz-tests", "doctor", "migration-smoke", "secret-scan", "workflow-lint", "twine-check",
    "wheel-import",
)


def default_run_root(gate_home: Path) -> Path:
    """``/dev/shm`` when it is a roomy tmpfs, else ``<gate home>/runs``.

    Why: fifteen fresh venvs are tens of thousands of small files written once and
    deleted minutes later. On a disk mounted with online discard (common on cloud
    VMs) deleting them alone takes minutes; on tmpfs both directions are cheap. Each
    stage's directory is deleted as soon as the stage ends, so only the running
    stages' venvs occupy memory. ``AKSARA_GATE_RUN_ROOT`` overrides the choice.
    """
    override = os.environ.get("AKSARA_GATE_RUN_ROOT")
    if override:
        return Path(override)
    # Each run gets its own mkdtemp (mode 0700) below this root: no predictable path.
    shm = Path("/dev/shm")  # noqa: S108  # nosec B108
    try:
        stats = os.statvfs(shm)
        if os.access(shm, os.W_OK) and stats.f_bavail * stats.f_frsize > 4 * 1024**3:
            return shm
    except OSError:
        pass
    return gate_home / "runs"


class GateUsageError(Exception):
    """Bad options (unknown stage, unusable evidence directory): exit code 2."""


@dataclass
class GateConfig:
    source: Path
    evidence_dir: Path
    gate_home: Path
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    osv_url: str | None = None
    pip_cache: Path | None = None
    #: uv's cache, shared by every stage (default: ``<gate home>/cache/uv``).
    uv_cache: Path | None = None
    keep_run_dir: bool = False
    #: Where stage venvs and source copies live (default: see :func:`default_run_root`).
    run_root: Path | None = None
    stage_timeout: float = DEFAULT_STAGE_TIMEOUT
    live: bool | None = None
    #: Source commit and release tag recorded in summary.json (default: read from git).
    commit: str | None = None
    tag: str | None = None
    #: A TOML file overlaid on the source's ``[tool.aksara-release]`` (``--config``).
    config_file: Path | None = None


def _git(source: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(source), *args], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def source_revision(source: Path) -> tuple[str | None, str | None]:
    """The commit checked out in ``source`` and a ``v*`` tag pointing at it, if any.

    Provenance for summary.json: a release's evidence names the commit it checked and
    the tag it was built from. Outside a git checkout both are unknown (None).
    """
    commit = _git(source, "rev-parse", "--verify", "HEAD")
    tags = _git(source, "tag", "--points-at", "HEAD", "--list", "v*") if commit else None
    return commit, (sorted(tags.splitlines())[-1] if tags else None)


def select(all_stages: Sequence[stages.Stage], only: Sequence[str], skip: Sequence[str]
           ) -> dict[str, str]:
    """Skip reasons for stages that will not run: not configured (the configuration's
    reason wins), then ``--only`` / ``--skip``."""
    known = {s.name for s in all_stages}
    unknown = [n for n in (*only, *skip) if n not in known]
    if unknown:
        raise GateUsageError(
            f"unknown stage {unknown[0]!r}; known: {', '.join(s.name for s in all_stages)}"
        )
    reasons: dict[str, str] = {}
    for s in all_stages:
        if s.skip_reason is not None:
            reasons[s.name] = s.skip_reason
        elif only and s.name not in only:
            reasons[s.name] = "not selected (--only)"
        elif s.name in skip:
            reasons[s.name] = "skipped with --skip"
    return reasons


def prepare_evidence_dir(path: Path) -> None:
    """Empty a previous evidence directory; refuse to clear anything else."""
    if path.exists():
        if not path.is_dir():
            raise GateUsageError(f"evidence path {path} exists and is not a directory")
        contents = list(path.iterdir())
        if contents and not (path / evidence.SUMMARY_JSON).exists() and not (
            path / evidence.STAGES_DIR
        ).exists():
            raise GateUsageError(
                f"evidence directory {path} is not empty and holds no earlier evidence; "
                "choose another --evidence"
            )
        for item in contents:
            if item.is_dir() and not item.is_symlink():
                shutil.rmtree(item)
            else:
                item.unlink()
    path.mkdir(parents=True, exist_ok=True)


def wheel_version(wheel: Path | None) -> str | None:
    """The version of the built wheel, from its file name (PEP 427:
    ``<name>-<version>-<tags>.whl``): what was checked, whatever the source says."""
    if wheel is None:
        return None
    parts = wheel.name.split("-")
    return parts[1] if len(parts) >= 5 else None


def load_project(source: Path, config_file: Path | None) -> gate_config.ProjectConfig:
    """The checked project's configuration; a bad one is a usage error (exit 2)."""
    try:
        return gate_config.load(source, config_file)
    except gate_config.ConfigError as exc:
        raise GateUsageError(str(exc)) from None


def _find_dist(dist: Path) -> tuple[Path | None, Path | None, str | None]:
    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        found = f"found {len(wheels)} and {len(sdists)}"
        return None, None, f"expected one wheel and one sdist in dist/, {found}"
    if not (dist / wheelenv.FILE).is_file():
        return None, None, f"package-build left no {wheelenv.FILE} in dist/"
    return wheels[0], sdists[0], None


def dist_files(wheel: Path, sdist: Path) -> list[Path]:
    """What a release is traceable to, as ``dist/SHA256SUMS`` lists it: the wheel, the
    sdist and the dependency set resolved for them (``wheel-env.txt``, when present)."""
    env = wheel.parent / wheelenv.FILE
    return [wheel, sdist, *((env,) if env.is_file() else ())]


def _stage_artifacts(out: Path, root: Path) -> tuple[evidence.Artifact, ...]:
    files = [
        p for p in sorted(out.rglob("*"))
        if p.is_file() and p.name not in (evidence.LOG_FILE, evidence.RESULT_FILE)
    ]
    return tuple(evidence.artifact_from_file(root, p) for p in files)


def _finish_stage(result: evidence.StageResult, out: Path, root: Path) -> evidence.StageResult:
    """Write result.json; return the summary's view (log and result files included)."""
    out.mkdir(parents=True, exist_ok=True)
    result = evidence.apply_verdict(result, out)
    if not (out / evidence.LOG_FILE).exists():
        (out / evidence.LOG_FILE).write_text(
            f"# stage {result.name}: {result.status}: {result.reason}\n"
        )
    result = replace(result, artifacts=_stage_artifacts(out, root))
    evidence.write_json(out / evidence.RESULT_FILE, result.to_json())
    extra = tuple(
        evidence.artifact_from_file(root, out / name)
        for name in (evidence.LOG_FILE, evidence.RESULT_FILE)
    )
    return replace(result, artifacts=result.artifacts + extra)


def run_gate(config: GateConfig) -> int:
    """Run the gate; write the evidence; return the exit code (0 pass, 1 fail, 3 incomplete)."""
    if config.jobs < 1:
        raise GateUsageError("--jobs must be at least 1")
    source = config.source.resolve()
    if not (source / "pyproject.toml").is_file():
        raise GateUsageError(f"{source} has no pyproject.toml; pass the repository with --source")
    project = load_project(source, config.config_file)
    try:
        all_stages = stages.build_stages(stages.GateOptions(osv_url=config.osv_url), project)
    except gate_config.ConfigError as exc:
        raise GateUsageError(str(exc)) from None
    skip_reasons = select(all_stages, config.only, config.skip)
    found_commit, found_tag = source_revision(source)
    commit, tag = config.commit or found_commit, config.tag or found_tag
    ev = config.evidence_dir.resolve()
    prepare_evidence_dir(ev)
    runs = config.run_root or default_run_root(config.gate_home)
    runs.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=f"aksara-gate-{time.strftime('%Y%m%dT%H%M%S')}-",
                                    dir=runs))
    pip_cache = (config.pip_cache or config.gate_home / "cache" / "pip").resolve()
    pip_cache.mkdir(parents=True, exist_ok=True)
    uv_cache = (config.uv_cache or config.gate_home / "cache" / "uv").resolve()
    uv_cache.mkdir(parents=True, exist_ok=True)
    dist = ev / evidence.DIST_DIR
    dist.mkdir(parents=True, exist_ok=True)

    started_at = evidence.now_iso()
    t0 = time.monotonic()
    built: dict[str, Path | None] = {"wheel": None, "sdist": None}
    progress = Progress([s.name for s in all_stages], live=config.live)
    snap = run_dir / "snapshot"
    to_run = [s for s in all_stages if s.name not in skip_reasons]
    producer = next((s for s in all_stages if s.produces_dist), None)
    results: dict[str, evidence.StageResult] = {}
    needs_db = any(s.database for s in to_run)
    wheel: Path | None = None
    sdist: Path | None = None
    db_description: str | None = None
    interrupt: KeyboardInterrupt | None = None
    reset_abort()
    try:  # from here on an interrupt still leaves evidence and no run directory behind
        files = snapshot.copy_source(source, snap)
        progress.message(f"release gate: {files} source files snapshotted; evidence -> {ev}")
        for name, reason in skip_reasons.items():
            stage = next(s for s in all_stages if s.name == name)
            results[name] = _finish_stage(
                evidence.skipped(name, stage.title, reason), ev / evidence.STAGES_DIR / name, ev
            )
        with database_server(needs_db) as server:
            db_description = server.description if server else None
            if server:
                progress.message(f"database: {server.description}")
            progress.start()
            try:
                wheel, sdist = _schedule(config, to_run, producer, results, server, snap,
                                         run_dir, ev, dist, (pip_cache, uv_cache), progress,
                                         built)
            except BaseException:
                wait_gone(kill_active())
                raise
    except KeyboardInterrupt as exc:
        # The stages are stopped and the server is down (the context managers above
        # ran): record what did not finish, write the evidence, then re-raise.
        interrupt = exc
        wheel, sdist = built["wheel"], built["sdist"]
    finally:
        progress.stop()
        if not config.keep_run_dir:
            shutil.rmtree(run_dir, ignore_errors=True)

    signame = _signal_name(interrupt) if interrupt is not None else None
    for stage in all_stages:
        if stage.name not in results:
            results[stage.name] = _finish_stage(
                evidence.interrupted(stage.name, stage.title,
                                     f"not run: the gate was interrupted ({signame})"),
                ev / evidence.STAGES_DIR / stage.name, ev,
            )
    wall = time.monotonic() - t0
    ordered = [results[s.name] for s in all_stages]
    dist_artifacts: list[evidence.Artifact] = []
    if wheel and sdist:
        dist_artifacts = [evidence.artifact_from_file(ev, p) for p in dist_files(wheel, sdist)]
        (dist / evidence.SHA256SUMS).write_text(evidence.render_sha256sums(dist_artifacts))
        dist_artifacts.append(evidence.artifact_from_file(ev, dist / evidence.SHA256SUMS))
    summary = evidence.build_summary(
        ordered,
        executor="host",
        required=stages.required_stages(),
        package=project.package or "(unknown)",
        version=wheel_version(wheel),
        dist=dist_artifacts,
        started_at=started_at,
        wall_time_s=wall,
        database=db_description,
        options={
            "only": list(config.only), "skip": list(config.skip), "jobs": config.jobs,
            "osv_url": config.osv_url, "commit": commit, "tag": tag,
            "config": project.origin,
            **({"interrupted": signame} if signame else {}),
        },
        environment={"cpu_count": os.cpu_count(), "tools": dict(versions.TOOLS)},
    )
    evidence.write_json(ev / evidence.SUMMARY_JSON, summary)
    (ev / evidence.SUMMARY_MD).write_text(evidence.render_summary_md(summary), encoding="utf-8")
    print(final_table(ordered, summary["verdict"], wall), flush=True)
    print(f"evidence: {ev}", flush=True)
    if interrupt is not None:
        raise interrupt
    return int(summary["exit_code"])


def _signal_name(exc: KeyboardInterrupt) -> str:
    return exc.signal_name if isinstance(exc, GateInterrupted) else "SIGINT"


def _run_and_clean(ctx: StageContext, keep: bool) -> evidence.StageResult:
    """Run one stage, then free its venv and source copy at once (in the worker)."""
    try:
        return run_stage(ctx)
    finally:
        if not keep:
            shutil.rmtree(ctx.root, ignore_errors=True)


def _schedule(
    config: GateConfig,
    to_run: list[stages.Stage],
    producer: stages.Stage | None,
    results: dict[str, evidence.StageResult],
    server: DatabaseServer | None,
    snap: Path,
    run_dir: Path,
    ev: Path,
    dist: Path,
    caches: tuple[Path, Path],
    progress: Progress,
    built: dict[str, Path | None],
) -> tuple[Path | None, Path | None]:
    """Run ``to_run``; dependents of the build start once it passed. Returns the dists."""
    rank = {name: i for i, name in enumerate(PRIORITY)}
    order = sorted(to_run, key=lambda s: rank.get(s.name, len(PRIORITY)))
    waiting = [s for s in order if s.needs_dist and s is not producer]
    ready = [s for s in order if not (s.needs_dist and s is not producer)]
    running: dict[Future[evidence.StageResult], stages.Stage] = {}

    def submit(pool: ThreadPoolExecutor, stage: stages.Stage) -> None:
        ctx = StageContext(
            stage=stage, root=run_dir / "stages" / stage.name, snapshot=snap,
            out=ev / evidence.STAGES_DIR / stage.name, dist=dist, pip_cache=caches[0],
            uv_cache=caches[1],
            database=server, wheel=built["wheel"], sdist=built["sdist"],
            timeout=config.stage_timeout, on_state=progress.update,
        )
        running[pool.submit(_run_and_clean, ctx, config.keep_run_dir)] = stage

    def record(stage: stages.Stage, result: evidence.StageResult) -> None:
        final = _finish_stage(result, ev / evidence.STAGES_DIR / stage.name, ev)
        results[stage.name] = final
        progress.done(final)

    def release(pool: ThreadPoolExecutor, build: evidence.StageResult | None) -> None:
        """The build finished (or never ran): start or skip everything waiting for it."""
        for dependent in waiting:
            if build is not None and build.status == "passed":
                submit(pool, dependent)
            else:
                why = "was not run" if build is None else build.status
                name = producer.name if producer else "a build"
                record(dependent, evidence.skipped(
                    dependent.name, dependent.title, f"needs {name}, which {why}"))
        waiting.clear()

    with ThreadPoolExecutor(max_workers=config.jobs) as pool:
        try:
            for stage in ready:
                submit(pool, stage)
            if producer is None or producer not in ready:
                release(pool, None)
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    stage = running.pop(future)
                    try:
                        result = future.result()
                    except Exception as exc:  # noqa: BLE001 - an executor bug fails one stage
                        result = evidence.StageResult(
                            name=stage.name, title=stage.title, status="error",
                            reason=f"executor error: {exc.__class__.__name__}",
                        )
                    if stage is producer and result.status == "passed":
                        wheel, sdist, problem = _find_dist(dist)
                        built.update(wheel=wheel, sdist=sdist)
                        if problem:
                            result = replace(result, status="failed", reason=problem)
                    record(stage, result)
                    if stage is producer:
                        release(pool, result)
        except BaseException as exc:
            killed = kill_active()
            pool.shutdown(wait=True, cancel_futures=True)  # queued stages never start
            wait_gone(killed)
            if isinstance(exc, KeyboardInterrupt):
                _record_interrupted(running, record, _signal_name(exc))
            raise
    return built["wheel"], built["sdist"]


def _record_interrupted(
    running: dict[Future[evidence.StageResult], stages.Stage],
    record: Callable[[stages.Stage, evidence.StageResult], None],
    signame: str,
) -> None:
    """Record every stage that was running (now killed) or queued as ``interrupted``."""
    for future, stage in running.items():
        reason = f"interrupted by {signame}"
        if future.cancelled():
            result = evidence.interrupted(stage.name, stage.title, f"not run: {reason}")
        else:
            try:
                got = future.result()
            except Exception as error:  # noqa: BLE001 - the interrupt is what we report
                got = evidence.interrupted(stage.name, stage.title, f"executor error: {error}")
            result = replace(got, status="interrupted", reason=f"{reason}; stopped: killed")
            if got.status == "passed":  # it finished before the signal: keep it
                result = got
        record(stage, result)
    running.clear()
