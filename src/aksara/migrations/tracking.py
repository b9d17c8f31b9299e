"""The tracking table ``<schema>.aksara_migrations``: its shape, its lock key, its rows.

Why one module: the table's columns are a documented interface (``aksara status``,
``aksara doctor`` and people's own queries read it), and every statement touching it
quotes the schema with :mod:`psycopg.sql` so no schema name can inject SQL.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from aksara import __version__
from aksara.errors import UsageError
from aksara.migrations.discovery import MigrationFile
from aksara.migrations.settings import TRACKING_TABLE

Conn = psycopg.Connection[Any]
#: The tracking table's columns, in the order :class:`AppliedMigration` takes them.
COLUMNS = (
    "version",
    "description",
    "checksum",
    "applied_at",
    "execution_ms",
    "applied_by",
    "aksara_version",
    "transactional",
)


@dataclass(frozen=True)
class AppliedMigration:
    """One row of the tracking table."""

    version: int
    description: str
    checksum: str
    applied_at: datetime
    execution_ms: int
    applied_by: str
    aksara_version: str
    transactional: bool


@dataclass(frozen=True)
class TrackingTable:
    """The tracking table of one schema."""

    schema: str

    @property
    def display_name(self) -> str:
        """``schema.aksara_migrations`` as PostgreSQL would print it (quoted when needed)."""
        return f"{_quote_for_display(self.schema)}.{TRACKING_TABLE}"

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema, TRACKING_TABLE)

    @property
    def lock_key(self) -> int:
        """The advisory-lock key: a stable signed 64-bit hash of the qualified table name.

        Derived from the schema, so migrators of two schemas never block each other;
        derived by SHA-256 (not ``hashtext``) so it is the same on every server version.
        """
        digest = hashlib.sha256(f"aksara:{self.schema}.{TRACKING_TABLE}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def exists(self, conn: Conn) -> bool:
        row = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables"
            " WHERE schemaname = %s AND tablename = %s)",
            (self.schema, TRACKING_TABLE),
        ).fetchone()
        return bool(row and row[0])

    def ensure(self, conn: Conn) -> None:
        """Create the schema and the table if missing (call while holding the lock).

        The schema is only created when it does not exist: ``CREATE SCHEMA IF NOT
        EXISTS`` checks the CREATE privilege on the database first, which an
        application role migrating into an existing schema usually lacks.
        """
        if self.exists(conn):
            return
        with conn.transaction():
            row = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s)",
                (self.schema,),
            ).fetchone()
            if not (row and row[0]):
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
            conn.execute(
                sql.SQL(
                    """CREATE TABLE IF NOT EXISTS {} (
    version        bigint      PRIMARY KEY,
    description    text        NOT NULL,
    checksum       text        NOT NULL CHECK (checksum ~ '^[0-9a-f]{{64}}$'),
    applied_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    execution_ms   bigint      NOT NULL CHECK (execution_ms >= 0),
    applied_by     text        NOT NULL DEFAULT current_user,
    aksara_version text        NOT NULL,
    transactional  boolean     NOT NULL
)"""
                ).format(self.identifier)
            )

    def fetch_applied(self, conn: Conn) -> dict[int, AppliedMigration]:
        """Every recorded migration by version; empty when the table does not exist yet."""
        if not self.exists(conn):
            return {}
        self._check_columns(conn)
        cursor = conn.execute(
            sql.SQL(
                "SELECT version, description, checksum, applied_at, execution_ms, applied_by,"
                " aksara_version, transactional FROM {} ORDER BY version"
            ).format(self.identifier)
        )
        return {int(row[0]): AppliedMigration(*row) for row in cursor}

    def _check_columns(self, conn: Conn) -> None:
        """Refuse a same-named table that is not ours (e.g. another tool's) in one line."""
        rows = conn.execute(
            "SELECT a.attname FROM pg_catalog.pg_attribute a"
            " JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped",
            (self.schema, TRACKING_TABLE),
        ).fetchall()
        missing = [c for c in COLUMNS if c not in {r[0] for r in rows}]
        if missing:
            raise UsageError(
                f"{self.display_name} exists but is not an aksara tracking table "
                f"(missing columns: {', '.join(missing)})"
            )

    def record(self, conn: Conn, file: MigrationFile, execution_ms: int) -> None:
        """Insert ``file``'s row (inside the migration's transaction when it has one)."""
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (version, description, checksum, execution_ms, aksara_version,"
                " transactional) VALUES (%s, %s, %s, %s, %s, %s)"
            ).format(self.identifier),
            (
                file.version,
                file.description,
                file.checksum,
                execution_ms,
                __version__,
                file.transactional,
            ),
        )


def _quote_for_display(name: str) -> str:
    if name.isidentifier() and name.islower() and name.isascii():
        return name
    return '"' + name.replace('"', '""') + '"'
