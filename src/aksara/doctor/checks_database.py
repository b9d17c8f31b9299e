"""Checks that concern the database: its URL, reachability, version and migrations.

They share one :class:`~aksara.doctor.probe.Probe` through the context, so the
server is contacted once. A check that depends on an unreachable database reports
``not_evaluated`` and never ``pass``.
"""

from __future__ import annotations

from typing import Any

from aksara.dburl import DatabaseURL, libpq_defaults
from aksara.doctor import probe as probes
from aksara.doctor.context import CheckContext
from aksara.doctor.registry import (
    DOCTOR,
    PRODUCTION,
    Result,
    fail,
    not_evaluated,
    passed,
    register,
    warn,
)
from aksara.errors import AksaraError
from aksara.settings import SettingValue, show

#: sslmode values that make libpq refuse a connection without TLS.
TLS_MODES = ("require", "verify-ca", "verify-full")
#: Every sslmode libpq knows.
LIBPQ_SSLMODES = ("disable", "allow", "prefer", *TLS_MODES)
_NO_URL = "no database URL is set (AKSARA_DATABASE_URL or DATABASE_URL)"
_URL_HINT = "set AKSARA_DATABASE_URL (or DATABASE_URL) to a postgresql:// URL"


def _url(ctx: CheckContext) -> tuple[DatabaseURL | None, Result | None]:
    """The parsed URL, or the failing result explaining why there is none."""
    value: SettingValue = ctx.settings["database_url"]
    if not value.ok:
        return None, fail(value.error or "the database URL is invalid", _URL_HINT)
    if value.value is None:
        return None, fail(_NO_URL, _URL_HINT)
    return value.value, None


def _static_target(url: DatabaseURL) -> str:
    """Where libpq will try to connect, from its own reading of the URL and its defaults.

    Built from libpq's parse (never from the raw text), so no part of a password can
    appear in it: the URL was rejected unless libpq and Python agree on every part.
    """
    defaults = libpq_defaults()
    host = url.param("hostaddr") or url.host or defaults.get("hostaddr") or defaults.get("host")
    port = url.param("port") or defaults.get("port") or ""
    where = host or "the local socket"
    return f"{where}:{port}/{url.database or ''}" if port else f"{where}/{url.database or ''}"


def static_sslmode(url: DatabaseURL) -> str | None:
    """libpq's sslmode for ``url`` before connecting; ``None`` when a service file decides.

    The URL's own (last) ``sslmode`` wins; else, unless the URL names a ``service``
    (whose file libpq reads only at connect time), libpq's defaults (``PGSSLMODE``,
    ``PGSERVICE``'s file, then ``prefer``).
    """
    if url.sslmode is not None:
        return url.sslmode
    if url.param("service") is not None:
        return None
    return libpq_defaults().get("sslmode") or "prefer"


@register("settings.valid", "Every setting parses", [DOCTOR])
def check_settings(ctx: CheckContext) -> Result:
    errors = ctx.settings.errors
    if errors:
        return fail("; ".join(v.error or v.name for v in errors), "fix the values named above")
    return passed(f"all {len(ctx.settings.values)} settings parse")


_TLS_HINT = ("connect over TCP with ?sslmode=verify-full (or require / verify-ca) in the "
             "database URL, to a server with TLS enabled")


@register("database.tls", "Database connection uses and requires TLS", [PRODUCTION])
def check_tls(ctx: CheckContext) -> Result:
    """Judged on the connection that was made, never on the URL's text.

    Pass only when libpq reports TLS in use (``PQsslInUse``) *and* libpq's effective
    sslmode requires it (so an attacker cannot strip it on the next connection).
    """
    url, problem = _url(ctx)
    if url is None or problem is not None:
        return problem or fail(_NO_URL, _URL_HINT)
    mode = static_sslmode(url)
    if mode is not None and mode not in LIBPQ_SSLMODES:
        return fail(f"libpq's sslmode is not a libpq sslmode: {show(mode)}", _TLS_HINT)
    probe = ctx.probe()
    if probe is None or not probe.reachable or probe.transport is None:
        if mode is not None and mode not in TLS_MODES:
            return fail(f"libpq's effective sslmode is {mode}: TLS is optional or off "
                        "(the database was not reached to confirm)", _TLS_HINT)
        return not_evaluated(
            "TLS is judged on a live connection and the database is unreachable "
            "(see database.reachable)",
            "fix database.reachable, then run the check again",
        )
    link = probe.transport
    if link.unix_socket and not link.ssl_in_use:
        return warn(
            f"connected through {link.target}, where TLS does not apply",
            "make sure the socket is local to this host, or connect over TCP with TLS",
        )
    if not link.ssl_in_use:
        return fail(
            f"the connection to {link.target} is not encrypted "
            f"(libpq's effective sslmode is {link.sslmode})",
            _TLS_HINT,
        )
    protocol = f" ({link.protocol})" if link.protocol else ""
    if link.sslmode not in TLS_MODES:
        return fail(
            f"the connection to {link.target} uses TLS{protocol}, but libpq's effective "
            f"sslmode is {link.sslmode}: TLS is optional and can be stripped",
            _TLS_HINT,
        )
    verified = ("and the server certificate is verified" if link.sslmode != "require"
                else "(certificate not verified)")
    return passed(
        f"the connection to {link.target} uses TLS{protocol}; sslmode is {link.sslmode}: "
        f"TLS required {verified}"
    )


@register("database.reachable", "Database is reachable and its version supported",
          [DOCTOR, PRODUCTION])
def check_reachable(ctx: CheckContext) -> Result:
    url, problem = _url(ctx)
    if url is None or problem is not None:
        return problem or fail(_NO_URL, _URL_HINT)
    probe = ctx.probe()
    if probe is None or not probe.reachable:
        return fail(
            f"cannot connect to {_static_target(url)}: {probe.error if probe else 'no URL'}",
            "check the host, port, credentials and that the server is running",
        )
    major = probe.major or 0
    verdict = probes.version_verdict(major)
    target = probe.transport.target if probe.transport else _static_target(url)
    where = f"PostgreSQL {probe.server_version} at {target}"
    if verdict == "old":
        return fail(
            f"{where} is older than the minimum supported PostgreSQL "
            f"{probes.MIN_SERVER_MAJOR}",
            f"upgrade the server to PostgreSQL {probes.MIN_SERVER_MAJOR} or newer",
        )
    if verdict == "new":
        return warn(
            f"{where} is newer than the newest tested PostgreSQL "
            f"{probes.NEWEST_TESTED_MAJOR}",
            "run the test suite against this server version before relying on it",
        )
    return passed(f"connected to {where}")


def _database_unavailable(ctx: CheckContext) -> Result | None:
    """``not_evaluated`` when there is no database to ask, else ``None``."""
    url_value = ctx.settings["database_url"]
    if not url_value.ok or url_value.value is None:
        return not_evaluated("no usable database URL", _URL_HINT)
    probe = ctx.probe()
    if probe is None or not probe.reachable:
        return not_evaluated("the database is unreachable (see database.reachable)")
    return None


@register("migrations.tracking_table", "Migration tracking table exists", [DOCTOR])
def check_tracking_table(ctx: CheckContext) -> Result:
    unavailable = _database_unavailable(ctx)
    if unavailable:
        return unavailable
    schema = ctx.settings["schema"]
    if not schema.ok:
        return fail(schema.error or "the schema is invalid", "set AKSARA_SCHEMA to a schema name")
    probe = ctx.probe()
    table = f"{schema.value}.{probes.TRACKING_TABLE}"
    if probe is not None and probe.tracking_table:
        return passed(f"{show(table)} exists")
    return warn(f"{show(table)} does not exist: no migration has been applied yet",
                "run 'aksara migrate'")


def _status(ctx: CheckContext) -> dict[str, Any]:
    from aksara.migrations import get_status  # the engine; imported when needed

    report = get_status(
        ctx.settings["database_url"].value.raw,
        ctx.settings["migrations_dir"].value,
        schema=ctx.settings["schema"].value,
    )
    data: dict[str, Any] = report.to_json()
    return data


def _names(migrations: list[dict[str, Any]], state: str, limit: int = 5) -> str:
    picked = [f"{m.get('version')}" for m in migrations if m.get("state") == state]
    shown = ", ".join(picked[:limit])
    return shown + (f" and {len(picked) - limit} more" if len(picked) > limit else "")


@register("migrations.applied", "Every migration is applied and verified", [DOCTOR, PRODUCTION])
def check_migrations(ctx: CheckContext) -> Result:
    for name in ("migrations_dir", "schema"):
        value = ctx.settings[name]
        if not value.ok:
            return fail(value.error or f"{name} is invalid", f"fix {value.where}")
    unavailable = _database_unavailable(ctx)
    if unavailable:
        return unavailable
    directory = ctx.settings["migrations_dir"].value
    if not directory.is_dir():
        return fail(
            f"the migrations directory {show(str(directory))} does not exist",
            "pass --migrations-dir or set AKSARA_MIGRATIONS_DIR",
        )
    try:
        data = _status(ctx)
    except AksaraError as exc:
        return fail(f"cannot read migration status: {exc}", "run 'aksara status' for details")
    summary = data.get("summary", {})
    migrations = data.get("migrations", [])
    total = int(summary.get("total", 0))
    state = data.get("status")
    if state == "clean":
        if total == 0:
            return warn(
                f"no migration files in {show(str(directory))}",
                "check --migrations-dir / AKSARA_MIGRATIONS_DIR points at your migrations",
            )
        return passed(f"all {summary.get('applied', total)} migrations applied, checksums verified")
    if state == "pending":
        return fail(
            f"{summary.get('pending', '?')} of {total} migrations pending: "
            f"{_names(migrations, 'pending')}",
            "run 'aksara migrate'",
        )
    parts = []
    if summary.get("drifted"):
        parts.append(f"{summary['drifted']} changed after being applied: "
                     f"{_names(migrations, 'drifted')}")
    if summary.get("missing"):
        parts.append(f"{summary['missing']} applied but missing from the directory: "
                     f"{_names(migrations, 'missing')}")
    if summary.get("pending"):
        parts.append(f"{summary['pending']} pending")
    detail = "; ".join(parts) or f"status {show(str(state))}"
    return fail(f"migration drift: {detail}",
                "restore the original migration files; never edit applied migrations")
