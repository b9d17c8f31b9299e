"""Running one migration file: all-or-nothing, with errors located by file and line.

Why two modes:

* A **transactional** file (the default) is first split with PostgreSQL's own parser
  (:mod:`aksara.migrations.statements`): a file holding ``BEGIN``/``COMMIT``/
  ``ROLLBACK``... or ``COPY ... FROM STDIN`` is refused before anything runs. It is then
  sent to PostgreSQL as one query inside the engine's ``BEGIN ... COMMIT`` together
  with its tracking row, so applying is as cheap as ``psql``. Before the row is written
  the engine checks the *state*, not the text: the connection must still be inside the
  very transaction the engine opened (a marker set with ``set_config(..., true)``
  lives exactly as long as that transaction). An error carrying a position is mapped
  to its line directly. For an error without one (a constraint violation, say) in a
  file of several statements, the statements are re-run one by one in a transaction
  that is always rolled back, to find the line; this replay is skipped when the failed
  attempt took longer than :data:`REPLAY_LIMIT_S`, and the line is then omitted.
* A ``-- aksara:no-transaction`` file is split the same way and run one statement at a
  time in autocommit mode, as ``CREATE INDEX CONCURRENTLY`` requires. The file may
  manage transactions itself, but must end idle: a file that leaves a transaction open
  is rolled back and fails. Its tracking row is written only after every statement
  succeeded and the connection is idle.

On every failure the connection is rolled back first, so what follows (the advisory
unlock, the replay) runs on a clean session and the user sees the original error.
"""

from __future__ import annotations

import secrets as _random
import time
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from aksara.migrations.db import safe_message
from aksara.migrations.discovery import MigrationFile
from aksara.migrations.errors import MigrationFailed
from aksara.migrations.statements import SplitError, Statement, split_statements
from aksara.migrations.tracking import TrackingTable

Conn = psycopg.Connection[Any]

#: Failed transactional migrations that ran longer than this are not replayed to
#: find the failing line.
REPLAY_LIMIT_S = 10.0
#: The session setting that marks the engine's own transaction (``SET LOCAL`` scope).
TRANSACTION_MARKER = "aksara.migration_transaction"
#: SQLSTATE of a syntax error, reported for files PostgreSQL's grammar rejects.
SYNTAX_ERROR = "42601"


class _StopReplay(Exception):
    """Ends the diagnostic replay (and rolls its transaction back)."""


def _position(exc: psycopg.Error) -> int | None:
    try:
        return int(exc.diag.statement_position or "")
    except ValueError:
        return None


def rollback_quietly(conn: Conn) -> None:
    """End whatever transaction the session is in; a failure here is not the story.

    Called while another error is on its way to the user: if the rollback itself fails
    (the connection died), the original error must still be the one reported.
    """
    if conn.closed or conn.broken:
        return
    if conn.info.transaction_status == TransactionStatus.IDLE:
        return
    try:
        conn.execute("ROLLBACK")
    except psycopg.Error:
        pass


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


def _split(file: MigrationFile, text: str) -> list[Statement]:
    """The file's statements, or a MigrationFailed naming the line the grammar rejects."""
    try:
        return list(split_statements(text))
    except SplitError as exc:
        if exc.copy_stdio:
            raise _copy_refused(file, exc.line) from None
        raise MigrationFailed(
            f"{file.name}:{exc.line}: {exc} (SQLSTATE {SYNTAX_ERROR}); nothing was run",
            file=file.name,
            line=exc.line,
            sqlstate=SYNTAX_ERROR,
        ) from None


def _copy_refused(file: MigrationFile, line: int) -> MigrationFailed:
    return MigrationFailed(
        f"{file.name}:{line}: COPY ... FROM STDIN / TO STDOUT needs a client data stream, "
        "which a migration file cannot provide (inline psql data is not SQL); use INSERT, "
        "or COPY from a server-side file; nothing was run",
        file=file.name,
        line=line,
    )


def _refuse_copy_stdio(file: MigrationFile, statements: list[Statement]) -> None:
    for statement in statements:
        if statement.copies_stdio:
            raise _copy_refused(file, statement.line)


def _refuse_transaction_control(file: MigrationFile, statements: list[Statement]) -> None:
    for statement in statements:
        if statement.controls_transaction:
            raise MigrationFailed(
                f"{file.name}:{statement.line}: {statement.keyword} is not allowed in a "
                "transactional migration (the engine owns the transaction; use "
                "'-- aksara:no-transaction' on line 1 to manage it yourself); nothing was run",
                file=file.name,
                line=statement.line,
            )


def _locate(
    conn: Conn, statements: list[Statement], sqlstate: str | None, elapsed: float
) -> int | None:
    """Find the line of an error PostgreSQL reported without a position."""
    if len(statements) == 1:
        return statements[0].line
    if elapsed > REPLAY_LIMIT_S or not statements:
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


def _still_in_engine_transaction(conn: Conn, marker: str) -> bool:
    if conn.info.transaction_status != TransactionStatus.INTRANS:
        return False
    row = conn.execute("SELECT current_setting(%s, true)", (TRANSACTION_MARKER,)).fetchone()
    return row is not None and row[0] == marker


def _apply_transactional(
    conn: Conn, table: TrackingTable, file: MigrationFile, text: str, secrets: list[str]
) -> int:
    statements = _split(file, text)
    _refuse_copy_stdio(file, statements)
    _refuse_transaction_control(file, statements)
    marker = _random.token_hex(16)
    started = time.perf_counter()
    try:
        conn.execute("BEGIN")
        conn.execute("SELECT set_config(%s, %s, true)", (TRANSACTION_MARKER, marker))
        conn.execute(text)
        if not _still_in_engine_transaction(conn, marker):
            rollback_quietly(conn)
            raise MigrationFailed(
                f"{file.name}: ended the engine's transaction; it was rolled back and no "
                "tracking row was written",
                file=file.name,
            )
        elapsed = round((time.perf_counter() - started) * 1000)
        table.record(conn, file, elapsed)
        conn.execute("COMMIT")
        return elapsed
    except psycopg.Error as exc:
        if conn.broken:
            raise  # the connection died: reported as "database unreachable" (exit 3)
        rollback_quietly(conn)
        failed = exc
    except BaseException:
        rollback_quietly(conn)
        raise
    # The transaction is rolled back now; work out where the error was.
    position = _position(failed)
    if position is not None:
        line: int | None = Statement(text, 1, 1, "").line_of_position(position)
    else:
        line = _locate(conn, statements, failed.diag.sqlstate, time.perf_counter() - started)
    raise _failure(file, failed, line, secrets)


def _apply_autocommit(
    conn: Conn, table: TrackingTable, file: MigrationFile, text: str, secrets: list[str]
) -> int:
    statements = _split(file, text)
    _refuse_copy_stdio(file, statements)
    started = time.perf_counter()
    for index, statement in enumerate(statements):
        try:
            conn.execute(statement.text)
        except psycopg.Error as exc:
            if conn.broken:
                raise
            rollback_quietly(conn)
            error = _failure(file, exc, statement.line_of_position(_position(exc)), secrets)
            if index:
                error.args = (
                    f"{error}; no-transaction migration: the {index} statement(s) before "
                    "it stay committed (unless inside a transaction it opened, which was "
                    "rolled back) and no tracking row was written",
                )
            raise error from None
        except BaseException:
            rollback_quietly(conn)
            raise
    if conn.info.transaction_status != TransactionStatus.IDLE:
        rollback_quietly(conn)
        raise MigrationFailed(
            f"{file.name}: a no-transaction migration must end outside a transaction, but "
            "this one left a transaction open (BEGIN without COMMIT); it was rolled back "
            "and no tracking row was written",
            file=file.name,
        )
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
