"""Remove a run's generated secrets from text: one rule for both executors.

Why a module of its own: the host runner scrubs each stage's evidence files and the
Dagger module's bundle step scrubs the whole evidence tree before it is returned; both
must mask the same values the same way, and the tools that write JUnit, SARIF or
pip-audit JSON never pass through the engine's own log scrubbing (it only covers an
exec's stdout/stderr). Stdlib only (runs inside the bundle container).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

#: What a secret value is replaced with.
MASK = "***"
#: Values shorter than this are not masked (they would mangle ordinary text).
MIN_LENGTH = 4


class Scrubber:
    """Masks every value of a set of secrets, longest first (a value that contains
    another is masked whole)."""

    def __init__(self, values: Iterable[str]) -> None:
        self.values = sorted(
            {v for v in values if v and len(v) >= MIN_LENGTH}, key=len, reverse=True
        )

    def __call__(self, text: str) -> str:
        for value in self.values:
            text = text.replace(value, MASK)
        return text

    def found_in(self, text: str) -> bool:
        return any(value in text for value in self.values)


def scrub_tree(root: Path, scrubber: Scrubber, skip: frozenset[str] = frozenset()) -> list[str]:
    """Scrub every UTF-8 text file below ``root`` in place; binary files (wheels,
    sdists) are left alone. Returns the ``/``-separated paths, relative to ``root``, of
    the files that held a secret. ``skip`` names files (relative paths) not to touch."""
    leaked: list[str] = []
    if not scrubber.values:
        return leaked
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or path.is_symlink() or rel in skip:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if scrubber.found_in(text):
            path.write_text(scrubber(text), encoding="utf-8")
            leaked.append(rel)
    return leaked
