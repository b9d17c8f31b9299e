"""Exit codes of every ``aksara`` command, in one place so docs and code cannot drift.

Scripts and the release gate branch on these numbers; they are part of the public
interface, documented in ``docs/migrations.md`` and ``docs/doctor.md``.
Never renumber an existing code.
"""

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit status of the ``aksara`` CLI."""

    #: Success; for ``status``: everything applied and verified.
    OK = 0
    #: ``doctor``: at least one check failed (or, with ``--strict``, warned / not evaluated).
    CHECK_FAILED = 1
    #: Bad arguments or configuration (unknown flag, malformed URL, missing directory).
    USAGE = 2
    #: The database could not be reached (refused, timed out, authentication failed).
    DB_UNREACHABLE = 3
    #: ``status``: nothing is wrong, but migrations are pending.
    PENDING = 4
    #: An applied migration's file changed (checksum drift) or is missing.
    DRIFT = 5
    #: A migration failed while being applied; it was rolled back.
    MIGRATION_FAILED = 6
    #: ``migrate`` could not take the advisory lock within ``--lock-timeout``.
    LOCK_TIMEOUT = 7
    #: The migrations directory holds an invalid file (bad name, duplicate version, ...).
    INVALID_MIGRATIONS = 8
    #: An unexpected internal error; reported in one line, never as a traceback.
    INTERNAL = 70
