"""``python3 ci/gate.py test --cov [pytest args]``: the suite under coverage, with a floor.

Runs pytest under coverage.py in the dev environment with branch coverage and
``patch = ["subprocess"]`` (see ``[tool.coverage.run]`` in pyproject.toml), so the
CLIs and gates the tests start as Python subprocesses are measured too (a child whose
environment a test cleared on purpose is not). Then it combines the data, writes
``.gate/coverage/coverage.json`` and prints, per package, statement and branch
coverage, and fails (exit 1) when either is below the floor in
``[tool.aksara.coverage-floor]``: the measured value rounded down, raised as tests are
added, never lowered silently. pytest's own non-zero exit code wins.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / ".gate" / "coverage"


def _floors() -> dict[str, dict[str, float]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return dict(config["tool"]["aksara"]["coverage-floor"])


def _totals(files: dict[str, dict], package: str) -> dict[str, float]:
    prefix = (ROOT / package).as_posix() + "/"
    rel = package + "/"
    picked = [f for name, f in files.items()
              if name.startswith(prefix) or name.startswith(rel)]
    statements = sum(f["summary"]["num_statements"] for f in picked)
    covered = sum(f["summary"]["covered_lines"] for f in picked)
    branches = sum(f["summary"]["num_branches"] for f in picked)
    taken = sum(f["summary"]["covered_branches"] for f in picked)
    return {
        "files": len(picked),
        "lines": 100.0 * covered / statements if statements else 0.0,
        "branches": 100.0 * taken / branches if branches else 0.0,
        "num_branches": branches,
        "covered_branches": taken,
    }


def main(argv: list[str]) -> int:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    env = {**os.environ, "COVERAGE_FILE": str(OUT / ".coverage")}
    cov = [sys.executable, "-m", "coverage"]
    tests = subprocess.run([*cov, "run", "-m", "pytest", *argv], cwd=ROOT, env=env, check=False)
    subprocess.run([*cov, "combine", "--quiet"], cwd=ROOT, env=env, check=True)
    report = OUT / "coverage.json"
    subprocess.run([*cov, "json", "--quiet", "-o", str(report)], cwd=ROOT, env=env, check=True)
    files = json.loads(report.read_text(encoding="utf-8"))["files"]
    below = []
    print("coverage (statements / branches; floor in pyproject [tool.aksara.coverage-floor]):")
    for package, floor in _floors().items():
        got = _totals(files, package)
        print(f"  {package:<24} lines {got['lines']:5.1f}% (floor {floor['lines']:g})  "
              f"branches {got['branches']:5.1f}% (floor {floor['branches']:g}; "
              f"{got['covered_branches']}/{got['num_branches']})  files {got['files']}")
        for kind in ("lines", "branches"):
            if got[kind] < floor[kind]:
                below.append(f"{package} {kind} {got[kind]:.1f}% < floor {floor[kind]:g}%")
            elif math.floor(got[kind]) > floor[kind]:
                print(f"  note: {package} {kind} floor can be raised to {math.floor(got[kind])}")
    for problem in below:
        print(f"coverage: FAILED: {problem}", file=sys.stderr)
    if tests.returncode != 0:
        return tests.returncode
    return 1 if below else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
