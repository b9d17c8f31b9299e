"""Faults during ``aksara migrate``: the backend killed, the server stopped, the migrator
interrupted. Each asserts what a user sees and what the database holds afterwards: the
failing migration rolled back, no tracking row without its schema change, the advisory
lock released (a second migrator proceeds), the documented exit code, and a message
that names the migration.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from aksara_release.pgserver import _bin_dir, create_database, running_server

from aksara.cli import main

pytestmark = pytest.mark.db

BASE = "CREATE TABLE base (id int);\n"
SLOW = (
    "CREATE TABLE partial (id int);\n"
    "INSERT INTO partial VALUES (1);\n"
    "SELECT pg_sleep(60);\n"
    "INSERT INTO partial VALUES (2);\n"
)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a condition on the server (not a timed assertion: the bound only stops a hang)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def sleeping_pid(url: str) -> int | None:
    """The backend of this test's database running the slow migration, if any."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND query LIKE '%%SELECT pg_sleep(60);%%' AND state = 'active'"
            " AND pid <> pg_backend_pid()"
        ).fetchone()
    return None if row is None else int(row[0])


def start_slow_migration(aksara) -> subprocess.Popen[str]:
    aksara.write("1_base.sql", BASE)
    aksara.write("2_slow.sql", SLOW)
    proc = aksara.popen("migrate")
    try:
        wait_for(lambda: sleeping_pid(aksara.url) is not None, 60, "the slow migration")
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    return proc


def assert_rolled_back_and_unlocked(aksara) -> None:
    """Nothing of 2_slow.sql is left, and a second migrator gets the lock at once."""
    assert not aksara.table_exists("partial")
    assert aksara.recorded_versions() == [1]
    aksara.write("2_slow.sql", SLOW.replace("SELECT pg_sleep(60);\n", ""))
    result = aksara.run("migrate", "--lock-timeout", "0")
    assert result.returncode == 0, result.stderr
    assert aksara.recorded_versions() == [1, 2]
    assert aksara.query("SELECT id FROM partial ORDER BY id") == [(1,), (2,)]


def test_backend_terminated_mid_migration(aksara) -> None:
    proc = start_slow_migration(aksara)
    pid = sleeping_pid(aksara.url)
    assert aksara.scalar("SELECT pg_terminate_backend(%s)", (pid,))
    out, err = proc.communicate(timeout=60)
    aksara.check_texts(out, err)
    assert proc.returncode == 3, err
    (line,) = err.strip().splitlines()
    assert line.startswith("aksara: error: lost the connection to ")
    assert "while applying 2_slow.sql" in line
    assert_rolled_back_and_unlocked(aksara)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_migrator_rolls_back_releases_the_lock_and_exits_128_plus_n(
    aksara, signum
) -> None:
    proc = start_slow_migration(aksara)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    aksara.check_texts(out, err)
    assert proc.returncode == 128 + signum, err
    (line,) = err.strip().splitlines()
    assert line == (
        "aksara: error: interrupted (SIGINT)"
        if signum == signal.SIGINT
        else "aksara: error: terminated (SIGTERM)"
    )
    # The migrator cancelled its query and closed its session before exiting.
    assert sleeping_pid(aksara.url) is None
    assert_rolled_back_and_unlocked(aksara)


def test_server_restarted_mid_migration(tmp_path: Path, cli_class) -> None:
    """A private server, so stopping it disturbs no other test."""
    with running_server() as server:
        url = create_database(server.url(), "faults")
        directory = tmp_path / "migrations"
        directory.mkdir()
        aksara = cli_class(url, directory)
        proc = start_slow_migration(aksara)
        # pg_ctl restart: a fast shutdown (every backend terminated), then a start with
        # the same options (postmaster.opts), as an operator or a failover would.
        pg_ctl = str(_bin_dir() / "pg_ctl")
        server._run(
            [
                pg_ctl,
                "-D",
                str(server.data_dir),
                "-m",
                "fast",
                "-w",
                "-t",
                "60",
                "-l",
                str(server.data_dir / "server.log"),
                "restart",
            ],
            timeout=90,
        )
        out, err = proc.communicate(timeout=60)
        aksara.check_texts(out, err)
        assert proc.returncode == 3, err
        (line,) = err.strip().splitlines()
        assert line.startswith("aksara: error: lost the connection to ")
        assert "while applying 2_slow.sql" in line
        wait_for(lambda: _accepts(url), 60, "the restarted server")
        assert_rolled_back_and_unlocked(aksara)


def _accepts(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


def test_unexpected_exception_is_one_line_without_secret_and_points_to_debug(
    aksara, monkeypatch, capsys
) -> None:
    """A planted bug whose message carries the database URL (and so the password)."""
    from aksara.migrations import engine

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f"bug while talking to {aksara.url}")

    monkeypatch.setattr(engine, "migrate", broken)
    monkeypatch.setenv("AKSARA_DATABASE_URL", aksara.url)
    code = main(["migrate", "--migrations-dir", str(aksara.dir)])
    captured = capsys.readouterr()
    assert code == 70
    (line,) = captured.err.strip().splitlines()
    assert line == (
        "aksara: internal error: RuntimeError (run again with --debug for the traceback; "
        "please report this)"
    )
    for secret in aksara.secrets:
        assert secret not in captured.err + captured.out
    assert main(["--debug", "migrate", "--migrations-dir", str(aksara.dir)]) == 70
    debug = capsys.readouterr().err
    assert "Traceback (most recent call last)" in debug and "RuntimeError" in debug
