"""Fixtures for the gate's own tests: a local OSV-compatible service (see osv_stub)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from osv_stub import OsvStub, start_osv_stub


@pytest.fixture()
def osv_stub() -> Iterator[OsvStub]:
    stub = OsvStub()
    server = start_osv_stub(stub)
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
