"""Splitting a migration file into statements, each with the line it starts on.

Why split at all: ``CREATE INDEX CONCURRENTLY`` and friends refuse to run inside the
implicit transaction of a multi-statement query, so ``-- aksara:no-transaction``
files are sent one statement at a time; and finding the line of an error PostgreSQL
reports without a position, or of a forbidden ``COMMIT``, needs statement boundaries.
The splitting is done by ``sqlparse``'s lexer, which understands quotes, dollar
quotes, comments and ``BEGIN ATOMIC`` bodies; PostgreSQL still parses every statement
itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from sqlparse import engine, tokens

#: Leading keywords that control transactions; forbidden in transactional migrations,
#: where they would commit or abort the engine's own transaction.
TRANSACTION_CONTROL = frozenset({"BEGIN", "START", "COMMIT", "END", "ABORT", "ROLLBACK"})
_ROLLBACK_TO = re.compile(r"ROLLBACK\s+(?:(?:WORK|TRANSACTION)\s+)?TO\b", re.IGNORECASE)
_SKIPPED = (tokens.Whitespace, tokens.Newline, tokens.Comment, tokens.Punctuation)


@dataclass(frozen=True)
class Statement:
    """One statement as sent to the server, and where it sits in its file."""

    text: str
    #: 1-based line of the statement's first token (not of the comments before it).
    line: int
    #: 1-based line on which ``text`` begins (used to map error positions to lines).
    text_line: int
    #: The first keyword, upper-cased (``""`` when the lexer saw none).
    keyword: str

    @property
    def controls_transaction(self) -> bool:
        """True for ``BEGIN``/``COMMIT``/``ROLLBACK``... (``ROLLBACK TO SAVEPOINT`` is fine)."""
        if self.keyword not in TRANSACTION_CONTROL:
            return False
        return not (self.keyword == "ROLLBACK" and _ROLLBACK_TO.search(self.text))

    def line_of_position(self, position: int | None) -> int:
        """The file line of PostgreSQL's 1-based character ``position`` in ``text``."""
        if position is None or not 1 <= position <= len(self.text) + 1:
            return self.line
        return self.text_line + self.text.count("\n", 0, position - 1)


def split_statements(sql_text: str) -> Iterator[Statement]:
    """Yield the statements of ``sql_text``; comment-only pieces are skipped."""
    line = 1
    stack = engine.FilterStack()  # type: ignore[no-untyped-call]
    for raw in stack.run(sql_text):  # type: ignore[no-untyped-call]
        text = str(raw)
        first_line = line
        keyword = ""
        meaningful = False
        offset_line = line
        for token in raw.flatten():
            if not meaningful and not any(token.ttype in t for t in _SKIPPED):
                meaningful = True
                first_line = offset_line
                keyword = token.normalized.upper() if token.is_keyword else ""
            offset_line += token.value.count("\n")
        if meaningful:
            yield Statement(text=text, line=first_line, text_line=line, keyword=keyword)
        line += text.count("\n")
