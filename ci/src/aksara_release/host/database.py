"""Scratch databases for the DB stages: one per stage, on one server.

``DATABASE_URL`` in the runner's environment names an existing server (the role
must be allowed to CREATE DATABASE); without it an embedded PostgreSQL is started
for the run and stopped afterwards. Either way URLs stay in memory and process
environments; only secret-free descriptions reach the evidence.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from aksara_release import pgserver


@dataclass
class DatabaseServer:
    """Where scratch databases come from."""

    admin_url: str
    description: str

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a log: the password, raw and URL-encoded."""
        password = urlsplit(self.admin_url).password
        if not password:
            return ()
        return tuple({password, unquote(password)})

    @contextmanager
    def scratch(self, stage: str) -> Iterator[str]:
        """A fresh database for ``stage``, dropped afterwards."""
        name = f"gate_{stage.replace('-', '_')}_{secrets.token_hex(4)}"
        url = pgserver.create_database(self.admin_url, name)
        try:
            yield url
        finally:
            try:
                pgserver.drop_database(self.admin_url, name)
            except Exception:  # noqa: BLE001, S110 - cleanup must not hide the stage's result
                pass


def describe_external(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "local socket"
    port = f":{parts.port}" if parts.port else ""
    return f"external PostgreSQL from DATABASE_URL ({host}{port})"


@contextmanager
def database_server(needed: bool) -> Iterator[DatabaseServer | None]:
    """The server for this run: ``DATABASE_URL``, an embedded one, or none if unneeded."""
    if not needed:
        yield None
        return
    external = os.environ.get("DATABASE_URL")
    if external:
        pgserver.wait_until_ready(external, timeout=30)
        yield DatabaseServer(external, describe_external(external))
        return
    with pgserver.running_server() as server:
        yield DatabaseServer(
            server.url(),
            f"embedded PostgreSQL {server.version} on 127.0.0.1:{server.port} "
            "(started by the gate)",
        )
