"""The CLI loads the database driver only when a command needs the database.

Why it matters: every `aksara migrate` / `aksara status` run pays Python's start-up,
and psycopg's import is the largest part of it (see docs/benchmarks.md). Help,
version and argument errors must not pay it at all.
"""

import subprocess
import sys

PROBE = (
    "import sys, aksara.cli\n"
    "parser = aksara.cli.build_parser()\n"
    "parser.parse_args(['migrate', '--dry-run'])\n"
    "parser.parse_args(['doctor', 'production-check', '--format', 'json'])\n"
    "heavy = sorted(m for m in sys.modules\n"
    "               if m.split('.')[0] in ('psycopg', 'pglast', 'sqlparse'))\n"
    "print(','.join(heavy))\n"
)


def test_building_the_parser_imports_no_database_driver() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_the_public_migrations_api_still_resolves_lazily() -> None:
    import aksara.migrations as migrations

    assert callable(migrations.get_status) and callable(migrations.migrate)
    assert migrations.checksum_bytes(b"a\r\nb") == migrations.checksum_bytes(b"a\nb")
    try:
        migrations.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("unknown attribute did not raise")
