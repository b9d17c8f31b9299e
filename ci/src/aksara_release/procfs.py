"""What Linux's ``/proc`` says about processes: state, process group, argv, shared memory.

Why one module: the embedded server's stop (is the postmaster gone, which ``/dev/shm``
segments did it map), the host gate's interrupt (has every killed stage's process group
exited) and ``ci/planted_regressions.py`` (which servers and segments did a planted run
leave behind) ask the same questions, and a process can exit between any two reads.
Every reader here treats such a vanished process as absent instead of raising. Without
``/proc`` (not Linux) every answer is "nothing". Stdlib only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
#: A POSIX dynamic shared memory segment of PostgreSQL (dynamic_shared_memory_type posix).
DSM_SEGMENT = re.compile(r"/dev/shm/PostgreSQL\.\d+$", re.MULTILINE)  # noqa: S108  # nosec B108


def _stat(pid: int | str) -> tuple[str, int] | None:
    """``(state, process group)`` of ``pid``, or None once it is gone."""
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        return fields[0], int(fields[2])
    except (OSError, IndexError, ValueError):
        return None


def pids() -> list[int]:
    """Every process id ``/proc`` lists now."""
    try:
        return [int(entry.name) for entry in PROC.iterdir() if entry.name.isdigit()]
    except OSError:
        return []


def process_running(pid: int) -> bool:
    """``pid`` exists and is not a zombie (a zombie runs nothing; its parent reaps it)."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def running_groups(pgids: set[int]) -> set[int]:
    """Which of ``pgids`` still have a running (non-zombie) member."""
    running: set[int] = set()
    for pid in pids():
        stat = _stat(pid)
        if stat is not None and stat[0] != "Z" and stat[1] in pgids:
            running.add(stat[1])
    return running


def children(pid: int) -> list[int]:
    """The direct children of ``pid``'s main thread (none once it is gone)."""
    try:
        listed = (PROC / str(pid) / "task" / str(pid) / "children").read_text()
        return [int(child) for child in listed.split()]
    except OSError:
        return []


def argv(pid: int) -> list[bytes]:
    """``pid``'s command line as it was started (empty once it is gone)."""
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def mapped_segments(of: Iterable[int]) -> set[Path]:
    """The PostgreSQL ``/dev/shm`` segments any of the processes ``of`` has mapped."""
    found: set[Path] = set()
    for pid in of:
        try:
            maps = (PROC / str(pid) / "maps").read_text()
        except OSError:
            continue
        found.update(Path(m.group(0)) for m in DSM_SEGMENT.finditer(maps))
    return found
