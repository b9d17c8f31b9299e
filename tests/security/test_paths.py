"""Path traversal and symlinks in the migrations directory.

A migration that is a symlink escaping the directory, a broken symlink, or not a
regular file is refused by name, before the database is touched, and the doctor
reports it as a failing check without ever printing the target's contents.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from leakcheck import assert_no_leak, planted_secret

from aksara.errors import AksaraError
from aksara.migrations import InvalidMigrations, discover_migrations


def _dir(tmp_path: Path) -> Path:
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "0001_ok.sql").write_text("SELECT 1;\n")
    return directory


def test_symlink_escaping_the_directory_is_rejected(tmp_path: Path) -> None:
    directory = _dir(tmp_path)
    outside = tmp_path / "outside.sql"
    outside.write_text("SELECT 1;\n")
    (directory / "0002_escape.sql").symlink_to(outside)
    with pytest.raises(InvalidMigrations, match="escapes the migrations directory"):
        discover_migrations(directory)


def test_relative_traversal_symlink_is_rejected(tmp_path: Path) -> None:
    directory = _dir(tmp_path)
    (tmp_path / "secret.sql").write_text("SELECT 2;\n")
    (directory / "0002_up.sql").symlink_to(Path("..") / "secret.sql")
    with pytest.raises(InvalidMigrations, match="escapes"):
        discover_migrations(directory)


def test_symlink_to_system_file_is_rejected(tmp_path: Path) -> None:
    directory = _dir(tmp_path)
    (directory / "0002_passwd.sql").symlink_to("/etc/passwd")
    with pytest.raises(InvalidMigrations, match="escapes"):
        discover_migrations(directory)


def test_broken_and_looping_symlinks_are_rejected(tmp_path: Path) -> None:
    directory = _dir(tmp_path)
    (directory / "0002_broken.sql").symlink_to(directory / "nowhere.sql")
    with pytest.raises(InvalidMigrations, match="broken symlink"):
        discover_migrations(directory)
    (directory / "0002_broken.sql").unlink()
    (directory / "0003_loop.sql").symlink_to(directory / "0003_loop.sql")
    with pytest.raises(InvalidMigrations):
        discover_migrations(directory)


def test_symlink_inside_the_directory_is_allowed(tmp_path: Path) -> None:
    directory = _dir(tmp_path)
    (directory / "shared").mkdir()
    (directory / "0002_inner.sql").symlink_to(directory / "0001_ok.sql")
    (directory / "shared").rmdir()
    found = discover_migrations(directory)
    assert [m.version for m in found] == [1, 2]


def test_directories_fifos_and_devices_are_not_migrations(tmp_path: Path) -> None:
    directory = _dir(tmp_path)
    (directory / "0002_dir.sql").mkdir()
    with pytest.raises(InvalidMigrations, match="not a regular file"):
        discover_migrations(directory)
    os.rmdir(directory / "0002_dir.sql")
    os.mkfifo(directory / "0002_fifo.sql")
    with pytest.raises(InvalidMigrations, match="not a regular file"):
        discover_migrations(directory)  # and does not hang reading the FIFO
    (directory / "0002_fifo.sql").unlink()
    (directory / "0002_null.sql").symlink_to("/dev/null")
    with pytest.raises(InvalidMigrations):
        discover_migrations(directory)


def test_migrations_dir_that_is_a_file_or_missing(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for target in (tmp_path / "file", tmp_path / "missing", tmp_path / ".." / "nope" / ".."):
        with pytest.raises(AksaraError):
            discover_migrations(target)


def test_the_migrations_dir_itself_may_be_a_symlink(tmp_path: Path) -> None:
    directory = _dir(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(directory, target_is_directory=True)
    assert [m.version for m in discover_migrations(link)] == [1]


@pytest.mark.db
def test_doctor_reports_an_escaping_symlink_without_reading_it(run_cli, database_url: str,
                                                               tmp_path: Path) -> None:
    directory = _dir(tmp_path)
    token = planted_secret("outside")
    outside = tmp_path / "private.sql"
    outside.write_text(f"-- {token}\nSELECT 1;\n")
    (directory / "0002_escape.sql").symlink_to(outside)
    for fmt in ("text", "json"):
        result = run_cli("doctor", "production-check", "--format", fmt,
                         "--migrations-dir", str(directory), env={"DATABASE_URL": database_url})
        assert result.code == 1
        assert "0002_escape.sql: is a symlink that escapes the migrations directory" in result.out
        assert_no_leak(result.everything, token)
