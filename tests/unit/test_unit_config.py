"""Configuration resolution, redaction of driver text, lock keys and CLI argument errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aksara.cli import main
from aksara.dburl import MASK, redact_url, resolve_database_url
from aksara.errors import UsageError
from aksara.migrations.db import safe_message
from aksara.migrations.settings import resolve_migrations_dir, resolve_schema
from aksara.migrations.tracking import TrackingTable


def test_migrations_dir_precedence() -> None:
    assert resolve_migrations_dir("flag", {"AKSARA_MIGRATIONS_DIR": "env"}) == Path("flag")
    assert resolve_migrations_dir(None, {"AKSARA_MIGRATIONS_DIR": "env"}) == Path("env")
    assert resolve_migrations_dir(None, {}) == Path("migrations")


def test_schema_precedence_and_validation() -> None:
    assert resolve_schema("flag", {"AKSARA_SCHEMA": "env"}) == "flag"
    assert resolve_schema(None, {"AKSARA_SCHEMA": "env"}) == "env"
    assert resolve_schema(None, {}) == "public"
    for bad in ("", "x" * 64, "a\x00b"):
        with pytest.raises(UsageError):
            resolve_schema(bad, {})


def test_database_url_precedence() -> None:
    env = {"AKSARA_DATABASE_URL": "postgresql://a/x", "DATABASE_URL": "postgresql://b/y"}
    assert resolve_database_url("postgresql://f/z", env).source == "flag"
    assert resolve_database_url(None, env).source == "AKSARA_DATABASE_URL"
    assert resolve_database_url(None, {"DATABASE_URL": "postgresql://b/y"}).source == "DATABASE_URL"
    assert resolve_database_url(None, {}).url is None


def test_safe_message_scrubs_secrets_and_urls() -> None:
    text = (
        'connection to server failed: FATAL: password "s3cr%t" rejected\n'
        "see postgresql://u:other-secret@h/db?password=third"  # pragma: allowlist secret
    )
    out = safe_message(text, ["s3cr%t"])
    assert "s3cr%t" not in out and "other-secret" not in out and "third" not in out
    assert "\n" not in out and MASK in out
    assert redact_url("postgresql://u:p@h/db") == f"postgresql://u:{MASK}@h/db"


def test_lock_key_is_stable_signed_64_bit_and_per_schema() -> None:
    key = TrackingTable("public").lock_key
    assert -(2**63) <= key < 2**63
    # Pinned: every migrator process, and every earlier release, must lock the same key;
    # a changed derivation (hash(), hashtext, another prefix) would let two run at once.
    assert key == 1394189829643862637
    assert TrackingTable("other").lock_key == -4408886015222849086  # the signed half too
    assert TrackingTable('We"ird').display_name == '"We""ird".aksara_migrations'
    assert TrackingTable("public").display_name == "public.aksara_migrations"


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["migrate", "--lock-timeout", "-1"], "--lock-timeout"),
        (["migrate", "--lock-timeout", "soon"], "--lock-timeout"),
        (["migrate", "--lock-timeout", "nan"], "--lock-timeout"),
        (["migrate", "--target", "abc"], "--target"),
        (["migrate", "--target", "-3"], "--target"),
        (["status", "--format", "xml"], "--format"),
        (["status", "--dry-run"], "unrecognized arguments"),
        (["migrate", "--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, fragment, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]


def test_missing_database_url_is_usage_error(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.delenv("AKSARA_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["status", "--migrations-dir", str(tmp_path)]) == 2
    assert "no database URL" in capsys.readouterr().err


def test_help_and_version_via_console_process() -> None:
    for args in (["migrate", "--help"], ["status", "--help"]):
        out = subprocess.run(
            [sys.executable, "-m", "aksara", *args], capture_output=True, text=True, check=True
        ).stdout
        assert "--migrations-dir" in out and "--database-url" in out
