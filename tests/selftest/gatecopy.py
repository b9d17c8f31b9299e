"""Copy the repository and run the copy's own gate (helpers for the self-tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "ci" / "src"))

from aksara_release.host.snapshot import copy_source  # noqa: E402


@dataclass
class GateRun:
    code: int
    output: str
    evidence: Path

    @property
    def summary(self) -> dict[str, Any]:
        return json.loads((self.evidence / "summary.json").read_text())

    def stage(self, name: str) -> dict[str, Any]:
        return next(s for s in self.summary["stages"] if s["name"] == name)

    def log(self, name: str) -> str:
        return (self.evidence / "stages" / name / "log.txt").read_text(errors="replace")


def copy_repo(dest: Path) -> Path:
    copy_source(REPO, dest)
    return dest


def run_gate(copy: Path, *args: str, timeout: float = 1200) -> GateRun:
    """Run the copy's own gate; the evidence goes next to the copy."""
    evidence = copy.parent / f"{copy.name}-evidence"
    env = dict(os.environ)
    env["AKSARA_GATE_HOME"] = str(Path(os.environ.get("AKSARA_GATE_HOME") or REPO / ".gate"))
    proc = subprocess.run(
        [sys.executable, str(copy / "ci" / "gate.py"), "run", "--evidence", str(evidence), *args],
        cwd=copy, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )
    return GateRun(proc.returncode, proc.stdout + proc.stderr, evidence)
