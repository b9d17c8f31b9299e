"""Making text from the database and the file system safe to print on a terminal.

Why: a tracking row's description, a role name or a server message is data, and data
can hold a newline or an escape sequence. Printed raw, ``"x\\n\\x1b[8m"`` forges an
extra ``status: clean`` line and hides the real one. Every such character is shown as
an escape instead, and lists that can grow without bound (20 000 missing versions) are
cut to a few names and a count, so a "one-line" error stays one short line.
"""

from __future__ import annotations

from collections.abc import Sequence

#: How many names a one-line error lists before "and N more".
LIST_LIMIT = 10


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with every non-printable character (controls, bidi overrides, line
    separators) replaced by a visible ``\\xNN``/``\\uNNNN`` escape; spaces are kept."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else _escape(c) for c in text)


def summarize(names: Sequence[str], limit: int = LIST_LIMIT) -> str:
    """``"a, b, c"``, or the first ``limit`` names and ``"and N more"``; always printable."""
    shown = ", ".join(printable(n) for n in names[:limit])
    rest = len(names) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown
