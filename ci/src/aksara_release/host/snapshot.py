"""Copy the source tree into a run directory so no stage writes into the working tree.

The ignore list mirrors the Dagger module's source ``Ignore``: ``.gitignore`` is not
applied to a Dagger ``DefaultPath`` either, so both executors name what to leave out
explicitly (``versions.SOURCE_IGNORE``, one list for both).
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from aksara_release import versions


def ignore_patterns() -> tuple[str, ...]:
    """What the snapshot leaves out: exactly the Dagger module's source ``Ignore`` list."""
    return versions.SOURCE_IGNORE


def _ignored(rel: str, name: str, patterns: Sequence[str]) -> bool:
    """gitignore-ish: a pattern with no slash matches any path component; ``**/x``
    matches ``x`` at any depth; otherwise it is anchored at the root."""
    for raw in patterns:
        pattern = raw.strip("/")
        if pattern.startswith("!"):
            continue
        if pattern.startswith("**/"):
            pattern = pattern[3:]
            if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(rel, pattern):
                return True
        elif "/" not in pattern:
            if fnmatch.fnmatchcase(name, pattern):
                return True
        elif fnmatch.fnmatchcase(rel, pattern):
            return True
    return False


def copy_source(src: Path, dest: Path, patterns: Sequence[str] | None = None) -> int:
    """Copy ``src`` to ``dest`` minus ignored paths; returns the number of files."""
    patterns = ignore_patterns() if patterns is None else patterns
    count = 0
    src = src.resolve()
    for dirpath, dirnames, filenames in os.walk(src):
        base = Path(dirpath)
        rel_dir = base.relative_to(src)
        keep = []
        for name in sorted(dirnames):
            rel = (rel_dir / name).as_posix()
            if not _ignored(rel, name, patterns):
                keep.append(name)
        dirnames[:] = keep
        target_dir = dest / rel_dir
        target_dir.mkdir(parents=True, exist_ok=True)
        for name in filenames:
            rel = (rel_dir / name).as_posix()
            if _ignored(rel, name, patterns):
                continue
            source = base / name
            if source.is_symlink() and not source.exists():
                continue
            shutil.copy2(source, target_dir / name)
            count += 1
    return count


def clone_tree(src: Path, dest: Path) -> None:
    """A per-stage copy of the snapshot (hard links would let a stage edit the snapshot)."""
    shutil.copytree(src, dest, symlinks=True)
