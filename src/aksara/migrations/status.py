"""Comparing the migration files with the tracking table: applied, pending, drifted, missing.

Why one comparison for everything: ``aksara status``, the pre-flight check of
``aksara migrate`` and ``aksara doctor`` must never disagree about whether a database
is clean, so all three go through :func:`compare` and :class:`StatusReport`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aksara import __version__
from aksara.exitcodes import ExitCode
from aksara.migrations.db import connect
from aksara.migrations.discovery import MigrationFile, discover_migrations
from aksara.migrations.settings import DEFAULT_SCHEMA, validate_schema
from aksara.migrations.tracking import AppliedMigration, TrackingTable

#: Version of the JSON documents printed by ``status`` and ``migrate``.
SCHEMA_VERSION = 1
APPLIED, PENDING, DRIFTED, MISSING = "applied", "pending", "drifted", "missing"


@dataclass(frozen=True)
class MigrationState:
    """One migration as seen from both sides: its file and its tracking row."""

    version: int
    description: str
    state: str
    file: MigrationFile | None
    record: AppliedMigration | None

    @property
    def name(self) -> str:
        """The file name, or a description of the missing file."""
        if self.file is not None:
            return self.file.name
        return f"version {self.version} ({self.description})"

    def to_json(self) -> dict[str, Any]:
        rec = self.record
        transactional = rec.transactional if rec else None
        if transactional is None and self.file is not None:
            transactional = self.file.transactional
        return {
            "version": self.version,
            "description": self.description,
            "file": self.file.name if self.file else None,
            "state": self.state,
            "checksum": self.file.checksum if self.file else None,
            "recorded_checksum": rec.checksum if rec else None,
            "applied_at": rec.applied_at.isoformat() if rec else None,
            "execution_ms": rec.execution_ms if rec else None,
            "applied_by": rec.applied_by if rec else None,
            "aksara_version": rec.aksara_version if rec else None,
            "transactional": transactional,
        }


def compare(
    files: Iterable[MigrationFile], applied: Mapping[int, AppliedMigration]
) -> list[MigrationState]:
    """Pair files with tracking rows by version and classify each, in version order."""
    states: list[MigrationState] = []
    seen: set[int] = set()
    for file in files:
        seen.add(file.version)
        record = applied.get(file.version)
        if record is None:
            state = PENDING
        elif record.checksum != file.checksum:
            state = DRIFTED
        else:
            state = APPLIED
        states.append(MigrationState(file.version, file.description, state, file, record))
    for version, record in applied.items():
        if version not in seen:
            states.append(MigrationState(version, record.description, MISSING, None, record))
    states.sort(key=lambda s: s.version)
    return states


@dataclass(frozen=True)
class StatusReport:
    """The result of ``aksara status``: every migration's state and the overall verdict."""

    database: str
    tracking_table: str
    migrations_dir: str
    migrations: tuple[MigrationState, ...]

    def count(self, state: str) -> int:
        return sum(1 for m in self.migrations if m.state == state)

    def with_state(self, *states: str) -> list[MigrationState]:
        return [m for m in self.migrations if m.state in states]

    @property
    def status(self) -> str:
        """``drift`` (drifted or missing) beats ``pending`` beats ``clean``."""
        if self.count(DRIFTED) or self.count(MISSING):
            return "drift"
        if self.count(PENDING):
            return "pending"
        return "clean"

    @property
    def exit_code(self) -> ExitCode:
        return {
            "drift": ExitCode.DRIFT,
            "pending": ExitCode.PENDING,
            "clean": ExitCode.OK,
        }[self.status]

    def summary(self) -> dict[str, int]:
        return {
            "total": len(self.migrations),
            "applied": self.count(APPLIED),
            "pending": self.count(PENDING),
            "drifted": self.count(DRIFTED),
            "missing": self.count(MISSING),
        }

    def to_json(self) -> dict[str, Any]:
        """The documented ``aksara status --format json`` document (schema_version 1)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "command": "status",
            "aksara_version": __version__,
            "database": self.database,
            "tracking_table": self.tracking_table,
            "migrations_dir": self.migrations_dir,
            "status": self.status,
            "exit_code": int(self.exit_code),
            "summary": self.summary(),
            "migrations": [m.to_json() for m in self.migrations],
        }


def get_status(
    database_url: str, directory: str | os.PathLike[str], schema: str = DEFAULT_SCHEMA
) -> StatusReport:
    """Discover ``directory``, read ``schema``'s tracking table and compare them.

    Read-only: creates nothing and takes no lock. Raises
    :class:`~aksara.migrations.errors.InvalidMigrations`, :class:`~aksara.errors.UsageError`
    or :class:`~aksara.errors.DatabaseUnreachable` (all :class:`~aksara.errors.AksaraError`).
    """
    table = TrackingTable(validate_schema(schema))
    files = discover_migrations(directory)
    with connect(database_url) as (conn, parsed):
        applied = table.fetch_applied(conn)
        database = parsed.redacted
    return StatusReport(
        database=database,
        tracking_table=table.display_name,
        migrations_dir=str(Path(directory).resolve()),
        migrations=tuple(compare(files, applied)),
    )
