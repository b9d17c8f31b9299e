#!/usr/bin/env python3
"""Plant each fault-handling regression of issue 15 and prove its tests go red.

Usage::

    python3 ci/planted_regressions.py [--only ID,..] [--write docs/planted-regressions.md]

A test that cannot fail is a defect. For every fault the suite claims to handle (the
server going away mid-migration, interrupts, the CLIs' error boundaries, ``verify``
against deleted evidence, unreadable migrations, server start failures), this script
keeps one *planted regression*: a small edit that breaks the handling. For each one it

1. checks out ``HEAD`` into a scratch git worktree (your working tree is never touched),
2. runs the named tests there unchanged: they must pass (else the result means nothing),
3. applies the edit (its text must occur exactly once) and runs them again: they must
   fail (pytest exit code 1),

with the dev environment's Python (``.gate/dev``, made by ``python3 ci/gate.py test``)
and ``PYTHONPATH`` pointing at the worktree, so the worktree's code is what runs.
A planted fault may be exactly a server left running or its shared memory left in
``/dev/shm``. Each run gets its own ``TMPDIR``; afterwards the script stops the embedded
servers below it and removes the segments the run orphaned (new, unmapped, owned by the
embedded server's user), so proving a fault does not leave it behind and no other
session's server is touched.
``--write`` renders the table (fault, planted edit, tests, outcome) as Markdown.
``tests/gate/test_planted_regressions.py`` checks, on every test run, that each edit
still applies to the current tree, so the table cannot silently go stale.

Exit codes: 0 every regression was caught, 1 one was not (or a baseline failed),
2 bad arguments or no dev environment.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "ci" / "src"))  # the gate's stdlib-only /proc and server helpers

from aksara_release import pgserver, procfs  # noqa: E402


@dataclass(frozen=True)
class Regression:
    """One planted fault: replace ``old`` by ``new`` in ``path``; ``tests`` must go red."""

    id: str
    fault: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    planted: str  # what the edit breaks, in words


REGRESSIONS: tuple[Regression, ...] = (
    Regression(
        "backend-terminated",
        "Backend terminated (pg_terminate_backend) mid-migration",
        "src/aksara/migrations/engine.py",
        "            if not (conn.broken or conn.closed):\n                raise",
        "            if True:\n                raise",
        ("tests/migrations/test_mig_faults.py::test_backend_terminated_mid_migration",),
        "the engine no longer turns a dead connection into 'lost the connection ... while "
        "applying <file>' with the rollback note (the generic handler's line names no "
        "migration)",
    ),
    Regression(
        "server-restarted",
        "Server restarted mid-migration (same handler as a terminated backend)",
        "src/aksara/migrations/engine.py",
        "            if not (conn.broken or conn.closed):\n                raise",
        "            if True:\n                raise",
        ("tests/migrations/test_mig_faults.py::test_server_restarted_mid_migration",),
        "as above, reached through a fast shutdown and restart of the server",
    ),
    Regression(
        "migrate-sigterm",
        "SIGTERM during `aksara migrate`",
        "src/aksara/cli.py",
        "        previous = signal.signal(signal.SIGTERM, _on_sigterm)",
        "        previous = signal.getsignal(signal.SIGTERM)",
        ("tests/migrations/test_mig_faults.py::"
         "test_interrupted_migrator_rolls_back_releases_the_lock_and_exits_128_plus_n",),
        "SIGTERM kills the process outright: no rollback message, exit -15 instead of 143",
    ),
    Regression(
        "migrate-sigint-code",
        "SIGINT during `aksara migrate`: documented exit code",
        "src/aksara/cli.py",
        "EXIT_SIGINT = 128 + signal.SIGINT",
        "EXIT_SIGINT = 1",
        ("tests/migrations/test_mig_faults.py::"
         "test_interrupted_migrator_rolls_back_releases_the_lock_and_exits_128_plus_n",),
        "an interrupted migrate exits 1 (a failed migration) instead of 130",
    ),
    Regression(
        "aksara-internal-error",
        "`aksara`'s catch-all boundary",
        "src/aksara/cli.py",
        '            f"aksara: internal error: {type(exc).__name__} "',
        '            f"aksara: internal error: {type(exc).__name__}: {exc} "',
        ("tests/migrations/test_mig_faults.py::"
         "test_unexpected_exception_is_one_line_without_secret_and_points_to_debug",),
        "the unexpected exception's text (carrying the database URL) is printed",
    ),
    Regression(
        "gate-internal-error",
        "The gate CLI's catch-all boundary",
        "ci/src/aksara_release/host/cli.py",
        '        message = " ".join(redact(f"{exc.__class__.__name__}: {exc}").split())[:300]',
        '        message = " ".join(f"{exc.__class__.__name__}: {exc}".split())[:300]',
        ("tests/gate/test_host_cli.py",),
        "the internal-error line is printed without redaction",
    ),
    Regression(
        "gate-signal-stages",
        "SIGINT/SIGTERM during a gate run: running stages stopped",
        "ci/src/aksara_release/host/runner.py",
        "    for proc in procs:\n        _killpg(proc)",
        "    for proc in procs:\n        pass",
        ("tests/gate/test_host_interrupt.py::"
         "test_signal_stops_the_stages_and_server_and_writes_interrupted_evidence",),
        "an interrupted gate no longer kills the running steps' process groups",
    ),
    Regression(
        "gate-signal-evidence",
        "SIGINT/SIGTERM during a gate run: evidence says interrupted",
        "ci/src/aksara_release/host/executor.py",
        "    signame = _signal_name(interrupt) if interrupt is not None else None\n"
        "    for stage in all_stages:\n        if stage.name not in results:",
        "    signame = _signal_name(interrupt) if interrupt is not None else None\n"
        "    for stage in all_stages:\n        if False:",
        ("tests/gate/test_host_interrupt.py",),
        "stages that did not finish get no result (evidence incomplete, run crashes)",
    ),
    Regression(
        "gate-signal-db-start",
        "A signal while the gate's database starts (initdb / pg_ctl start)",
        "ci/src/aksara_release/pgserver.py",
        "        yield server\n    finally:\n        server.stop()",
        "        yield server\n    except Exception:\n        server.stop()\n        raise\n"
        "    else:\n        server.stop()\n    finally:\n        pass",
        ("tests/gate/test_host_interrupt.py::"
         "test_signal_while_the_database_starts_leaves_no_server_files_or_processes",),
        "the server is stopped on errors but not on KeyboardInterrupt: a postmaster "
        "started by an interrupted pg_ctl survives",
    ),
    Regression(
        "verify-deleted-artifact",
        "`verify`: an artifact listed in summary.json but deleted",
        "ci/src/aksara_release/host/verify.py",
        '            what = "not a regular file" if path.exists() else "missing"\n'
        '            problems.append(f"{artifact.path}: {what}")\n            continue',
        "            continue",
        ("tests/gate/test_host_verify.py",),
        "a missing or replaced artifact is skipped silently",
    ),
    Regression(
        "verify-extra-sum",
        "`verify`: SHA256SUMS listing an extra file",
        "ci/src/aksara_release/host/verify.py",
        '                problems.append(f"dist/SHA256SUMS: lists {name}, which summary.json '
        'does not")',
        "                pass",
        ("tests/gate/test_host_verify.py",),
        "an extra line in SHA256SUMS passes",
    ),
    Regression(
        "verify-summary-md",
        "`verify`: summary.md deleted",
        "ci/src/aksara_release/host/verify.py",
        '        problems.append("summary.md: missing")',
        "        pass",
        ("tests/gate/test_host_verify.py",),
        "a deleted summary.md passes",
    ),
    Regression(
        "unreadable-migration",
        "Unreadable migration file (tested as `nobody`, so also under root)",
        "src/aksara/migrations/discovery.py",
        "        fd = os.open(target, flags)\n    except OSError as exc:\n"
        "        raise InvalidMigrations(",
        "        fd = os.open(target, flags)\n    except KeyError as exc:\n"
        "        raise InvalidMigrations(",
        ("tests/unit/test_unit_migration_files.py", "tests/migrations/test_mig_apply.py"),
        "an unreadable file escapes as a raw PermissionError (a traceback, exit 70)",
    ),
    Regression(
        "pgserver-stop-fallback",
        "Embedded server: a server deaf to pg_ctl (fast, then immediate) is SIGKILLed",
        "ci/src/aksara_release/pgserver.py",
        "            os.kill(pid, signal.SIGKILL)  # its children exit when they see it gone",
        "            os.kill(pid, 0)  # its children exit when they see it gone",
        ("tests/gate/test_pgserver.py",),
        "stop() gives up after pg_ctl's two modes: the server is left running",
    ),
    Regression(
        "pgserver-shm-cleanup",
        "Embedded server: a SIGKILLed server's dynamic shared memory (/dev/shm)",
        "ci/src/aksara_release/pgserver.py",
        "                segment.unlink(missing_ok=True)",
        "                pass",
        ("tests/gate/test_pgserver.py::test_stop_falls_back_until_the_server_is_gone",),
        "the killed postmaster's /dev/shm segments are left behind (about 1 MiB each stop)",
    ),
    Regression(
        "pgserver-port-retry",
        "Embedded server: a taken port is retried (no bind-and-release race)",
        "ci/src/aksara_release/pgserver.py",
        "PORT_ATTEMPTS = 10",
        "PORT_ATTEMPTS = 1",
        ("tests/gate/test_pgserver.py",),
        "the first taken port fails the start",
    ),
    Regression(
        "pgserver-initdb-failure",
        "Embedded server: initdb fails",
        "ci/src/aksara_release/pgserver.py",
        '            raise EmbeddedPostgresError(f"initdb failed: {exc.stderr.strip()}") '
        "from exc",
        "            raise",
        ("tests/gate/test_pgserver.py",),
        "a failed initdb escapes as CalledProcessError without initdb's reason",
    ),
)


def _dev_python() -> Path:
    python = ROOT / ".gate" / "dev" / "bin" / "python"
    if not python.is_file():
        raise SystemExit(
            "planted-regressions: error: no dev environment; run `python3 ci/gate.py test "
            "--co -q` once to create .gate/dev"
        )
    return python


def apply(regression: Regression, tree: Path) -> None:
    """Plant ``regression`` into ``tree``; its ``old`` text must occur exactly once."""
    target = tree / regression.path
    text = target.read_text(encoding="utf-8")
    count = text.count(regression.old)
    if count != 1:
        raise ValueError(
            f"{regression.id}: expected the planted text once in {regression.path}, found {count}"
        )
    target.write_text(text.replace(regression.old, regression.new), encoding="utf-8")


def _pytest(python: Path, tree: Path, tests: tuple[str, ...],
            tmpdir: Path) -> tuple[int, float, str]:
    tmpdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": f"{tree / 'src'}:{tree / 'ci' / 'src'}",
           "TMPDIR": str(tmpdir)}  # the run's servers live here, and only they
    env.pop("COVERAGE_PROCESS_START", None)
    env.pop("COVERAGE_PROCESS_CONFIG", None)
    t0 = time.monotonic()
    done = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
         *tests],
        cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        check=False,
    )
    tail = "\n".join(done.stdout.strip().splitlines()[-12:])
    return done.returncode, time.monotonic() - t0, tail


def _embedded_postmasters(under: Path) -> dict[int, Path]:
    """Running embedded-PostgreSQL postmasters (pid -> data directory) below ``under``.

    ``under`` is the ``TMPDIR`` of one planted run, where ``pgserver.embedded_server``
    puts its ``aksara-pg-*`` directory: a server anyone else runs (another test session
    on the same machine included) is never touched.
    """
    found: dict[int, Path] = {}
    for pid in procfs.pids():
        argv = procfs.argv(pid)
        if not argv or not argv[0].endswith(b"/postgres") or b"-D" not in argv[:-1]:
            continue
        data = Path(os.fsdecode(argv[argv.index(b"-D") + 1]))
        if data.is_relative_to(under) and procfs.process_running(pid):
            found[pid] = data
    return found


def _stop_left_behind(under: Path) -> list[Path]:
    """Stop the servers a planted run left running below ``under`` and remove them.

    Why: some regressions plant exactly that fault (a server that survives an
    interrupted start); the script must not leave it running after proving it.
    SIGQUIT is PostgreSQL's immediate shutdown: the postmaster still removes its shared
    memory. Returns the data directories it stopped.
    """
    left = _embedded_postmasters(under)
    for pid in left:
        try:
            os.kill(pid, signal.SIGQUIT)
            os.kill(pid, signal.SIGCONT)  # a SIGSTOPped one (a planted fault) acts on it
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + 30
    while _embedded_postmasters(under) and time.monotonic() < deadline:
        time.sleep(0.1)
    shutil.rmtree(under, ignore_errors=True)
    return list(left.values())


#: Where PostgreSQL's POSIX dynamic shared memory segments live (``PostgreSQL.<n>``).
SHM = Path("/dev/shm")  # noqa: S108  # nosec B108


def _embedded_server_uid() -> int:
    """Whose segments an embedded server's are: its dedicated user under root, else ours."""
    if os.geteuid() == 0:
        try:
            return pwd.getpwnam(pgserver.SYSTEM_USER).pw_uid
        except KeyError:
            return 0
    return os.geteuid()


def _owner(path: Path) -> int | None:
    try:
        return path.stat().st_uid
    except OSError:
        return None


def _shm_segments() -> set[Path]:
    """PostgreSQL's POSIX dynamic shared memory segments in /dev/shm."""
    return set(SHM.glob("PostgreSQL.*"))


def _drop_orphaned_segments(before: set[Path], grace: float = 5.0) -> list[Path]:
    """Remove the segments a planted run created that no process has mapped any more.

    Why: a planted fault can leave a SIGKILLed server (pgserver-stop-fallback,
    pgserver-shm-cleanup), whose segments nobody else removes. One still mapped by a
    live process is in use and stays, and so does one another user owns (a system
    PostgreSQL's pinned segment may be mapped by nobody for a while).
    """
    uid = _embedded_server_uid()
    new = {seg for seg in _shm_segments() - before if _owner(seg) == uid}
    # A SIGKILLed postmaster's children exit a moment after it (when they notice), and
    # map its segments until then: give them ``grace`` seconds.
    deadline = time.monotonic() + grace
    while (new & procfs.mapped_segments(procfs.pids())) and time.monotonic() < deadline:
        time.sleep(0.1)
    dropped = sorted(new - procfs.mapped_segments(procfs.pids()))
    for seg in dropped:
        seg.unlink(missing_ok=True)
    return dropped


def run(selected: list[Regression]) -> list[dict[str, object]]:
    """Baseline then planted run of every selected regression, in a scratch worktree."""
    python = _dev_python()
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="aksara-planted-") as scratch:
        tree = Path(scratch) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), "HEAD"],
                       cwd=ROOT, check=True)
        try:
            for regression in selected:
                tmpdir = Path(scratch) / "tmp"
                base_code, _, base_tail = _pytest(python, tree, regression.tests, tmpdir)
                _stop_left_behind(tmpdir)  # nothing, unless the baseline itself is broken
                apply(regression, tree)
                segments = _shm_segments()
                try:
                    code, seconds, tail = _pytest(python, tree, regression.tests, tmpdir)
                finally:
                    subprocess.run(["git", "checkout", "-q", "--", regression.path],
                                   cwd=tree, check=True)
                    for data in _stop_left_behind(tmpdir):
                        print(f"    stopped a server the planted run left behind: {data}",
                              flush=True)
                    if dropped := _drop_orphaned_segments(segments):
                        print(f"    removed {len(dropped)} orphaned /dev/shm segment(s)",
                              flush=True)
                caught = base_code == 0 and code == 1
                rows.append({"id": regression.id, "baseline": base_code, "planted": code,
                             "caught": caught, "seconds": round(seconds, 1)})
                verdict = "caught" if caught else (
                    "BASELINE FAILED" if base_code else "NOT CAUGHT")
                print(f"{regression.id:<26} baseline exit {base_code}, planted exit {code} "
                      f"({seconds:.0f} s): {verdict}", flush=True)
                if not caught:  # show why: the unchanged run's failure, or the planted pass
                    print("    " + (base_tail if base_code else tail).replace("\n", "\n    "),
                          flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT,
                           check=False)
    return rows


def render(rows: list[dict[str, object]], commit: str) -> str:
    by_id = {str(r["id"]): r for r in rows}
    lines = [
        "# Planted regressions",
        "",
        "Generated by `python3 ci/planted_regressions.py --write docs/planted-regressions.md`"
        f" on commit `{commit}`. For each fault the suite claims to handle, one small edit",
        "breaks the handling; the named tests must pass on the unchanged tree and fail with",
        "the edit planted. `tests/gate/test_planted_regressions.py` keeps every edit",
        "applicable to the current code.",
        "",
        "| Fault | Planted regression (file) | Tests | Unchanged | Planted |",
        "| --- | --- | --- | --- | --- |",
    ]
    for reg in REGRESSIONS:
        row = by_id.get(reg.id)
        base = "not run" if row is None else ("pass" if row["baseline"] == 0 else
                                               f"exit {row['baseline']}")
        got = "not run" if row is None else ("**red** (exit 1)" if row["caught"] else
                                              f"NOT CAUGHT (exit {row['planted']})")
        tests = "<br>".join(f"`{t.replace('tests/', '')}`" for t in reg.tests)
        lines.append(f"| {reg.fault} | {reg.planted} (`{reg.path}`) | {tests} | {base} | {got} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="planted-regressions", description=(__doc__ or "").split(
        "\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated regression ids")
    parser.add_argument("--write", type=Path, help="write the Markdown table here")
    args = parser.parse_args(argv)
    known = {r.id: r for r in REGRESSIONS}
    wanted = [w for w in args.only.split(",") if w]
    unknown = [w for w in wanted if w not in known]
    if unknown:
        print(f"planted-regressions: error: unknown id(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    selected = [known[w] for w in wanted] if wanted else list(REGRESSIONS)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.strip()  # what run() checks out
    rows = run(selected)
    if args.write:
        args.write.write_text(render(rows, commit), encoding="utf-8")
    missed = [r["id"] for r in rows if not r["caught"]]
    if missed:
        print(f"planted-regressions: not caught: {', '.join(map(str, missed))}", file=sys.stderr)
        return 1
    print(f"planted-regressions: all {len(rows)} caught")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
