"""Fresh virtual environments for stages, made quickly but faithfully.

Every stage gets a new venv (``python -m venv --without-pip``) into which the
runner's own pip (pinned: ``versions.TOOLS["pip"]``) is copied as an installed
distribution. The result is what ``python -m venv`` plus ``pip install pip==<pin>``
would give, without running ensurepip and a pip upgrade 15 times per gate. The
stage's commands then run ``python -m pip install ...`` exactly as written; pip's
download cache (``PIP_CACHE_DIR``) is shared between stages and runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
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


def create_venv(venv: Path, python: str | None = None) -> Path:
    """Create ``venv`` with pip available; returns its ``bin`` directory."""
    base = str(python or getattr(sys, "_base_executable", None) or sys.executable)
    subprocess.run(
        [base, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        capture_output=True,
    )
    site = _site_packages(venv)
    site.mkdir(parents=True, exist_ok=True)
    for source in _pip_sources():
        _link_tree(source, site / source.name)
    return venv / "bin"
