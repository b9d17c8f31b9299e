"""The ``aksara`` command line: argument parsing, dispatch, and the error boundary.

Every subcommand lives in its own package and registers itself through a
``register(subparsers)`` function; this module only wires them together and makes
sure no error ever leaves as a traceback or with a secret in it.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn

from aksara import __version__
from aksara.errors import AksaraError
from aksara.exitcodes import ExitCode
from aksara.migrations.safetext import printable

#: Modules that contribute subcommands; each exposes ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = ("aksara.migrations.cli", "aksara.doctor.cli")
#: Shell convention: 128 + signal number.
EXIT_SIGINT = 128 + signal.SIGINT
EXIT_SIGTERM = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so psycopg cancels the running query and every
    ``finally`` (rollback, advisory unlock, close) runs before the process exits."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while a command runs (main thread only)."""
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (an embedding application): leave it alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Parser(argparse.ArgumentParser):
    """argparse, but bad arguments give one line and the documented usage exit code."""

    def error(self, message: str) -> NoReturn:
        self.exit(
            int(ExitCode.USAGE),
            f"{self.prog}: error: {message} (see '{self.prog} --help')\n",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="aksara",
        description="Aksara: PostgreSQL migrations and production diagnostics.",
    )
    parser.add_argument("--version", action="version", version=f"aksara {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on an internal error, print the Python traceback (it may show connection "
        "details; do not paste it publicly unredacted)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script exits with it)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with _sigterm_raises():
            return int(args.func(args))
    except AksaraError as exc:
        print(f"aksara: error: {printable(str(exc))}", file=sys.stderr)
        return int(exc.exit_code)
    except Terminated:
        print("aksara: error: terminated (SIGTERM)", file=sys.stderr)
        return EXIT_SIGTERM
    except KeyboardInterrupt:
        print("aksara: error: interrupted (SIGINT)", file=sys.stderr)
        return EXIT_SIGINT
    except Exception as exc:  # noqa: BLE001 - the boundary that forbids tracebacks
        # The message of an unexpected exception may embed a URL or a driver error; only
        # its type is printed, never its text, unless the user asked for --debug.
        if getattr(args, "debug", False):
            traceback.print_exc(file=sys.stderr)
        print(
            f"aksara: internal error: {type(exc).__name__} "
            "(run again with --debug for the traceback; please report this)",
            file=sys.stderr,
        )
        return int(ExitCode.INTERNAL)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
