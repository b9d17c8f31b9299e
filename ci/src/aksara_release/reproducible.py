"""``python -m aksara_release.reproducible``: build the wheel and the sdist twice, compare.

Why: a release is only as trustworthy as the claim that its files come from its tag.
If two builds of the same tree are byte-identical, anyone can rebuild a release from
its tag and compare digests with what PyPI serves; if they differ, something in the
build (a timestamp, a random value, the build path, the umask, the time zone) leaks
into the files and the claim cannot be checked.

What it does: ``SOURCE_DATE_EPOCH`` is the source commit's committer time (``git log
-1 --format=%ct``), else the ``SOURCE_DATE_EPOCH`` already in the environment, else a
fixed value (1980-01-01, the ZIP epoch) -- the JSON report says which. The tree is
copied to two different directories (without VCS data, virtualenvs and build
outputs) and built in each with ``python -m build`` (each build in a fresh isolated
build environment), the second one with a different umask and time zone. Both wheels
and both sdists must be byte-identical; the report lists their SHA-256 digests, and
on a difference, which archive members differ.

Exit codes: 0 reproducible; 1 not reproducible (one line per difference on stderr);
2 bad usage; 3 a build failed (the check could not be made). Stdlib only.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROG = "reproducible-build"
OK, NOT_REPRODUCIBLE, USAGE, BUILD_ERROR = 0, 1, 2, 3
#: 1980-01-01T00:00:00Z: the earliest time a ZIP entry can hold.
FIXED_EPOCH = 315532800
#: Directory names left out of the copies (anywhere) and root-only ones.
_SKIP_ANYWHERE = frozenset({".git", ".venv", "__pycache__", ".pytest_cache", ".mypy_cache",
                            ".ruff_cache", ".hypothesis", ".gate"})
_SKIP_AT_ROOT = frozenset({"dist", "build", "site", "evidence", "ci/sdk", "benchmarks/.work"})
#: The two builds differ in everything that should not matter.
VARIANTS: tuple[dict[str, Any], ...] = (
    {"umask": 0o022, "TZ": "UTC", "LC_ALL": "C.UTF-8"},
    {"umask": 0o002, "TZ": "Pacific/Chatham", "LC_ALL": "C"},
)


class UsageError(Exception):
    """Bad input: exit 2."""


class BuildError(Exception):
    """A build that did not produce one wheel and one sdist: exit 3."""


def source_date_epoch(src: Path) -> tuple[int, str]:
    """The epoch to build with and where it came from."""
    try:
        proc = subprocess.run(["git", "-C", str(src), "log", "-1", "--format=%ct %H"],
                              capture_output=True, text=True, timeout=60, check=False)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        proc = None
    if proc is not None and proc.returncode == 0 and proc.stdout.strip():
        seconds, commit = proc.stdout.split()
        return int(seconds), f"git commit {commit}"
    from_env = os.environ.get("SOURCE_DATE_EPOCH", "")
    if from_env.isdigit():
        return int(from_env), "SOURCE_DATE_EPOCH from the environment"
    return FIXED_EPOCH, "fixed (no git metadata; 1980-01-01T00:00:00Z)"


def _ignore(root: Path) -> Any:
    def ignore(directory: str, names: list[str]) -> set[str]:
        rel = Path(directory).resolve().relative_to(root)
        skipped = set()
        for name in names:
            path = (rel / name).as_posix()
            if name in _SKIP_ANYWHERE or path in _SKIP_AT_ROOT or name.endswith(
                (".egg-info", ".pyc")
            ):
                skipped.add(name)
        return skipped

    return ignore


def build_once(src: Path, place: Path, epoch: int, variant: dict[str, Any],
               python: str) -> tuple[Path, Path, str]:
    """Copy ``src`` to ``place/src`` and build there; (wheel, sdist, build log)."""
    tree = place / "src"
    out = place / "dist"
    shutil.copytree(src, tree, ignore=_ignore(src.resolve()), symlinks=True)
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch), "TZ": variant["TZ"],
           "LC_ALL": variant["LC_ALL"], "PYTHONDONTWRITEBYTECODE": "1",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    old = os.umask(variant["umask"])
    try:
        proc = subprocess.run([python, "-m", "build", "--outdir", str(out), str(tree)],
                              capture_output=True, text=True, env=env, check=False)
    finally:
        os.umask(old)
    log = proc.stdout + proc.stderr
    wheels = sorted(out.glob("*.whl")) if out.is_dir() else []
    sdists = sorted(out.glob("*.tar.gz")) if out.is_dir() else []
    if proc.returncode != 0 or len(wheels) != 1 or len(sdists) != 1:
        last = next((line for line in reversed(log.strip().splitlines()) if line.strip()), "")
        raise BuildError(f"build in {place.name} failed (exit {proc.returncode}): "
                         f"{last.strip()[:200]}")
    return wheels[0], sdists[0], log


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _zip_members(path: Path) -> dict[str, tuple[Any, ...]]:
    with zipfile.ZipFile(path) as archive:
        return {i.filename: (i.date_time, i.external_attr, archive.read(i.filename))
                for i in archive.infolist()}


def _tar_members(path: Path) -> tuple[dict[str, tuple[Any, ...]], int]:
    data = path.read_bytes()
    header_mtime = int.from_bytes(data[4:8], "little") if data[:2] == b"\x1f\x8b" else -1
    members: dict[str, tuple[Any, ...]] = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as archive:
        for info in archive.getmembers():
            handle = archive.extractfile(info) if info.isfile() else None
            content = handle.read() if handle is not None else b""
            members[info.name] = (info.mtime, info.mode, info.uid, info.gid, info.uname,
                                  info.gname, content)
    return members, header_mtime


def differences(first: Path, second: Path) -> list[str]:
    """What differs between two archives of the same kind, member by member (at most 10)."""
    found: list[str] = []
    if first.name != second.name:
        found.append(f"file names differ: {first.name} vs {second.name}")
    fields: tuple[str, ...]
    try:
        if first.name.endswith(".whl"):
            a, b = _zip_members(first), _zip_members(second)
            fields = ("timestamp", "permissions", "content")
        else:
            (a, mtime_a), (b, mtime_b) = _tar_members(first), _tar_members(second)
            fields = ("mtime", "mode", "uid", "gid", "user", "group", "content")
            if mtime_a != mtime_b:
                found.append(f"{first.name}: gzip header time differs ({mtime_a} vs {mtime_b})")
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        return [*found, f"{first.name}: cannot read the archives ({exc.__class__.__name__})"]
    if list(a) != list(b):
        only = sorted(set(a) ^ set(b))
        found.append(f"{first.name}: member list or order differs"
                     + (f" ({', '.join(only[:5])})" if only else " (same names, other order)"))
    for name in a:
        if name in b and a[name] != b[name]:
            which = [f for f, x, y in zip(fields, a[name], b[name], strict=True) if x != y]
            found.append(f"{first.name}: {name}: {', '.join(which)} differ")
    if not found:
        found.append(f"{first.name}: bytes differ (archive metadata outside the members)")
    return found[:10]


def check(src: Path, work: Path, python: str = sys.executable) -> dict[str, Any]:
    """Build twice and compare; the report (``reproducible`` says the verdict)."""
    if not (src / "pyproject.toml").is_file() and not (src / "setup.py").is_file():
        raise UsageError(f"{src}: no pyproject.toml (not a Python project)")
    epoch, origin = source_date_epoch(src)
    work.mkdir(parents=True, exist_ok=True)
    builds = []
    for number, variant in enumerate(VARIANTS, start=1):
        place = work / f"reproducible-{number}"
        if place.exists():
            shutil.rmtree(place)
        wheel, sdist, _ = build_once(src, place, epoch, variant, python)
        builds.append({"directory": str(place), "umask": oct(variant["umask"]),
                       "TZ": variant["TZ"], "LC_ALL": variant["LC_ALL"],
                       "wheel": {"name": wheel.name, "sha256": _sha256(wheel)},
                       "sdist": {"name": sdist.name, "sha256": _sha256(sdist)},
                       "paths": (wheel, sdist)})
    found: list[str] = []
    for kind in ("wheel", "sdist"):
        one, two = builds[0][kind], builds[1][kind]
        if one != two:
            index = 0 if kind == "wheel" else 1
            found += differences(builds[0]["paths"][index], builds[1]["paths"][index])
    for item in builds:
        del item["paths"]
    return {"source_date_epoch": epoch, "epoch_source": origin, "builds": builds,
            "reproducible": not found, "differences": found}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="build twice, compare bytes")
    parser.add_argument("--src", type=Path, default=Path.cwd(), help="the project to build")
    parser.add_argument("--work", type=Path, required=True, help="scratch directory")
    parser.add_argument("--output", type=Path, default=None, help="write the JSON report here")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter with the pinned 'build' installed (default: this one)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return USAGE if exc.code else OK
    try:
        report = check(args.src.resolve(), args.work.resolve(), args.python)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return USAGE
    except BuildError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return BUILD_ERROR
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    first = report["builds"][0]
    print(f"{PROG}: SOURCE_DATE_EPOCH={report['source_date_epoch']} "
          f"({report['epoch_source']})")
    for kind in ("wheel", "sdist"):
        digests = " vs ".join(b[kind]["sha256"] for b in report["builds"])
        print(f"{PROG}: {first[kind]['name']}: {digests}")
    if report["reproducible"]:
        print(f"{PROG}: OK: both builds are byte-identical")
        return OK
    for line in report["differences"]:
        print(f"{PROG}: {line}", file=sys.stderr)
    print(f"{PROG}: FAILED: the two builds differ", file=sys.stderr)
    return NOT_REPRODUCIBLE


if __name__ == "__main__":
    raise SystemExit(main())
