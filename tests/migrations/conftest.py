"""Fixtures for the DB-backed migration tests: the real CLI against a real PostgreSQL.

Scenarios run the real CLI entry point (``aksara.cli.main``) in-process, and as a
separate ``python -m aksara`` process wherever processes matter (concurrency, SIGKILL,
the console script itself). Every call checks the one rule that holds for all of them:
the database password never appears in stdout or stderr, and nothing prints a
traceback.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aksara_release.pgserver import create_database, drop_database
from psycopg import sql

from aksara.cli import main
from aksara.dburl import parse_database_url


def _default_sigint() -> None:
    """In the child, before exec: SIGINT back to its default disposition."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Result:
    """A finished ``aksara`` process."""

    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def assert_no_secret(secrets: list[str], *texts: str) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, "a secret leaked into the output"


class Aksara:
    """Runs the CLI against one test database and one migrations directory."""

    def __init__(self, url: str, migrations_dir: Path) -> None:
        self.url = url
        self.dir = migrations_dir
        # The embedded server and the gate's databases always use a password; an
        # external DATABASE_URL might not, and then there is no secret to leak.
        self.secrets = parse_database_url(url).secrets()

    def env(self, url: str | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k
            not in {"AKSARA_DATABASE_URL", "DATABASE_URL", "AKSARA_MIGRATIONS_DIR", "AKSARA_SCHEMA"}
        }
        env["AKSARA_DATABASE_URL"] = url or self.url
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.update(extra or {})
        return env

    def argv(self, *args: str, add_dir: bool = True) -> list[str]:
        argv = [sys.executable, "-m", "aksara", *args]
        wants_dir = add_dir and args and args[0] in {"migrate", "status"}
        if wants_dir and "--migrations-dir" not in args:
            argv += ["--migrations-dir", str(self.dir)]
        return argv

    def run(
        self,
        *args: str,
        url: str | None = None,
        extra_env: dict[str, str] | None = None,
        add_dir: bool = True,
    ) -> Result:
        """Run ``aksara.cli.main`` in this process (fast; same code path as the console script)."""
        argv = self.argv(*args, add_dir=add_dir)[3:]
        out, err = io.StringIO(), io.StringIO()
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env(url, extra_env))
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(argv)
                except SystemExit as exc:  # argparse exits on bad arguments
                    code = exc.code if isinstance(exc.code, int) else 1
        finally:
            os.environ.clear()
            os.environ.update(saved)
        result = Result(code, out.getvalue(), err.getvalue())
        self.check_output(result)
        return result

    def run_process(self, *args: str, url: str | None = None, timeout: float = 90) -> Result:
        """Run ``python -m aksara`` as a real process."""
        proc = subprocess.run(
            self.argv(*args),
            env=self.env(url),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        self.check_output(result)
        return result

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """The CLI as a process the tests signal. SIGINT is reset to its default first:
        a test run started in the background by a non-interactive shell (``cmd &``,
        CI harnesses) inherits SIGINT *ignored*, exec keeps that, and Python then
        honours it (no KeyboardInterrupt): the interrupt tests would wait out the
        migration instead of testing the handling."""
        return subprocess.Popen(
            self.argv(*args),
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_default_sigint,
        )

    def check_output(self, result: Result) -> None:
        self.check_texts(result.stdout, result.stderr)

    def check_texts(self, stdout: str, stderr: str) -> None:
        """No secret anywhere, no traceback, no internal error."""
        assert_no_secret(self.secrets, stdout, stderr)
        assert "Traceback" not in stderr, stderr
        assert "internal error" not in stderr, stderr

    def write(self, name: str, text: str | bytes) -> Path:
        path = self.dir / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.query(sql, params)[0][0]

    def table_exists(self, name: str, schema: str = "public") -> bool:
        return bool(
            self.scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = %s)",
                (schema, name),
            )
        )

    def recorded_versions(self, schema: str = "public") -> list[int]:
        if not self.table_exists("aksara_migrations", schema):
            return []
        query = sql.SQL("SELECT version FROM {} ORDER BY version").format(
            sql.Identifier(schema, "aksara_migrations")
        )
        with psycopg.connect(self.url, autocommit=True) as conn:
            return [r[0] for r in conn.execute(query).fetchall()]


@pytest.fixture()
def aksara(database_url: str, tmp_path: Path) -> Iterator[Aksara]:
    """The CLI bound to a fresh database and an empty migrations directory."""
    directory = tmp_path / "migrations"
    directory.mkdir()
    yield Aksara(database_url, directory)


@pytest.fixture(scope="module")
def shared_database_url(admin_url: str) -> Iterator[str]:
    """One database for a module's tests that must leave it untouched (checked by each)."""
    name = f"aksara_shared_{uuid.uuid4().hex[:12]}"
    url = create_database(admin_url, name)
    try:
        yield url
    finally:
        drop_database(admin_url, name)


@pytest.fixture()
def untouched(shared_database_url: str, tmp_path: Path) -> Iterator[Aksara]:
    """The CLI bound to the module's shared database, which every test must leave empty."""
    directory = tmp_path / "migrations"
    directory.mkdir()
    cli = Aksara(shared_database_url, directory)
    yield cli
    assert (
        cli.scalar(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
        )
        == 0
    ), "a test that must change nothing left objects behind"


@pytest.fixture()
def cli_class() -> type[Aksara]:
    """The helper class itself, for tests that connect as another role."""
    return Aksara
