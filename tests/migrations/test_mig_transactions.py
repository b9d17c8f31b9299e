"""Transactional application, error locations, and ``-- aksara:no-transaction`` files."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.db

FIRST = "CREATE TABLE base (id int PRIMARY KEY);\n"
FAILS_HALFWAY = """-- creates a table, fills it, then fails
CREATE TABLE half (id int PRIMARY KEY);
INSERT INTO half VALUES (1), (2);
CREATE INDEX half_idx ON half (id);

INSERT INTO half VALUES (1);
"""
LATER = "CREATE TABLE later (id int);\n"


def test_failure_halfway_leaves_no_table_no_row_no_tracking_entry(aksara) -> None:
    aksara.write("1_base.sql", FIRST)
    aksara.write("2_half.sql", FAILS_HALFWAY)
    aksara.write("3_later.sql", LATER)
    result = aksara.run("migrate", "--format", "json")
    assert result.returncode == 6
    doc = result.json()
    assert doc["status"] == "failed" and doc["exit_code"] == 6
    assert doc["error"]["file"] == "2_half.sql"
    assert doc["error"]["line"] == 6  # the duplicate-key INSERT
    assert doc["error"]["sqlstate"] == "23505"
    assert [(m["version"], m["action"]) for m in doc["migrations"]] == [
        (1, "applied"),
        (2, "failed"),
    ]
    assert "2_half.sql:6:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not aksara.table_exists("half")
    assert not aksara.table_exists("later")
    assert aksara.recorded_versions() == [1]
    assert aksara.scalar("SELECT count(*) FROM pg_class WHERE relname = 'half_idx'") == 0
    # The failed migration is still pending; fixing it lets the run complete.
    aksara.write("2_half.sql", FAILS_HALFWAY.replace("INSERT INTO half VALUES (1);\n", ""))
    assert aksara.run("migrate").returncode == 0
    assert aksara.recorded_versions() == [1, 2, 3]


def test_syntax_error_reports_file_and_line(aksara) -> None:
    aksara.write(
        "1_typo.sql",
        "CREATE TABLE ok_one (id int);\n\nCREATE TABLE ok_two (\n  id int,\n  name txet\n);\n",
    )
    result = aksara.run("migrate")
    assert result.returncode == 6
    assert "1_typo.sql:5:" in result.stderr
    assert 'type "txet" does not exist' in result.stderr
    assert not aksara.table_exists("ok_one")
    assert aksara.recorded_versions() == []


def test_error_position_inside_multiline_statement(aksara) -> None:
    aksara.write("1_pos.sql", "SELECT 1;\nSELECT\n  1,\n  nosuchcolumn\nFROM pg_class;\n")
    result = aksara.run("migrate", "--format", "json")
    assert result.returncode == 6
    assert result.json()["error"]["line"] == 4


def test_transaction_control_is_refused_in_transactional_migration(aksara) -> None:
    aksara.write(
        "1_commit.sql", "CREATE TABLE sneaky (id int);\nCOMMIT;\nCREATE TABLE after (id int);\n"
    )
    result = aksara.run("migrate")
    assert result.returncode == 6
    assert "1_commit.sql:2: COMMIT is not allowed" in result.stderr
    assert not aksara.table_exists("sneaky")
    assert aksara.recorded_versions() == []


def test_semicolons_in_strings_dollar_quotes_and_begin_atomic(aksara) -> None:
    aksara.write(
        "1_tricky.sql",
        """CREATE TABLE notes (body text);
INSERT INTO notes VALUES ('a; b'), ($q$c; d$q$);
CREATE FUNCTION add_one(i int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT i + 1;
END;
DO $$
BEGIN
  INSERT INTO notes VALUES ('from do; block');
END
$$;
/* a comment; with a semicolon */
""",
    )
    result = aksara.run("migrate")
    assert result.returncode == 0, result.stderr
    assert aksara.scalar("SELECT count(*) FROM notes") == 3
    assert aksara.scalar("SELECT add_one(1)") == 2


def test_concurrent_index_needs_no_transaction_directive(aksara) -> None:
    aksara.write(
        "1_table.sql",
        "CREATE TABLE big (id int);\nINSERT INTO big SELECT generate_series(1, 100);\n",
    )
    aksara.write("2_index.sql", "CREATE INDEX CONCURRENTLY big_id_idx ON big (id);\n")
    refused = aksara.run("migrate")
    assert refused.returncode == 6
    assert "2_index.sql:1:" in refused.stderr
    assert "cannot run inside a transaction block" in refused.stderr
    assert aksara.recorded_versions() == [1]

    aksara.write(
        "2_index.sql",
        "-- aksara:no-transaction\nCREATE INDEX CONCURRENTLY big_id_idx ON big (id);\n",
    )
    result = aksara.run("migrate", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.json()["migrations"][0]["transactional"] is False
    assert aksara.scalar(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_id_idx'::regclass"
    )
    assert aksara.query(
        "SELECT version, transactional FROM aksara_migrations ORDER BY version"
    ) == [(1, True), (2, False)]
    status = aksara.run("status", "--format", "json").json()
    assert status["status"] == "clean"
    assert status["migrations"][1]["transactional"] is False


def test_failed_no_transaction_migration_writes_no_tracking_row(aksara) -> None:
    aksara.write(
        "1_nontx.sql",
        "-- aksara:no-transaction\nCREATE TABLE kept (id int);\nSELECT 1/0;\n",
    )
    result = aksara.run("migrate")
    assert result.returncode == 6
    assert "1_nontx.sql:3:" in result.stderr
    assert "stay committed" in result.stderr
    assert aksara.recorded_versions() == []
    # Documented behaviour: outside a transaction, earlier statements stay applied.
    assert aksara.table_exists("kept")
    assert aksara.run("status").returncode == 4


def test_positionless_error_line_found_by_rolled_back_replay(aksara) -> None:
    aksara.write(
        "1_seq.sql",
        "CREATE SEQUENCE s;\nCREATE TABLE u (id int PRIMARY KEY DEFAULT nextval('s'));\n"
        "INSERT INTO u DEFAULT VALUES;\n\nINSERT INTO u VALUES (1);\n",
    )
    result = aksara.run("migrate", "--format", "json")
    assert result.returncode == 6
    assert result.json()["error"]["line"] == 5
    assert result.json()["error"]["sqlstate"] == "23505"
    assert not aksara.table_exists("u")
    assert aksara.scalar("SELECT count(*) FROM pg_class WHERE relname = 's'") == 0


def test_no_replay_for_slow_failures(aksara, monkeypatch) -> None:
    from aksara.migrations import apply

    monkeypatch.setattr(apply, "REPLAY_LIMIT_S", -1.0)
    aksara.write(
        "1_two.sql", "CREATE TABLE v (id int PRIMARY KEY);\nINSERT INTO v VALUES (1), (1);\n"
    )
    result = aksara.run("migrate", "--format", "json")
    assert result.returncode == 6
    error = result.json()["error"]
    assert error["line"] is None and error["file"] == "1_two.sql"
    assert error["message"].startswith("1_two.sql: duplicate key value")
    assert not aksara.table_exists("v")
