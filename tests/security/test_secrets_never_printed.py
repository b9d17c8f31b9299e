"""Planted secrets never appear, whole or in part, in anything the doctor writes.

Secrets are planted in every input the commands read: the secret key, the database
password (a real role's, so the connection succeeds), passwords in query parameters,
``PGPASSWORD``, unrelated ``AKSARA_*`` variables, migration file contents and
symlink targets. Each scenario runs both commands in text and JSON, and the test
greps stdout, stderr and every log record.
"""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import quote

import pytest
from aksara_release.stages import PRODUCTION_ENV
from leakcheck import assert_no_leak, planted_secret

COMMANDS = [
    ("doctor",), ("doctor", "--format", "json"),
    ("doctor", "production-check"), ("doctor", "production-check", "--format", "json"),
    ("doctor", "production-check", "--strict", "--format", "json"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _migrations(tmp_path: Path, token: str) -> Path:
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "0001_create_notes.sql").write_text(
        f"-- deploy token {token}\nCREATE TABLE notes (id bigint PRIMARY KEY, body text);\n")
    (directory / "0002_seed_notes.sql").write_text(
        f"INSERT INTO notes VALUES (1, '{token}');\n")
    return directory


def _run_all(run_cli, env, *extra: str):
    for argv in COMMANDS:
        yield argv, run_cli(*argv, *extra, env=env)


@pytest.mark.db
def test_reachable_database_planted_everywhere(run_cli, planted_db, tmp_path: Path) -> None:
    key = planted_secret("key")
    token = planted_secret("token")
    migrations = _migrations(tmp_path, token)
    env = {**PRODUCTION_ENV, "AKSARA_SECRET_KEY": key, "DATABASE_URL": planted_db.url,
           "AKSARA_API_TOKEN": token, "AKSARA_MIGRATIONS_DIR": str(migrations)}
    migrate = run_cli("migrate", "--format", "json", env=env)
    assert migrate.code == 0, migrate.err
    assert_no_leak(migrate.everything, key, planted_db.password, token)
    for argv, result in _run_all(run_cli, env):
        assert result.code in (0, 1), (argv, result.err)
        assert "Traceback" not in result.everything
        assert_no_leak(result.everything, key, planted_db.password, token)
    # Sanity: the run really connected with the planted password and checked migrations.
    ok = run_cli("doctor", "production-check", "--format", "json", "--skip", "database.tls",
                 env=env)
    assert ok.code == 0, ok.out
    # Tamper a migration: drift messages name files, never their contents.
    (migrations / "0002_seed_notes.sql").write_text(f"-- {token}\nSELECT 1;\n")
    for _argv, result in _run_all(run_cli, env):
        assert result.code == 1
        assert_no_leak(result.everything, key, planted_db.password, token)


@pytest.mark.db
@pytest.mark.parametrize("where", ["DATABASE_URL", "AKSARA_DATABASE_URL", "flag"])
def test_url_password_from_every_source(run_cli, planted_db, where: str) -> None:
    env = {**PRODUCTION_ENV}
    extra: tuple[str, ...] = ()
    if where == "flag":
        extra = ("--database-url", planted_db.url)
    else:
        env[where] = planted_db.url
    for _argv, result in _run_all(run_cli, env, *extra):
        assert_no_leak(result.everything, planted_db.password)
        assert "Traceback" not in result.everything


@pytest.mark.db
def test_wrong_password_and_unreachable_server(run_cli, planted_db) -> None:
    wrong = planted_secret("wrongpw")
    for url in (planted_db.with_password(wrong),
                planted_db.with_password(planted_db.password, port=_free_port())):
        for _argv, result in _run_all(run_cli, {**PRODUCTION_ENV, "DATABASE_URL": url}):
            assert result.code == 1
            assert_no_leak(result.everything, wrong, planted_db.password)


@pytest.mark.db
def test_pgpassword_is_never_printed(run_cli, planted_db) -> None:
    url = f"postgresql://{planted_db.role}@{planted_db.host}:{planted_db.port}/{planted_db.name}"
    env = {**PRODUCTION_ENV, "DATABASE_URL": url, "PGPASSWORD": planted_db.password}
    result = run_cli("doctor", "--format", "json", env=env)
    assert result.json()["checks"][1]["status"] == "pass"  # connected via PGPASSWORD
    for _argv, result in _run_all(run_cli, env):
        assert_no_leak(result.everything, planted_db.password)


def _malformed_urls(pw: str) -> list[str]:
    enc = quote(pw, safe="")
    return [
        f"postgresql://app:{enc}@db.example.invalid:notaport/app",
        f"postgresql://app:{enc}@db.example.invalid:99999999/app",
        f"mysql://app:{enc}@db.example.invalid/app",
        f"postgresql://app:{enc}@db.example.invalid/app#frag",
        f"postgresql://app:{pw}@db.example.invalid/app",  # raw, unencoded metacharacters
        f"postgresql://app:{enc}@db.example.invalid/app\n",
        f"postgresql://app@db.example.invalid/app?password={enc}",
        f"postgresql://app@db.example.invalid/app?sslmode=require&sslpassword={enc}",
        f"{pw}",
        f"postgresql://app:{enc}@[::1/app",
    ]


def test_malformed_urls_never_echo_the_password(run_cli) -> None:
    pw = planted_secret("malformedpw")
    for url in _malformed_urls(pw):
        for argv, result in _run_all(run_cli, {**PRODUCTION_ENV, "DATABASE_URL": url,
                                              "PGCONNECT_TIMEOUT": "2"}):
            assert "Traceback" not in result.everything, (url, argv)
            assert result.code == 1, (url, argv, result.everything)
            assert_no_leak(result.everything, pw)


@pytest.mark.parametrize(
    "key",
    [
        "PLANTED",  # short
        "PLANTED-" + "Zq" * 30,  # low entropy
        "changeme-PLANTED-" + "x1y2z3w4" * 5,  # placeholder prefix
        "PLANTED\nkey\x1b[31m-with-controls-" + "k9" * 20,
        "  PLANTED spaced key with words and more words 12345  ",
    ],
)
def test_weak_or_odd_secret_keys_are_never_printed(run_cli, key: str) -> None:
    env = {**PRODUCTION_ENV, "AKSARA_SECRET_KEY": key}
    for _argv, result in _run_all(run_cli, env):
        assert_no_leak(result.everything, key)
        assert "Traceback" not in result.everything


def test_secret_in_a_malformed_boolean_is_cut_short(run_cli) -> None:
    """Non-secret settings are quoted back when malformed, but only their first 40 chars."""
    result = run_cli("doctor", "production-check", env={"AKSARA_DEBUG": "x" * 100})
    line = next(line for line in result.out.splitlines() if "debug.off" in line)
    assert "x" * 41 not in line and "..." in line


def test_unknown_settings_and_environment_are_never_dumped(run_cli) -> None:
    token = planted_secret("envtoken")
    env = {**PRODUCTION_ENV, "AKSARA_SESSION_TOKEN": token, "PGSERVICE_TOKEN": token}
    for _argv, result in _run_all(run_cli, env):
            assert_no_leak(result.everything, token)
