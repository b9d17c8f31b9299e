"""One connection attempt to the database, shared by every database check.

Why: ``database.reachable``, ``migrations.tracking_table`` and the server-version
verdict all need the same facts; connecting once keeps the doctor fast and makes the
checks agree with each other. Driver errors are cut to one line and scrubbed of every
secret the URL carries before they are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from aksara import __version__
from aksara.dburl import DatabaseURL, scrub
from aksara.doctor import DEFAULT_CONNECT_TIMEOUT

#: Oldest PostgreSQL major version aksara supports (documented in docs/doctor.md).
MIN_SERVER_MAJOR = 16
#: Newest PostgreSQL major version the release gate tests against.
NEWEST_TESTED_MAJOR = 18

_TRACKING_TABLE_SQL = (
    "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s"
)
TRACKING_TABLE = "aksara_migrations"
_SSL_VERSION_SQL = "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


@dataclass(frozen=True)
class Transport:
    """How the connection was actually made, in libpq's own words.

    Why: whether TLS protects the connection is a fact of the connection (libpq's
    ``PQsslInUse``), not of the URL. The URL, ``PG*`` variables and service files all
    feed libpq's option resolution; ``PQconninfo`` on the live connection reports the
    result, and ``PQhost``/``PQhostaddr``/``PQport`` name the server actually reached.
    """

    host: str
    hostaddr: str
    port: str
    sslmode: str
    ssl_in_use: bool
    protocol: str | None = None

    @property
    def unix_socket(self) -> bool:
        """A Unix-domain socket: no server address, and a path (or abstract) host."""
        return not self.hostaddr and (self.host.startswith("/") or self.host.startswith("@"))

    @property
    def target(self) -> str:
        where = f"{self.host}:{self.port}" if not self.unix_socket else (
            f"the Unix-domain socket in {self.host}")
        if self.hostaddr and self.hostaddr != self.host:
            where += f" (address {self.hostaddr})"
        return where


def _text(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value else ""


def transport_of(conn: psycopg.Connection[Any]) -> Transport:
    """Read the connection's effective host, port, sslmode and TLS state from libpq."""
    pgconn = conn.pgconn
    options = {o.keyword.decode(): _text(o.val) for o in pgconn.info}
    in_use = bool(pgconn.ssl_in_use)
    protocol = ""
    if in_use:  # the server's view of the same session: the TLS protocol version
        row = conn.execute(_SSL_VERSION_SQL).fetchone()
        protocol = str(row[0]) if row and row[0] else ""
    return Transport(
        host=_text(pgconn.host),
        hostaddr=_text(pgconn.hostaddr),
        port=_text(pgconn.port),
        sslmode=options.get("sslmode") or "prefer",
        ssl_in_use=in_use,
        protocol=protocol or None,
    )


@dataclass(frozen=True)
class Probe:
    """What one connection attempt learned."""

    reachable: bool
    error: str | None = None
    server_version: str | None = None
    server_version_num: int | None = None
    tracking_table: bool | None = None
    #: What libpq reports about the connection that was made (see :class:`Transport`).
    transport: Transport | None = None

    @property
    def major(self) -> int | None:
        return None if self.server_version_num is None else self.server_version_num // 10000


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def probe_database(url: DatabaseURL, schema: str, timeout: int | None = None) -> Probe:
    """Connect, read the server version and look for the tracking table. Never raises.

    ``timeout`` (seconds) wins over the URL's ``connect_timeout``; without either the
    default applies, so an unreachable host cannot hang the doctor.
    """
    kwargs: dict[str, Any] = {"autocommit": True}
    if url.param("application_name") is None:
        kwargs["application_name"] = f"aksara-doctor/{__version__}"
    if timeout is not None or url.param("connect_timeout") is None:
        kwargs["connect_timeout"] = timeout or DEFAULT_CONNECT_TIMEOUT
    try:
        with psycopg.connect(url.raw, **kwargs) as conn:
            version_num = int(conn.info.server_version)
            row = conn.execute("SHOW server_version").fetchone()
            version = str(row[0]).split(" ")[0] if row else str(version_num)
            present = conn.execute(_TRACKING_TABLE_SQL, (schema, TRACKING_TABLE)).fetchone()
            return Probe(True, None, version, version_num, present is not None,
                         transport_of(conn))
    except psycopg.Error as exc:
        message = first_line(str(exc)) or type(exc).__name__
        return Probe(False, scrub(message, url.secrets()))
    except (OSError, ValueError) as exc:
        return Probe(False, scrub(first_line(str(exc)) or type(exc).__name__, url.secrets()))


def version_verdict(major: int) -> str:
    """``"old"`` below the supported minimum, ``"new"`` above the newest tested, else ``"ok"``."""
    if major < MIN_SERVER_MAJOR:
        return "old"
    if major > NEWEST_TESTED_MAJOR:
        return "new"
    return "ok"
