"""Running one migration file: all-or-nothing, with errors located by file and line.

Why two modes:

* A **transactional** file (the default) is sent to PostgreSQL as one query inside
  ``BEGIN ... COMMIT`` together with its tracking row. The server parses the whole
  file itself (a syntax error anywhere stops it before anything runs) and the client
  does no SQL lexing on the hot path, so applying is as cheap as ``psql``. An error
  carrying a position is mapped to its line directly. For an error without one
  (a constraint violation, say) in a file of several statements, the statements are
  re-run one by one in a transaction that is always rolled back, to find the line;
  this replay is skipped when the failed attempt took longer than
  :data:`REPLAY_LIMIT_S`, and the line is then omitted.
* A ``-- aksara:no-transaction`` file is split into statements (``sqlparse``) and run
  one at a time in autocommit mode, as ``CREATE INDEX CONCURRENTLY`` requires; its
  tracking row is written only after every statement succeeded.
"""

from __future__ import annotations

import re
import time
from typing import Any

import psycopg

from aksara.migrations.db import safe_message
from aksara.migrations.discovery import MigrationFile
from aksara.migrations.errors import MigrationFailed
from aksara.migrations.statements import Statement, split_statements
from aksara.migrations.tracking import TrackingTable

Conn = psycopg.Connection[Any]

#: Failed transactional migrations that ran longer than this are not replayed to
#: find the failing line.
REPLAY_LIMIT_S = 10.0
#: Files mentioning none of these words cannot hold a transaction-control statement,
#: so they need no lexing before they run.
_MAYBE_TRANSACTION_CONTROL = re.compile(
    r"\b(?:BEGIN|START|COMMIT|END|ROLLBACK|ABORT)\b", re.IGNORECASE
)


class _StopReplay(Exception):
    """Ends the diagnostic replay (and rolls its transaction back)."""


def _position(exc: psycopg.Error) -> int | None:
    try:
        return int(exc.diag.statement_position or "")
    except ValueError:
        return None


def _failure(
    file: MigrationFile, exc: psycopg.Error, line: int | None, secrets: list[str]
) -> MigrationFailed:
    """Turn a PostgreSQL error into a one-line, secret-free MigrationFailed."""
    diag = exc.diag
    where = f"{file.name}:{line}" if line is not None else file.name
    message = f"{where}: {diag.message_primary or exc}"
    if diag.sqlstate:
        message += f" (SQLSTATE {diag.sqlstate})"
    if diag.message_hint:
        message += f"; hint: {diag.message_hint}"
    return MigrationFailed(
        safe_message(message, secrets), file=file.name, line=line, sqlstate=diag.sqlstate
    )


def _refuse_transaction_control(file: MigrationFile, text: str) -> None:
    if not _MAYBE_TRANSACTION_CONTROL.search(text):
        return
    for statement in split_statements(text):
        if statement.controls_transaction:
            raise MigrationFailed(
                f"{file.name}:{statement.line}: {statement.keyword} is not allowed in a "
                "transactional migration (the engine owns the transaction; use "
                "'-- aksara:no-transaction' on line 1 to manage it yourself)",
                file=file.name,
                line=statement.line,
            )


def _locate(conn: Conn, text: str, sqlstate: str | None, elapsed: float) -> int | None:
    """Find the line of an error PostgreSQL reported without a position."""
    statements = list(split_statements(text))
    if len(statements) == 1:
        return statements[0].line
    if elapsed > REPLAY_LIMIT_S:
        return None
    found: list[int] = []
    try:
        with conn.transaction(force_rollback=True):
            for statement in statements:
                try:
                    conn.execute(statement.text)
                except psycopg.Error as exc:
                    if conn.broken:
                        raise
                    if exc.diag.sqlstate == sqlstate:
                        found.append(statement.line_of_position(_position(exc)))
                    raise _StopReplay from None
    except _StopReplay:
        pass
    return found[0] if found else None


def _apply_transactional(
    conn: Conn, table: TrackingTable, file: MigrationFile, text: str, secrets: list[str]
) -> int:
    _refuse_transaction_control(file, text)
    started = time.perf_counter()
    failed: psycopg.Error | None = None
    try:
        with conn.transaction():
            conn.execute(text)
            elapsed = round((time.perf_counter() - started) * 1000)
            table.record(conn, file, elapsed)
        return elapsed
    except psycopg.Error as exc:
        if conn.broken:
            raise  # the connection died: reported as "database unreachable" (exit 3)
        failed = exc
    # The transaction is rolled back now; work out where the error was.
    position = _position(failed)
    if position is not None:
        line: int | None = Statement(text, 1, 1, "").line_of_position(position)
    else:
        line = _locate(conn, text, failed.diag.sqlstate, time.perf_counter() - started)
    raise _failure(file, failed, line, secrets)


def _apply_autocommit(
    conn: Conn, table: TrackingTable, file: MigrationFile, text: str, secrets: list[str]
) -> int:
    started = time.perf_counter()
    for index, statement in enumerate(split_statements(text)):
        try:
            conn.execute(statement.text)
        except psycopg.Error as exc:
            if conn.broken:
                raise
            error = _failure(file, exc, statement.line_of_position(_position(exc)), secrets)
            if index:
                error.args = (
                    f"{error}; no-transaction migration: the {index} statement(s) before "
                    "it stay committed and no tracking row was written",
                )
            raise error from None
    elapsed = round((time.perf_counter() - started) * 1000)
    with conn.transaction():
        table.record(conn, file, elapsed)
    return elapsed


def apply_migration(
    conn: Conn, table: TrackingTable, file: MigrationFile, secrets: list[str]
) -> int:
    """Apply ``file`` and record it; return its execution time in milliseconds.

    Raises :class:`MigrationFailed` (the migration is rolled back, or for a
    no-transaction file, not recorded) or lets a broken connection's error through.
    """
    text = file.read_sql()
    if file.transactional:
        return _apply_transactional(conn, table, file, text, secrets)
    return _apply_autocommit(conn, table, file, text, secrets)
