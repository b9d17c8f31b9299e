"""Run one rendered stage: fresh venv, tools, wheel, then the steps, in order.

Installs run the stage's uv commands with the pinned uv (a directory holding only it
is on ``PATH``) and uv's cache shared between stages and runs; a download that does not
match its lock's hash fails the stage with a reason naming the distribution. The
hash-locked tool set is installed from uv's cache alone when it holds every pinned file
(``--offline``, no index traffic), else from the index (the Dagger executor gets the same
effect from the engine's layer cache). The time
spent installing and running the steps goes into the result (``install_s``, ``run_s``).

The first failing command stops the stage. Output goes to ``log.txt`` with every
secret value (generated secrets, the database password) replaced by ``***``; a
secret found in an evidence file fails the stage (and is scrubbed there too).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from aksara_release import evidence, locks, procfs
from aksara_release import scrub as scrub_rule
from aksara_release.host import venvs
from aksara_release.host.database import DatabaseServer
from aksara_release.stages import GATE_SRC, Paths, RenderedStage, Stage, Step

MASK = scrub_rule.MASK
#: Processes of running steps, so an interrupted gate can stop them all.
_ACTIVE: set[subprocess.Popen[bytes]] = set()
_ACTIVE_LOCK = threading.Lock()
#: Set once the gate is interrupted: no new step starts, a step that just started is killed.
_ABORT = threading.Event()


class GateInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM reached the gate: stop the stages, write evidence, exit 128+signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _killpg(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def reset_abort() -> None:
    """A new gate run starts: forget an earlier run's interrupt (same process, tests)."""
    _ABORT.clear()


def kill_active() -> set[int]:
    """Kill every running step's process group and start no new one (interrupted).

    Returns the process groups it signalled, for :func:`wait_gone`: SIGKILL is queued,
    not instantaneous, so a step's grandchild can still be on its way out on return.
    """
    _ABORT.set()
    with _ACTIVE_LOCK:
        procs = list(_ACTIVE)
    for proc in procs:
        _killpg(proc)
    return {proc.pid for proc in procs}


def wait_gone(pgids: set[int], timeout: float = 10.0) -> None:
    """Return once no member of ``pgids`` is running (at most ``timeout`` seconds).

    Why: a gate that reports its stages stopped must not exit while one of their
    processes still runs.
    """
    deadline = time.monotonic() + timeout
    while pgids and time.monotonic() < deadline:
        pgids = procfs.running_groups(pgids)
        if pgids:
            time.sleep(0.05)


#: A stage that runs longer than this is killed and fails (a hang must not stall CI).
DEFAULT_STAGE_TIMEOUT = 1500.0


@dataclass
class StageContext:
    """Host locations and shared settings for one stage run."""

    stage: Stage
    root: Path  # the stage's private directory in the run directory
    snapshot: Path  # the source snapshot the stage's own copy is made from
    out: Path  # the stage's evidence directory
    dist: Path
    pip_cache: Path
    database: DatabaseServer | None
    wheel: Path | None = None
    sdist: Path | None = None
    timeout: float = DEFAULT_STAGE_TIMEOUT
    on_state: Callable[[str, str], None] = lambda name, state: None
    extra_secrets: tuple[str, ...] = field(default_factory=tuple)
    #: uv's cache, shared by every stage and run (default: ``uv`` beside ``pip_cache``).
    uv_cache: Path | None = None
    #: ``{gate}``: the directory holding the gate's package (its hash locks included).
    gate: str = GATE_SRC
    #: Install the hash-locked tools from uv's cache alone first (``--offline``), and from
    #: the index only when that fails: what gets installed is the same either way.
    offline_first: bool = True

    @property
    def src(self) -> Path:
        return self.root / "src"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def uv_bin(self) -> Path:
        """A directory holding only the pinned ``uv`` (on the stage's ``PATH``)."""
        return self.root / "uv-bin"

    @property
    def uv_cache_dir(self) -> Path:
        return self.uv_cache or self.pip_cache.parent / "uv"

    def paths(self) -> Paths:
        return Paths(
            src=str(self.src),
            out=str(self.out),
            work=str(self.work),
            dist=str(self.dist),
            wheel=str(self.wheel) if self.wheel else "{wheel}",
            sdist=str(self.sdist) if self.sdist else "{sdist}",
            gate=self.gate,
            python=str(self.venv / "bin" / "python"),
        )


#: The shared rule (``aksara_release.scrub``): the Dagger bundle step scrubs with it too.
_Scrubber = scrub_rule.Scrubber


def describe(argv: Sequence[str], limit: int = 6) -> str:
    """A short, secret-free label for a command (argv carries paths, never secrets)."""
    shown = list(argv[:limit]) + (["..."] if len(argv) > limit else [])
    return " ".join(shown)


#: Caller variables a stage may see: how to reach a package index, nothing that changes
#: what gets installed or how a tool behaves (PIP_NO_DEPS would not pass).
PASSTHROUGH: tuple[str, ...] = (
    "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CERT", "PIP_TRUSTED_HOST",
    "PIP_DEFAULT_TIMEOUT", "PIP_RETRIES", "UV_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX",
    "UV_EXTRA_INDEX_URL", "UV_NATIVE_TLS", "UV_HTTP_TIMEOUT", "HTTP_PROXY", "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy", "https_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
)


def _base_env(ctx: StageContext) -> dict[str, str]:
    """A clean environment, as in a container: only index/network settings come in."""
    home = ctx.root / "home"
    tmp = ctx.root / "tmp"
    home.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    passed = {k: os.environ[k] for k in PASSTHROUGH if k in os.environ}
    return {
        **passed,
        "PATH": f"{ctx.venv / 'bin'}:{ctx.uv_bin}:/usr/local/bin:/usr/bin:/bin",
        "VIRTUAL_ENV": str(ctx.venv),
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PIP_CACHE_DIR": str(ctx.pip_cache),
        "PIP_NO_INPUT": "1",
        "UV_CACHE_DIR": str(ctx.uv_cache_dir),
        # the run directory is usually on tmpfs, the cache on disk: copy, as in Dagger
        "UV_LINK_MODE": "copy",
        "PYTHONUNBUFFERED": "1",
    }


def _text_since(log_path: Path, start: int) -> str:
    """What the log got from byte ``start`` on (one command's output)."""
    try:
        with log_path.open("rb") as handle:
            handle.seek(start)
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _last_line(log_path: Path, start: int = 0) -> str:
    """The last non-empty output line written at or after byte ``start``."""
    try:
        with log_path.open("rb") as handle:
            handle.seek(max(start, log_path.stat().st_size - 4096))
            tail = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in tail.splitlines() if ln.strip() and not ln.startswith("$ ")]
    return lines[-1][:240] if lines else ""


def _run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: IO[str],
    scrub: _Scrubber,
    stdout_path: Path | None,
    deadline: float,
) -> int:
    """Run one command; stderr (and stdout unless redirected) go to the log, scrubbed."""
    if _ABORT.is_set():
        log.write("gate interrupted: not started\n")
        return 130
    log.write(f"$ {' '.join(argv)}" + (f" > {stdout_path}" if stdout_path else "") + "\n")
    log.flush()
    with ExitStack() as stack:
        out_file = None
        if stdout_path is not None:
            stdout_path.parent.mkdir(parents=True, exist_ok=True)
            out_file = stack.enter_context(stdout_path.open("wb"))
        try:
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out_file if out_file is not None else subprocess.PIPE,
                stderr=subprocess.PIPE if out_file is not None else subprocess.STDOUT,
                start_new_session=True,
            )
        except (FileNotFoundError, PermissionError) as exc:
            log.write(f"cannot run {argv[0]}: {exc.strerror}\n")
            return 127
        with _ACTIVE_LOCK:
            _ACTIVE.add(proc)
            # kill_active() sets _ABORT before it takes its snapshot under this lock: a
            # step started in between is not in the snapshot, so it stops itself here.
            aborted = _ABORT.is_set()
        if aborted:
            _killpg(proc)
        stream = proc.stderr if out_file is not None else proc.stdout
        assert stream is not None
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            _killpg(proc)

        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), kill)
        watchdog.daemon = True
        watchdog.start()
        try:
            for raw in iter(stream.readline, b""):
                log.write(scrub(raw.decode("utf-8", "replace")))
            code = proc.wait()
        finally:
            watchdog.cancel()
            with _ACTIVE_LOCK:
                _ACTIVE.discard(proc)
        if timed_out.is_set():
            log.write("stage timed out: killed\n")
            return 124
        return code


#: The command tried from uv's cache first: the hash-locked tool set (fully pinned, so
#: the cache decides nothing). The wheel's own dependencies are resolved from the index.
OFFLINE_FIRST = "install tools"


def _commands(rendered: RenderedStage) -> list[tuple[str, Step]]:
    commands: list[tuple[str, Step]] = []
    if rendered.install_tools:
        commands.append((OFFLINE_FIRST, Step(rendered.install_tools)))
    if rendered.install_wheel:
        commands.append(("install wheel", Step(rendered.install_wheel)))
    total = len(rendered.steps)
    for index, step in enumerate(rendered.steps, start=1):
        commands.append((f"step {index}/{total}", step))
    return commands


def run_stage(ctx: StageContext) -> evidence.StageResult:
    """Run ``ctx.stage`` and return its result; ``log.txt`` is left in ``ctx.out``."""
    stage = ctx.stage
    started_at = evidence.now_iso()
    start = time.monotonic()
    ctx.root.mkdir(parents=True, exist_ok=True)
    ctx.out.mkdir(parents=True, exist_ok=True)
    ctx.work.mkdir(parents=True, exist_ok=True)
    log_path = ctx.out / evidence.LOG_FILE
    generated = {name: secrets.token_urlsafe(48) for name in stage.generated_secrets}
    secret_values = [*generated.values(), *ctx.extra_secrets]
    if ctx.database is not None:
        secret_values += ctx.database.secrets()
    scrub = _Scrubber(secret_values)

    spent: dict[str, float] = {}

    def result(status: evidence.StageStatus, code: int | None, reason: str | None,
               failed_step: str | None = None) -> evidence.StageResult:
        return evidence.StageResult(
            name=stage.name, title=stage.title, status=status, exit_code=code,
            duration_s=time.monotonic() - start, reason=reason, failed_step=failed_step,
            started_at=started_at, install_s=spent.get("install"), run_s=spent.get("run"),
        )

    with log_path.open("w", encoding="utf-8") as log, ExitStack() as stack:
        log.write(f"# stage {stage.name}: {stage.title}\n# proves: {stage.proves}\n")
        try:
            ctx.on_state(stage.name, "preparing")
            venvs.create_venv(ctx.venv, cache=ctx.uv_cache_dir)
            venvs.link_uv(ctx.uv_bin)
            if stage.needs_source:
                shutil.copytree(ctx.snapshot, ctx.src, symlinks=True)
            env = _base_env(ctx)
            rendered = stage.render(ctx.paths())
            env.update(rendered.env)
            env.update(generated)
            if stage.database:
                if ctx.database is None:
                    return result("error", None, "stage needs a database but none was provided")
                env["DATABASE_URL"] = stack.enter_context(ctx.database.scratch(stage.name))
                secret_values.append(env["DATABASE_URL"])
                scrub = _Scrubber(secret_values)
        except Exception as exc:  # noqa: BLE001 - recorded as the stage's error
            log.write(f"executor error: {scrub(str(exc))}\n")
            return result("error", None, f"executor error: {scrub(str(exc))[:200]}")
        deadline = start + ctx.timeout
        cwd = Path(rendered.workdir)
        code = 0
        for label, step in _commands(rendered):
            phase = "install" if label.startswith("install") else "run"
            ctx.on_state(stage.name, "installing" if phase == "install" else label)
            log.flush()
            mark = log_path.stat().st_size
            clock = time.monotonic()
            spent.setdefault(phase, 0.0)
            if label == OFFLINE_FIRST and ctx.offline_first:
                # Every distribution is pinned and hash-checked: uv's cache alone can serve
                # the exact set, without revalidating index pages. Anything not cached
                # fails this attempt before it installs, and the index is asked below.
                code = _run(
                    (*step.argv, "--offline"), cwd=cwd, env=env, log=log, scrub=scrub,
                    stdout_path=None, deadline=deadline,
                )
                if code == 0:
                    spent[phase] += time.monotonic() - clock
                    continue
                log.write(f"# not all in uv's cache (offline attempt exited {code}): "
                          "installing from the index\n")
                log.flush()
                mark = log_path.stat().st_size
            code = _run(
                step.argv, cwd=cwd, env=env, log=log, scrub=scrub,
                stdout_path=Path(step.stdout) if step.stdout else None, deadline=deadline,
            )
            spent[phase] += time.monotonic() - clock
            if code != 0:
                log.flush()
                mismatch = locks.hash_failure(_text_since(log_path, mark)) if (
                    phase == "install") else None
                if mismatch is not None:
                    log.write(f"# {label} failed: {mismatch}\n")
                    return result("failed", code, f"{label}: {mismatch}",
                                  f"{label}: {describe(step.argv)}")
                hint = _last_line(log_path, mark)
                if not hint and step.stdout:
                    hint = scrub(_last_line(Path(step.stdout)))
                log.write(f"# {label} failed with exit code {code}\n")
                reason = f"{label} ({Path(step.argv[0]).name}) exited {code}"
                return result("failed", code, f"{reason}: {hint}" if hint else reason,
                              f"{label}: {describe(step.argv)}")
        leaked = _scrub_evidence(ctx.out, scrub)
        if leaked:
            return result("failed", 0, "secret value leaked into " + ", ".join(leaked), None)
        missing = [name for name in stage.evidence if not (ctx.out / name).is_file()]
        if missing:
            return result("failed", 0, "declared evidence missing: " + ", ".join(missing))
        log.write("# stage passed\n")
        return result("passed", 0, None)


def _scrub_evidence(out: Path, scrub: _Scrubber) -> list[str]:
    """Names of evidence files that contained a secret value (scrubbed in place)."""
    return scrub_rule.scrub_tree(out, scrub, skip=frozenset({evidence.LOG_FILE}))
