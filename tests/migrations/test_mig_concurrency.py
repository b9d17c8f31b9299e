"""The advisory lock: concurrent migrators, --lock-timeout, and a migrator killed mid-run."""

from __future__ import annotations

import json
import signal
import time

import psycopg
import pytest

from aksara.migrations.tracking import TrackingTable

pytestmark = pytest.mark.db


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_eight_concurrent_migrators_apply_each_migration_exactly_once(aksara) -> None:
    aksara.write("1_log.sql", "CREATE TABLE run_log (version int NOT NULL);\n")
    for version in range(2, 7):
        aksara.write(
            f"{version}_step.sql",
            f"INSERT INTO run_log VALUES ({version});\nSELECT pg_sleep(0.15);\n",
        )
    procs = [aksara.popen("migrate", "--format", "json") for _ in range(8)]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        aksara.check_texts(out, err)
        assert proc.returncode == 0, err
    applied = [
        m["version"]
        for out, _ in outputs
        for m in json.loads(out)["migrations"]
        if m["action"] == "applied"
    ]
    assert sorted(applied) == [1, 2, 3, 4, 5, 6]
    assert aksara.recorded_versions() == [1, 2, 3, 4, 5, 6]
    assert aksara.query("SELECT version FROM run_log ORDER BY version") == [
        (v,) for v in range(2, 7)
    ]
    assert aksara.run("status").returncode == 0


@pytest.fixture()
def held_lock(aksara):
    """Another session holding the migration lock of schema ``public``."""
    conn = psycopg.connect(aksara.url, autocommit=True)
    conn.execute("SELECT pg_advisory_lock(%s)", (TrackingTable("public").lock_key,))
    yield conn
    conn.close()


def test_lock_timeout_fires_while_another_session_holds_the_lock(aksara, held_lock) -> None:
    aksara.write("1_t.sql", "CREATE TABLE IF NOT EXISTS t (id int);\n")
    started = time.monotonic()
    result = aksara.run_process("migrate", "--lock-timeout", "0.5")
    waited = time.monotonic() - started
    assert result.returncode == 7, result.stderr
    assert "lock" in result.stderr and "--lock-timeout" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert waited >= 0.5
    assert not aksara.table_exists("t")
    no_wait = aksara.run("migrate", "--lock-timeout", "0", "--format", "json")
    assert no_wait.returncode == 7
    assert no_wait.json()["status"] == "error" and no_wait.json()["exit_code"] == 7
    # status and --dry-run read without the lock
    assert aksara.run("status").returncode == 4
    assert aksara.run("migrate", "--dry-run").returncode == 0
    # another schema has another lock
    assert aksara.run("migrate", "--schema", "tenant_b", "--lock-timeout", "0").returncode == 0
    assert aksara.recorded_versions("tenant_b") == [1]
    held_lock.execute("SELECT pg_advisory_unlock_all()")
    assert aksara.run("migrate", "--lock-timeout", "0").returncode == 0


def test_lock_keys_differ_per_schema() -> None:
    keys = {TrackingTable(s).lock_key for s in ("public", "tenant_a", "tenant_b", "Public")}
    assert len(keys) == 4
    # The key must never change between aksara versions (or two versions of aksara would
    # migrate one database at once): pinned to the documented derivation's value.
    assert TrackingTable("public").lock_key == int.from_bytes(
        bytes.fromhex("135928436962826d"), "big", signed=True
    )


def test_sigkill_mid_migration_leaves_no_partial_schema(aksara) -> None:
    aksara.write("1_base.sql", "CREATE TABLE base (id int);\n")
    slow = (
        "CREATE TABLE partial (id int);\n"
        "INSERT INTO partial VALUES (1);\n"
        "SELECT pg_sleep(60);\n"
        "INSERT INTO partial VALUES (2);\n"
    )
    aksara.write("2_slow.sql", slow)
    proc = aksara.popen("migrate")

    def sleeping() -> bool:
        return bool(
            aksara.scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND query LIKE '%%SELECT pg_sleep(60);%%' AND state = 'active'"
                " AND pid <> pg_backend_pid()"
            )
        )

    try:
        _wait_for(sleeping, 60, "the slow migration to start")
        # A real migrator holds the lock now: a second one times out.
        blocked = aksara.run("migrate", "--lock-timeout", "0.2")
        assert blocked.returncode == 7
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    # The server notices the dead client (client_connection_check_interval) and rolls back.
    _wait_for(lambda: not sleeping(), 30, "the killed migrator's backend to go away")
    assert not aksara.table_exists("partial")
    assert aksara.recorded_versions() == [1]

    aksara.write("2_slow.sql", slow.replace("SELECT pg_sleep(60);\n", ""))
    result = aksara.run("migrate", "--lock-timeout", "30")
    assert result.returncode == 0, result.stderr
    assert aksara.recorded_versions() == [1, 2]
    assert aksara.query("SELECT id FROM partial ORDER BY id") == [(1,), (2,)]
