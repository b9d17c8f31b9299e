"""Fixtures for the security suite: planted secrets and a way to collect ALL output.

Every secret is generated at run time with a distinctive marker (no credential-shaped
literal lives in the source tree, so the secret scan stays meaningful), planted in an
input the commands read, and then searched for in everything they wrote: stdout,
stderr, JSON and log records.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import psycopg
import pytest
from leakcheck import planted_secret  # noqa: F401  (re-exported for fixtures)
from psycopg import sql

from aksara.cli import main


def _is_config_var(name: str) -> bool:
    return name.startswith(("AKSARA_", "PG")) or name == "DATABASE_URL"


@dataclass
class Run:
    code: int
    out: str
    err: str
    logs: str = ""

    @property
    def everything(self) -> str:
        return self.out + self.err + self.logs

    def json(self) -> dict:
        return json.loads(self.out)


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if _is_config_var(name):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture()
def run_cli(
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> Callable[..., Run]:
    """Run ``aksara <argv>`` in-process with exactly ``env``; capture output and logs."""

    def run(*argv: str, env: dict[str, str] | None = None) -> Run:
        for name in list(os.environ):
            if _is_config_var(name):
                clean_env.delenv(name)
        for name, value in (env or {}).items():
            clean_env.setenv(name, value)
        capsys.readouterr()
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            code = main(list(argv))
        captured = capsys.readouterr()
        logs = "\n".join(
            f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records
        )
        return Run(code, captured.out, captured.err, logs)

    return run


@dataclass(frozen=True)
class PlantedDatabase:
    """A database owned by a role whose password is a planted secret."""

    url: str
    password: str
    role: str
    host: str
    port: int
    name: str

    def with_password(self, password: str, port: int | None = None) -> str:
        return (f"postgresql://{self.role}:{quote(password, safe='')}@{self.host}:"
                f"{port or self.port}/{self.name}")


@pytest.fixture()
def planted_db(admin_url: str) -> Iterator[PlantedDatabase]:
    """A fresh database and login role; the password holds URL metacharacters too."""
    from aksara_release.pgserver import create_database, drop_database

    suffix = uuid.uuid4().hex[:10]
    role = f"aksara_planted_{suffix}"
    password = planted_secret("dbpw") + "@:/%?#&"
    name = f"aksara_sec_{suffix}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(role), sql.Literal(password)))
    create_database(admin_url, name)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
            sql.Identifier(name), sql.Identifier(role)))
    info = psycopg.conninfo.conninfo_to_dict(admin_url)
    db = PlantedDatabase("", password, role, str(info.get("host", "127.0.0.1")),
                         int(info.get("port", 5432)), name)
    db = PlantedDatabase(db.with_password(password), password, role, db.host, db.port, name)
    try:
        yield db
    finally:
        drop_database(admin_url, name)
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
