"""Production-policy checks over configuration alone (no database needed).

Each function is one registered check. Malformed values arrive as settings with an
``error`` and become a failing result naming the variable; raw values are quoted only
through :func:`aksara.settings.show`, and the secret key never at all.
"""

from __future__ import annotations

import re

from aksara.doctor import secretkey
from aksara.doctor.context import CheckContext
from aksara.doctor.registry import PRODUCTION, Result, fail, passed, register, warn
from aksara.settings import SOURCE_DEFAULT, SettingValue, show

#: Host names that only make sense on a developer's machine (names compared, never bound).
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0"})  # noqa: S104  # nosec B104


def _invalid(value: SettingValue, hint: str) -> Result:
    return fail(value.error or f"{value.where} is invalid", hint)


@register("env.production", "Environment is production", [PRODUCTION])
def check_env(ctx: CheckContext) -> Result:
    value = ctx.settings["env"]
    hint = "set AKSARA_ENV=production"
    if not value.ok:
        return _invalid(value, hint)
    if value.source == SOURCE_DEFAULT:
        return fail(f"AKSARA_ENV is not set (defaults to {value.value})", hint)
    if value.value != "production":
        return fail(f"AKSARA_ENV is {value.value}, not production", hint)
    return passed("AKSARA_ENV is production")


@register("debug.off", "Debug mode is off", [PRODUCTION])
def check_debug(ctx: CheckContext) -> Result:
    value = ctx.settings["debug"]
    hint = "set AKSARA_DEBUG=false"
    if not value.ok:
        return _invalid(value, hint)
    if value.value:
        return fail(f"debug mode is on ({value.where} is true)", hint)
    if value.source == SOURCE_DEFAULT:
        return passed("AKSARA_DEBUG is not set; debug defaults to off")
    return passed("AKSARA_DEBUG is false")


@register("secret_key.strength", "Secret key is strong", [PRODUCTION])
def check_secret_key(ctx: CheckContext) -> Result:
    value = ctx.settings["secret_key"]
    hint = (
        "set AKSARA_SECRET_KEY to a fresh random value, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
    )
    problem = secretkey.weakness(value.value if value.ok else "")
    if problem:
        return fail(problem, hint)
    return passed(
        f"AKSARA_SECRET_KEY is set, at least {secretkey.MIN_LENGTH} characters, "
        "not a placeholder and not low-entropy"
    )


#: One DNS label, or an IPv4 address's part: letters, digits and inner hyphens.
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def _host_name(text: str) -> bool:
    """An exact host name or address, optionally with a port (no wildcard, no glob)."""
    host = text.lower()
    if host.startswith("["):  # [IPv6] or [IPv6]:port
        inner, sep, rest = host[1:].partition("]")
        return bool(sep) and bool(re.fullmatch(r"[0-9a-f:.]+", inner)) and (
            rest == "" or re.fullmatch(r":[0-9]{1,5}", rest) is not None)
    name, sep, port = host.partition(":")
    if sep and not re.fullmatch(r"[0-9]{1,5}", port):
        return False
    labels = name.rstrip(".").split(".")
    return bool(name) and all(_LABEL.match(label) for label in labels)


def _host_kind(entry: str) -> str:
    """``exact``, ``subdomains`` (``.example.com`` / ``*.example.com``), or ``bad``.

    A subdomain wildcard must leave at least a registrable-looking name (two labels):
    ``*.com``, ``.com``, ``**``, ``*.*``, ``a*b.example.com`` and globs are ``bad``.
    """
    if _host_name(entry):
        return "exact"
    for prefix in ("*.", "."):
        if entry.startswith(prefix):
            rest = entry[len(prefix):]
            if _host_name(rest) and "." in rest.rstrip(".").partition(":")[0]:
                return "subdomains"
    return "bad"


@register("hosts.allowed", "Allowed hosts are explicit", [PRODUCTION])
def check_hosts(ctx: CheckContext) -> Result:
    value = ctx.settings["allowed_hosts"]
    hint = "set AKSARA_ALLOWED_HOSTS to the comma-separated host names you serve"
    if not value.ok:
        return _invalid(value, hint)
    hosts: tuple[str, ...] = value.value
    if not hosts:
        return fail("AKSARA_ALLOWED_HOSTS is not set or empty", hint)
    if "*" in hosts:
        return fail("AKSARA_ALLOWED_HOSTS contains the wildcard '*'", hint)
    bad = [h for h in hosts if _host_kind(h) == "bad"]
    if bad:
        return fail(
            f"AKSARA_ALLOWED_HOSTS has entries that match too much or are not host names: "
            f"{show(','.join(bad))}",
            "list exact host names; a subdomain wildcard must name its domain "
            "(*.example.com), never '**', '*.*' or a top-level domain",
        )
    partial = [h for h in hosts if _host_kind(h) == "subdomains"]
    if partial:
        return warn(
            f"AKSARA_ALLOWED_HOSTS contains subdomain wildcards: {show(','.join(partial))}",
            "list the exact host names unless every subdomain is yours",
        )
    local = [h for h in hosts if h.lower() in _LOCAL_HOSTS]
    if local:
        return warn(
            f"AKSARA_ALLOWED_HOSTS contains local addresses: {show(','.join(local))}",
            "remove local addresses from the production host list",
        )
    return passed(f"AKSARA_ALLOWED_HOSTS lists {len(hosts)} explicit host(s)")


@register("cookies.secure", "Cookies are HTTPS-only", [PRODUCTION])
def check_cookies(ctx: CheckContext) -> Result:
    value = ctx.settings["cookie_secure"]
    hint = "set AKSARA_COOKIE_SECURE=true"
    if not value.ok:
        return _invalid(value, hint)
    if not value.value:
        if value.source == SOURCE_DEFAULT:
            return fail("AKSARA_COOKIE_SECURE is not set (defaults to false)", hint)
        return fail("AKSARA_COOKIE_SECURE is false: cookies may be sent over plain HTTP", hint)
    return passed("AKSARA_COOKIE_SECURE is true")


def _bad_origin(origin: str) -> bool:
    """Not of the form ``scheme://host[:port]`` (wildcards are judged separately)."""
    if origin in ("*", "null"):
        return False
    scheme, sep, rest = origin.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest:
        return True
    host = rest[:-1] if rest.endswith("/") else rest
    return any(ch in host for ch in "/?#@ \\") or not host


def _wildcard_origin(origin: str) -> bool:
    """A wildcard anywhere but the whole value: ``https://*``, ``https://*.a.com``,
    ``https://app.example.com:*``."""
    return origin != "*" and any(ch in origin for ch in "*?[]")


def _not_canonical(origin: str) -> bool:
    """Browsers send origins lower-case without a trailing slash; ``HTTP://App.com/``
    is a sign the list is matched loosely (or not at all)."""
    return origin not in ("*", "null") and (origin != origin.lower() or origin.endswith("/"))


@register("cors.credentials", "CORS does not expose credentials to any origin", [PRODUCTION])
def check_cors(ctx: CheckContext) -> Result:
    origins_value = ctx.settings["cors_allowed_origins"]
    creds_value = ctx.settings["cors_allow_credentials"]
    if not origins_value.ok:
        return _invalid(origins_value, "set AKSARA_CORS_ALLOWED_ORIGINS to https:// origins")
    if not creds_value.ok:
        return _invalid(creds_value, "set AKSARA_CORS_ALLOW_CREDENTIALS to true or false")
    origins: tuple[str, ...] = origins_value.value
    credentials: bool = creds_value.value
    exact = "list the exact origins, or set AKSARA_CORS_ALLOW_CREDENTIALS=false"
    malformed = [o for o in origins if _bad_origin(o)]
    if malformed:
        return fail(
            f"AKSARA_CORS_ALLOWED_ORIGINS has entries that are not origins: "
            f"{show(','.join(malformed))}",
            "list origins as scheme://host[:port], e.g. https://app.example.com",
        )
    wildcard = "*" in origins
    if wildcard and credentials:
        return fail(
            "AKSARA_CORS_ALLOWED_ORIGINS is '*' while AKSARA_CORS_ALLOW_CREDENTIALS is true",
            exact,
        )
    if "null" in origins and credentials:
        return fail(
            "AKSARA_CORS_ALLOWED_ORIGINS allows the 'null' origin with credentials",
            "remove 'null' from AKSARA_CORS_ALLOWED_ORIGINS",
        )
    partial = [o for o in origins if _wildcard_origin(o)]
    loose = [o for o in origins if _not_canonical(o)]
    plain = [o for o in origins if o.lower().startswith("http://")]
    if credentials:
        for found, what in ((partial, "wildcards in the host or port"),
                            (loose, "origins not in lower-case canonical form"),
                            (plain, "plain-HTTP origins")):
            if found:
                return fail(
                    f"AKSARA_CORS_ALLOWED_ORIGINS has {what} while "
                    f"AKSARA_CORS_ALLOW_CREDENTIALS is true: {show(','.join(found))}",
                    exact + " (https://, lower-case, no wildcard)",
                )
    if wildcard:
        return warn(
            "AKSARA_CORS_ALLOWED_ORIGINS is '*': any site may read responses",
            "list the exact origins that need access",
        )
    if partial or loose:
        return warn(
            f"AKSARA_CORS_ALLOWED_ORIGINS has wildcard or non-canonical origins: "
            f"{show(','.join(partial + loose))}",
            "list exact lower-case origins, e.g. https://app.example.com",
        )
    if plain:
        return warn(
            f"AKSARA_CORS_ALLOWED_ORIGINS has plain-HTTP origins: {show(','.join(plain))}",
            "use https:// origins in production",
        )
    if not origins:
        return passed("CORS is off (AKSARA_CORS_ALLOWED_ORIGINS is empty)")
    return passed(
        f"CORS allows {len(origins)} explicit origin(s)"
        + (" with credentials" if credentials else "")
    )


@register("log.level", "Log level is not DEBUG", [PRODUCTION])
def check_log_level(ctx: CheckContext) -> Result:
    value = ctx.settings["log_level"]
    hint = "set AKSARA_LOG_LEVEL=INFO (or WARNING)"
    if not value.ok:
        return _invalid(value, hint)
    if value.value == "DEBUG":
        return fail("AKSARA_LOG_LEVEL is DEBUG: debug logs may carry request data", hint)
    if value.value == "CRITICAL":
        return warn("AKSARA_LOG_LEVEL is CRITICAL: errors will not be logged", hint)
    suffix = " (the default)" if value.source == SOURCE_DEFAULT else ""
    return passed(f"AKSARA_LOG_LEVEL is {value.value}{suffix}")
