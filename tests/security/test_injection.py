"""SQL and shell metacharacters in migration names, database URLs, schema names and
check ids are rejected or quoted safely: nothing is executed, nothing is dropped, and
the error is one clean line."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from aksara.dburl import parse_database_url
from aksara.errors import UsageError
from aksara.migrations import InvalidMigrations, get_status
from aksara.migrations.discovery import parse_migration_filename

SQL_AND_SHELL = [
    "1_x;DROP TABLE canary.sql",
    "1_x'; DROP TABLE canary; --.sql",
    '1_x"; DROP TABLE canary; --.sql',
    "1_$(touch pwned).sql",
    "1_`touch pwned`.sql",
    "1_x|id.sql",
    "1_x&&id.sql",
    "1_x>out.sql",
    "1_x\nDROP.sql",
    "1_x\x00.sql",
    "1_x .sql",
    "../1_escape.sql",
    "1_../../escape.sql",
    "1_x/../y.sql",
    "1_x.sql;",
    "-1_negative.sql",
    "1e3_float.sql",
    "0x10_hex.sql",
    "1_ünïcode.sql",
    "1_x.SQL",
]


@pytest.mark.parametrize("name", SQL_AND_SHELL)
def test_migration_names_with_metacharacters_are_rejected(name: str) -> None:
    with pytest.raises(InvalidMigrations) as excinfo:
        parse_migration_filename(name)
    assert "\n" not in str(excinfo.value)


def test_oversized_versions_are_rejected() -> None:
    with pytest.raises(InvalidMigrations):
        parse_migration_filename(f"{2**63}_too_big.sql")
    assert parse_migration_filename(f"{2**63 - 1}_max.sql") == (2**63 - 1, "max")


@pytest.mark.db
def test_a_hostile_file_name_fails_the_doctor_cleanly(run_cli, database_url: str,
                                                      tmp_path: Path) -> None:
    directory = tmp_path / "m"
    directory.mkdir()
    (directory / "0001_ok.sql").write_text("SELECT 1;\n")
    (directory / "0002_x'; DROP TABLE canary; --.sql").write_text("SELECT 1;\n")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE canary (id int)")
    result = run_cli("doctor", "production-check", "--format", "json",
                     "--migrations-dir", str(directory), env={"DATABASE_URL": database_url})
    check = next(c for c in result.json()["checks"] if c["id"] == "migrations.applied")
    assert check["status"] == "fail" and "not a migration file name" in check["reason"]
    _assert_canary(database_url)


def _assert_canary(url: str) -> None:
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT to_regclass('public.canary')").fetchone()[0] is not None


HOSTILE_SCHEMAS = [
    'public"; DROP TABLE public.canary; --',
    "public'; DROP TABLE public.canary; --",
    "x); DROP TABLE public.canary; --",
    "$(touch /tmp/aksara-pwned)",
    "Robert'); DROP TABLE canary;--",
]


@pytest.mark.db
@pytest.mark.parametrize("schema", HOSTILE_SCHEMAS)
def test_hostile_schema_names_are_quoted(run_cli, database_url: str, tmp_path: Path,
                                         schema: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE canary (id int)")
    directory = tmp_path / "m"
    directory.mkdir()
    (directory / "0001_create_t.sql").write_text("CREATE TABLE t (id int);\n")
    status = get_status(database_url, directory, schema=schema)
    assert status.to_json()["status"] == "pending"
    migrate = run_cli("migrate", "--migrations-dir", str(directory), "--database-url",
                      database_url, "--schema", schema)
    assert migrate.code == 0, migrate.err
    doctor = run_cli("doctor", "--format", "json", "--migrations-dir", str(directory),
                     "--database-url", database_url, "--schema", schema)
    checks = {c["id"]: c["status"] for c in doctor.json()["checks"]}
    assert checks["migrations.tracking_table"] == "pass"
    assert checks["migrations.applied"] == "pass"
    _assert_canary(database_url)
    with psycopg.connect(database_url) as conn:
        found = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
            "AND table_name = 'aksara_migrations'", (schema,)).fetchone()
    assert found is not None, "the tracking table lives in the schema named verbatim"
    assert not Path("/tmp/aksara-pwned").exists()


#: Shell payloads, each of which creates the file ``{s}`` when a shell runs it (proved
#: by the test itself), placed where a URL would carry them: host, database, query.
SHELL_PAYLOADS = [
    "postgresql://app@db.example.invalid/app;touch {s}",
    "postgresql://app@$(touch {s})/app",
    "postgresql://app@`touch {s}`/app",
    "postgresql://app@db.example.invalid/app?options=-c%20log_statement%3Dall&x=|touch {s}",
    "postgresql://app@db.example.invalid/app?host=x&&touch {s}",
]


@pytest.mark.parametrize("template", SHELL_PAYLOADS)
def test_hostile_urls_never_reach_a_shell(run_cli, template: str, tmp_path: Path) -> None:
    import subprocess

    # Control: the payload is live, so a shell that saw this URL would create the file.
    armed = tmp_path / "armed"
    subprocess.run(["sh", "-c", f"echo {template.format(s=armed)}"],  # noqa: S603,S607
                   capture_output=True, check=False, timeout=30)
    assert armed.exists(), "the payload must be able to create its sentinel"
    sentinel = tmp_path / "pwned"
    url = template.format(s=sentinel)
    result = run_cli("doctor", "production-check", "--format", "json",
                     "--connect-timeout", "2", env={"DATABASE_URL": url})
    assert result.code == 1
    reachable = next(c for c in result.json()["checks"] if c["id"] == "database.reachable")
    assert reachable["status"] == "fail"
    assert "\n" not in reachable["reason"]
    assert not sentinel.exists()


@pytest.mark.db
def test_hostile_database_name_is_just_a_missing_database(run_cli, database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE canary (id int)")
    hostile = database_url.rsplit("/", 1)[0] + "/x%27%3B%20DROP%20TABLE%20canary%3B%20--"
    result = run_cli("doctor", "--format", "json", env={"DATABASE_URL": hostile})
    reachable = next(c for c in result.json()["checks"] if c["id"] == "database.reachable")
    assert reachable["status"] == "fail" and "does not exist" in reachable["reason"]
    _assert_canary(database_url)


@pytest.mark.parametrize("url", ["postgresql://h/db\r\nX-Injected: 1", "postgresql://h/\x00db"])
def test_control_characters_in_urls_are_rejected(url: str) -> None:
    with pytest.raises(UsageError) as excinfo:
        parse_database_url(url)
    assert "\n" not in str(excinfo.value) and "\x00" not in str(excinfo.value)


@pytest.mark.parametrize("value", ["true\n[PASS] debug.off: forged", "\x1b[32mPASS\x1b[0m"])
def test_values_cannot_forge_output_lines_or_escape_sequences(run_cli, value: str) -> None:
    result = run_cli("doctor", "production-check", env={"AKSARA_ENV": value, "AKSARA_DEBUG": value})
    assert "\x1b" not in result.out
    assert not any(line.startswith("[PASS] debug.off: forged") for line in result.out.splitlines())
    assert len(result.out.splitlines()) == 11
