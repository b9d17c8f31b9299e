"""Hash locks of the gate's own tools: which lock a stage installs, and what it says.

Why: the gate checks a release's supply chain, so its own tools must come from
distributions whose digests were fixed when the lock was written, not from whatever the
index serves today. Every tool set of ``versions.LOCKED_TOOL_SETS`` is resolved once
(``python3 ci/lock_tools.py``, a pinned uv, ``--universal --generate-hashes`` for every
supported Python) into ``locks/<names joined by +>.txt``, next to this module, so both
executors find it under ``{gate}`` (the Dagger module mounts this package at ``/gate``).
A stage installs exactly the lock of its tool set with hash checking on; a lock whose
recorded input is not the stage's pinned set is refused (the lock is stale).

Stdlib only: the Dagger runtime, the host runner and ``ci/gate.py`` import it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

#: Where the lock files live, and the same place relative to ``{gate}``.
LOCK_DIR = Path(__file__).resolve().parent / "locks"
LOCK_SUBDIR = "aksara_release/locks"
#: Header lines naming the requirement strings a lock was resolved from.
INPUT_PREFIX = "# input: "
#: The command that writes the locks (documented in every lock's header).
LOCK_COMMAND = "python3 ci/lock_tools.py"

_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
#: uv: "Hash mismatch for `idna==3.10`"; pip: "    idna==3.10 from https://...".
_UV_MISMATCH = re.compile(r"[Hh]ash mismatch for `([^`]+)`")
_PIP_MISMATCH = re.compile(r"^\s+(\S+==\S+) from \S+", re.MULTILINE)


class LockError(Exception):
    """A tool set has no usable lock (missing or resolved from other pins)."""


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The project name of a requirement string (``bandit[sarif]==1.9.4`` -> ``bandit``)."""
    match = _NAME.match(requirement.strip())
    if match is None:
        raise LockError(f"not a requirement: {requirement!r}")
    return canonical(match.group(1))


def lock_name(requirements: Iterable[str]) -> str:
    """The lock's file stem: the set's project names, sorted, joined by ``+``."""
    return "+".join(sorted({requirement_name(r) for r in requirements}))


def lock_file(requirements: Iterable[str], lock_dir: Path = LOCK_DIR) -> Path:
    return lock_dir / f"{lock_name(requirements)}.txt"


def gate_path(requirements: Iterable[str]) -> str:
    """The lock as a ``{gate}``-relative path, as stage commands name it."""
    return "{gate}/" + f"{LOCK_SUBDIR}/{lock_name(requirements)}.txt"


def inputs(text: str) -> tuple[str, ...]:
    """The requirement strings a lock says it was resolved from (sorted)."""
    return tuple(sorted(line[len(INPUT_PREFIX):].strip() for line in text.splitlines()
                        if line.startswith(INPUT_PREFIX)))


def pins(text: str) -> dict[str, str]:
    """Every distribution the lock pins: canonical name -> version."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        match = _PIN.match(line)
        if match:
            out[canonical(match.group(1))] = match.group(2)
    return out


def hashed(text: str) -> dict[str, int]:
    """How many ``--hash`` options follow each pinned distribution."""
    counts: dict[str, int] = {}
    current: str | None = None
    for line in text.splitlines():
        match = _PIN.match(line)
        if match:
            current = canonical(match.group(1))
            counts[current] = 0
        elif current is not None and line.strip().startswith("--hash=sha256:"):
            counts[current] += 1
        elif line and not line.startswith((" ", "#")):
            current = None
    return counts


def check(requirements: Iterable[str], lock_dir: Path = LOCK_DIR) -> Path:
    """The lock file for ``requirements``; :class:`LockError` when it is missing, was
    resolved from other pins, or leaves a distribution without a hash."""
    wanted = tuple(sorted(requirements))
    path = lock_file(wanted, lock_dir)
    fix = f"add the set to versions.LOCKED_TOOL_SETS and run {LOCK_COMMAND}"
    return _checked(path, path.name, wanted, fix,
                    f"tools {', '.join(wanted)}: no hash lock {path.name} in the gate")


def _checked(path: Path, label: str, wanted: tuple[str, ...], fix: str, absent: str) -> Path:
    """``path`` if it exists, was resolved from ``wanted`` and hashes every distribution."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise LockError(f"{absent} ({fix})") from None
    if inputs(text) != wanted:
        raise LockError(f"{label} was resolved from {', '.join(inputs(text)) or 'nothing'}"
                        f", not {', '.join(wanted)} ({fix})")
    unhashed = sorted(name for name, count in hashed(text).items() if count == 0)
    if unhashed or not pins(text):
        raise LockError(f"{label}: no hash for {', '.join(unhashed) or 'any distribution'}")
    return path


#: Build-dependency locks of sdist-only tools (``versions.SDIST_BUILD_REQUIRES``), under
#: the same stem as the tool set's lock: passed to uv as ``--build-constraint``. uv then
#: installs exactly these pins in the isolated build environment and, with
#: ``--require-hashes``, checks each download against its hash (a mismatch names the
#: distribution). uv does not *require* a hash for a build dependency missing from the
#: constraints (``--require-build-hashes`` is not in the pinned uv), so the lock must hold
#: the whole closure of the declared build requirements: it is resolved from them.
BUILD_SUBDIR = "build"


def build_lock_file(requirements: Iterable[str], lock_dir: Path = LOCK_DIR) -> Path:
    return lock_dir / BUILD_SUBDIR / f"{lock_name(requirements)}.txt"


def gate_build_path(requirements: Iterable[str]) -> str:
    """The build-dependency lock as a ``{gate}``-relative path."""
    return "{gate}/" + f"{LOCK_SUBDIR}/{BUILD_SUBDIR}/{lock_name(requirements)}.txt"


def check_build(requirements: Iterable[str], build_requires: Iterable[str],
                lock_dir: Path = LOCK_DIR) -> Path:
    """The build-dependency lock of a tool set; :class:`LockError` when it is missing, was
    resolved from other build requirements, or leaves a distribution without a hash."""
    wanted = tuple(sorted(build_requires))
    path = build_lock_file(tuple(requirements), lock_dir)
    label = f"{BUILD_SUBDIR}/{path.name}"
    return _checked(path, label, wanted, f"run {LOCK_COMMAND}",
                    f"no build-dependency lock {label} for {', '.join(wanted)}")


def hash_mismatches(output: str) -> list[str]:
    """The ``name==version`` of every download whose hash did not match (uv's and pip's
    wording), in order, each once; empty when the output shows no hash mismatch."""
    found = _UV_MISMATCH.findall(output)
    if not found and "DO NOT MATCH THE HASHES" in output:
        found = _PIP_MISMATCH.findall(output.split("DO NOT MATCH THE HASHES", 1)[1])
    return list(dict.fromkeys(found))


def hash_failure(output: str) -> str | None:
    """A one-line reason naming the distribution whose download did not match the lock's
    hash (uv's and pip's wording), or None when the output shows no hash mismatch."""
    found = hash_mismatches(output)
    if not found:
        return None
    return f"hash mismatch for {', '.join(found)}: the download does not match the locked hash"
