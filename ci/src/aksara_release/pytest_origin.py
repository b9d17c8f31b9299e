"""A pytest plugin (``-p aksara_release.pytest_origin``): tests ran against the wheel.

Why: a test stage proves something about the *built wheel* only if the package the
tests imported is the installed one. With a flat layout (``aksara/`` at the root),
``python -m pytest`` puts the working directory first on ``sys.path`` and the source
tree silently shadows the wheel. At the end of the session this plugin records where
the package was imported from (``--gate-origin-file``, JSON) and fails the run (exit
1) when that file is not inside the environment's ``site-packages``.

The gate brings this plugin with it (``PYTHONPATH={gate}``); it imports nothing from
the tree under test but the package it checks.
"""

from __future__ import annotations

import importlib
import json
import sys
import sysconfig
from pathlib import Path
from typing import Any


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("aksara-gate", "release gate: where the package was imported from")
    group.addoption("--gate-import-name", default=None, help="import package to locate")
    group.addoption("--gate-origin-file", default=None, help="JSON file to write")


def installed_roots() -> list[Path]:
    """The environment's site-packages directories (purelib and platlib)."""
    paths = sysconfig.get_paths()
    return sorted({Path(paths[key]).resolve() for key in ("purelib", "platlib")})


def locate(import_name: str) -> dict[str, Any]:
    """Where ``import_name`` comes from, and whether that is the installed wheel."""
    module = sys.modules.get(import_name)
    imported_by_tests = module is not None
    error = None
    if module is None:
        try:
            module = importlib.import_module(import_name)
        except Exception as exc:  # noqa: BLE001 - recorded: the package did not import
            error = f"{exc.__class__.__name__}: {exc}"
    origin = getattr(module, "__file__", None) if module is not None else None
    roots = installed_roots()
    resolved = Path(origin).resolve() if origin else None
    from_wheel = resolved is not None and any(
        resolved.is_relative_to(root) for root in roots
    )
    return {
        "import_name": import_name,
        "origin": str(resolved) if resolved else None,
        "site_packages": [str(r) for r in roots],
        "imported_by_tests": imported_by_tests,
        "from_installed_wheel": from_wheel,
        "error": error,
    }


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    config = session.config
    name = config.getoption("--gate-import-name")
    if not name:
        return
    report = locate(name)
    target = config.getoption("--gate-origin-file")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if not report["from_installed_wheel"]:
        where = report["origin"] or report["error"] or "nowhere"
        sys.stderr.write(
            f"\naksara-gate: {name} was imported from {where}, not from the installed wheel "
            f"in {', '.join(report['site_packages'])}\n"
        )
        session.exitstatus = 1
