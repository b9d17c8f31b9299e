"""The one exception type the CLI turns into a one-line message and an exit code."""

from aksara.exitcodes import ExitCode


class AksaraError(Exception):
    """An error meant for the user: ``str(error)`` is the whole message, secrets removed.

    Raise it (or a subclass) with a message that is safe to print; the CLI prints
    ``aksara: error: <message>`` and exits with :attr:`exit_code`.
    """

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(AksaraError):
    """Bad arguments or configuration."""

    exit_code = ExitCode.USAGE


class DatabaseUnreachable(AksaraError):
    """The database could not be reached."""

    exit_code = ExitCode.DB_UNREACHABLE
