"""The release gate's doctor stage, reproduced exactly, plus one test per unsafe setting.

The gate runs ``aksara migrate`` and then ``aksara doctor production-check --format
json --skip database.tls`` in the production environment of
``aksara_release.stages.PRODUCTION_ENV`` with a generated secret key and a scratch
database URL without ``sslmode``. That must exit 0 with ``database.tls``
*not evaluated*; without ``--skip`` it must fail on ``database.tls``.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from aksara_release.stages import PRODUCTION_ENV, get_stage

pytestmark = pytest.mark.db


def _gate_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AKSARA_", "PG")) and k != "DATABASE_URL"}
    env.update(PRODUCTION_ENV)
    env["AKSARA_SECRET_KEY"] = secrets.token_urlsafe(48)
    env["DATABASE_URL"] = database_url
    return env


def _aksara(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aksara", *argv], env=env,
                          capture_output=True, text=True, timeout=120)


def test_gate_stage_still_runs_the_command_this_test_reproduces() -> None:
    stage = get_stage("doctor")
    judged = stage.steps[-2].argv  # run-tool judging the report, then the verdict step
    argv = judged[judged.index("--") + 1:]
    assert argv[:5] == ("aksara", "doctor", "production-check", "--format", "json")
    assert ("--skip", "database.tls") == argv[argv.index("--skip"):argv.index("--skip") + 2]
    assert "sslmode" not in json.dumps(dict(stage.env))


def test_gate_scenario_passes_with_tls_not_evaluated(
    database_url: str, migrations_dir: Path, validate
) -> None:
    assert "sslmode" not in database_url
    env = _gate_env(database_url)
    migrate = _aksara("migrate", "--migrations-dir", str(migrations_dir), "--format", "json",
                      env=env)
    assert migrate.returncode == 0, migrate.stderr
    result = _aksara("doctor", "production-check", "--format", "json",
                     "--migrations-dir", str(migrations_dir), "--skip", "database.tls", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    validate(document)
    assert document["status"] == "pass" and document["exit_code"] == 0
    statuses = {c["id"]: c["status"] for c in document["checks"]}
    assert statuses.pop("database.tls") == "not_evaluated"
    assert set(statuses.values()) == {"pass"}, statuses
    assert document["summary"] == {"pass": 9, "warn": 0, "fail": 0, "not_evaluated": 1}
    assert env["AKSARA_SECRET_KEY"] not in result.stdout + result.stderr


def test_gate_scenario_without_skip_fails_on_tls(
    database_url: str, migrations_dir: Path
) -> None:
    env = _gate_env(database_url)
    assert _aksara("migrate", "--migrations-dir", str(migrations_dir), env=env).returncode == 0
    result = _aksara("doctor", "production-check", "--format", "json",
                     "--migrations-dir", str(migrations_dir), env=env)
    assert result.returncode == 1
    document = json.loads(result.stdout)
    failed = {c["id"]: c for c in document["checks"] if c["status"] == "fail"}
    assert list(failed) == ["database.tls"]
    assert "sslmode" in failed["database.tls"]["reason"]


def test_strict_gate_scenario_fails_on_the_skipped_check(
    migrated: str, migrations_dir: Path, run_cli, production_env
) -> None:
    result = run_cli("doctor", "production-check", "--format", "json", "--strict",
                     "--migrations-dir", str(migrations_dir), "--skip", "database.tls",
                     env={**production_env, "DATABASE_URL": migrated})
    assert result.code == 1
    assert result.json()["status"] == "fail"
    assert result.check("database.tls")["status"] == "not_evaluated"


UNSAFE = [
    # (variable, value, failing check, words the reason must contain)
    ("AKSARA_ENV", "staging", "env.production", "staging"),
    ("AKSARA_ENV", "prod", "env.production", "not a known environment"),
    ("AKSARA_ENV", None, "env.production", "not set"),
    ("AKSARA_DEBUG", "true", "debug.off", "debug mode is on"),
    ("AKSARA_DEBUG", "maybe", "debug.off", "not a boolean"),
    ("AKSARA_SECRET_KEY", None, "secret_key.strength", "not set"),
    ("AKSARA_SECRET_KEY", "", "secret_key.strength", "empty"),
    ("AKSARA_SECRET_KEY", "changeme", "secret_key.strength", "placeholder"),
    ("AKSARA_SECRET_KEY", "secret", "secret_key.strength", "placeholder"),
    ("AKSARA_SECRET_KEY", "replace-me-with-the-output-of-secrets-token-urlsafe",
     "secret_key.strength", "placeholder"),
    ("AKSARA_SECRET_KEY", "Zx8-short-key-Qw", "secret_key.strength", "shorter than 32"),
    ("AKSARA_SECRET_KEY", "a" * 64, "secret_key.strength", "entropy"),
    ("AKSARA_ALLOWED_HOSTS", "*", "hosts.allowed", "wildcard"),
    ("AKSARA_ALLOWED_HOSTS", "", "hosts.allowed", "not set or empty"),
    ("AKSARA_ALLOWED_HOSTS", None, "hosts.allowed", "not set or empty"),
    ("AKSARA_COOKIE_SECURE", "false", "cookies.secure", "false"),
    ("AKSARA_COOKIE_SECURE", None, "cookies.secure", "not set"),
    ("AKSARA_COOKIE_SECURE", "sure", "cookies.secure", "not a boolean"),
    ("AKSARA_CORS_ALLOWED_ORIGINS", "*", "cors.credentials", "'*'"),
    ("AKSARA_CORS_ALLOW_CREDENTIALS", "yes please", "cors.credentials", "not a boolean"),
    ("AKSARA_LOG_LEVEL", "DEBUG", "log.level", "DEBUG"),
    ("AKSARA_LOG_LEVEL", "verbose", "log.level", "not a log level"),
]


@pytest.mark.parametrize(("variable", "value", "check_id", "words"), UNSAFE,
                         ids=[f"{u[0]}={u[1]!r}" for u in UNSAFE])
def test_each_unsafe_setting_fails_naming_the_reason(
    shared_migrated: str, shared_migrations: Path, run_cli, production_env,
    variable: str, value: str | None, check_id: str, words: str,
) -> None:
    env = {**production_env, "DATABASE_URL": shared_migrated}
    if value is None:
        env.pop(variable, None)
    else:
        env[variable] = value
    result = run_cli("doctor", "production-check", "--format", "json",
                     "--migrations-dir", str(shared_migrations), "--skip", "database.tls",
                     env=env)
    assert result.code == 1, result.out
    failed = [c for c in result.json()["checks"] if c["status"] == "fail"]
    assert [c["id"] for c in failed] == [check_id]
    assert words in failed[0]["reason"]
    assert failed[0]["hint"]
    assert "Traceback" not in result.out + result.err


@pytest.mark.parametrize("url_suffix", ["", "?sslmode=disable", "?sslmode=prefer",
                                        "?sslmode=allow"])
def test_database_url_without_required_tls_fails(
    shared_migrated: str, shared_migrations: Path, run_cli, production_env, url_suffix: str
) -> None:
    result = run_cli("doctor", "production-check", "--format", "json",
                     "--migrations-dir", str(shared_migrations),
                     env={**production_env, "DATABASE_URL": shared_migrated + url_suffix})
    assert result.code == 1
    assert [c["id"] for c in result.json()["checks"] if c["status"] == "fail"] == ["database.tls"]


def test_malformed_database_url_fails_without_traceback(
    migrations_dir: Path, run_cli, production_env
) -> None:
    result = run_cli("doctor", "production-check", "--format", "json",
                     "--migrations-dir", str(migrations_dir),
                     env={**production_env, "DATABASE_URL": "mysql://db.example.invalid/app"})
    assert result.code == 1
    assert result.check("database.tls")["status"] == "fail"
    assert result.check("database.reachable")["status"] == "fail"
    assert "postgresql://" in result.check("database.reachable")["reason"]
    assert result.check("migrations.applied")["status"] == "not_evaluated"
    assert result.err == ""
