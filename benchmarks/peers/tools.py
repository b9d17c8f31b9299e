"""How each compared tool is driven: its files, its migrate and status commands.

Why this exists: every tool differs in URL scheme, file layout, tracking table and
flags; keeping those facts in one table makes the comparison auditable. Each command
is the one a user would type in a deploy script, with output options that avoid
interactive prompts (yoyo ``--batch``) or side work the others do not do
(dbmate ``--no-dump-schema``: dumping needs ``pg_dump`` and is not migrating).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from workload import write_dbmate, write_framework, write_plain, write_psql_driver


@dataclass(frozen=True)
class Target:
    """Where a database is: the pieces every tool's URL is built from."""

    host: str
    port: int
    user: str
    password: str
    database: str

    def url(self, scheme: str = "postgresql", query: str = "") -> str:
        auth = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        tail = f"?{query}" if query else ""
        return f"{scheme}://{auth}@{self.host}:{self.port}/{quote(self.database, safe='')}{tail}"


Command = tuple[list[str], dict[str, str]]


@dataclass(frozen=True)
class Tool:
    """One migration tool under test."""

    name: str
    #: Does the tool claim to serialise concurrent migrators (a lock)? Only those get trials.
    claims_locking: bool
    lock_note: str
    #: Writes the N migrations in this tool's format under a directory; returns the dir to use.
    prepare: Callable[[Path, int], Path]
    migrate: Callable[[Target, Path], Command]
    status: Callable[[Target, Path], Command]
    #: SQL counting this tool's bookkeeping rows for the benchmark's migrations (None: none).
    tracking_sql: str | None


def base_env() -> dict[str, str]:
    """A clean environment: no DATABASE_URL or tool config leaks in from the caller."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    return {k: v for k, v in os.environ.items() if k in keep}


def make_tools(
    *, aksara_bin: Path, framework_bin: Path, yoyo_bin: Path, dbmate_bin: Path, psql_bin: Path
) -> dict[str, Tool]:
    """Every tool, keyed by the name used in the results."""

    def psql_prepare(directory: Path, n: int) -> Path:
        write_plain(directory / "sql", n)
        write_psql_driver(directory / "sql", directory / "apply.sql", n)
        return directory

    psql_base = [str(psql_bin), "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    tools = [
        Tool(
            name="aksara",
            claims_locking=True,
            lock_note="PostgreSQL advisory lock held for the whole run (this project)",
            prepare=lambda d, n: write_plain(d, n),
            migrate=lambda t, d: (
                [str(aksara_bin), "migrate", "--migrations-dir", str(d), "--database-url", t.url()],
                base_env(),
            ),
            status=lambda t, d: (
                [str(aksara_bin), "status", "--migrations-dir", str(d), "--database-url", t.url()],
                base_env(),
            ),
            tracking_sql="SELECT count(*) FROM public.aksara_migrations",
        ),
        Tool(
            name="aksara-framework 0.7.2",
            claims_locking=True,
            lock_note="pg_try_advisory_lock: a second migrator fails fast instead of waiting",
            prepare=lambda d, n: write_framework(d, n),
            migrate=lambda t, d: (
                [
                    str(framework_bin),
                    "--plain",
                    "migrate",
                    "--migrations-dir",
                    str(d),
                    "--database-url",
                    t.url(),
                ],
                base_env(),
            ),
            # 0.7.2's `status` has no directory flag; it reads AKSARA_MIGRATIONS_DIR.
            status=lambda t, d: (
                [str(framework_bin), "--plain", "status", "--database-url", t.url()],
                {**base_env(), "AKSARA_MIGRATIONS_DIR": str(d)},
            ),
            tracking_sql=(
                "SELECT count(*) FROM public.aksara_migrations "
                "WHERE name LIKE '%\\_create\\_bench\\_%'"
            ),
        ),
        Tool(
            name="yoyo-migrations",
            claims_locking=True,
            lock_note="lock row in the yoyo_lock table, polled for up to 10 s",
            prepare=lambda d, n: write_plain(d, n),
            migrate=lambda t, d: (
                [
                    str(yoyo_bin),
                    "apply",
                    "--batch",
                    "--no-config-file",
                    "--database",
                    t.url("postgresql+psycopg"),
                    str(d),
                ],
                base_env(),
            ),
            status=lambda t, d: (
                [
                    str(yoyo_bin),
                    "list",
                    "--batch",
                    "--no-config-file",
                    "--database",
                    t.url("postgresql+psycopg"),
                    str(d),
                ],
                base_env(),
            ),
            tracking_sql="SELECT count(*) FROM public._yoyo_migration",
        ),
        Tool(
            name="dbmate",
            claims_locking=False,
            lock_note="no migration lock (upstream issue amacneil/dbmate#101 is open)",
            prepare=lambda d, n: write_dbmate(d, n),
            migrate=lambda t, d: (
                [
                    str(dbmate_bin),
                    "--url",
                    t.url("postgres", "sslmode=disable"),
                    "--migrations-dir",
                    str(d),
                    "--no-dump-schema",
                    "migrate",
                ],
                base_env(),
            ),
            status=lambda t, d: (
                [
                    str(dbmate_bin),
                    "--url",
                    t.url("postgres", "sslmode=disable"),
                    "--migrations-dir",
                    str(d),
                    "status",
                    "--exit-code",
                ],
                base_env(),
            ),
            tracking_sql="SELECT count(*) FROM public.schema_migrations",
        ),
        Tool(
            name="psql",
            claims_locking=False,
            lock_note="no tracking, no lock: the floor",
            prepare=psql_prepare,
            migrate=lambda t, d: (
                [*psql_base, "-d", t.url(), "-f", str(d / "apply.sql")],
                base_env(),
            ),
            # The floor for a status check: one connection, one catalogue query.
            status=lambda t, d: (
                [
                    *psql_base,
                    "-At",
                    "-d",
                    t.url(),
                    "-c",
                    "SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename LIKE 'bench\\_%'",
                ],
                base_env(),
            ),
            tracking_sql=None,
        ),
    ]
    return {tool.name: tool for tool in tools}
