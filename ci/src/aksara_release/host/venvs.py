"""Fresh virtual environments for stages, made quickly but faithfully.

Every stage gets a new venv made by the pinned uv (``uv venv``, from the runner's
``uv`` distribution, installed hash-checked from ``locks/uv.txt`` by ``ci/gate.py``)
into which the runner's own pip (pinned: ``versions.TOOLS["pip"]``) is linked as an
installed distribution: the stages install with uv, but a step may still run
``python -m pip`` (as it can in the container's image Python). :func:`link_uv` puts
that same uv, alone, in a directory for the stage's ``PATH``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import threading
from pathlib import Path

from aksara_release import versions


def _pip_sources() -> list[Path]:
    """The runner's pip package and its dist-info directory."""
    import pip

    package = Path(pip.__file__).resolve().parent
    site = package.parent
    infos = sorted(site.glob("pip-*.dist-info"))
    if not infos:
        raise RuntimeError("the runner's pip has no dist-info")
    return [package, infos[-1]]


def pinned_pip_version() -> str:
    return versions.TOOLS["pip"].split("==", 1)[1]


def runner_pip_version() -> str:
    import pip

    return str(pip.__version__)


def _site_packages(venv: Path) -> Path:
    scheme_vars = {"base": str(venv), "platbase": str(venv)}
    return Path(sysconfig.get_path("purelib", vars=scheme_vars))


def _link_tree(src: Path, dest: Path) -> None:
    def link(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(src, dest, copy_function=link, ignore=shutil.ignore_patterns("__pycache__"))


_UV_LOCK = threading.Lock()
_UV: list[Path] = []


def _find_uv() -> Path:
    """This environment's ``uv`` distribution (the runner's, the dev venv's), else the
    ``uv`` on ``PATH`` (inside a stage, e.g. the gate's own tests in ``unit-tests``, the
    executor's); either must be the pinned version."""
    try:
        from uv import find_uv_bin

        found: str | None = find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
    if found is None:
        raise RuntimeError(f"{versions.TOOLS['uv']} is not installed in the gate's runner "
                           "(ci/gate.py installs it)")
    pin = versions.TOOLS["uv"].split("==", 1)[1]
    done = subprocess.run([found, "--version"], capture_output=True, text=True, check=False)
    if done.stdout.split()[1:2] != [pin]:
        raise RuntimeError(f"{found} is {done.stdout.strip() or 'not runnable'}, the gate "
                           f"pins {versions.TOOLS['uv']}")
    return Path(found)


def uv_binary() -> Path:
    """The pinned uv, looked up once, under a lock: ``uv.find_uv_bin`` reads
    ``sysconfig``, whose first use is not thread-safe (stages start in parallel)."""
    with _UV_LOCK:
        if not _UV:
            _UV.append(_find_uv())
        return _UV[0]


def link_uv(directory: Path) -> Path:
    """``directory`` holding only a link to the pinned uv; returns the link."""
    directory.mkdir(parents=True, exist_ok=True)
    link = directory / "uv"
    if not link.exists():
        link.symlink_to(uv_binary())
    return link


def create_venv(venv: Path, python: str | None = None, cache: Path | None = None) -> Path:
    """Create ``venv`` with uv, pip available in it; returns its ``bin`` directory."""
    base = str(python or getattr(sys, "_base_executable", None) or sys.executable)
    proc = subprocess.run(
        [str(uv_binary()), "venv", "--no-config", "--no-python-downloads", "--quiet",
         *(("--cache-dir", str(cache)) if cache else ("--no-cache",)),
         "--python", base, str(venv)],
        check=False,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"uv venv failed: {proc.stderr.strip()[-300:]}")
    site = _site_packages(venv)
    site.mkdir(parents=True, exist_ok=True)
    for source in _pip_sources():
        _link_tree(source, site / source.name)
    return venv / "bin"
