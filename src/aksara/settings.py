"""Aksara's configuration, read from flags and the environment, with provenance.

Why a module of its own: ``aksara doctor`` must say where every value came from (a
command-line flag, an environment variable, or the built-in default), and the
production check must turn a malformed value into a *failing check* rather than a
traceback. So parsing never raises: every :class:`SettingValue` carries either a
parsed value or a one-line ``error``, and the checks decide what an error means.

Secrets (the secret key, the database password) are held here but never rendered:
:meth:`SettingValue.display` masks them, and error messages never quote them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aksara.dburl import MASK, URL_ENV_VARS, DatabaseURL, parse_database_url, redact_url
from aksara.errors import AksaraError, UsageError
from aksara.migrations.settings import validate_schema

#: Environment names ``AKSARA_ENV`` accepts.
ENVIRONMENTS: tuple[str, ...] = ("development", "test", "staging", "production")
#: Log levels ``AKSARA_LOG_LEVEL`` accepts (the standard :mod:`logging` names).
LOG_LEVELS: tuple[str, ...] = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
#: Longest raw value quoted back in an error message.
_SHOW_MAX = 40

#: Where a value came from.
SOURCE_FLAG = "flag"
SOURCE_ENV = "environment"
SOURCE_DEFAULT = "default"


def show(value: str) -> str:
    """Quote a user-supplied, non-secret value for a one-line message.

    ``repr`` escapes newlines and terminal escape sequences, so a value cannot forge
    extra output lines; long values are cut.
    """
    text = value if len(value) <= _SHOW_MAX else value[:_SHOW_MAX] + "..."
    return repr(text)


class SettingError(ValueError):
    """A raw value could not be parsed; the message is safe to print."""


def parse_bool(raw: str) -> bool:
    """``true/false``, ``1/0``, ``yes/no``, ``on/off`` (any case); anything else is an error."""
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SettingError(f"is not a boolean: {show(raw)} (use true or false)")


def parse_environment(raw: str) -> str:
    lowered = raw.strip().lower()
    if lowered in ENVIRONMENTS:
        return lowered
    raise SettingError(
        f"is not a known environment: {show(raw)} (expected one of {', '.join(ENVIRONMENTS)})"
    )


def parse_list(raw: str) -> tuple[str, ...]:
    """A comma-separated list; blanks around items and empty items are dropped."""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def parse_log_level(raw: str) -> str:
    upper = raw.strip().upper()
    if upper in LOG_LEVELS:
        return upper
    raise SettingError(
        f"is not a log level: {show(raw)} (expected one of {', '.join(LOG_LEVELS)})"
    )


def parse_secret(raw: str) -> str:
    """The secret key itself; only emptiness is judged here (strength is a check)."""
    if not raw.strip():
        raise SettingError("is set but empty")
    return raw


def parse_schema(raw: str) -> str:
    """A PostgreSQL schema name, judged by the migration engine's own rule.

    One rule for both: a schema ``aksara migrate`` rejects must not pass here, and the
    other way round (non-empty, no NUL, at most 63 bytes; every query quotes it).
    """
    try:
        return validate_schema(raw)
    except UsageError as exc:
        raise SettingError(str(exc).removeprefix("schema name ")) from None


def parse_path(raw: str) -> Path:
    if not raw.strip():
        raise SettingError("is empty")
    if "\x00" in raw:
        raise SettingError("contains a NUL character")
    return Path(raw)


def parse_url(raw: str) -> DatabaseURL:
    try:
        return parse_database_url(raw)
    except AksaraError as exc:  # the message is already redacted by dburl
        raise SettingError(f"is not a usable database URL: {exc}") from None


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its name, where it is read from, its default and its parser."""

    name: str
    env_vars: tuple[str, ...]
    parser: Callable[[str], Any]
    default: Any
    description: str
    flag: str | None = None
    secret: bool = False
    #: An empty environment variable counts as unset (as ``aksara migrate`` treats it).
    empty_env_is_unset: bool = False
    #: An empty flag counts as not given.
    empty_flag_is_unset: bool = False


@dataclass(frozen=True)
class SettingValue:
    """A setting's parsed value (or the reason it has none) and where it came from."""

    spec: SettingSpec
    value: Any
    source: str
    #: The flag or environment variable that supplied the value; ``None`` for defaults.
    origin: str | None
    error: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def where(self) -> str:
        """Human wording of the provenance, e.g. ``AKSARA_DEBUG`` or ``--schema``."""
        return self.origin or "the default"

    def display(self) -> str | None:
        """The value as it may be printed: secrets masked, URLs redacted."""
        if self.value is None:
            return None if self.error is None else "(invalid)"
        if self.spec.secret:
            return MASK
        if isinstance(self.value, DatabaseURL):
            return redact_url(self.value.raw)
        if isinstance(self.value, tuple):
            return ",".join(self.value)
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        return str(self.value)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.display(),
            "source": self.source,
            "origin": self.origin,
            "error": self.error,
        }


SPECS: tuple[SettingSpec, ...] = (
    SettingSpec("env", ("AKSARA_ENV",), parse_environment, "development",
                "Deployment environment: development, test, staging or production."),
    SettingSpec("debug", ("AKSARA_DEBUG",), parse_bool, False,
                "Debug mode; must be off in production."),
    SettingSpec("secret_key", ("AKSARA_SECRET_KEY",), parse_secret, None,
                "Key for signing sessions and tokens; never printed.", secret=True),
    SettingSpec("allowed_hosts", ("AKSARA_ALLOWED_HOSTS",), parse_list, (),
                "Comma-separated host names the application serves."),
    SettingSpec("cookie_secure", ("AKSARA_COOKIE_SECURE",), parse_bool, False,
                "Send cookies over HTTPS only."),
    SettingSpec("cors_allowed_origins", ("AKSARA_CORS_ALLOWED_ORIGINS",), parse_list, (),
                "Comma-separated origins allowed by CORS (empty: CORS off)."),
    SettingSpec("cors_allow_credentials", ("AKSARA_CORS_ALLOW_CREDENTIALS",), parse_bool, False,
                "Whether CORS responses allow credentials (cookies, auth headers)."),
    SettingSpec("log_level", ("AKSARA_LOG_LEVEL",), parse_log_level, "INFO",
                "Minimum level of log records."),
    SettingSpec("database_url", URL_ENV_VARS, parse_url, None,
                "PostgreSQL URL; the password is never printed.", flag="--database-url",
                empty_env_is_unset=True, empty_flag_is_unset=True),
    SettingSpec("migrations_dir", ("AKSARA_MIGRATIONS_DIR",), parse_path, Path("migrations"),
                "Directory holding <version>_<description>.sql files.", flag="--migrations-dir",
                empty_env_is_unset=True, empty_flag_is_unset=True),
    SettingSpec("schema", ("AKSARA_SCHEMA",), parse_schema, "public",
                "Schema of the aksara_migrations tracking table.", flag="--schema",
                empty_env_is_unset=True),
)
SPECS_BY_NAME: dict[str, SettingSpec] = {spec.name: spec for spec in SPECS}


def _resolve(spec: SettingSpec, flag_value: str | None, environ: Mapping[str, str]) -> SettingValue:
    if spec.empty_flag_is_unset and flag_value == "":
        flag_value = None  # like dburl.resolve_database_url: an empty flag is no flag
    if flag_value is not None:
        raw, source, origin = flag_value, SOURCE_FLAG, spec.flag
    else:
        for var in spec.env_vars:
            # Empty variables fall through only where the migration commands do the
            # same; elsewhere they are taken as given so the parser can judge them.
            candidate = environ.get(var)
            if candidate is None or (candidate == "" and spec.empty_env_is_unset):
                continue
            raw, source, origin = candidate, SOURCE_ENV, var
            break
        else:
            return SettingValue(spec, spec.default, SOURCE_DEFAULT, None)
    try:
        return SettingValue(spec, spec.parser(raw), source, origin)
    except SettingError as exc:
        return SettingValue(spec, None, source, origin, error=f"{origin} {exc}")


@dataclass(frozen=True)
class Settings:
    """Every setting, resolved. Never raises while loading; see :attr:`errors`."""

    values: Mapping[str, SettingValue]

    def __getitem__(self, name: str) -> SettingValue:
        return self.values[name]

    @property
    def errors(self) -> list[SettingValue]:
        return [v for v in self.values.values() if not v.ok]

    def secrets(self) -> list[str]:
        """Every secret value held, for scrubbing free text (driver errors and the like)."""
        found: list[str] = []
        key = self["secret_key"]
        if key.ok and key.value:
            found.append(key.value)
        url = self["database_url"]
        if url.ok and isinstance(url.value, DatabaseURL):
            found += url.value.secrets()
        return found

    def to_json(self) -> list[dict[str, Any]]:
        return [value.to_json() for value in self.values.values()]


def load_settings(
    environ: Mapping[str, str], flags: Mapping[str, str | None] | None = None
) -> Settings:
    """Resolve every setting: a flag beats the environment, which beats the default.

    ``flags`` maps setting names to flag values (``None`` when the flag was not given).
    """
    flags = flags or {}
    return Settings({spec.name: _resolve(spec, flags.get(spec.name), environ) for spec in SPECS})
