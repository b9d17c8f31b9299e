"""The reproducible-build check's reading of two archives and of the source tree, without
building: every kind of difference between two wheels or two sdists is named, archives
that cannot be read are said to be so, and what never belongs in a build is not copied.

The archives are written here with zipfile / tarfile / gzip, each pair differing in
exactly one way, so each message is pinned to its cause.
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from aksara_release import reproducible as rb


def _wheel(path: Path, members: list[tuple[str, bytes]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
    return path


def _sdist(path: Path, members: list[tuple[str, bytes]], *, gzip_mtime: int = 0,
           uid: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode, info.uid = len(data), 315532800, 0o644, uid
            archive.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(raw.getvalue(), mtime=gzip_mtime))
    return path


A = [("x/__init__.py", b"a"), ("x/b.py", b"b")]


def test_wheels_with_other_members_or_order_are_named(tmp_path: Path) -> None:
    one = _wheel(tmp_path / "1" / "x-1-py3-none-any.whl", A)
    extra = _wheel(tmp_path / "2" / "x-1-py3-none-any.whl", [*A, ("x/c.py", b"c")])
    assert rb.differences(one, extra) == [
        "x-1-py3-none-any.whl: member list or order differs (x/c.py)"]
    swapped = _wheel(tmp_path / "3" / "x-1-py3-none-any.whl", A[::-1])
    assert rb.differences(one, swapped) == [
        "x-1-py3-none-any.whl: member list or order differs (same names, other order)"]


def test_wheels_differing_only_outside_their_members_say_so(tmp_path: Path) -> None:
    one = _wheel(tmp_path / "1" / "x-1-py3-none-any.whl", A)
    two = tmp_path / "2" / "x-1-py3-none-any.whl"
    two.parent.mkdir()
    with zipfile.ZipFile(two, "w") as archive:
        archive.comment = b"built on a Tuesday"
        for name, data in A:
            archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
    assert one.read_bytes() != two.read_bytes()
    assert rb.differences(one, two) == [
        "x-1-py3-none-any.whl: bytes differ (archive metadata outside the members)"]


def test_different_file_names_are_named_first(tmp_path: Path) -> None:
    one = _wheel(tmp_path / "x-1-py3-none-any.whl", A)
    two = _wheel(tmp_path / "x-1.0-py3-none-any.whl", [("x/__init__.py", b"A"), A[1]])
    assert rb.differences(one, two) == [
        "file names differ: x-1-py3-none-any.whl vs x-1.0-py3-none-any.whl",
        "x-1-py3-none-any.whl: x/__init__.py: content differ",
    ]


def test_sdists_differing_in_gzip_time_and_owner_are_named(tmp_path: Path) -> None:
    one = _sdist(tmp_path / "1" / "x-1.tar.gz", A)
    two = _sdist(tmp_path / "2" / "x-1.tar.gz", A, gzip_mtime=1_700_000_000, uid=1000)
    assert rb.differences(one, two) == [
        "x-1.tar.gz: gzip header time differs (0 vs 1700000000)",
        "x-1.tar.gz: x/__init__.py: uid differ",
        "x-1.tar.gz: x/b.py: uid differ",
    ]
    same = _sdist(tmp_path / "3" / "x-1.tar.gz", A)
    assert one.read_bytes() == same.read_bytes()


def test_at_most_ten_differences_are_listed(tmp_path: Path) -> None:
    many = [(f"x/m{i:02}.py", b"a") for i in range(15)]
    one = _wheel(tmp_path / "1" / "x-1-py3-none-any.whl", many)
    two = _wheel(tmp_path / "2" / "x-1-py3-none-any.whl", [(n, b"b") for n, _ in many])
    found = rb.differences(one, two)
    assert len(found) == 10 and found[0] == "x-1-py3-none-any.whl: x/m00.py: content differ"


@pytest.mark.parametrize("kind", ["x-1-py3-none-any.whl", "x-1.tar.gz"])
def test_archives_that_cannot_be_read_are_said_to_be(tmp_path: Path, kind: str) -> None:
    one = tmp_path / "1" / kind
    two = tmp_path / "2" / kind
    for path in (one, two):
        path.parent.mkdir()
        path.write_bytes(b"\x1f\x8b not really an archive")
    found = rb.differences(one, two)
    assert len(found) == 1
    assert found[0].startswith(f"{kind}: cannot read the archives (")


def test_the_copy_leaves_out_what_never_belongs_in_a_build(tmp_path: Path) -> None:
    """build_once copies the source with this rule before building in the copy."""
    src = tmp_path / "src"
    keep = ["pyproject.toml", "tiny/__init__.py", "tiny/dist/data.txt", "docs/build/x.md"]
    drop = [".git/HEAD", "tiny/__pycache__/m.cpython-311.pyc", "dist/old.whl", "build/lib/x",
            "tiny.egg-info/PKG-INFO", "tiny/stale.pyc", ".venv/bin/python", "evidence/x.json",
            "ci/sdk/big", ".gate/dev/x", "benchmarks/.work/x"]
    for rel in keep + drop:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(rel)
    copy = tmp_path / "copy"
    shutil.copytree(src, copy, ignore=rb._ignore(src.resolve()), symlinks=True)
    copied = sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file())
    assert copied == sorted(keep)


def test_without_git_the_epoch_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "no-programs"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1234")
    assert rb.source_date_epoch(tmp_path) == (1234, "SOURCE_DATE_EPOCH from the environment")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "not-a-number")
    assert rb.source_date_epoch(tmp_path) == (
        rb.FIXED_EPOCH, "fixed (no git metadata; 1980-01-01T00:00:00Z)")


def test_python_m_reports_a_usage_error_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(rb.__file__).parents[1])}
    proc = subprocess.run([sys.executable, "-m", "aksara_release.reproducible", "--src",
                           str(tmp_path), "--work", str(tmp_path / "w")],
                          capture_output=True, text=True, check=False, env=env)
    assert proc.returncode == rb.USAGE
    assert proc.stderr == f"reproducible-build: error: {tmp_path}: no pyproject.toml (not a " \
                          "Python project)\n"
    assert rb.main(["--help"]) == rb.OK
