"""Copy the source tree into a run directory so no stage writes into the working tree.

The ignore list is the Dagger module's source ``Ignore`` (``versions.SOURCE_IGNORE``,
one list for both executors), and it is applied with the engine's rules, not
gitignore's: the engine filters with moby's patternmatcher, so this module translates
each pattern exactly the way patternmatcher does (root-anchored; ``*`` and ``?`` never
cross ``/``; ``**`` crosses any number of directories; a match on a parent directory
covers its contents; the last matching pattern wins and ``!`` re-includes). The shared
vectors in ``tests/gate`` hold both executors to these rules.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from aksara_release import versions

_ESCAPE = frozenset(".+()|{}$^")


def ignore_patterns() -> tuple[str, ...]:
    """What the snapshot leaves out: exactly the Dagger module's source ``Ignore`` list."""
    return versions.SOURCE_IGNORE


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    exclusion: bool  # a "!" pattern: a match re-includes


def _translate(pattern: str) -> str:
    """patternmatcher's ``compile``: a pattern as an anchored regular expression."""
    out = "^"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < len(pattern) and pattern[i] == "*":
                i += 1
                if i < len(pattern) and pattern[i] == "/":
                    i += 1  # "**/" is "**"
                if i == len(pattern):
                    out += ".*"  # a trailing "**" accepts everything below
                else:
                    out += "(.*/)?"  # any number of directories, even none
            else:
                out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "\\" and i < len(pattern):
            out += re.escape(pattern[i])
            i += 1
        elif ch in _ESCAPE:
            out += "\\" + ch
        else:
            out += ch
    return out + "$"


@lru_cache(maxsize=32)
def _compile(patterns: tuple[str, ...]) -> tuple[_Pattern, ...]:
    compiled = []
    for raw in patterns:
        text = raw.strip()
        if not text:
            continue
        exclusion = text.startswith("!")
        text = os.path.normpath(text[1:] if exclusion else text).lstrip("/")
        compiled.append(_Pattern(re.compile(_translate(text)), exclusion))
    return tuple(compiled)


def is_ignored(rel: str, patterns: Sequence[str] | None = None) -> bool:
    """Whether the engine leaves ``rel`` (a ``/``-separated path relative to the root)
    out of the source directory (patternmatcher's ``MatchesOrParentMatches``)."""
    compiled = _compile(tuple(ignore_patterns() if patterns is None else patterns))
    parts = rel.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for pattern in compiled:
        if any(pattern.regex.match(p) for p in prefixes):
            ignored = not pattern.exclusion
    return ignored


def copy_source(src: Path, dest: Path, patterns: Sequence[str] | None = None) -> int:
    """Copy ``src`` to ``dest`` minus ignored paths; returns the number of files."""
    patterns = tuple(ignore_patterns() if patterns is None else patterns)
    # Without "!" patterns an ignored directory can be skipped whole; with them a file
    # below it might be re-included, so every directory is walked.
    prune = not any(p.strip().startswith("!") for p in patterns)
    count = 0
    src = src.resolve()
    for dirpath, dirnames, filenames in os.walk(src):
        base = Path(dirpath)
        rel_dir = base.relative_to(src)
        keep = []
        for name in sorted(dirnames):
            rel = (rel_dir / name).as_posix()
            if not (prune and is_ignored(rel, patterns)):
                keep.append(name)
        dirnames[:] = keep
        target_dir = dest / rel_dir
        target_dir.mkdir(parents=True, exist_ok=True)
        for name in filenames:
            rel = (rel_dir / name).as_posix()
            if is_ignored(rel, patterns):
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
