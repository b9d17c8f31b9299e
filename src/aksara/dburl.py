"""Database URL resolution, validation and redaction, by libpq's own rules.

Why one module: every command reads the same URL from the same places
(``--database-url``, else ``AKSARA_DATABASE_URL``, else ``DATABASE_URL``) and every
output path must hide the password. Keeping both here means there is one place to
get redaction right and one place for the security tests to attack.

Why libpq decides: the URL is handed to libpq, so libpq's reading is the only one
that matters (the last of a repeated parameter wins, query keys are percent-decoded,
``?pass%77ord=`` is a password). Python's :func:`urllib.parse.urlsplit` is consulted
only to prove the two parsers agree; a URL they read differently (an unencoded ``@``,
``/``, ``?`` or ``#`` in a password) is rejected, because any text printed about it
(a host, a target, a redacted URL) could carry part of the secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from aksara.errors import UsageError

#: Environment variables consulted, in order, when no ``--database-url`` flag is given.
URL_ENV_VARS: tuple[str, ...] = ("AKSARA_DATABASE_URL", "DATABASE_URL")
#: What replaces a secret in any output.
MASK = "***"
_SCHEMES = ("postgresql", "postgres")
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
#: libpq options whose values are secrets (libpq marks password fields with dispchar "*";
#: the SCRAM keys are secrets it shows only for debugging). Kept static so that importing
#: this module does not load the driver (the CLI's start-up stays light).
_STATIC_SECRET_KEYS = frozenset(
    {"password", "sslpassword", "oauth_client_secret", "scram_client_key", "scram_server_key"}
)
#: The connection-target options both parsers must agree on.
_CORE_KEYS = ("user", "password", "host", "port", "dbname")
_HELP = "percent-encode reserved characters (@ : / ? # % &) in the user name and password"


#: Every key treated as secret (a test proves it covers every key libpq marks secret).
SECRET_KEYS: frozenset[str] = _STATIC_SECRET_KEYS


def is_secret_key(key: str) -> bool:
    """Whether a (raw or decoded) option name may carry a secret.

    Broader than libpq on purpose: any spelling, case or percent-encoding of a
    password-bearing key counts, and so does any key naming a password or secret.
    """
    name = unquote(key).strip().lower()
    return name in SECRET_KEYS or "password" in name or "secret" in name or "passwd" in name


@dataclass(frozen=True)
class ResolvedURL:
    """A database URL and where it came from (``flag``, an env var name, or ``None``)."""

    url: str | None
    source: str | None

    @property
    def redacted(self) -> str | None:
        return None if self.url is None else redact_url(self.url)


def resolve_database_url(flag: str | None, environ: Mapping[str, str]) -> ResolvedURL:
    """Pick the URL: the flag wins, then ``AKSARA_DATABASE_URL``, then ``DATABASE_URL``."""
    if flag:
        return ResolvedURL(flag, "flag")
    for name in URL_ENV_VARS:
        value = environ.get(name)
        if value:
            return ResolvedURL(value, name)
    return ResolvedURL(None, None)


@dataclass(frozen=True)
class DatabaseURL:
    """A ``postgresql://`` URL as libpq reads it (password kept, never printed).

    ``options`` are the options the URL sets explicitly, in libpq's reading (the last
    of a repeated parameter wins). Environment variables and service files are not
    in it: :func:`libpq_defaults` has those, and a live connection has the truth.
    """

    raw: str
    options: tuple[tuple[str, str], ...]
    #: Every secret text the URL carries: decoded values and their raw spellings.
    secret_texts: tuple[str, ...] = ()

    def param(self, name: str) -> str | None:
        for key, value in self.options:
            if key == name:
                return value
        return None

    @property
    def params(self) -> tuple[tuple[str, str], ...]:
        return self.options

    @property
    def user(self) -> str | None:
        return self.param("user")

    @property
    def password(self) -> str | None:
        return self.param("password")

    @property
    def host(self) -> str | None:
        return self.param("host")

    @property
    def port(self) -> int | None:
        """The port when exactly one numeric port is given, else ``None``."""
        value = self.param("port")
        return int(value) if value and value.isascii() and value.isdigit() else None

    @property
    def database(self) -> str | None:
        return self.param("dbname")

    @property
    def sslmode(self) -> str | None:
        return self.param("sslmode")

    @property
    def redacted(self) -> str:
        return _redact_parsed(self.raw)

    def secrets(self) -> list[str]:
        """Every secret this URL carries, for scrubbing free text (e.g. driver errors)."""
        return [s for s in self.secret_texts if s]


def _libpq_parse(conninfo: str) -> dict[str, str]:
    """libpq's own reading of ``conninfo`` (explicit options only); one-line errors.

    libpq's message quotes the offending token (which may be the password), so only
    its wording is kept: every quoted part is dropped.
    """
    import psycopg
    from psycopg import pq

    try:
        options = pq.Conninfo.parse(conninfo.encode("utf-8", "surrogatepass"))
    except psycopg.Error as exc:  # OperationalError from PQconninfoParse
        text = next((line for line in str(exc).splitlines() if line.strip()), "")
        text = re.sub(r'\s*:?\s*"[^"]*"?', "", text).strip(" :.")
        reason = f" (libpq: {text})" if text and len(text) < 100 else ""
        raise UsageError(f"database URL is malformed{reason}; {_HELP}") from None
    found: dict[str, str] = {}
    for option in options:
        if option.val is None:
            continue
        try:
            found[option.keyword.decode()] = option.val.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(
                "database URL is malformed: a percent-encoded value is not UTF-8"
            ) from None
    return found


def _raw_query(query: str) -> list[tuple[str, str]]:
    """The query's ``(raw key, raw value)`` pairs, split as libpq splits them."""
    pairs = []
    for piece in query.split("&"):
        key, _, value = piece.partition("=")
        pairs.append((key, value))
    return pairs


def _none_if_empty(value: str | None) -> str | None:
    return value if value else None


def parse_database_url(url: str) -> DatabaseURL:
    """Validate ``url`` with libpq and split it; raise :class:`UsageError` without leaking.

    No error message quotes the URL: a URL that does not parse cleanly may hold its
    password anywhere.
    """
    if not isinstance(url, str) or not url.strip():
        raise UsageError("database URL is empty")
    if any(ch in url for ch in "\r\n\x00"):
        raise UsageError("database URL contains control characters")
    match = _SCHEME.match(url)
    if not match:
        raise UsageError("database URL must start with postgresql:// (got not a URL)")
    if match.group("scheme") not in _SCHEMES:
        # Only a recognisable "<scheme>://" prefix is quoted, never the rest.
        raise UsageError(
            f"database URL must start with postgresql:// (got {match.group('scheme')}://...)"
        )
    if "#" in url:
        raise UsageError(f"database URL must not contain '#' (a fragment); {_HELP}")
    try:
        parts = urlsplit(url)
        hostport = parts.netloc.rpartition("@")[2]
        py_port = parts.port if "," not in hostport else None
    except ValueError:
        raise UsageError(f"database URL is malformed (bad host or port); {_HELP}") from None
    if "@" in parts.path:
        raise UsageError(
            f"database URL has an '@' after the host (an unencoded '/' in the password?); {_HELP}"
        )
    full = _libpq_parse(url)
    base = _libpq_parse(f"{parts.scheme}://{parts.netloc}{parts.path}")
    query = _raw_query(parts.query) if parts.query else []
    query_keys = {unquote(key) for key, _ in query}
    # Python's reading of scheme://netloc/path must be libpq's reading of the same text,
    # and the query may change a core option only through its own key.
    python = {
        "user": _none_if_empty(unquote(parts.username) if parts.username is not None else None),
        "password": _none_if_empty(
            unquote(parts.password) if parts.password is not None else None),
        "dbname": _none_if_empty(unquote(parts.path[1:]) if parts.path.startswith("/") else None),
    }
    if "," not in hostport:
        host = unquote(parts.hostname) if parts.hostname else None
        python["host"] = host.lower() if host else None
        python["port"] = None if py_port is None else str(py_port)
    for key, value in python.items():
        theirs = _none_if_empty(base.get(key))
        if key == "host" and theirs is not None:
            theirs = theirs.lower()
        if key == "port" and theirs is not None and theirs.isdigit():
            theirs = str(int(theirs))
        if value != theirs:
            raise UsageError(
                f"database URL is ambiguous: Python and libpq read its {key} differently; {_HELP}"
            )
    for key in _CORE_KEYS:
        if key not in query_keys and full.get(key) != base.get(key):
            raise UsageError(
                f"database URL is ambiguous: libpq reads its {key} from an unexpected place; "
                f"{_HELP}"
            )
    return DatabaseURL(url, tuple(full.items()), _secret_texts(parts.password, query, full))


def _secret_texts(raw_password: str | None, query: list[tuple[str, str]],
                  options: Mapping[str, str]) -> tuple[str, ...]:
    """Every spelling of every secret: libpq's decoded value and the raw URL text."""
    found: list[str] = []
    if raw_password:
        found += [raw_password, unquote(raw_password)]
    for key, value in query:
        if is_secret_key(key) and value:
            found += [value, unquote(value), unquote(value.replace("+", " "))]
    found += [v for k, v in options.items() if is_secret_key(k) and v]
    return tuple(dict.fromkeys(s for s in found if s))


def libpq_defaults() -> dict[str, str]:
    """libpq's defaults as it would apply them now: ``PG*`` variables and ``PGSERVICE``."""
    from psycopg import pq

    found: dict[str, str] = {}
    for option in pq.Conninfo.get_defaults():
        if option.val is not None:
            found[option.keyword.decode()] = option.val.decode("utf-8", "replace")
    return found


def _redact_parsed(raw: str) -> str:
    """Mask the userinfo password and every secret query value of a URL that parsed."""
    parts = urlsplit(raw)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if sep else f"{user}@{hostport}"
    text = f"{parts.scheme}://{netloc}{parts.path}"
    if "?" in raw:
        pieces = []
        for piece in raw.partition("?")[2].split("&"):
            key, sep, _value = piece.partition("=")
            pieces.append(f"{key}={MASK}" if sep and is_secret_key(key) else piece)
        text += "?" + "&".join(pieces)
    return text


def redact_url(url: str) -> str:
    """Return ``url`` with every secret masked; safe on any text.

    A URL that parses cleanly (libpq and Python agree on every part) keeps its user,
    host, port, database and non-secret parameters. Anything else is reduced to its
    scheme: where the password ends cannot be known, so nothing after ``://`` is shown.
    """
    text = str(url)
    try:
        parse_database_url(text)
    except UsageError:
        match = _SCHEME.match(text)
        return f"{match.group('scheme')}://{MASK}" if match else MASK
    return _redact_parsed(text)


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of each secret (raw, decoded and percent-encoded)."""
    forms: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        forms |= {secret, unquote(secret), quote(secret, safe=""), quote(secret),
                  quote(secret, safe="@:/+")}
    # Longest first, so a secret that contains another is masked whole.
    for form in sorted((f for f in forms if f), key=len, reverse=True):
        text = text.replace(form, MASK)
    return text
