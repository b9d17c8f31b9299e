"""What every check sees: the resolved settings and (lazily) one database probe."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aksara.doctor.probe import Probe, probe_database
from aksara.settings import Settings


@dataclass
class CheckContext:
    """Settings plus a cached probe, so the database is contacted at most once."""

    settings: Settings
    environ: Mapping[str, str]
    #: Seconds to wait for the server; ``None``: the URL's connect_timeout or the default.
    connect_timeout: int | None = None
    _probe: Probe | None = field(default=None, init=False, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def probe(self) -> Probe | None:
        """The database probe, or ``None`` when there is no valid URL to probe."""
        url = self.settings["database_url"]
        schema = self.settings["schema"]
        if not url.ok or url.value is None:
            return None
        if self._probe is None:
            schema_name = schema.value if schema.ok else "public"
            self._probe = probe_database(url.value, schema_name, self.connect_timeout)
        return self._probe

    def cached(self, key: str) -> Any:
        return self._cache.get(key)

    def remember(self, key: str, value: Any) -> None:
        self._cache[key] = value

    def secrets(self) -> list[str]:
        return self.settings.secrets()
