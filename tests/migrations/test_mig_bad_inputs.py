"""Every invalid migrations directory is one clear error naming the file; nothing is applied."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.db

GOOD = ("1_good.sql", "CREATE TABLE good (id int);\n")


def _dup(d: Path) -> str:
    (d / "002_a.sql").write_text("SELECT 1;\n")
    (d / "2_b.sql").write_text("SELECT 2;\n")
    return "2_b.sql"


def _badname(d: Path) -> str:
    (d / "create_users.sql").write_text("SELECT 1;\n")
    return "create_users.sql"


def _wrong_ext(d: Path) -> str:
    (d / "3_notes.txt").write_text("SELECT 1;\n")
    return "3_notes.txt"


def _no_description(d: Path) -> str:
    (d / "3_.sql").write_text("SELECT 1;\n")
    return "3_.sql"


def _non_utf8(d: Path) -> str:
    (d / "3_latin1.sql").write_bytes("SELECT 'caf\xe9';\n".encode("latin-1"))
    return "3_latin1.sql"


def _empty(d: Path) -> str:
    (d / "3_empty.sql").write_bytes(b"")
    return "3_empty.sql"


def _blank(d: Path) -> str:
    (d / "3_blank.sql").write_text("\n  \n\t\n")
    return "3_blank.sql"


def _only_directive(d: Path) -> str:
    (d / "3_directive.sql").write_text("-- aksara:no-transaction\n\n")
    return "3_directive.sql"


def _unknown_directive(d: Path) -> str:
    (d / "3_typo.sql").write_text("-- aksara:no-transactions\nSELECT 1;\n")
    return "3_typo.sql"


def _nul(d: Path) -> str:
    (d / "3_nul.sql").write_bytes(b"SELECT 1;\x00\n")
    return "3_nul.sql"


def _subdirectory(d: Path) -> str:
    (d / "3_folder.sql").mkdir()
    return "3_folder.sql"


def _fifo(d: Path) -> str:
    os.mkfifo(d / "3_pipe.sql")
    return "3_pipe.sql"


def _escaping_symlink(d: Path) -> str:
    outside = d.parent / "outside.sql"
    outside.write_text("SELECT 1;\n")
    (d / "3_escape.sql").symlink_to(outside)
    return "3_escape.sql"


def _dotdot_symlink(d: Path) -> str:
    (d.parent / "secret.sql").write_text("SELECT 1;\n")
    (d / "3_dotdot.sql").symlink_to(Path("..") / "secret.sql")
    return "3_dotdot.sql"


def _broken_symlink(d: Path) -> str:
    (d / "3_broken.sql").symlink_to(d / "nowhere.sql")
    return "3_broken.sql"


def _plus_version(d: Path) -> str:
    (d / "+3_signed.sql").write_text("SELECT 1;\n")
    return "+3_signed.sql"


def _arabic_indic_version(d: Path) -> str:
    (d / "\u0663_digits.sql").write_text("SELECT 1;\n")
    return "\u0663_digits.sql"


CASES: dict[str, Callable[[Path], str]] = {
    "plus-version": _plus_version,
    "non-ascii-digit-version": _arabic_indic_version,
    "duplicate-version": _dup,
    "bad-name": _badname,
    "wrong-extension": _wrong_ext,
    "no-description": _no_description,
    "non-utf8": _non_utf8,
    "empty": _empty,
    "whitespace-only": _blank,
    "directive-only": _only_directive,
    "unknown-directive": _unknown_directive,
    "nul-byte": _nul,
    "subdirectory": _subdirectory,
    "fifo": _fifo,
    "escaping-symlink": _escaping_symlink,
    "dotdot-symlink": _dotdot_symlink,
    "broken-symlink": _broken_symlink,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_directory_is_refused_before_touching_the_database(untouched, case) -> None:
    aksara = untouched
    aksara.write(*GOOD)
    offender = CASES[case](aksara.dir)
    for command in ("migrate", "status"):
        result = aksara.run(command)
        assert result.returncode == 8, (command, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("aksara: error: ")
        assert offender in lines[0]
    doc = aksara.run("migrate", "--format", "json").json()
    assert doc["status"] == "error" and doc["exit_code"] == 8
    assert not aksara.table_exists("aksara_migrations")
    assert not aksara.table_exists("good")


def test_symlink_inside_the_directory_and_hidden_files_are_fine(aksara) -> None:
    aksara.write(*GOOD)
    (aksara.dir / "shared").mkdir()
    target = aksara.dir / "shared" / "body.sql"
    target.write_text("CREATE TABLE linked (id int);\n")
    (aksara.dir / "2_linked.sql").symlink_to(target)
    (aksara.dir / ".gitkeep").write_text("")
    # a subdirectory is not a regular file: only hidden entries are ignored
    result = aksara.run("migrate")
    assert result.returncode == 8 and "shared" in result.stderr
    (aksara.dir / ".shared").mkdir()
    target.rename(aksara.dir / ".shared" / "body.sql")
    (aksara.dir / "shared").rmdir()
    (aksara.dir / "2_linked.sql").unlink()
    (aksara.dir / "2_linked.sql").symlink_to(aksara.dir / ".shared" / "body.sql")
    result = aksara.run("migrate")
    assert result.returncode == 0, result.stderr
    assert aksara.table_exists("linked")


def test_missing_directory_is_a_usage_error(untouched) -> None:
    aksara = untouched
    aksara.write(*GOOD)
    result = aksara.run("migrate", "--migrations-dir", str(aksara.dir / "nope"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    result = aksara.run("status", "--migrations-dir", str(aksara.dir / "1_good.sql"))
    assert result.returncode == 2
