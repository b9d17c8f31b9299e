"""``aksara migrate``: apply pending migrations under an advisory lock, all-or-nothing each.

Why this order of steps: the lock comes first so that two migrators never interleave;
the checksum of every applied migration is verified next, so a changed or deleted
file stops the run before anything is applied; then each pending migration runs in
its own transaction together with its tracking row, so a failure (or a killed
process) leaves neither a partial schema nor a tracking row behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from aksara import __version__
from aksara.dburl import DatabaseURL
from aksara.errors import DatabaseUnreachable, UsageError
from aksara.exitcodes import ExitCode
from aksara.migrations.apply import apply_migration
from aksara.migrations.db import connect, safe_message
from aksara.migrations.discovery import MigrationFile, discover_migrations
from aksara.migrations.errors import MigrationFailed
from aksara.migrations.lock import advisory_lock
from aksara.migrations.settings import (
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_SCHEMA,
    validate_lock_timeout,
    validate_schema,
)
from aksara.migrations.status import (
    DRIFTED,
    MISSING,
    PENDING,
    SCHEMA_VERSION,
    MigrationState,
    compare,
)
from aksara.migrations.tracking import TrackingTable

#: How often the server checks that a migrator is still connected while a long
#: statement runs, so a killed migrator's transaction is rolled back promptly.
CLIENT_CHECK_INTERVAL = "1s"

Conn = psycopg.Connection[Any]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class MigrateOptions:
    """Everything one ``aksara migrate`` run needs."""

    database_url: str
    directory: Path
    schema: str = DEFAULT_SCHEMA
    target: int | None = None
    dry_run: bool = False
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT


@dataclass(frozen=True)
class Step:
    """A migration this run applied, planned (dry run) or failed on."""

    file: MigrationFile
    action: str
    execution_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.file.version,
            "description": self.file.description,
            "file": self.file.name,
            "checksum": self.file.checksum,
            "transactional": self.file.transactional,
            "action": self.action,
            "execution_ms": self.execution_ms,
        }


@dataclass
class MigrateReport:
    """What a ``migrate`` run did; drift and a failed migration are reported, not raised."""

    database: str
    tracking_table: str
    migrations_dir: str
    dry_run: bool
    target: int | None
    total: int = 0
    previously_applied: int = 0
    steps: list[Step] = field(default_factory=list)
    drift: list[MigrationState] = field(default_factory=list)
    remaining: int = 0
    error: MigrationFailed | None = None

    @property
    def status(self) -> str:
        if self.drift:
            return "drift"
        if self.error is not None:
            return "failed"
        if self.dry_run:
            return "planned"
        return "applied" if self.steps else "up_to_date"

    @property
    def exit_code(self) -> ExitCode:
        if self.drift:
            return ExitCode.DRIFT
        if self.error is not None:
            return ExitCode.MIGRATION_FAILED
        return ExitCode.OK

    def count(self, action: str) -> int:
        return sum(1 for s in self.steps if s.action == action)

    def to_json(self) -> dict[str, Any]:
        """The documented ``aksara migrate --format json`` document (schema_version 1)."""
        error = None
        if self.error is not None:
            error = {
                "message": str(self.error),
                "file": self.error.file,
                "line": self.error.line,
                "sqlstate": self.error.sqlstate,
            }
        return {
            "schema_version": SCHEMA_VERSION,
            "command": "migrate",
            "aksara_version": __version__,
            "database": self.database,
            "tracking_table": self.tracking_table,
            "migrations_dir": self.migrations_dir,
            "dry_run": self.dry_run,
            "target": self.target,
            "status": self.status,
            "exit_code": int(self.exit_code),
            "summary": {
                "total": self.total,
                "previously_applied": self.previously_applied,
                "applied": self.count("applied"),
                "planned": self.count("planned"),
                "failed": self.count("failed"),
                "pending": self.remaining,
            },
            "migrations": [s.to_json() for s in self.steps],
            "drift": [m.to_json() for m in self.drift],
            "error": error,
        }


def _plan(
    report: MigrateReport, states: list[MigrationState], target: int | None
) -> list[MigrationFile]:
    report.total = sum(1 for s in states if s.file is not None)
    report.previously_applied = sum(1 for s in states if s.record is not None)
    report.drift = [s for s in states if s.state in (DRIFTED, MISSING)]
    pending = [s.file for s in states if s.state == PENDING and s.file is not None]
    report.remaining = len(pending)
    if report.drift:
        return []
    return [f for f in pending if target is None or f.version <= target]


def _ensure_table(conn: Conn, table: TrackingTable, parsed: DatabaseURL) -> None:
    """Create the tracking table; a refusal (e.g. no privilege) is a configuration error."""
    try:
        table.ensure(conn)
    except psycopg.Error as exc:
        if conn.broken:
            raise
        raise UsageError(
            f"cannot create the tracking table {table.display_name}: "
            f"{safe_message(exc.diag.message_primary or exc, parsed.secrets())}"
        ) from None


def _prepare_session(conn: Conn) -> None:
    if conn.info.server_version >= 140000:
        conn.execute(
            "SELECT set_config('client_connection_check_interval', %s, false)",
            (CLIENT_CHECK_INTERVAL,),
        )


def migrate(options: MigrateOptions, progress: Progress | None = None) -> MigrateReport:
    """Apply (or, with ``dry_run``, plan) the pending migrations of ``options.directory``.

    Invalid files, a bad target, an unreachable database and a lock timeout raise
    :class:`~aksara.errors.AksaraError` subclasses; drift and a failed migration are
    returned in the report with their exit codes, so JSON output can describe them.
    """
    table = TrackingTable(validate_schema(options.schema))
    validate_lock_timeout(options.lock_timeout)
    files = discover_migrations(options.directory)
    if options.target is not None and all(f.version != options.target for f in files):
        raise UsageError(f"--target {options.target}: no migration file has that version")
    note = progress or (lambda _line: None)
    with connect(options.database_url) as (conn, parsed):
        report = MigrateReport(
            database=parsed.redacted,
            tracking_table=table.display_name,
            migrations_dir=str(options.directory.resolve()),
            dry_run=options.dry_run,
            target=options.target,
        )
        if options.dry_run:
            plan = _plan(report, compare(files, table.fetch_applied(conn)), options.target)
            report.steps = [Step(f, "planned") for f in plan]
            return report
        _prepare_session(conn)
        with advisory_lock(conn, table.lock_key, options.lock_timeout, table.display_name):
            _ensure_table(conn, table, parsed)
            plan = _plan(report, compare(files, table.fetch_applied(conn)), options.target)
            if report.drift:
                return report
            _run_plan(conn, table, plan, report, parsed, note)
        return report


def _run_plan(
    conn: Conn,
    table: TrackingTable,
    plan: list[MigrationFile],
    report: MigrateReport,
    parsed: DatabaseURL,
    note: Progress,
) -> None:
    secrets = parsed.secrets()
    for file in plan:
        note(f"applying {file.name} ...")
        try:
            elapsed = apply_migration(conn, table, file, secrets)
        except MigrationFailed as exc:
            report.steps.append(Step(file, "failed"))
            report.error = exc
            break
        except psycopg.Error as exc:
            if not (conn.broken or conn.closed):
                raise
            # The server went away (terminated backend, restart, network): it rolls back
            # whatever transaction it had not committed and drops the advisory lock.
            raise DatabaseUnreachable(
                f"lost the connection to {parsed.redacted} while applying {file.name}: "
                f"{safe_message(exc, secrets)}; an uncommitted transaction was rolled back "
                "by the server; run 'aksara status' to see what is applied"
            ) from None
        report.steps.append(Step(file, "applied", elapsed))
        note(f"applied  {file.name} ({elapsed} ms)")
    report.remaining -= report.count("applied")
