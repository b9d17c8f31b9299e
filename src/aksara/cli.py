"""The ``aksara`` command line: argument parsing, dispatch, and the error boundary.

Every subcommand lives in its own package and registers itself through a
``register(subparsers)`` function; this module only wires them together and makes
sure no error ever leaves as a traceback or with a secret in it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from aksara import __version__
from aksara.errors import AksaraError
from aksara.exitcodes import ExitCode

#: Modules that contribute subcommands; each exposes ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = ("aksara.migrations.cli", "aksara.doctor.cli")


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
        return int(args.func(args))
    except AksaraError as exc:
        print(f"aksara: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("aksara: error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the boundary that forbids tracebacks
        # The message of an unexpected exception may embed a URL or a driver error; only
        # its type is printed, never its text.
        print(
            f"aksara: internal error: {type(exc).__name__} (please report this)",
            file=sys.stderr,
        )
        return int(ExitCode.INTERNAL)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
