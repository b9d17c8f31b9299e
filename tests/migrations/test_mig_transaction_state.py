"""Transaction state is enforced, and files are split the way PostgreSQL reads them.

Reproductions of issue 16 (items 2, 3, 4, 8, 9) and issue 10 (the tracking row lives in
the migration's own transaction), each against the real server through the real CLI.
"""

from __future__ import annotations

import pytest

from aksara.migrations.tracking import TrackingTable

pytestmark = pytest.mark.db

NO_TX = "-- aksara:no-transaction\n"


# -- item 2: a no-transaction file that leaves a transaction open ---------------------


def test_no_transaction_file_leaving_a_transaction_open_fails_and_commits_nothing(
    aksara,
) -> None:
    aksara.write("1_open.sql", NO_TX + "BEGIN;\nCREATE TABLE a (x int);\n")
    aksara.write("2_after.sql", "CREATE TABLE b (x int);\n")
    result = aksara.run("migrate", "--format", "json")
    assert result.returncode == 6, result.stderr
    doc = result.json()
    assert doc["error"]["file"] == "1_open.sql"
    assert "left a transaction open" in doc["error"]["message"]
    assert [(m["version"], m["action"]) for m in doc["migrations"]] == [(1, "failed")]
    assert not aksara.table_exists("a") and not aksara.table_exists("b")
    assert aksara.recorded_versions() == []
    assert aksara.run("status").returncode == 4


def test_no_transaction_file_failing_inside_its_own_transaction_reports_the_real_error(
    aksara,
) -> None:
    aksara.write(
        "1_half.sql", NO_TX + "BEGIN;\nCREATE TABLE half (x int);\nSELECT 1/0;\nCOMMIT;\n"
    )
    result = aksara.run("migrate", "--format", "json")
    assert result.returncode == 6, result.stderr
    error = result.json()["error"]
    assert (error["file"], error["line"], error["sqlstate"]) == ("1_half.sql", 4, "22012")
    assert "current transaction is aborted" not in result.stderr
    assert not aksara.table_exists("half")
    # the advisory lock was released: another run proceeds without waiting
    aksara.write("1_half.sql", NO_TX + "BEGIN;\nCREATE TABLE half (x int);\nCOMMIT;\n")
    assert aksara.run("migrate", "--lock-timeout", "0").returncode == 0
    assert aksara.table_exists("half") and aksara.recorded_versions() == [1]


def test_no_transaction_file_may_manage_its_own_transaction(aksara) -> None:
    aksara.write("1_own.sql", NO_TX + "BEGIN;\nCREATE TABLE own (x int);\nCOMMIT;\n")
    assert aksara.run("migrate").returncode == 0
    assert aksara.table_exists("own") and aksara.recorded_versions() == [1]


# -- item 3: the transaction-control guard cannot be bypassed -------------------------


@pytest.mark.parametrize(
    ("body", "line", "keyword"),
    [
        ("CREATE TABLE gone (id int);\nROLLBACK; -- not a ROLLBACK TO savepoint\n", 2, "ROLLBACK"),
        (
            "CREATE TABLE gone (p text);\nINSERT INTO gone VALUES ('C:\\'); COMMIT;\n"
            "CREATE TABLE after_commit (p text);\nINSERT INTO after_commit VALUES ('x');\n"
            "SELECT 1/0;\n",
            2,
            "COMMIT",
        ),
        ("CREATE TABLE gone (begin int);\nSELECT 1 # 2;\nCOMMIT;\nSELECT 1/0;\n", 3, "COMMIT"),
        ("CREATE TABLE gone (id int);\n/* a /* nested */ comment; */ END;\n", 2, "END"),
    ],
    ids=["rollback-comment", "backslash-string", "begin-column-and-hash", "nested-comment"],
)
def test_transaction_control_is_refused_before_anything_runs(aksara, body, line, keyword) -> None:
    aksara.write("1_sneaky.sql", body)
    result = aksara.run("migrate", "--format", "json")
    assert result.returncode == 6, result.stderr
    error = result.json()["error"]
    assert (error["file"], error["line"]) == ("1_sneaky.sql", line)
    assert f"{keyword} is not allowed" in error["message"]
    assert not aksara.table_exists("gone") and not aksara.table_exists("after_commit")
    assert aksara.recorded_versions() == []


def test_savepoints_stay_allowed_in_a_transactional_migration(aksara) -> None:
    aksara.write(
        "1_sp.sql",
        "CREATE TABLE sp (id int);\nSAVEPOINT s;\nINSERT INTO sp VALUES (1);\n"
        "ROLLBACK TO SAVEPOINT s;\nINSERT INTO sp VALUES (2);\nRELEASE s;\n",
    )
    assert aksara.run("migrate").returncode == 0
    assert aksara.query("SELECT id FROM sp") == [(2,)]


# -- item 4: the splitter runs exactly what PostgreSQL would --------------------------


def test_commented_out_sql_in_a_no_transaction_file_is_not_run(aksara) -> None:
    aksara.write("1_important.sql", "CREATE TABLE important (id int);\n")
    aksara.write(
        "2_comment.sql",
        NO_TX + "/* Disabled: /* note */; DROP TABLE important; */\nSELECT 1;\n",
    )
    result = aksara.run("migrate")
    assert result.returncode == 0, result.stderr
    assert aksara.table_exists("important")
    assert aksara.recorded_versions() == [1, 2]


def test_begin_column_and_non_ascii_dollar_tag_in_a_no_transaction_file(aksara) -> None:
    aksara.write("1_t.sql", "CREATE TABLE t (begin int);\nINSERT INTO t VALUES (1);\n")
    aksara.write(
        "2_idx.sql",
        NO_TX + "CREATE INDEX CONCURRENTLY t_begin_idx ON t (begin);\n"
        "DO $тело$ BEGIN PERFORM 1; PERFORM 2; END $тело$;\n",
    )
    result = aksara.run("migrate")
    assert result.returncode == 0, result.stderr
    assert aksara.scalar(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_begin_idx'::regclass"
    )


@pytest.mark.parametrize("directive", [NO_TX, ""], ids=["no-transaction", "transactional"])
def test_copy_from_stdin_is_refused_with_a_clear_error(aksara, directive) -> None:
    aksara.write("1_copy.sql", directive + "CREATE TABLE c (id int);\nCOPY c FROM STDIN;\n1\n\\.\n")
    result = aksara.run_process("migrate", timeout=60)
    assert result.returncode == 6, result.stderr
    assert "COPY ... FROM STDIN" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not aksara.table_exists("c")
    assert aksara.recorded_versions() == []


def test_copy_from_stdin_without_inline_data_is_refused_too(aksara) -> None:
    aksara.write("1_copy.sql", NO_TX + "CREATE TABLE c (id int);\nCOPY c FROM STDIN;\n")
    result = aksara.run_process("migrate", timeout=60)
    assert result.returncode == 6, result.stderr
    assert "1_copy.sql:3: COPY ... FROM STDIN" in result.stderr
    assert not aksara.table_exists("c")


def test_syntax_error_in_a_no_transaction_file_runs_nothing(aksara) -> None:
    aksara.write("1_typo.sql", NO_TX + "CREATE TABLE first (id int);\n\nSELCT 1;\n")
    result = aksara.run("migrate", "--format", "json")
    assert result.returncode == 6
    error = result.json()["error"]
    assert (error["file"], error["line"], error["sqlstate"]) == ("1_typo.sql", 4, "42601")
    assert not aksara.table_exists("first")


# -- issue 10: the tracking row is written in the migration's own transaction --------


def test_tracking_row_and_schema_change_commit_together(aksara) -> None:
    aksara.write("1_base.sql", "CREATE TABLE base (id int);\n")
    assert aksara.run("migrate").returncode == 0
    # Plant a fault in the tracking insert itself: if the row were written after the
    # migration's transaction committed, table "two" would survive the failure.
    with __import__("psycopg").connect(aksara.url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
            " $$BEGIN RAISE EXCEPTION 'tracking insert refused'; END$$"
        )
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON aksara_migrations"
            " FOR EACH ROW WHEN (NEW.version = 2) EXECUTE FUNCTION refuse()"
        )
    aksara.write("2_two.sql", "CREATE TABLE two (id int);\n")
    result = aksara.run("migrate", "--format", "json")
    assert result.returncode == 6, result.stderr
    assert "tracking insert refused" in result.json()["error"]["message"]
    assert not aksara.table_exists("two")
    assert aksara.recorded_versions() == [1]


# -- item 8: database text is rendered safely -----------------------------------------


def test_control_characters_from_the_database_cannot_forge_status_lines(aksara) -> None:
    aksara.write("1_x.sql", "SELECT 1;\n")
    assert aksara.run("migrate").returncode == 0
    forged = "x\nstatus: clean (1 applied, 0 pending, 0 drifted, 0 missing)\x1b[8m"
    aksara.query("UPDATE aksara_migrations SET description = %s RETURNING 1", (forged,))
    (aksara.dir / "1_x.sql").unlink()
    result = aksara.run("status")
    assert result.returncode == 5
    assert "\x1b" not in result.stdout
    status_lines = [line for line in result.stdout.splitlines() if line.startswith("status:")]
    assert status_lines == [
        "status: drift (0 applied, 0 pending, 0 drifted, 1 missing)"
    ], result.stdout
    assert "\\x1b[8m" in result.stdout and "\\x0a" in result.stdout


def test_twenty_thousand_missing_versions_give_a_short_one_line_error(aksara) -> None:
    aksara.write("1_x.sql", "SELECT 1;\n")
    assert aksara.run("migrate").returncode == 0
    aksara.query(
        "INSERT INTO aksara_migrations (version, description, checksum, applied_at,"
        " applied_by, execution_ms, aksara_version, transactional)"
        " SELECT v, description || v, checksum, applied_at,"
        " applied_by, execution_ms, aksara_version, transactional"
        " FROM aksara_migrations, generate_series(2, 20001) AS v RETURNING 1"
    )
    result = aksara.run("migrate")
    assert result.returncode == 5
    (line,) = result.stderr.strip().splitlines()
    assert len(line) < 1000
    assert line.endswith("and 19990 more")
    assert "and 19950 more" in result.stdout


# -- item 9: exit codes ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e9", "-1", "nan", "inf", "2147484"])
def test_out_of_range_lock_timeout_is_a_usage_error(aksara, value) -> None:
    aksara.write("1_x.sql", "SELECT 1;\n")
    result = aksara.run("migrate", "--lock-timeout", value)
    assert result.returncode == 2, result.stderr
    assert "--lock-timeout" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert aksara.recorded_versions() == []


def test_server_side_cancel_while_waiting_for_the_lock_is_a_lock_timeout(aksara) -> None:
    import psycopg
    from psycopg import sql

    aksara.write("1_x.sql", "CREATE TABLE x (id int);\n")
    database = aksara.scalar("SELECT current_database()")
    with psycopg.connect(aksara.url, autocommit=True) as holder:
        holder.execute(
            sql.SQL("ALTER DATABASE {} SET statement_timeout = '300ms'").format(
                sql.Identifier(database)
            )
        )
        holder.execute("SELECT pg_advisory_lock(%s)", (TrackingTable("public").lock_key,))
        result = aksara.run("migrate", "--lock-timeout", "60")
    assert result.returncode == 7, result.stderr
    assert "statement_timeout" in result.stderr
    assert not aksara.table_exists("x")
