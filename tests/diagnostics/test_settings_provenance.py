"""Configuration parsing: precedence flag > environment > default, and malformed values
become errors on the setting (never exceptions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aksara.settings import SPECS, load_settings


def test_defaults() -> None:
    settings = load_settings({})
    assert settings["env"].value == "development" and settings["env"].source == "default"
    assert settings["debug"].value is False
    assert settings["secret_key"].value is None
    assert settings["allowed_hosts"].value == ()
    assert settings["migrations_dir"].value == Path("migrations")
    assert settings["schema"].value == "public"
    assert settings["database_url"].value is None
    assert not settings.errors


def test_flag_beats_environment_beats_default() -> None:
    env = {"AKSARA_SCHEMA": "from_env", "AKSARA_DATABASE_URL": "postgresql://a@h/env",
           "DATABASE_URL": "postgresql://a@h/plain"}
    assert load_settings(env)["schema"].value == "from_env"
    assert load_settings(env, {"schema": "from_flag"})["schema"].origin == "--schema"
    url = load_settings(env)["database_url"]
    assert url.origin == "AKSARA_DATABASE_URL" and url.value.database == "env"
    flagged = load_settings(env, {"database_url": "postgresql://a@h/flag"})["database_url"]
    assert flagged.source == "flag" and flagged.value.database == "flag"


def test_empty_values_match_the_migration_commands() -> None:
    env = {"AKSARA_DATABASE_URL": "", "DATABASE_URL": "postgresql://a@h/x",
           "AKSARA_MIGRATIONS_DIR": "", "AKSARA_SCHEMA": ""}
    settings = load_settings(env, {"database_url": "", "migrations_dir": ""})
    assert settings["database_url"].origin == "DATABASE_URL"
    assert settings["migrations_dir"].source == "default"
    assert settings["schema"].value == "public"
    assert load_settings({}, {"schema": ""})["schema"].error == "--schema is empty"


@pytest.mark.parametrize(
    ("env", "name", "message"),
    [
        ({"AKSARA_DEBUG": "yes\nAKSARA_DEBUG=false"}, "debug",
         "AKSARA_DEBUG is not a boolean: 'yes\\nAKSARA_DEBUG=false' (use true or false)"),
        ({"AKSARA_ENV": "\x1b[2Jprod"}, "env", "AKSARA_ENV is not a known environment: "
         "'\\x1b[2Jprod'"),
        ({"AKSARA_SECRET_KEY": ""}, "secret_key", "AKSARA_SECRET_KEY is set but empty"),
        ({"DATABASE_URL": "http://example.com"}, "database_url", "DATABASE_URL is not a usable "
         "database URL: database URL must start with postgresql://"),
        ({"AKSARA_SCHEMA": "s\x00"}, "schema", "AKSARA_SCHEMA contains a NUL character"),
        ({"AKSARA_MIGRATIONS_DIR": "   "}, "migrations_dir", "AKSARA_MIGRATIONS_DIR is empty"),
        ({"AKSARA_LOG_LEVEL": "x" * 500}, "log_level", "..."),
    ],
)
def test_malformed_values_become_one_line_errors(env, name, message) -> None:
    value = load_settings(env)[name]
    assert value.value is None and not value.ok
    assert message in value.error
    assert "\n" not in value.error and "\x1b" not in value.error
    assert len(value.error) < 200


DOCS = Path(__file__).parents[2] / "docs" / "doctor.md"


def test_every_setting_is_read_from_a_documented_variable() -> None:
    text = DOCS.read_text()
    for spec in SPECS:
        for var in spec.env_vars:
            assert f"`{var}`" in text, var
        if spec.flag:
            assert f"`{spec.flag}" in text, spec.flag


def test_every_check_and_limit_is_documented() -> None:
    from aksara.doctor import probe, secretkey
    from aksara.doctor.registry import DOCTOR, PRODUCTION, checks_for

    text = DOCS.read_text()
    for check in checks_for(PRODUCTION) + checks_for(DOCTOR):
        assert f"| `{check.id}` |" in text, check.id
    assert f"minimum supported server version is PostgreSQL {probe.MIN_SERVER_MAJOR}" in text
    assert f"newest version the\nrelease gate tests is **PostgreSQL {probe.NEWEST_TESTED_MAJOR}" \
        in text
    assert f"`{secretkey.DOCS_EXAMPLE_KEY}`" in text
    assert f"at least {secretkey.MIN_LENGTH} characters" in text
