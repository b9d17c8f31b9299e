"""Errors of the migration engine, each tied to its documented exit code.

Why separate classes: scripts and the release gate branch on the exit code, so every
way a run can stop (invalid files, a failed migration, a held lock) must map to
exactly one code. The message is always one line and safe to print. (Drift is not an
exception: ``migrate`` and ``status`` report it, with exit code 5, in their reports.)
"""

from __future__ import annotations

from aksara.errors import AksaraError
from aksara.exitcodes import ExitCode


class InvalidMigrations(AksaraError):
    """The migrations directory holds a file the engine refuses to run (exit 8)."""

    exit_code = ExitCode.INVALID_MIGRATIONS


class MigrationFailed(AksaraError):
    """A migration failed while being applied (exit 6).

    ``file`` and ``line`` locate the failing statement; ``sqlstate`` is PostgreSQL's
    error code when the server reported one.
    """

    exit_code = ExitCode.MIGRATION_FAILED

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        sqlstate: str | None = None,
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.sqlstate = sqlstate


class LockTimeout(AksaraError):
    """Another migrator held the advisory lock for longer than ``--lock-timeout`` (exit 7)."""

    exit_code = ExitCode.LOCK_TIMEOUT
