"""The generated migration set, written out in each tool's own file format.

Why this exists: a fair comparison needs the *same* SQL in every tool. Migration ``i``
creates one small table and inserts one row into it. The table is created with
``IF NOT EXISTS`` on purpose: if a tool ever applies a migration twice, the second run
succeeds and leaves a second row behind, so a double application is *counted* in the
concurrency trials instead of hiding behind a "table already exists" error.

Layouts (one directory per tool and N, regenerated on every run):

* ``aksara`` and ``psql``: ``<version>_<description>.sql`` files with the plain SQL.
* ``yoyo``: the same ``.sql`` files (yoyo orders dependency-less SQL files by name).
* ``dbmate``: ``<version>_<description>.sql`` with ``-- migrate:up`` / ``-- migrate:down``.
* ``framework`` (aksara-framework 0.7.2): its migrator treats several dependency-less
  ``.sql`` files as conflicting heads, so each migration is a Python file holding one
  ``RunSQL`` operation and depending on the previous file (one linear chain).
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: The app label aksara-framework derives from ``<label>/migrations/*.py``.
FRAMEWORK_APP = "benchapp"


def table_name(i: int) -> str:
    return f"bench_{i:04d}"


def migration_sql(i: int) -> str:
    """Migration ``i``: one small CREATE TABLE and one INSERT."""
    table = table_name(i)
    return (
        f"CREATE TABLE IF NOT EXISTS {table} "
        f"(id bigserial PRIMARY KEY, migration integer NOT NULL, note text NOT NULL);\n"
        f"INSERT INTO {table} (migration, note) VALUES ({i}, 'migration {i}');\n"
    )


def stem(i: int) -> str:
    return f"{i:04d}_create_{table_name(i)}"


def _fresh(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def write_plain(directory: Path, n: int) -> Path:
    """``<version>_<description>.sql`` files (aksara, psql, yoyo)."""
    _fresh(directory)
    for i in range(1, n + 1):
        (directory / f"{stem(i)}.sql").write_text(migration_sql(i))
    return directory


def write_dbmate(directory: Path, n: int) -> Path:
    _fresh(directory)
    for i in range(1, n + 1):
        down = f"DROP TABLE IF EXISTS {table_name(i)};\n"
        (directory / f"{stem(i)}.sql").write_text(
            f"-- migrate:up\n{migration_sql(i)}\n-- migrate:down\n{down}"
        )
    return directory


def write_framework(directory: Path, n: int) -> Path:
    """A linear chain of Python migrations; returns the ``migrations`` directory."""
    migrations = _fresh(directory) / FRAMEWORK_APP / "migrations"
    migrations.mkdir(parents=True)
    for i in range(1, n + 1):
        deps = f"[({FRAMEWORK_APP!r}, {stem(i - 1)!r})]" if i > 1 else "[]"
        (migrations / f"{stem(i)}.py").write_text(
            "from aksara.migrations import Migration as Base\n"
            "from aksara.migrations import operations as op\n\n\n"
            "class Migration(Base):\n"
            f"    dependencies = {deps}\n"
            f"    operations = [op.RunSQL(sql={migration_sql(i)!r})]\n"
        )
    return migrations


def write_psql_driver(sql_dir: Path, script: Path, n: int) -> Path:
    """One psql script that applies every file in its own transaction (the floor)."""
    lines = []
    for i in range(1, n + 1):
        path = (sql_dir / f"{stem(i)}.sql").as_posix().replace("'", "''")
        lines += ["BEGIN;", f"\\i '{path}'", "COMMIT;"]
    script.write_text("\n".join(lines) + "\n")
    return script
