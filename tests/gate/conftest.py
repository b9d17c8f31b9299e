"""Fixtures for the gate's own tests: a local OSV-compatible service (see osv_stub) and
one virtual environment holding the pinned scanning tools (see ``tool_bin``)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aksara_release import versions
from aksara_release.host import venvs
from osv_stub import OsvStub, running_osv_stub

REPO = Path(__file__).resolve().parents[2]
#: The real tools the verdict helpers and judges are tested against, at the gate's pins.
TOOL_PINS = versions.tools(
    "detect-secrets", "pip-audit", "cyclonedx-bom", "cyclonedx-python-lib", "ruff", "bandit",
    "zizmor", "mypy", "pytest", "jsonschema",
)


@pytest.fixture()
def osv_stub() -> Iterator[OsvStub]:
    with running_osv_stub() as stub:
        yield stub


@pytest.fixture(scope="session")
def tool_bin() -> Path:
    """A venv with the pinned scanning tools (built once per pin set, kept in .gate/)."""
    home = Path(os.environ.get("AKSARA_GATE_HOME") or REPO / ".gate")
    stamp = hashlib.sha256("\n".join((sys.version, *TOOL_PINS)).encode()).hexdigest()[:12]
    venv = home / f"test-tools-{stamp}"
    ok = venv / ".complete"
    if not ok.exists():
        shutil.rmtree(venv, ignore_errors=True)
        bin_dir = venvs.create_venv(venv, python=sys.executable)
        subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", *TOOL_PINS], check=True)
        ok.write_text(stamp)
    return venv / "bin"
