"""Statement splitting and mapping PostgreSQL error positions to file lines."""

from __future__ import annotations

from aksara.migrations.statements import split_statements

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
    assert "".join(s.text for s in statements) in SQL
    assert "SELECT 1; SELECT 2; END;" in statements[1].text


def test_transaction_control_detection() -> None:
    flags = {s.text.strip(): s.controls_transaction for s in split_statements(SQL)}
    assert flags["begin;"] and flags["COMMIT;"]
    assert not flags["ROLLBACK TO SAVEPOINT s;"]
    assert not any(v for k, v in flags.items() if k.startswith(("CREATE", "DO")))


def test_position_to_line() -> None:
    statements = list(split_statements("SELECT 1;\nSELECT\n  1,\n  nosuch\nFROM t;\n"))
    second = statements[1]
    position = second.text.index("nosuch") + 1  # PostgreSQL positions are 1-based
    assert second.line_of_position(position) == 4
    assert second.line_of_position(None) == 2
    assert second.line_of_position(10_000) == 2


def test_comment_only_file_has_no_statements() -> None:
    assert list(split_statements("-- nothing\n/* here */\n")) == []
