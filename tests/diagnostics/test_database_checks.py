"""database.tls, database.reachable, migrations.tracking_table and migrations.applied:
pass / warn / fail / not-evaluated, against a real PostgreSQL where one is needed."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest

from aksara.doctor import probe as probes
from aksara.doctor.context import CheckContext
from aksara.doctor.registry import Status, get_check, run_check
from aksara.settings import load_settings


def evaluate(check_id: str, env: dict[str, str], skip: tuple[str, ...] = ()):
    context = CheckContext(load_settings(env), env, connect_timeout=3)
    return run_check(get_check(check_id), context, skip)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql://aksara@127.0.0.1:{port}/nothing"


_CLOSED = closed_port_url()
# Static verdicts: nothing listens, so only libpq's own reading of the URL and of its
# defaults (PGSSLMODE, PGSERVICE) is available. A weak sslmode fails without a server;
# a strong one cannot pass without a live TLS connection (test_tls_live.py has those).
TLS_CASES = [
    (_CLOSED + "?sslmode=verify-full", {}, Status.NOT_EVALUATED, "live connection"),
    (_CLOSED + "?sslmode=require", {}, Status.NOT_EVALUATED, "live connection"),
    (_CLOSED, {"PGSSLMODE": "verify-full"}, Status.NOT_EVALUATED, "live connection"),
    (_CLOSED, {}, Status.FAIL, "sslmode is prefer"),
    (_CLOSED + "?sslmode=prefer", {}, Status.FAIL, "sslmode is prefer"),
    (_CLOSED + "?sslmode=disable", {}, Status.FAIL, "sslmode is disable"),
    (_CLOSED + "?sslmode=verify-full&sslmode=disable", {}, Status.FAIL, "sslmode is disable"),
    (_CLOSED + "?sslmode=bogus", {}, Status.FAIL, "not a libpq sslmode"),
    (_CLOSED, {"PGSSLMODE": "allow"}, Status.FAIL, "sslmode is allow"),
    ("mysql://app@db.example.com/app", {}, Status.FAIL, "postgresql://"),
    ("postgresql://app@db.example.com:notaport/app", {}, Status.FAIL, "malformed"),
    ("postgresql://app:" + "pw@word" + "@db.example.com/app", {}, Status.FAIL, "ambiguous"),
    (None, {}, Status.FAIL, "no database URL"),
]


@pytest.mark.parametrize(("url", "extra", "status", "words"), TLS_CASES)
def test_database_tls_paths(url: str | None, extra: dict[str, str], status: Status,
                            words: str, clean_env: pytest.MonkeyPatch) -> None:
    env = dict(extra)
    for name, value in extra.items():  # libpq reads its PG* variables from the process
        clean_env.setenv(name, value)
    if url is not None:
        env["DATABASE_URL"] = url
    result = evaluate("database.tls", env)
    assert result.status is status, result
    assert words in result.reason
    if status is not Status.PASS:
        assert result.hint


def test_database_tls_not_evaluated_when_skipped() -> None:
    result = evaluate("database.tls", {}, skip=("database.tls",))
    assert result.status is Status.NOT_EVALUATED


def test_aksara_database_url_wins_over_database_url() -> None:
    env = {"AKSARA_DATABASE_URL": _CLOSED + "?sslmode=verify-full",
           "DATABASE_URL": _CLOSED + "?sslmode=disable"}
    assert evaluate("database.tls", env).status is Status.NOT_EVALUATED


@pytest.mark.db
def test_reachable_passes_with_version(database_url: str) -> None:
    result = evaluate("database.reachable", {"DATABASE_URL": database_url})
    assert result.status is Status.PASS
    assert "PostgreSQL 1" in result.reason


@pytest.mark.db
def test_reachable_warns_on_a_server_newer_than_tested(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(database_url) as conn:
        major = conn.info.server_version // 10000
    monkeypatch.setattr(probes, "NEWEST_TESTED_MAJOR", major - 1)
    monkeypatch.setattr(probes, "MIN_SERVER_MAJOR", major - 2)
    result = evaluate("database.reachable", {"DATABASE_URL": database_url})
    assert result.status is Status.WARN and "newer than the newest tested" in result.reason


@pytest.mark.db
def test_reachable_fails_on_a_server_older_than_supported(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(database_url) as conn:
        major = conn.info.server_version // 10000
    monkeypatch.setattr(probes, "MIN_SERVER_MAJOR", major + 1)
    result = evaluate("database.reachable", {"DATABASE_URL": database_url})
    assert result.status is Status.FAIL and "older than the minimum" in result.reason


@pytest.mark.parametrize(("version", "verdict"), [(150000, "old"), (160000, "ok"),
                                                  (180004, "ok"), (190000, "new")])
def test_documented_version_window(version: int, verdict: str) -> None:
    assert probes.version_verdict(version // 10000) == verdict


def test_reachable_fails_when_nothing_listens() -> None:
    result = evaluate("database.reachable", {"DATABASE_URL": closed_port_url()})
    assert result.status is Status.FAIL
    assert result.reason.startswith("cannot connect to 127.0.0.1:")


def test_reachable_fails_without_url_and_on_a_malformed_url() -> None:
    assert "no database URL" in evaluate("database.reachable", {}).reason
    bad = evaluate("database.reachable", {"DATABASE_URL": "postgresql://h:99999999/x"})
    assert bad.status is Status.FAIL and "malformed" in bad.reason


@pytest.mark.db
def test_reachable_fails_on_wrong_password(database_url: str) -> None:
    parsed = psycopg.conninfo.conninfo_to_dict(database_url)
    wrong = database_url.replace(f":{parsed['password']}@", ":wrong-password-for-test@")
    result = evaluate("database.reachable", {"DATABASE_URL": wrong})
    assert result.status is Status.FAIL
    assert "wrong-password-for-test" not in result.reason


# -- migrations.tracking_table and migrations.applied ---------------------------------

@pytest.mark.db
def test_tracking_table_warns_before_migrate_and_passes_after(
    database_url: str, migrations_dir: Path, run_cli
) -> None:
    before = evaluate("migrations.tracking_table", {"DATABASE_URL": database_url})
    assert before.status is Status.WARN and "does not exist" in before.reason
    assert run_cli("migrate", "--migrations-dir", str(migrations_dir),
                   "--database-url", database_url).code == 0
    after = evaluate("migrations.tracking_table", {"DATABASE_URL": database_url})
    assert after.status is Status.PASS


def test_tracking_table_not_evaluated_without_database() -> None:
    assert evaluate("migrations.tracking_table", {}).status is Status.NOT_EVALUATED
    unreachable = evaluate("migrations.tracking_table", {"DATABASE_URL": closed_port_url()})
    assert unreachable.status is Status.NOT_EVALUATED


def _applied(url: str, directory: Path, **extra: str):
    return evaluate("migrations.applied",
                    {"DATABASE_URL": url, "AKSARA_MIGRATIONS_DIR": str(directory), **extra})


@pytest.mark.db
def test_migrations_applied_passes_on_a_migrated_database(migrated: str,
                                                          migrations_dir: Path) -> None:
    result = _applied(migrated, migrations_dir)
    assert result.status is Status.PASS
    assert result.reason == "all 2 migrations applied, checksums verified"


@pytest.mark.db
def test_migrations_applied_fails_when_pending(database_url: str, migrations_dir: Path) -> None:
    result = _applied(database_url, migrations_dir)
    assert result.status is Status.FAIL
    assert "2 of 2 migrations pending: 1, 2" in result.reason
    assert "aksara migrate" in result.hint


@pytest.mark.db
def test_migrations_applied_fails_on_checksum_drift(migrated: str, migrations_dir: Path) -> None:
    target = migrations_dir / "0002_add_widget_name.sql"
    target.write_text(target.read_text() + "-- edited after being applied\n")
    result = _applied(migrated, migrations_dir)
    assert result.status is Status.FAIL
    assert "drift" in result.reason and "changed after being applied: 2" in result.reason


@pytest.mark.db
def test_crlf_checkout_is_not_drift(migrated: str, migrations_dir: Path) -> None:
    for path in migrations_dir.iterdir():
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert _applied(migrated, migrations_dir).status is Status.PASS


@pytest.mark.db
def test_migrations_applied_fails_on_a_missing_applied_file(migrated: str,
                                                            migrations_dir: Path) -> None:
    (migrations_dir / "0002_add_widget_name.sql").unlink()
    result = _applied(migrated, migrations_dir)
    assert result.status is Status.FAIL and "missing from the directory: 2" in result.reason


@pytest.mark.db
def test_migrations_applied_fails_on_an_invalid_file(migrated: str, migrations_dir: Path) -> None:
    (migrations_dir / "not-a-migration.sql").write_text("SELECT 1;")
    result = _applied(migrated, migrations_dir)
    assert result.status is Status.FAIL and "not-a-migration.sql" in result.reason


@pytest.mark.db
def test_migrations_applied_fails_on_a_missing_directory(database_url: str,
                                                         tmp_path: Path) -> None:
    result = _applied(database_url, tmp_path / "nowhere")
    assert result.status is Status.FAIL and "does not exist" in result.reason


@pytest.mark.db
def test_migrations_applied_warns_on_an_empty_directory(database_url: str,
                                                        tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _applied(database_url, empty)
    assert result.status is Status.WARN and "no migration files" in result.reason


@pytest.mark.db
def test_migrations_applied_uses_the_schema_setting(database_url: str, migrations_dir: Path,
                                                    run_cli) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute('CREATE SCHEMA "tenant one"')
    assert run_cli("migrate", "--migrations-dir", str(migrations_dir), "--database-url",
                   database_url, "--schema", "tenant one").code == 0
    assert _applied(database_url, migrations_dir,
                    AKSARA_SCHEMA="tenant one").status is Status.PASS
    assert _applied(database_url, migrations_dir).status is Status.FAIL  # public: pending


def test_migrations_applied_not_evaluated_without_database(tmp_path: Path) -> None:
    assert _applied(closed_port_url(), tmp_path).status is Status.NOT_EVALUATED
    result = evaluate("migrations.applied", {})
    assert result.status is Status.NOT_EVALUATED and "no usable database URL" in result.reason


def test_migrations_applied_fails_on_a_bad_schema_setting(tmp_path: Path) -> None:
    result = _applied(closed_port_url(), tmp_path, AKSARA_SCHEMA="x" * 64)
    assert result.status is Status.FAIL and "longer than 63 bytes" in result.reason
