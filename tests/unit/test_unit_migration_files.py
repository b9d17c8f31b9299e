"""Discovery, file names and checksums, without a database."""

from __future__ import annotations

import os
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


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads unreadable files")
def test_unreadable_file(tmp_path) -> None:
    _write(tmp_path, {"1_a.sql": "SELECT 1;"})
    (tmp_path / "1_a.sql").chmod(0)
    with pytest.raises(InvalidMigrations, match="cannot be read"):
        discover_migrations(tmp_path)
