"""The session-level advisory lock that serialises migrators of one tracking table.

Why session-level: the lock must span many transactions (one per migration), and it
must vanish by itself when the migrator's connection dies (a killed process never
leaves a stale lock behind, unlike a lock row in a table).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors
from psycopg.pq import TransactionStatus

from aksara.migrations.errors import LockTimeout


def _release(conn: psycopg.Connection[Any], key: int) -> None:
    """Roll back anything left open, then unlock (the session is reused by nobody else)."""
    if conn.broken or conn.closed:
        return  # the server ends a dead session's locks itself
    if conn.info.transaction_status != TransactionStatus.IDLE:
        conn.execute("ROLLBACK")
    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


@contextmanager
def advisory_lock(
    conn: psycopg.Connection[Any], key: int, timeout: float, what: str
) -> Iterator[None]:
    """Hold ``pg_advisory_lock(key)`` for the block; wait at most ``timeout`` seconds.

    ``timeout == 0`` means "try once". The wait itself is PostgreSQL's ``lock_timeout``
    (advisory locks go through the lock manager), so waiting costs no polling. A
    server-side cancel of the wait (``statement_timeout`` set on the role or database,
    shorter than ``--lock-timeout``) is a lock timeout too: the lock was not obtained.

    When the block raises, a failure to release the lock never replaces that error:
    the user must see which migration failed and why, and the server drops the lock
    with the session anyway.
    """
    if timeout <= 0:
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        if not (row and row[0]):
            raise LockTimeout(f"another migrator holds the lock on {what}")
    else:
        milliseconds = max(1, round(timeout * 1000))
        conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{milliseconds}ms",))
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        except errors.LockNotAvailable:
            raise LockTimeout(
                f"another migrator held the lock on {what} for more than {timeout:g} s "
                "(--lock-timeout)"
            ) from None
        except errors.QueryCanceled:
            raise LockTimeout(
                f"the server cancelled the wait for the lock on {what} "
                "(its statement_timeout is shorter than --lock-timeout)"
            ) from None
        finally:
            if not conn.broken:
                conn.execute("RESET lock_timeout")
    try:
        yield
    except BaseException:
        try:
            _release(conn, key)
        except psycopg.Error:
            pass  # the original error is the one to report
        raise
    _release(conn, key)
