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

from aksara.migrations.errors import LockTimeout


@contextmanager
def advisory_lock(
    conn: psycopg.Connection[Any], key: int, timeout: float, what: str
) -> Iterator[None]:
    """Hold ``pg_advisory_lock(key)`` for the block; wait at most ``timeout`` seconds.

    ``timeout == 0`` means "try once". The wait itself is PostgreSQL's ``lock_timeout``
    (advisory locks go through the lock manager), so waiting costs no polling.
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
        finally:
            if not conn.broken:
                conn.execute("RESET lock_timeout")
    try:
        yield
    finally:
        if not conn.broken and not conn.closed:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
