"""More of the embedded server's faults, each made for real: binaries that cannot be
executed, pg_ctl refusing before the server writes a log line, a pid file holding
garbage, and ``running_server`` on a directory the caller owns.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from aksara_release import pgserver
from aksara_release.pgserver import EmbeddedPostgres, EmbeddedPostgresError

pytestmark = pytest.mark.db


@pytest.fixture()
def base() -> Iterator[Path]:
    """Outside pytest's tmp tree (as root the server runs as another user)."""
    root = Path(tempfile.mkdtemp(prefix="aksara-pg-test-", dir="/tmp"))
    yield root / "pg"
    shutil.rmtree(root, ignore_errors=True)


def _port() -> int:
    """A port as the server picks them (below the ephemeral range, never bind-and-release)."""
    return next(pgserver._candidate_ports())


def test_an_initdb_that_cannot_be_executed_is_one_error(base: Path) -> None:
    prefix = base.parent / "pgprefix"
    for sub in ("bin", "lib", "share"):
        (prefix / sub).mkdir(parents=True)
    (prefix / "bin" / "initdb").write_text("not a program\n")  # no #!: exec format error
    server = EmbeddedPostgres(base_dir=base, bin_dir=prefix / "bin")
    with pytest.raises(EmbeddedPostgresError) as info:
        server.start()
    message = str(info.value)
    assert message.startswith(f"cannot run initdb ({prefix / 'bin' / 'initdb'}): ")
    assert "\n" not in message and server.password not in message
    assert not (base / "pwfile").exists()  # the password file never lingers


def test_pg_ctl_refusing_before_any_log_line_still_says_why(base: Path) -> None:
    """No server.log was written: the reason is pg_ctl's own, not "no server log"."""
    server = EmbeddedPostgres(base_dir=base)
    server.data_dir.mkdir(parents=True)  # not a cluster: pg_ctl gives up by itself
    port = _port()
    with pytest.raises(EmbeddedPostgresError) as info:
        server._start_on(port)
    message = str(info.value)
    assert message.startswith(f"PostgreSQL did not start on port {port}: pg_ctl: "), message
    assert "\n" not in message
    assert not (server.data_dir / "server.log").exists()


def test_stop_with_a_pid_file_holding_garbage_returns(base: Path) -> None:
    server = EmbeddedPostgres(base_dir=base)
    server.data_dir.mkdir(parents=True)
    pid_file = server.data_dir / "postmaster.pid"
    for garbage in ("", "not-a-pid\n", "999999999\n"):
        pid_file.write_text(garbage)
        assert server._postmaster_pid() is None
        server.stop(timeout=1)  # never raises, kills nothing
        assert pid_file.read_text() == garbage


def test_running_server_on_a_given_directory_stops_but_keeps_it(base: Path) -> None:
    with pgserver.running_server(base) as server:
        assert server.base_dir == base
        with psycopg.connect(server.url(), connect_timeout=10) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        pid = server._postmaster_pid()
        assert pid is not None
    assert not pgserver.process_running(pid)
    assert not (server.data_dir / "postmaster.pid").exists()
    assert (server.data_dir / "PG_VERSION").is_file()  # the caller's directory is kept


def test_an_explicit_free_port_is_used_as_given(base: Path) -> None:
    port = _port()
    server = EmbeddedPostgres(base_dir=base, port=port)
    try:
        server.start()
        assert server.port == port
        with psycopg.connect(server.url(), connect_timeout=10) as conn:
            assert conn.execute("SHOW port").fetchone() == (str(port),)
    finally:
        server.stop()
