"""Discovery, file names and checksums, without a database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aksara.errors import UsageError
from aksara.exitcodes import ExitCode
from aksara.migrations import InvalidMigrations, discover_migrations, parse_migration_filename
from aksara.migrations.checksum import checksum_bytes


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("1_init.sql", (1, "init")),
        ("0003_add_users.sql", (3, "add_users")),
        ("20261125120000_add-index.sql", (20261125120000, "add-index")),
        ("7_A1.sql", (7, "A1")),
    ],
)
def test_valid_names(name, expected) -> None:
    assert parse_migration_filename(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "init.sql",
        "1.sql",
        "1_.sql",
        "_1_init.sql",
        "1_init.SQL",
        "1_init.sql.bak",
        "1_init",
        "-1_init.sql",
        "1a_init.sql",
        "1_in it.sql",
        "1__init.sql",
        "1_init;drop.sql",
        "١_init.sql",
        f"{2**63}_too_big.sql",
    ],
)
def test_invalid_names(name) -> None:
    with pytest.raises(InvalidMigrations) as info:
        parse_migration_filename(name)
    assert info.value.exit_code == ExitCode.INVALID_MIGRATIONS
    assert "\n" not in str(info.value)


def test_checksum_is_sha256_of_lf_normalised_bytes() -> None:
    import hashlib

    assert checksum_bytes(b"a\r\nb\rc\n") == hashlib.sha256(b"a\nb\nc\n").hexdigest()
    assert checksum_bytes(b"") == hashlib.sha256(b"").hexdigest()
    assert checksum_bytes(b"a\n") != checksum_bytes(b"a\n ")
    assert len(checksum_bytes(b"x")) == 64


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\r\n")), max_size=8))
def test_checksum_ignores_only_line_endings(lines) -> None:
    lf = "\n".join(lines).encode()
    assert checksum_bytes(lf) == checksum_bytes("\r\n".join(lines).encode())
    assert checksum_bytes(lf) == checksum_bytes("\r".join(lines).encode())


def _write(directory: Path, files: dict[str, bytes | str]) -> None:
    for name, data in files.items():
        path = directory / name
        if isinstance(data, str):
            data = data.encode()
        path.write_bytes(data)


def test_discovery_orders_by_version_and_reads_directive(tmp_path) -> None:
    _write(
        tmp_path,
        {
            "10_ten.sql": "SELECT 10;\n",
            "9_nine.sql": "-- aksara:no-transaction\r\nCREATE INDEX CONCURRENTLY i ON t (c);\r\n",
            "0001_one.sql": "\ufeffSELECT 1;\n",
            ".gitkeep": "",
        },
    )
    found = discover_migrations(tmp_path)
    assert [(m.version, m.description, m.transactional) for m in found] == [
        (1, "one", True),
        (9, "nine", False),
        (10, "ten", True),
    ]
    assert found[1].checksum == checksum_bytes((tmp_path / "9_nine.sql").read_bytes())
    assert found[1].read_sql().startswith("-- aksara:no-transaction\nCREATE")
    assert found[0].read_sql() == "SELECT 1;\n"  # BOM removed for execution


def test_file_changed_after_discovery_is_refused(tmp_path) -> None:
    _write(tmp_path, {"1_a.sql": "SELECT 1;\n"})
    (found,) = discover_migrations(tmp_path)
    (tmp_path / "1_a.sql").write_text("SELECT 2;\n")
    with pytest.raises(InvalidMigrations, match="changed while aksara was running"):
        found.read_sql()


def test_discovery_keeps_no_contents(tmp_path) -> None:
    _write(tmp_path, {"1_a.sql": "SELECT 'payload-marker';\n"})
    (found,) = discover_migrations(tmp_path)
    assert "payload-marker" not in repr(found)
    assert not any(isinstance(v, (bytes, str)) and "payload" in v for v in vars(found).values())


@pytest.mark.parametrize(
    ("files", "fragment"),
    [
        ({"1_a.sql": "SELECT 1;", "01_b.sql": "SELECT 2;"}, "duplicate version 1"),
        ({"1_a.sql": b"\xff\xfe"}, "not valid UTF-8"),
        ({"1_a.sql": ""}, "is empty"),
        ({"1_a.sql": " \n\t"}, "is empty"),
        ({"1_a.sql": "-- aksara:no-transaction\n"}, "is empty"),
        ({"1_a.sql": "-- aksara:notransaction\nSELECT 1;"}, "unknown directive"),
        ({"1_a.sql": b"SELECT\x00 1;"}, "NUL byte"),
        ({"notes.txt": "hello"}, "not a migration file name"),
    ],
)
def test_invalid_content(tmp_path, files, fragment) -> None:
    _write(tmp_path, files)
    with pytest.raises(InvalidMigrations, match=fragment):
        discover_migrations(tmp_path)


def test_non_regular_entries_and_symlinks(tmp_path) -> None:
    mig = tmp_path / "m"
    mig.mkdir()
    (mig / "1_dir.sql").mkdir()
    with pytest.raises(InvalidMigrations, match="1_dir.sql: is not a regular file"):
        discover_migrations(mig)
    (mig / "1_dir.sql").rmdir()

    (tmp_path / "outside.sql").write_text("SELECT 1;")
    (mig / "1_out.sql").symlink_to(tmp_path / "outside.sql")
    with pytest.raises(InvalidMigrations, match="escapes the migrations directory"):
        discover_migrations(mig)
    (mig / "1_out.sql").unlink()

    (mig / "1_gone.sql").symlink_to(mig / "missing.sql")
    with pytest.raises(InvalidMigrations, match="broken symlink"):
        discover_migrations(mig)
    (mig / "1_gone.sql").unlink()

    (mig / ".real").mkdir()
    (mig / ".real" / "x.sql").write_text("SELECT 1;")
    (mig / "1_in.sql").symlink_to(Path(".real") / "x.sql")
    assert [m.name for m in discover_migrations(mig)] == ["1_in.sql"]


def test_directory_errors_are_usage_errors(tmp_path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        discover_migrations(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="not a directory"):
        discover_migrations(tmp_path / "file")


def _as_unprivileged_user() -> list[str]:
    """A command prefix that runs as ``nobody`` when we are root (CI), else nothing.

    Root reads any file, so "unreadable" can only be tested as another user.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "running as root needs setpriv (util-linux) to test unreadable files"
    return [setpriv, "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]


@pytest.fixture()
def shared_dir() -> Iterator[Path]:
    """A directory ``nobody`` can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="aksara-unreadable-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for child in path.rglob("*"):
            child.chmod(0o755 if child.is_dir() else 0o644)
        shutil.rmtree(path)


DISCOVER = (
    "import sys\n"
    "from aksara.errors import AksaraError\n"
    "from aksara.migrations import discover_migrations\n"
    "try:\n"
    "    discover_migrations(sys.argv[1])\n"
    "except AksaraError as exc:\n"
    "    print(type(exc).__name__, exc)\n"
)


def _discover_unprivileged(directory: Path) -> str:
    done = subprocess.run(
        [*_as_unprivileged_user(), sys.executable, "-c", DISCOVER, str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_unreadable_file(shared_dir) -> None:
    mig = shared_dir / "migrations"
    mig.mkdir()
    mig.chmod(0o755)
    _write(mig, {"1_a.sql": "SELECT 1;"})
    (mig / "1_a.sql").chmod(0o644)
    assert _discover_unprivileged(mig) == ""  # readable: the probe itself works
    (mig / "1_a.sql").chmod(0)
    assert _discover_unprivileged(mig) == (
        "InvalidMigrations 1_a.sql: cannot be read: Permission denied"
    )


def test_unreadable_directory(shared_dir) -> None:
    mig = shared_dir / "migrations"
    mig.mkdir()
    mig.chmod(0o311)  # searchable, not listable
    assert _discover_unprivileged(mig).startswith("UsageError cannot read migrations directory")
    assert "Permission denied" in _discover_unprivileged(mig)


@pytest.mark.parametrize("name", ["+1_x.sql", "\u0661_x.sql", "\uff11_x.sql", "1\u0661_x.sql"])
def test_versions_are_ascii_digits_only(tmp_path, name) -> None:
    with pytest.raises(InvalidMigrations, match="not a migration file name"):
        parse_migration_filename(name)
    (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(InvalidMigrations) as caught:
        discover_migrations(tmp_path)
    assert caught.value.exit_code == ExitCode.INVALID_MIGRATIONS


def test_a_file_swapped_after_discovery_is_not_read(tmp_path) -> None:
    """Discovery checks a file, then reads it: what is read must be what was checked."""
    mig = tmp_path / "migrations"
    mig.mkdir()
    _write(mig, {"1_a.sql": "SELECT 1;"})
    (found,) = discover_migrations(mig)
    # Same content, new inode (an editor's save, or an attacker's swap): refused.
    (tmp_path / "new.sql").write_text("SELECT 1;")
    (tmp_path / "new.sql").replace(mig / "1_a.sql")
    with pytest.raises(InvalidMigrations, match="was replaced"):
        found.read_sql()
    # A symlink swapped in at the checked path is never followed.
    (tmp_path / "outside.sql").write_text("SELECT 1;")
    (mig / "1_a.sql").unlink()
    (mig / "1_a.sql").symlink_to(tmp_path / "outside.sql")
    with pytest.raises(InvalidMigrations, match="cannot be read"):
        found.read_sql()
