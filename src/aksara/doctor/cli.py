"""``aksara doctor`` and ``aksara doctor production-check``.

``aksara doctor`` is the developer's view: versions, every setting with where it came
from, and the database checks. ``aksara doctor production-check`` is the production
policy the release gate and operators run before a deploy. Both print one line per
check (or a JSON document) and exit 1 when a check fails.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from aksara.doctor import DEFAULT_CONNECT_TIMEOUT
from aksara.doctor.registry import DOCTOR, PRODUCTION, checks_for, run_suite
from aksara.doctor.report import Report
from aksara.errors import UsageError
from aksara.settings import load_settings

COMMANDS = {DOCTOR: "doctor", PRODUCTION: "doctor production-check"}


def _add_common(parser: argparse.ArgumentParser, inherit: bool = False) -> None:
    """The options both commands share.

    With ``inherit`` (the ``production-check`` subcommand) defaults are suppressed, so
    ``aksara doctor --format json production-check`` keeps the value given before the
    subcommand instead of silently resetting it.
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if inherit else value

    parser.add_argument("--format", choices=("text", "json"), default=default("text"),
                        help="output format (default: text)")
    parser.add_argument("--strict", action="store_true", default=default(False),
                        help="also fail on warnings and on checks that were not evaluated")
    # The subcommand collects its --skip ids separately; run() merges both lists (a
    # shared dest would replace the ids given before the subcommand).
    parser.add_argument("--skip", action="append", default=[], metavar="CHECK_ID",
                        dest="skip_sub" if inherit else "skip",
                        help="do not evaluate CHECK_ID (reported as not_evaluated); repeatable")
    parser.add_argument("--database-url", default=default(None), metavar="URL",
                        help="database URL (default: AKSARA_DATABASE_URL, then DATABASE_URL)")
    parser.add_argument("--migrations-dir", default=default(None), metavar="DIR",
                        help="migrations directory (default: AKSARA_MIGRATIONS_DIR, ./migrations)")
    parser.add_argument("--schema", default=default(None),
                        help="schema of the tracking table (default: AKSARA_SCHEMA, public)")
    parser.add_argument("--connect-timeout", type=int, default=default(None), metavar="SECONDS",
                        help="seconds to wait for the database (default: the URL's "
                        f"connect_timeout, else {DEFAULT_CONNECT_TIMEOUT})")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``doctor`` and ``doctor production-check`` to the top-level parser."""
    doctor = subparsers.add_parser(
        "doctor",
        help="diagnose this installation: settings, database, migrations",
        description="Show versions, where every setting came from, and database and "
        "migration checks. Exit 1 when a check fails.",
    )
    _add_common(doctor)
    doctor.set_defaults(func=lambda args: run(args, DOCTOR))
    sub = doctor.add_subparsers(dest="doctor_command", metavar="SUBCOMMAND",
                                parser_class=type(doctor))
    production = sub.add_parser(
        "production-check",
        help="check the production policy",
        description="Check the production configuration read from the environment "
        "(AKSARA_ENV, AKSARA_DEBUG, AKSARA_SECRET_KEY, ...) and the database. Exit 0 only "
        "when no check fails; --strict also fails on warnings and not-evaluated checks.",
    )
    _add_common(production, inherit=True)
    production.set_defaults(func=lambda args: run(args, PRODUCTION))


def run(args: argparse.Namespace, suite: str) -> int:
    """Evaluate ``suite``, print the report, return its exit code."""
    known = {check.id for check in checks_for(suite)}
    skip = [*args.skip, *getattr(args, "skip_sub", [])]
    unknown = sorted(set(skip) - known)
    if unknown:
        raise UsageError(
            f"unknown check id for --skip: {', '.join(repr(u) for u in unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )
    if args.connect_timeout is not None and args.connect_timeout < 1:
        raise UsageError("--connect-timeout must be at least 1 second")
    settings = load_settings(
        os.environ,
        {
            "database_url": args.database_url,
            "migrations_dir": args.migrations_dir,
            "schema": args.schema,
        },
    )
    from aksara.doctor.context import CheckContext  # imports psycopg: only when checks run

    context = CheckContext(settings, os.environ, connect_timeout=args.connect_timeout)
    results = run_suite(suite, context, skip)
    report = Report(
        command=COMMANDS[suite],
        checks=results,
        strict=args.strict,
        settings=settings if suite == DOCTOR else None,
    )
    output = report.render_json() if args.format == "json" else report.render_text()
    sys.stdout.write(output)
    sys.stdout.flush()
    return int(report.exit_code)
