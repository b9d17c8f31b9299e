"""Fixtures for the doctor's diagnostics suite: migration sets, migrated databases,
the gate's production environment and the report's JSON Schema.

The clean environment and the in-process CLI runner (``clean_env``, ``run_cli``) come
from ``tests/conftest.py``; the release-gate scenario runs the CLI as a real subprocess.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aksara_release.stages import PRODUCTION_ENV

from aksara.cli import main

MIGRATIONS = {
    "0001_create_widgets.sql": "CREATE TABLE widgets (id bigint PRIMARY KEY);\n",
    "0002_add_widget_name.sql": "ALTER TABLE widgets ADD COLUMN name text;\n",
}


def write_migrations(directory: Path, files: dict[str, str] = MIGRATIONS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


@pytest.fixture()
def migrations_dir(tmp_path: Path) -> Path:
    return write_migrations(tmp_path / "migrations")


@pytest.fixture()
def migrated(database_url: str, migrations_dir: Path, run_cli: Callable[..., Any]) -> str:
    """``database_url`` with every migration of ``migrations_dir`` applied by ``aksara migrate``."""
    result = run_cli("migrate", "--migrations-dir", str(migrations_dir),
                     "--database-url", database_url, "--format", "json")
    assert result.code == 0, result.err
    return database_url


@pytest.fixture()
def secret_key() -> str:
    return secrets.token_urlsafe(48)


@pytest.fixture()
def production_env(secret_key: str) -> dict[str, str]:
    """The release gate's production environment (minus the database URL)."""
    return {**PRODUCTION_ENV, "AKSARA_SECRET_KEY": secret_key}


@pytest.fixture(scope="session")
def report_schema() -> dict[str, Any]:
    from aksara.doctor.report import load_schema

    return load_schema()


@pytest.fixture()
def validate(report_schema: dict[str, Any]) -> Iterator[Callable[[dict[str, Any]], None]]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(report_schema)
    yield validator.validate


@pytest.fixture(scope="module")
def shared_migrations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_migrations(tmp_path_factory.mktemp("shared") / "migrations")


@pytest.fixture(scope="module")
def shared_migrated(admin_url: str, shared_migrations: Path) -> Iterator[str]:
    """One migrated database for a whole module of read-only doctor runs."""
    import uuid

    from aksara_release.pgserver import create_database, drop_database

    name = f"aksara_diag_{uuid.uuid4().hex[:12]}"
    url = create_database(admin_url, name)
    try:
        code = main(["migrate", "--migrations-dir", str(shared_migrations),
                     "--database-url", url, "--format", "json"])
        assert code == 0
        yield url
    finally:
        drop_database(admin_url, name)


@pytest.fixture(scope="session")
def tls_server() -> Iterator[Any]:
    """Debian's PostgreSQL with TLS on and a throwaway certificate (see tlsserver.py).

    A missing installation skips, loudly, unless ``AKSARA_REQUIRE_TLS_SERVER=1`` (set by
    ``.ci/run``): then it fails, so the TLS-on half of the suite can never silently drop
    out of CI.
    """
    import os

    from tlsserver import TLSServerUnavailable, on_unavailable, running_tls_server

    try:
        with running_tls_server() as server:
            yield server
    except TLSServerUnavailable as exc:
        verdict, message = on_unavailable(str(exc), dict(os.environ))
        if verdict == "fail":
            pytest.fail(message)
        pytest.skip(message)
