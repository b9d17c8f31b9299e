"""Statement splitting with PostgreSQL's own parser, and mapping error positions to lines.

Each case here is one a hand-written lexer (sqlparse, before 0.8) got wrong: the split
must agree with how the server reads the file.
"""

from __future__ import annotations

import pytest

from aksara.migrations.statements import SplitError, split_statements

SQL = """-- aksara:no-transaction
CREATE TABLE a (id int); -- trailing comment
CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;

  -- leading comment
  INSERT INTO a
  VALUES (1); /* x; */ SELECT 'a;b', $q$c;d$q$;
DO $$ BEGIN PERFORM 1; END $$;
begin; COMMIT;
ROLLBACK TO SAVEPOINT s;
-- only a comment
"""


def _texts(sql: str) -> list[str]:
    return [s.text for s in split_statements(sql)]


def test_split_keeps_text_and_lines() -> None:
    statements = list(split_statements(SQL))
    assert [(s.keyword, s.line) for s in statements] == [
        ("CREATE", 2),
        ("CREATE", 3),
        ("INSERT", 6),
        ("SELECT", 7),
        ("DO", 8),
        ("BEGIN", 9),
        ("COMMIT", 9),
        ("ROLLBACK", 10),
    ]
    for statement in statements:
        assert statement.text in SQL
    assert statements[1].text.endswith("SELECT 1; SELECT 2; END")


def test_transaction_control_detection() -> None:
    flags = {s.text: s.controls_transaction for s in split_statements(SQL)}
    assert flags["begin"] and flags["COMMIT"]
    assert not flags["ROLLBACK TO SAVEPOINT s"]
    assert not any(v for k, v in flags.items() if k.startswith(("CREATE", "DO", "INSERT")))


@pytest.mark.parametrize(
    "sql",
    [
        "ROLLBACK; -- not a ROLLBACK TO savepoint",
        "END",
        "abort",
        "START TRANSACTION",
        "PREPARE TRANSACTION 'x'",
        "COMMIT PREPARED 'x'",
        "commit and chain",
    ],
)
def test_every_form_of_transaction_end_is_detected(sql: str) -> None:
    assert [s.controls_transaction for s in split_statements(sql)] == [True]


@pytest.mark.parametrize(
    "sql", ["SAVEPOINT s", "RELEASE s", "ROLLBACK TO s", "PREPARE p AS SELECT 1"]
)
def test_savepoints_and_prepared_statements_are_not_transaction_control(sql: str) -> None:
    assert [s.controls_transaction for s in split_statements(sql)] == [False]


def test_commit_hidden_after_a_standard_string_ending_in_backslash() -> None:
    statements = list(split_statements("INSERT INTO t VALUES ('C:\\');\nCOMMIT;\nSELECT 1/0;\n"))
    assert [(s.keyword, s.line, s.controls_transaction) for s in statements] == [
        ("INSERT", 1, False),
        ("COMMIT", 2, True),
        ("SELECT", 3, False),
    ]


def test_escape_string_backslash_quote_stays_inside_the_string() -> None:
    assert _texts("SELECT E'it\\'s; COMMIT';\nSELECT 2;") == [
        "SELECT E'it\\'s; COMMIT'",
        "SELECT 2",
    ]


def test_begin_column_and_hash_operator_do_not_hide_a_commit() -> None:
    sql = "CREATE TABLE t (begin int);\nSELECT 1 # 2;\nCOMMIT;\n"
    assert [s.controls_transaction for s in split_statements(sql)] == [False, False, True]


def test_nested_comments_are_comments() -> None:
    sql = "/* Disabled: /* note */; DROP TABLE important; */\nSELECT 1;\n"
    statements = list(split_statements(sql))
    assert [(s.text, s.line) for s in statements] == [("SELECT 1", 2)]


def test_dollar_quote_with_a_non_ascii_tag() -> None:
    sql = "SELECT 'é';\nDO $тело$ BEGIN PERFORM 1; PERFORM 2; END $тело$;\nSELECT 3;"
    statements = list(split_statements(sql))
    assert [s.text for s in statements] == [
        "SELECT 'é'",
        "DO $тело$ BEGIN PERFORM 1; PERFORM 2; END $тело$",
        "SELECT 3",
    ]
    assert [s.line for s in statements] == [1, 2, 3]


def test_copy_from_stdin_and_to_stdout_are_flagged_but_server_files_are_not() -> None:
    flags = [
        s.copies_stdio
        for s in split_statements(
            "COPY t FROM STDIN;\ncopy t (a) to stdout;\nCOPY t FROM '/tmp/x';\n"
            "COPY (SELECT 1) TO STDOUT;\nCOPY t TO PROGRAM 'cat';\n"
        )
    ]
    assert flags == [True, True, False, True, False]


def test_syntax_error_is_located_by_line_with_non_ascii_before_it() -> None:
    with pytest.raises(SplitError) as caught:
        list(split_statements("SELECT 'ééé';\n\nSELCT 1;\n"))
    assert caught.value.line == 3
    assert "SELCT" in str(caught.value)


def test_position_to_line() -> None:
    statements = list(split_statements("SELECT 1;\nSELECT\n  1,\n  nosuch\nFROM t;\n"))
    second = statements[1]
    position = second.text.index("nosuch") + 1  # PostgreSQL positions are 1-based
    assert second.line_of_position(position) == 4
    assert second.line_of_position(None) == 2
    assert second.line_of_position(10_000) == 2


def test_comment_only_file_has_no_statements() -> None:
    assert list(split_statements("-- nothing\n/* here */\n")) == []


def test_a_large_seed_with_transaction_words_in_data_is_split_without_parsing_each_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aksara.migrations import statements as module

    parsed: list[str] = []
    real = module.pg_parser.parse_sql

    def counting(text: str) -> object:
        parsed.append(text)
        return real(text)

    monkeypatch.setattr(module.pg_parser, "parse_sql", counting)
    seed = "INSERT INTO t VALUES (1, 'weekend start; commit');\n" * 2000 + "COMMIT;\n"
    statements = list(split_statements(seed))
    assert len(statements) == 2001
    assert parsed == ["COMMIT"]  # only the statement whose first word needs a look
