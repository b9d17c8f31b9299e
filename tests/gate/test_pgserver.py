"""The gate's embedded PostgreSQL when things go wrong, each fault made for real.

A bogus binary path, a data directory initdb refuses, a port another process holds,
a postmaster that ignores stop requests, a server that never answers: each ends in one
:class:`EmbeddedPostgresError` line (or, for ``stop``, in the server gone), never in a
traceback from deep inside ``subprocess``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from aksara_release import pgserver
from aksara_release.pgserver import EmbeddedPostgres, EmbeddedPostgresError, process_running

pytestmark = pytest.mark.db


@pytest.fixture()
def base() -> Iterator[Path]:
    """A server directory outside pytest's tmp tree: as root the server runs as another
    user, and a concurrent pytest session may reset /tmp/pytest-of-root to mode 0700."""
    root = Path(tempfile.mkdtemp(prefix="aksara-pg-test-", dir="/tmp"))  # short, whatever TMPDIR
    yield root / "pg"
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture()
def held_port() -> Iterator[socket.socket]:
    """A port another process listens on for the whole test (held, never released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


_alive = process_running  # running, and not a zombie waiting for its reaper


def test_bogus_binary_path_is_one_error(tmp_path: Path, base: Path) -> None:
    server = EmbeddedPostgres(base_dir=base, bin_dir=tmp_path / "no-such-bin")
    with pytest.raises(EmbeddedPostgresError, match=r"^cannot run initdb \(.*no-such-bin/initdb\)"):
        server.start()
    assert not (base / "pwfile").exists()  # the password file never lingers


def test_unusable_data_dir_fails_initdb_with_its_reason(base: Path) -> None:
    server = EmbeddedPostgres(base_dir=base)
    server.data_dir.mkdir(parents=True)
    (server.data_dir / "someone-elses-file").write_text("x")
    with pytest.raises(EmbeddedPostgresError, match="initdb failed: .*not empty"):
        server.start()
    assert not (server.data_dir / "postmaster.pid").exists()
    server.stop()  # nothing started: stop is a no-op, not an error


def test_a_taken_port_is_retried_with_the_next_candidate(
    base: Path, held_port: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = held_port.getsockname()[1]
    real = pgserver._candidate_ports()
    monkeypatch.setattr(pgserver, "_candidate_ports", lambda: iter([taken, *(next(real)
                                                                             for _ in range(9))]))
    server = EmbeddedPostgres(base_dir=base)
    try:
        server.start()
        assert server.port not in (0, taken)
        with psycopg.connect(server.url(), connect_timeout=10) as conn:
            assert conn.execute("SHOW port").fetchone() == (str(server.port),)
    finally:
        server.stop()
    log = (server.data_dir / "server.log").read_text()
    assert "Address already in use" in log  # the first attempt really collided


def test_giving_up_after_the_last_candidate_says_why_and_leaves_nothing(
    base: Path, held_port: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = held_port.getsockname()[1]
    monkeypatch.setattr(pgserver, "PORT_ATTEMPTS", 2)
    monkeypatch.setattr(pgserver, "_candidate_ports", lambda: iter([taken, taken, taken]))
    server = EmbeddedPostgres(base_dir=base / ("d" * 90))  # deep: a socket dir of its own
    with pytest.raises(EmbeddedPostgresError, match="Address already in use"):
        server.start()
    assert server.port == 0  # no half-chosen port left behind
    assert server._socket_dir is None  # the private socket directory went with it
    assert (server.data_dir / "server.log").read_text().count("Address already in use") == 2


def test_an_explicit_taken_port_fails_with_the_real_error_text(
    base: Path, held_port: socket.socket
) -> None:
    taken = held_port.getsockname()[1]
    server = EmbeddedPostgres(base_dir=base, port=taken)
    with pytest.raises(EmbeddedPostgresError, match=f"did not start on port {taken}: "
                       ".*Address already in use"):
        server.start()
    server.stop()


def test_a_deep_data_directory_gets_a_short_socket_directory(base: Path) -> None:
    # Planted: the socket in the data directory; a gate stage's TMPDIR is deep enough
    # for "<dir>/.s.PGSQL.<port>" to exceed the 107-byte socket address limit.
    server = EmbeddedPostgres(base_dir=base / ("d" * 90) / "pg")
    try:
        server.start()
        socket_dir = server._socket_dir
        assert socket_dir is not None and (socket_dir / f".s.PGSQL.{server.port}").exists()
        with psycopg.connect(server.url(), connect_timeout=10) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()
    assert not socket_dir.exists()


def test_stop_falls_back_until_the_server_is_gone(base: Path) -> None:
    server = EmbeddedPostgres(base_dir=base)
    server.start()
    pid = server._postmaster_pid()
    assert pid is not None and _alive(pid)
    segments = _mapped_segments(pid)
    os.kill(pid, signal.SIGSTOP)  # deaf to pg_ctl: fast and immediate both time out
    survived = True
    try:
        server.stop(timeout=1)
        survived = _alive(pid)  # seen before the clean-up below can hide it
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    assert not survived, "stop() returned with the postmaster still running"
    # A SIGKILLed postmaster cannot remove its dynamic shared memory: stop() must.
    assert segments, "the server mapped no /dev/shm segment: nothing was examined"
    assert [s for s in segments if s.exists()] == []


def _mapped_segments(postmaster: int) -> set[Path]:
    """Read independently of pgserver: every /dev/shm/PostgreSQL.* the server's processes
    map (the postmaster's control segment; the launchers' segments once they exist)."""
    deadline = time.monotonic() + 30  # bound only: the launchers map theirs soon after start
    while True:
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
        found = set()
        for pid in [str(postmaster), *children]:
            try:  # a short-lived child (an autovacuum worker) may be gone already
                lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
            except OSError:
                continue
            found.update(Path(line.split()[-1]) for line in lines
                         if line.split()[-1].startswith("/dev/shm/PostgreSQL."))
        if len(found) >= 2 or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_stop_never_kills_a_process_a_stale_pid_file_names(base: Path) -> None:
    # Another process got the pid; it ignores the signals pg_ctl may send (as non-root).
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
            "signal.signal(signal.SIGQUIT, signal.SIG_IGN); print('ready', flush=True); "
            "sys.stdin.read()")
    other = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline() == "ready\n"
        server = EmbeddedPostgres(base_dir=base)
        server.data_dir.mkdir(parents=True)
        (server.data_dir / "postmaster.pid").write_text(f"{other.pid}\n{server.data_dir}\n")
        server.stop(timeout=1)
        assert _alive(other.pid)
    finally:
        other.kill()
        other.communicate()


def test_readiness_times_out_with_libpq_reason_and_no_password(held_port: socket.socket
                                                                ) -> None:
    held_port.close()  # nothing listens any more: connections are refused
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # hold a port nobody listens on
        port = closed.getsockname()[1]
        url = "postgresql://u" + ":" + f"planted-pw@127.0.0.1:{port}/db"  # no literal for the scan
        with pytest.raises(EmbeddedPostgresError, match="did not become ready within 0.3 s: "
                           ".*127.0.0.1") as info:
            pgserver.wait_until_ready(url, timeout=0.3)
    assert "planted-pw" not in str(info.value)


def test_running_server_cleans_up_after_a_failed_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pgserver, "_bin_dir", lambda: tmp_path / "missing")
    monkeypatch.setattr(pgserver.tempfile, "mkdtemp", lambda prefix: str(tmp_path / "owned"))
    with pytest.raises(EmbeddedPostgresError, match="cannot run initdb"), \
            pgserver.running_server():
        pytest.fail("never reached")
    assert not (tmp_path / "owned").exists()
