"""Aksara's PostgreSQL migration engine: ``aksara migrate`` and ``aksara status``.

The public Python API (used by ``aksara doctor`` and by people's own tooling):
:func:`discover_migrations`, :func:`get_status`, :func:`migrate` and the types they
return. See ``docs/migrations.md`` for the file format, the commands and the JSON.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from aksara.migrations.checksum import checksum_bytes
    from aksara.migrations.discovery import (
        MigrationFile,
        discover_migrations,
        parse_migration_filename,
    )
    from aksara.migrations.engine import MigrateOptions, MigrateReport, migrate
    from aksara.migrations.errors import InvalidMigrations, LockTimeout, MigrationFailed
    from aksara.migrations.status import MigrationState, StatusReport, get_status

#: Where each public name lives. Loaded on first use (PEP 562) so that importing a light
#: submodule (settings, discovery) or starting the CLI does not import psycopg: the
#: driver is loaded only by a command that talks to the database.
_PUBLIC: dict[str, str] = {
    "checksum_bytes": "checksum",
    "MigrationFile": "discovery",
    "discover_migrations": "discovery",
    "parse_migration_filename": "discovery",
    "MigrateOptions": "engine",
    "MigrateReport": "engine",
    "migrate": "engine",
    "InvalidMigrations": "errors",
    "LockTimeout": "errors",
    "MigrationFailed": "errors",
    "MigrationState": "status",
    "StatusReport": "status",
    "get_status": "status",
}


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'aksara.migrations' has no attribute {name!r}")
    return getattr(importlib.import_module(f"aksara.migrations.{module}"), name)


__all__ = [
    "InvalidMigrations",
    "LockTimeout",
    "MigrateOptions",
    "MigrateReport",
    "MigrationFailed",
    "MigrationFile",
    "MigrationState",
    "StatusReport",
    "checksum_bytes",
    "discover_migrations",
    "get_status",
    "migrate",
    "parse_migration_filename",
]
