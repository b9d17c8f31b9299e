"""Where the migration commands get their configuration: flag, then environment, then default.

Why shared: ``aksara migrate``, ``aksara status`` and ``aksara doctor`` must agree on
which directory and which schema they look at, or the doctor would vouch for a
different database state than the one ``migrate`` produced.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aksara.errors import UsageError

MIGRATIONS_DIR_ENV = "AKSARA_MIGRATIONS_DIR"
SCHEMA_ENV = "AKSARA_SCHEMA"
DEFAULT_MIGRATIONS_DIR = "migrations"
DEFAULT_SCHEMA = "public"
#: The tracking table's name inside the chosen schema.
TRACKING_TABLE = "aksara_migrations"
#: PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1).
MAX_IDENTIFIER_BYTES = 63
#: Seconds ``aksara migrate`` waits for another migrator's advisory lock by default.
DEFAULT_LOCK_TIMEOUT = 60.0
#: The longest wait PostgreSQL's ``lock_timeout`` can express: INT_MAX milliseconds.
MAX_LOCK_TIMEOUT = 2_147_483.0


def validate_lock_timeout(seconds: float) -> float:
    """Reject waits PostgreSQL cannot express (a usage error, exit 2, not a server error)."""
    if not (0 <= seconds <= MAX_LOCK_TIMEOUT):  # also false for NaN
        raise UsageError(
            f"--lock-timeout must be between 0 and {MAX_LOCK_TIMEOUT:g} seconds, got {seconds:g}"
        )
    return seconds


def resolve_migrations_dir(flag: str | None, environ: Mapping[str, str]) -> Path:
    """``--migrations-dir``, else ``AKSARA_MIGRATIONS_DIR``, else ``./migrations``."""
    value = flag or environ.get(MIGRATIONS_DIR_ENV) or DEFAULT_MIGRATIONS_DIR
    return Path(value)


def validate_schema(schema: str) -> str:
    """Reject schema names PostgreSQL would silently truncate or cannot represent."""
    if not schema:
        raise UsageError("schema name is empty")
    if "\x00" in schema:
        raise UsageError("schema name contains a NUL character")
    if len(schema.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        raise UsageError(f"schema name is longer than {MAX_IDENTIFIER_BYTES} bytes")
    return schema


def resolve_schema(flag: str | None, environ: Mapping[str, str]) -> str:
    """``--schema``, else ``AKSARA_SCHEMA``, else ``public``; validated."""
    if flag is not None:
        return validate_schema(flag)
    return validate_schema(environ.get(SCHEMA_ENV) or DEFAULT_SCHEMA)
