"""Database URL resolution, validation and redaction.

Why one module: every command reads the same URL from the same places
(``--database-url``, else ``AKSARA_DATABASE_URL``, else ``DATABASE_URL``) and every
output path must hide the password. Keeping both here means there is one place to
get redaction right and one place for the security tests to attack.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from aksara.errors import UsageError

#: Environment variables consulted, in order, when no ``--database-url`` flag is given.
URL_ENV_VARS: tuple[str, ...] = ("AKSARA_DATABASE_URL", "DATABASE_URL")
#: What replaces a secret in any output.
MASK = "***"
_SCHEMES = ("postgresql", "postgres")
#: libpq query parameters whose values are secrets.
_SECRET_PARAMS = frozenset({"password", "sslpassword", "passfile_contents"})


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
    """The parts of a validated ``postgresql://`` URL (password kept, never printed)."""

    raw: str
    user: str | None
    password: str | None
    host: str | None
    port: int | None
    database: str | None
    params: tuple[tuple[str, str], ...]

    def param(self, name: str) -> str | None:
        for key, value in self.params:
            if key == name:
                return value
        return None

    @property
    def sslmode(self) -> str | None:
        return self.param("sslmode")

    @property
    def redacted(self) -> str:
        return redact_url(self.raw)

    def secrets(self) -> list[str]:
        """Every secret this URL carries, for scrubbing free text (e.g. driver errors)."""
        found = [self.password] if self.password else []
        found += [v for k, v in self.params if k in _SECRET_PARAMS and v]
        return found


def parse_database_url(url: str) -> DatabaseURL:
    """Validate ``url`` and split it; raise :class:`UsageError` without leaking secrets."""
    if not isinstance(url, str) or not url.strip():
        raise UsageError("database URL is empty")
    if any(ch in url for ch in "\r\n\x00"):
        raise UsageError("database URL contains control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UsageError(f"database URL is malformed: {redact_url(url)}") from None
    if parts.scheme not in _SCHEMES:
        # Never echo a value that is not a URL: it may be a bare password pasted into
        # the wrong variable. Only a recognisable "<scheme>://" prefix is quoted.
        got = f"{parts.scheme}://..." if url.startswith(f"{parts.scheme}://") else "not a URL"
        if not parts.scheme:
            got = "not a URL"
        raise UsageError(f"database URL must start with postgresql:// (got {got})")
    if parts.fragment:
        raise UsageError(f"database URL must not contain a fragment: {redact_url(url)}")
    try:
        params = tuple(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False))
    except ValueError:
        raise UsageError(f"database URL query is malformed: {redact_url(url)}") from None
    database = unquote(parts.path[1:]) if parts.path.startswith("/") else None
    return DatabaseURL(
        raw=url,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        host=parts.hostname,
        port=port,
        database=database or None,
        params=params,
    )


_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#]*)@")
_SECRET_QUERY = re.compile(
    r"(?P<key>(?:^|[?&;\s])(?:" + "|".join(sorted(_SECRET_PARAMS)) + r")=)(?P<value>[^&#\s]*)",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """Return ``url`` with the password and secret query values masked.

    Works on malformed URLs too: it never parses more than it must, and when it cannot
    tell where the user information ends it masks all of it.
    """
    text = str(url)
    match = _USERINFO.match(text)
    if match:
        userinfo = match.group("userinfo")
        # The password is everything after the first ':' of the userinfo; the last '@'
        # ends the userinfo (passwords may contain '@' when not percent-encoded).
        user, sep, _password = userinfo.partition(":")
        masked = f"{user}:{MASK}" if sep else user
        text = match.group("scheme") + masked + "@" + text[match.end() :]
    elif "@" in text:
        # Not a URL we understand, but something before an '@' may be a secret.
        head, _, tail = text.rpartition("@")
        scheme, sep, _ = head.partition("://")
        text = (scheme + sep if sep else "") + MASK + "@" + tail
    return _SECRET_QUERY.sub(lambda m: m.group("key") + MASK, text)


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of each secret (raw and percent-encoded) in ``text``."""
    for secret in secrets:
        if not secret:
            continue
        for form in {secret, quote(secret, safe=""), quote(secret)}:
            text = text.replace(form, MASK)
    return text
