"""Aksara's PostgreSQL migration engine: ``aksara migrate`` and ``aksara status``.

The public Python API (used by ``aksara doctor`` and by people's own tooling):
:func:`discover_migrations`, :func:`get_status`, :func:`migrate` and the types they
return. See ``docs/migrations.md`` for the file format, the commands and the JSON.
"""

from aksara.migrations.checksum import checksum_bytes
from aksara.migrations.discovery import MigrationFile, discover_migrations, parse_migration_filename
from aksara.migrations.engine import MigrateOptions, MigrateReport, migrate
from aksara.migrations.errors import InvalidMigrations, LockTimeout, MigrationFailed
from aksara.migrations.status import MigrationState, StatusReport, get_status

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
