"""Run one tool process and measure its wall time and peak resident memory.

Peak RSS, and why not simply ``resource.getrusage(RUSAGE_CHILDREN)`` or ``os.wait4``:
on Linux a process's ``ru_maxrss`` survives ``exec`` and starts at the high-water mark
of the memory it was forked from (the kernel records the old mm's peak at exec, also
for vfork/posix_spawn). Every child of this ~40 MiB Python harness would therefore
report >= 40 MiB, whatever it really used; and RUSAGE_CHILDREN deltas are worse still
(its ``ru_maxrss`` is a maximum over all children ever reaped, not a sum, so a delta
is 0 whenever an earlier child was bigger). So each tool is started through GNU
``time -f %M`` (Debian package ``time``): the tool is forked from that ~2 MiB
process, and ``time`` reports the tool's own ``ru_maxrss`` from its ``wait4``. No
polling, so no missed short-lived peaks and no sampling load on a 2-core machine.
Without ``/usr/bin/time`` the harness falls back to ``os.wait4`` of the direct child
and says so in the results (``rss_method``), because those figures are inflated.

CPU time (user + system of the tool process, from the same ``time`` call, 10 ms
resolution) is recorded too: unlike wall time it hardly moves when neighbours load
the machine, so it shows a tool's own overhead even on a busy host.

Wall time is ``time.perf_counter`` from just before ``Popen`` to the reap: what a user
waits for, interpreter start-up and connection set-up included.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

GNU_TIME = Path("/usr/bin/time")


def rss_method() -> str:
    """Which peak-RSS method this machine gets (recorded in the results)."""
    if GNU_TIME.exists():
        return "GNU time -f '%M %U %S' (ru_maxrss and CPU of the tool process itself)"
    return "os.wait4 of the direct child (INFLATED: includes the harness's RSS at fork)"


@dataclass(frozen=True)
class Measured:
    """One finished process."""

    exit_code: int
    wall_s: float
    max_rss_kib: int
    #: User + system CPU seconds of the tool process itself (not the server's work).
    cpu_s: float
    output_tail: str  # last lines of stdout+stderr, already scrubbed of secrets
    timed_out: bool = False


def scrub(text: str, secrets: Sequence[str]) -> str:
    """Mask every secret (the server password, raw and URL-quoted) in tool output."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _scrub_file(path: Path, secrets: Sequence[str]) -> None:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return
    text = raw.decode(errors="replace")
    clean = scrub(text, secrets)
    if clean != text:
        path.write_text(clean)


def _tail(path: Path, secrets: Sequence[str], lines: int = 6) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return scrub("\n".join(text.strip().splitlines()[-lines:]), secrets)


def _exit_code(status: int) -> int:
    return os.waitstatus_to_exitcode(status)


def run_measured(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    secrets: Sequence[str],
    timeout_s: float,
) -> Measured:
    """Run ``argv`` to completion (killed after ``timeout_s``) and measure it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    rss_file = log.with_suffix(".rss")
    rss_file.unlink(missing_ok=True)
    if GNU_TIME.exists():
        argv = [str(GNU_TIME), "-f", "%M %U %S", "-o", str(rss_file), "--", *argv]
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        killed = threading.Event()

        def _kill() -> None:
            killed.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout_s, _kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = _exit_code(status)  # reaped by wait4; keep Popen consistent
    _scrub_file(log, secrets)  # the raw log stays on disk: no password in it either
    rss = int(usage.ru_maxrss)
    cpu = usage.ru_utime + usage.ru_stime
    if GNU_TIME.exists():
        fields = rss_file.read_text().split() if rss_file.exists() else []
        try:
            rss, cpu = int(fields[-3]), float(fields[-2]) + float(fields[-1])
        except (IndexError, ValueError):
            rss, cpu = 0, 0.0
    return Measured(
        exit_code=proc.returncode,
        wall_s=wall,
        max_rss_kib=rss,
        cpu_s=cpu,
        output_tail=_tail(log, secrets),
        timed_out=killed.is_set(),
    )


def run_concurrently(
    commands: Sequence[tuple[Sequence[str], Mapping[str, str]]],
    *,
    cwd: Path,
    log_dir: Path,
    secrets: Sequence[str],
    timeout_s: float,
) -> list[Measured]:
    """Start every command at once (behind a barrier), wait for all, measure each."""
    results: list[Measured | None] = [None] * len(commands)
    barrier = threading.Barrier(len(commands))

    def _one(index: int) -> None:
        argv, env = commands[index]
        barrier.wait()
        results[index] = run_measured(
            argv,
            env=env,
            cwd=cwd,
            log=log_dir / f"proc-{index}.log",
            secrets=secrets,
            timeout_s=timeout_s,
        )

    threads = [threading.Thread(target=_one, args=(i,)) for i in range(len(commands))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for r in results if r is not None]
