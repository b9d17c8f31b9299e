"""``aksara migrate`` and ``aksara status``: argument parsing and output, nothing else.

Why thin: the engine (:mod:`aksara.migrations.engine`) and the status comparison
(:mod:`aksara.migrations.status`) are the product; this module resolves flags and
environment variables, prints text or JSON, and returns the documented exit code.
In JSON mode an error that stops a command still prints a JSON document (``status``
``"error"``) on stdout, and the usual one-line message on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any

from aksara import __version__
from aksara.dburl import resolve_database_url
from aksara.errors import AksaraError, UsageError
from aksara.migrations.safetext import printable, summarize
from aksara.migrations.settings import (
    DEFAULT_LOCK_TIMEOUT,
    MAX_LOCK_TIMEOUT,
    resolve_migrations_dir,
    resolve_schema,
)

# The engine, the status comparison and their renderers import psycopg (~0.1 s); they
# are imported inside the handlers so `aksara --help`/`--version` and argument errors
# stay fast and every command pays for the driver once, when it needs it.


def _lock_timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_LOCK_TIMEOUT:
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds between 0 and {MAX_LOCK_TIMEOUT:g}, got {value!r}"
        )
    return seconds


def _version(value: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise argparse.ArgumentTypeError(
            f"not a migration version (a non-negative integer): {value!r}"
        )
    return int(value)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="PostgreSQL URL (default: $AKSARA_DATABASE_URL, then $DATABASE_URL)",
    )
    parser.add_argument(
        "--migrations-dir",
        metavar="DIR",
        help="directory of <version>_<description>.sql files "
        "(default: $AKSARA_MIGRATIONS_DIR, then ./migrations)",
    )
    parser.add_argument(
        "--schema",
        metavar="NAME",
        help="schema of the aksara_migrations tracking table "
        "(default: $AKSARA_SCHEMA, then public)",
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="output format (default: text)"
    )


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``migrate`` and ``status`` to the top-level parser."""
    migrate_parser = subparsers.add_parser(
        "migrate",
        help="apply pending migrations",
        description="Apply pending migrations in version order, each in its own transaction, "
        "under an advisory lock, after verifying every applied migration's checksum.",
        epilog="exit codes: 0 done, 2 usage, 3 database unreachable, 5 drift or missing, "
        "6 migration failed (rolled back), 7 lock timeout, 8 invalid migration files",
    )
    _common(migrate_parser)
    migrate_parser.add_argument(
        "--target",
        type=_version,
        metavar="VERSION",
        help="apply migrations up to this version only",
    )
    migrate_parser.add_argument(
        "--dry-run", action="store_true", help="print the plan; change nothing"
    )
    migrate_parser.add_argument(
        "--lock-timeout",
        type=_lock_timeout,
        default=DEFAULT_LOCK_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for another migrator's lock (default: {DEFAULT_LOCK_TIMEOUT:g}; "
        "0 = do not wait)",
    )
    migrate_parser.set_defaults(func=run_migrate)

    status_parser = subparsers.add_parser(
        "status",
        help="show applied, pending, drifted and missing migrations",
        description="Compare the migration files with the tracking table, verifying every "
        "checksum.",
        epilog="exit codes: 0 clean, 2 usage, 3 database unreachable, 4 pending, "
        "5 drift or missing, 8 invalid migration files",
    )
    _common(status_parser)
    status_parser.set_defaults(func=run_status)


def _database_url(args: argparse.Namespace) -> str:
    resolved = resolve_database_url(args.database_url, os.environ)
    if resolved.url is None:
        raise UsageError(
            "no database URL: pass --database-url or set AKSARA_DATABASE_URL or DATABASE_URL"
        )
    return resolved.url


def _print_json(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def _error_document(command: str, exc: AksaraError) -> dict[str, Any]:
    from aksara.migrations.status import SCHEMA_VERSION

    return {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "aksara_version": __version__,
        "status": "error",
        "exit_code": int(exc.exit_code),
        "error": {"message": str(exc), "file": None, "line": None, "sqlstate": None},
    }


def run_status(args: argparse.Namespace) -> int:
    """Handler of ``aksara status``."""
    from aksara.migrations.render import status_text
    from aksara.migrations.status import get_status

    try:
        report = get_status(
            _database_url(args),
            resolve_migrations_dir(args.migrations_dir, os.environ),
            resolve_schema(args.schema, os.environ),
        )
    except AksaraError as exc:
        if args.format == "json":
            _print_json(_error_document("status", exc))
        raise
    if args.format == "json":
        _print_json(report.to_json())
    else:
        print(status_text(report))
    return int(report.exit_code)


def run_migrate(args: argparse.Namespace) -> int:
    """Handler of ``aksara migrate``."""
    from aksara.migrations.engine import MigrateOptions, migrate
    from aksara.migrations.render import migrate_text

    text = args.format == "text"

    def progress(line: str) -> None:
        if text:
            print(line, flush=True)

    try:
        options = MigrateOptions(
            database_url=_database_url(args),
            directory=resolve_migrations_dir(args.migrations_dir, os.environ),
            schema=resolve_schema(args.schema, os.environ),
            target=args.target,
            dry_run=args.dry_run,
            lock_timeout=args.lock_timeout,
        )
        report = migrate(options, progress)
    except AksaraError as exc:
        if not text:
            _print_json(_error_document("migrate", exc))
        raise
    if text:
        print(migrate_text(report))
    else:
        _print_json(report.to_json())
    if report.error is not None:
        print(f"aksara: error: {printable(str(report.error))}", file=sys.stderr)
    elif report.drift:
        names = summarize([m.name for m in report.drift])
        print(f"aksara: error: applied migrations drifted or missing: {names}", file=sys.stderr)
    return int(report.exit_code)
