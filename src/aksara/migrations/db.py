"""Opening the engine's database connection and turning driver errors into safe messages.

Why here: libpq's error text is the one place a secret could slip out of the engine
(a server, proxy or pooler may echo connection parameters). Every driver message goes
through :func:`safe_message`, which scrubs the URL's secrets and redacts anything that
looks like a URL, before it reaches a user.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import psycopg

from aksara import __version__
from aksara.dburl import DatabaseURL, parse_database_url, redact_url, scrub
from aksara.errors import AksaraError, DatabaseUnreachable, UsageError
from aksara.exitcodes import ExitCode

#: Seconds libpq waits for a connection unless the URL sets ``connect_timeout``.
DEFAULT_CONNECT_TIMEOUT = 10
_URL_IN_TEXT = re.compile(r"postgres(?:ql)?://\S+", re.IGNORECASE)


def safe_message(exc: BaseException | str, secrets: Iterable[str | None]) -> str:
    """One line of driver text with every secret removed."""
    text = str(exc)
    text = " ".join(part.strip() for part in text.splitlines() if part.strip())
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    return scrub(text, secrets) or type(exc).__name__


@contextmanager
def connect(url: str) -> Iterator[tuple[psycopg.Connection[tuple[object, ...]], DatabaseURL]]:
    """Open an autocommit connection to ``url``; unreachable servers raise exit code 3.

    Autocommit because the engine manages transactions itself: one per migration,
    and none at all for ``-- aksara:no-transaction`` files.
    """
    parsed = parse_database_url(url)
    secrets = parsed.secrets()
    kwargs: dict[str, object] = {"autocommit": True}
    if parsed.param("application_name") is None:
        kwargs["application_name"] = f"aksara/{__version__}"
    if parsed.param("connect_timeout") is None:
        kwargs["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT
    try:
        conn = psycopg.connect(url, **kwargs)  # type: ignore[arg-type]
    except psycopg.OperationalError as exc:
        raise DatabaseUnreachable(
            f"cannot connect to {parsed.redacted}: {safe_message(exc, secrets)}"
        ) from None
    except psycopg.Error as exc:
        raise UsageError(
            f"invalid database URL {parsed.redacted}: {safe_message(exc, secrets)}"
        ) from None
    try:
        yield conn, parsed
    except psycopg.OperationalError as exc:
        if conn.closed or conn.broken:
            raise DatabaseUnreachable(
                f"lost the connection to {parsed.redacted}: {safe_message(exc, secrets)}"
            ) from None
        raise AksaraError(
            f"database error: {safe_message(exc, secrets)}", ExitCode.INTERNAL
        ) from None
    except psycopg.Error as exc:
        # Anything the engine did not expect: one line, secrets scrubbed, no traceback.
        raise AksaraError(
            f"database error: {safe_message(exc, secrets)}", ExitCode.INTERNAL
        ) from None
    finally:
        conn.close()
