"""Splitting a migration file into statements with PostgreSQL's own parser.

Why split at all: ``CREATE INDEX CONCURRENTLY`` and friends refuse to run inside the
implicit transaction of a multi-statement query, so ``-- aksara:no-transaction``
files are sent one statement at a time; transactional files are checked, statement by
statement, for transaction control and ``COPY ... STDIN`` before anything runs; and
finding the line of an error PostgreSQL reports without a position needs statement
boundaries.

Why ``pglast``: it wraps libpg_query, which is PostgreSQL's own scanner and grammar
compiled as a library. It therefore agrees with the server on everything a
hand-written lexer gets wrong: nested ``/* /* */ */`` comments, dollar quotes with any
tag (``$тело$``), ``E''`` versus standard strings (``'C:\\'`` ends the string), a
column named ``begin``, ``BEGIN ATOMIC`` bodies and operators such as ``#``. Only the
statements whose first word could make them transaction control or ``COPY`` are parsed
into a tree, so a large seed file costs one C-level split and no Python AST.

Offsets: pglast reports character (not byte) offsets into the Python string, which is
what the line mapping below needs, for non-ASCII files too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pglast import ast
from pglast import parser as pg_parser
from pglast.enums.parsenodes import TransactionStmtKind

#: First words of statements that need a closer look (parsed into a tree).
_INSPECTED_FIRST_WORDS = frozenset(
    {"BEGIN", "START", "COMMIT", "END", "ABORT", "ROLLBACK", "PREPARE", "COPY"}
)
#: Transaction statements a transactional migration may use: they stay inside it.
_ALLOWED_TRANSACTION_KINDS = frozenset(
    {
        TransactionStmtKind.TRANS_STMT_SAVEPOINT,
        TransactionStmtKind.TRANS_STMT_RELEASE,
        TransactionStmtKind.TRANS_STMT_ROLLBACK_TO,
    }
)


class SplitError(Exception):
    """The file is not valid SQL for PostgreSQL's grammar; ``line`` locates the error."""

    def __init__(self, message: str, line: int, *, copy_stdio: bool = False) -> None:
        super().__init__(message)
        self.line = line
        #: True when the grammar tripped over inline data after ``COPY ... FROM STDIN``
        #: (a psql-style dump), so the error can say what is really wrong.
        self.copy_stdio = copy_stdio


@dataclass(frozen=True)
class Statement:
    """One statement as sent to the server, and where it sits in its file."""

    #: The statement text, from its first token to its last (no trailing ``;``).
    text: str
    #: 1-based line of the statement's first token (not of the comments before it).
    line: int
    #: 1-based line on which ``text`` begins (used to map error positions to lines).
    text_line: int
    #: The first word, upper-cased.
    keyword: str
    #: ``"transaction"`` for BEGIN/COMMIT/ROLLBACK..., ``"copy-stdio"`` for
    #: ``COPY ... FROM STDIN`` / ``TO STDOUT``, ``""`` for everything else.
    kind: str = ""

    @property
    def controls_transaction(self) -> bool:
        """True for statements that end or start a transaction (savepoints are fine)."""
        return self.kind == "transaction"

    @property
    def copies_stdio(self) -> bool:
        """True for ``COPY ... FROM STDIN`` / ``COPY ... TO STDOUT`` (need a client stream)."""
        return self.kind == "copy-stdio"

    def line_of_position(self, position: int | None) -> int:
        """The file line of PostgreSQL's 1-based character ``position`` in ``text``."""
        if position is None or not 1 <= position <= len(self.text) + 1:
            return self.line
        return self.text_line + self.text.count("\n", 0, position - 1)


def _first_word(text: str) -> str:
    end = 0
    while end < len(text) and (text[end].isalpha() or text[end] == "_"):
        end += 1
    return text[:end].upper()


def _classify(text: str, keyword: str) -> str:
    """Parse a statement whose first word is suspicious and say what it really is."""
    if keyword not in _INSPECTED_FIRST_WORDS:
        return ""
    (raw,) = pg_parser.parse_sql(text)
    node = raw.stmt
    if isinstance(node, ast.TransactionStmt):
        return "" if node.kind in _ALLOWED_TRANSACTION_KINDS else "transaction"
    if isinstance(node, ast.CopyStmt) and node.filename is None and not node.is_program:
        return "copy-stdio"
    return ""


def _line_at(text: str, offset: int, cache: list[int]) -> int:
    """1-based line of character ``offset``; ``cache`` is ``[last_offset, last_line]``."""
    last_offset, last_line = cache
    if offset < last_offset:
        last_offset, last_line = 0, 1
    line = last_line + text.count("\n", last_offset, offset)
    cache[0], cache[1] = offset, line
    return line


def _copy_stdio_before(sql_text: str, location: int) -> int | None:
    """The line of a ``COPY ... FROM STDIN`` before a syntax error, if there is one.

    psql-style files follow such a COPY with raw data lines, which no grammar accepts;
    the scanner-only split of the text before the error finds the COPY anyway.
    """
    prefix = sql_text[:location]
    try:
        slices = pg_parser.split(prefix, with_parser=False, only_slices=True)
    except pg_parser.ParseError:
        return None
    for piece in slices:
        text = prefix[piece]
        if _first_word(text) != "COPY":
            continue
        try:
            kind = _classify(text, "COPY")
        except pg_parser.ParseError:
            continue
        if kind == "copy-stdio":
            return _line_at(sql_text, piece.start, [0, 1])
    return None


def split_statements(sql_text: str) -> Iterator[Statement]:
    """Yield the statements of ``sql_text``; comments and empty statements are skipped.

    Raises :class:`SplitError` (with the file line) when PostgreSQL's grammar rejects
    the text: such a file would fail on the server too, and refusing it before
    anything runs keeps a no-transaction file from being half applied.
    """
    try:
        slices = pg_parser.split(sql_text, with_parser=True, only_slices=True)
    except pg_parser.ParseError as exc:
        message = str(exc.args[0]) if exc.args else str(exc)
        location = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
        copy_line = _copy_stdio_before(sql_text, max(0, location))
        if copy_line is not None:
            raise SplitError("COPY ... FROM STDIN", copy_line, copy_stdio=True) from None
        raise SplitError(message, _line_at(sql_text, max(0, location), [0, 1])) from None
    cache = [0, 1]
    for piece in slices:
        text = sql_text[piece]
        if not text:
            continue
        line = _line_at(sql_text, piece.start, cache)
        keyword = _first_word(text)
        yield Statement(
            text=text, line=line, text_line=line, keyword=keyword, kind=_classify(text, keyword)
        )
