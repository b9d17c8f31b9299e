"""Checksum verification: edited and deleted applied migrations stop both commands."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.db

FILES = {
    "1_users.sql": "CREATE TABLE users (id int PRIMARY KEY);\n",
    "2_orders.sql": (
        "CREATE TABLE orders (id int PRIMARY KEY,\n  user_id int REFERENCES users (id));\n"
    ),
}
NEW = ("3_items.sql", "CREATE TABLE items (id int);\n")


@pytest.fixture()
def applied(aksara):
    for name, text in FILES.items():
        aksara.write(name, text)
    assert aksara.run("migrate").returncode == 0
    aksara.write(*NEW)  # pending: must not be applied after drift is detected
    return aksara


def test_edited_applied_migration_is_drift_for_both_commands(applied) -> None:
    path = applied.dir / "2_orders.sql"
    path.write_text(path.read_text() + "-- harmless-looking edit\n")

    status = applied.run("status", "--format", "json")
    assert status.returncode == 5
    doc = status.json()
    assert doc["status"] == "drift" and doc["summary"]["drifted"] == 1
    entry = next(m for m in doc["migrations"] if m["version"] == 2)
    assert entry["state"] == "drifted"
    assert entry["checksum"] != entry["recorded_checksum"]

    text = applied.run("status")
    assert text.returncode == 5 and "drifted" in text.stdout and "2_orders.sql" in text.stdout

    migrate = applied.run("migrate", "--format", "json")
    assert migrate.returncode == 5
    mdoc = migrate.json()
    assert mdoc["status"] == "drift" and mdoc["migrations"] == []
    assert [d["file"] for d in mdoc["drift"]] == ["2_orders.sql"]
    assert "2_orders.sql" in migrate.stderr
    assert not applied.table_exists("items")
    assert applied.recorded_versions() == [1, 2]


def test_deleted_applied_migration_is_missing_for_both_commands(applied) -> None:
    (applied.dir / "1_users.sql").unlink()
    status = applied.run("status", "--format", "json")
    assert status.returncode == 5
    entry = status.json()["migrations"][0]
    assert entry == {
        **entry,
        "version": 1,
        "state": "missing",
        "file": None,
        "checksum": None,
        "description": "users",
    }
    migrate = applied.run("migrate")
    assert migrate.returncode == 5
    assert "missing" in migrate.stdout and "users" in migrate.stderr
    assert not applied.table_exists("items")
    assert applied.recorded_versions() == [1, 2]


def test_dry_run_also_refuses_on_drift(applied) -> None:
    (applied.dir / "1_users.sql").write_text("CREATE TABLE users (id bigint PRIMARY KEY);\n")
    result = applied.run("migrate", "--dry-run")
    assert result.returncode == 5
    assert applied.recorded_versions() == [1, 2]


@pytest.mark.parametrize("ending", [b"\r\n", b"\r"])
def test_line_ending_only_changes_are_not_drift(applied, ending) -> None:
    for name in FILES:
        path = applied.dir / name
        path.write_bytes(path.read_bytes().replace(b"\n", ending))
    status = applied.run("status", "--format", "json")
    assert status.returncode == 4, status.stdout  # only 3_items.sql is pending
    assert status.json()["summary"]["drifted"] == 0
    assert applied.run("migrate").returncode == 0
    assert applied.run("status").returncode == 0


def test_crlf_file_applies_and_verifies(aksara) -> None:
    aksara.write("1_windows.sql", b"CREATE TABLE win (\r\n  id int\r\n);\r\nSELECT 1/0;\r\n")
    result = aksara.run("migrate", "--format", "json")
    assert result.returncode == 6
    assert result.json()["error"]["line"] == 4
    aksara.write("1_windows.sql", b"CREATE TABLE win (\r\n  id int\r\n);\r\n")
    assert aksara.run("migrate").returncode == 0
    (aksara.dir / "1_windows.sql").write_bytes(b"CREATE TABLE win (\n  id int\n);\n")
    assert aksara.run("status").returncode == 0
