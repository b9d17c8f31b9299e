"""Self-tests of the release gate: plant faults in a throwaway copy, run the real gate.

Each test copies the repository (the same ignore list as a gate snapshot), plants
faults, runs ``python3 ci/gate.py run`` *of the copy* (so a fault planted in the
copy's gate definition is what runs), and reads the evidence. The runner venv and
pip cache are shared with this checkout through ``AKSARA_GATE_HOME`` so a copy does
not rebuild them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gate"))

from osv_stub import OsvStub, running_osv_stub  # noqa: E402


@pytest.fixture(scope="session")
def selftest_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gate-selftest")


@pytest.fixture()
def osv_stub() -> Iterator[OsvStub]:
    """A stub of its own for each test (a shared one would carry one test's planted
    advisories into the next, and the outcome would depend on the order)."""
    with running_osv_stub() as stub:
        yield stub
