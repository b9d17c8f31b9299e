"""Fixtures for the security suite: planted secrets (``run_cli`` from tests/conftest.py
collects ALL output: stdout, stderr and log records).

Every secret is generated at run time with a distinctive marker (no credential-shaped
literal lives in the source tree, so the secret scan stays meaningful), planted in an
input the commands read, and then searched for in everything they wrote: stdout,
stderr, JSON and log records.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import psycopg
import pytest
from leakcheck import planted_secret  # noqa: F401  (re-exported for fixtures)
from psycopg import sql


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
