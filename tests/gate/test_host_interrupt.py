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
import signal
import subprocess
import sys
import time
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
