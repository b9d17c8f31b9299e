"""Fixtures for the gate's own tests: a local OSV-compatible service (see osv_stub)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from osv_stub import OsvStub, running_osv_stub


@pytest.fixture()
def osv_stub() -> Iterator[OsvStub]:
    with running_osv_stub() as stub:
        yield stub
