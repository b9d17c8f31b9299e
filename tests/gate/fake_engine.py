"""A fake Dagger engine for ``release-gate``: answers the module's awaits from its
lazily built query chains, following the engine rules the module must respect.

No engine runs here. What this fake models, each from the engine's source (v0.21):

- **Service lifetime.** A service bound to a container is started for an exec and
  stopped ``DetachGracePeriod`` (10 s) after that exec detaches. The fake takes the
  worst case a loaded machine can produce: the grace period always elapses between
  two execs, so every exec on a merely *bound* service meets a fresh, empty server.
  A service started with ``Service.start()`` keeps its state until ``stop()``.
- **Caching.** An exec's result is cached by its whole query chain; an accepted
  non-zero exit (``expect=ANY``) is an ordinary result and cached too, a failed exec
  under ``expect=SUCCESS`` is not. Pass one ``cache`` dict to several engines to
  model later runs against the same engine cache.
- **Health checks.** A failing Postgres health check reaches the SDK as ``ExecError``
  whose ``command`` is the health check's argv (``core/healthcheck.go``).
- **Output.** Step output should stay in the engine (redirect files); the fake
  records every ``stdout``/``stderr``/``combined_output`` read in ``output_reads``.
- **Export.** ``Directory.export`` merges into an existing directory unless ``wipe``.

The database itself is modelled as a "migrated" flag per server: ``aksara migrate``
sets it; ``aksara status`` and ``aksara doctor`` exit 1 on a server that has not
been migrated (what a fresh, empty server answers).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dagger
import dagger_chain as dc
import pytest
from dagger import dag
from dagger._exceptions import QueryErrorValue
from dagger.client import gen

WHEEL = "aksara_framework-0.8.0-py3-none-any.whl"
SDIST = "aksara_framework-0.8.0.tar.gz"
#: package-build's resolved runtime dependencies, beside the wheel (``wheelenv.FILE``)
WHEEL_ENV = "wheel-env.txt"
STARTED = "started-service-"


def query_error(message: str) -> dagger.QueryError:
    """An engine error that is not an exec failure (e.g. a lost service, a bad ID)."""
    value = QueryErrorValue(message=message, extensions={})
    error = dagger.QueryError([value], SimpleNamespace(document=None))  # type: ignore[arg-type]
    assert not isinstance(error, dagger.ExecError)
    return error


def _key(obj: Any) -> str:
    """A query chain as a stable string: what the engine's cache key depends on."""

    def value(v: Any) -> Any:
        if hasattr(v, "_ctx"):
            return [(c.type_name, c.name, {k: value(a) for k, a in c.args.items()})
                     for c in dc.chain(v)]
        if isinstance(v, list | tuple):
            return [value(x) for x in v]
        return v if isinstance(v, str | int | float | bool | type(None)) else str(v)

    return json.dumps(value(obj), sort_keys=True, default=str)


@dataclass
class Server:
    """One running Postgres server (a started service)."""

    chain: Any  # the service as the module built it
    migrated: bool = False
    running: bool = True


@dataclass
class FakeEngine:
    monkeypatch: pytest.MonkeyPatch
    #: substring of an argv -> exit code (every time)
    fail: Mapping[str, int] = field(default_factory=dict)
    #: substring of an argv -> exit code, only the first time it really runs
    flaky: Mapping[str, int] = field(default_factory=dict)
    #: the Postgres health check fails (exit 2)
    health_fails: bool = False
    #: substring of an argv -> a non-exec engine error when that step is awaited
    query_errors: Mapping[str, str] = field(default_factory=dict)
    #: the engine's exec cache (share one dict between runs)
    cache: dict[str, int] = field(default_factory=dict)

    ran: list[tuple[str, ...]] = field(default_factory=list)
    expects: list[Any] = field(default_factory=list)
    events: list[tuple[str, ...]] = field(default_factory=list)
    servers: dict[str, Server] = field(default_factory=dict)
    output_reads: list[str] = field(default_factory=list)
    _flaky_seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        engine = self
        patch = self.monkeypatch

        async def sync(ctr: Any) -> Any:
            engine._check_bindings(ctr)
            return ctr

        async def exit_code(ctr: Any) -> int:
            return engine._exit_code(ctr)

        def reader(name: str) -> Any:
            async def read(ctr: Any) -> str:
                engine.output_reads.append(name)
                return f"{name} of " + " ".join(dc.execs(ctr)[-1])

            return read

        async def entries(directory: Any, path: str | None = None) -> list[str]:
            return [WHEEL, SDIST, WHEEL_ENV]

        async def start(service: Any) -> Any:
            if engine.health_fails:
                raise engine._health_error(service)
            ident = f"{STARTED}{len(engine.servers)}"
            engine.servers[ident] = Server(service)
            engine.events.append(("start", ident))
            return dag.load_service_from_id(gen.ServiceID(ident))

        async def stop(service: Any, *, kill: bool | None = False) -> Any:
            ident = engine._started_id(service)
            assert ident is not None, "stop() on a service that was never started"
            engine.servers[ident].running = False
            engine.events.append(("stop", ident))
            return service

        patch.setattr(gen.Container, "sync", sync)
        patch.setattr(gen.Container, "exit_code", exit_code)
        for name in ("stdout", "stderr", "combined_output"):
            patch.setattr(gen.Container, name, reader(name))
        patch.setattr(gen.Directory, "entries", entries)
        patch.setattr(gen.Service, "start", start)
        patch.setattr(gen.Service, "stop", stop)

    # ------------------------------------------------------------------ services

    @staticmethod
    def _started_id(service: Any) -> str | None:
        first = dc.chain(service)[0]
        if first.name == "loadServiceFromID" and str(first.args["id"]).startswith(STARTED):
            return str(first.args["id"])
        return None

    @staticmethod
    def _health_error(service: Any) -> Exception:
        (health,) = dc.calls(service, "withDockerHealthcheck")
        return dc.exec_error(list(health.args["args"]), 2,
                             stderr="127.0.0.1:5432 - no response")

    def _check_bindings(self, ctr: Any) -> list[Server]:
        """Servers the container's execs would talk to; a bound, not started
        service is started for this exec only (and is then a fresh server)."""
        servers = []
        for binding in dc.calls(ctr, "withServiceBinding"):
            service = binding.args["service"]
            ident = self._started_id(service)
            if ident is None:
                if self.health_fails:
                    raise self._health_error(service)
                servers.append(Server(service))  # detached after the exec: fresh each time
                continue
            server = self.servers[ident]
            if not server.running:
                raise query_error(f"service {ident} is not running")
            servers.append(server)
        return servers

    # ------------------------------------------------------------------ execs

    def _exit_code(self, ctr: Any) -> int:
        (last,) = dc.calls(ctr, "withExec")[-1:]
        argv = tuple(last.args["args"])
        text = " ".join(argv)
        servers = self._check_bindings(ctr)
        for needle, message in self.query_errors.items():
            if needle in text:
                raise query_error(message)
        key = _key(ctr)
        if key in self.cache:
            return self.cache[key]
        self.ran.append(argv)
        self.expects.append(last.args.get("expect"))
        self.events.append(("exec", text))
        code = next((c for needle, c in self.fail.items() if needle in text), 0)
        for needle, flaky_code in self.flaky.items():
            if needle in text and needle not in self._flaky_seen:
                self._flaky_seen.add(needle)
                code = flaky_code
        if servers and code == 0:
            code = self._database_answer(text, servers[0])
        if code == 0 or last.args.get("expect") == "ANY":
            self.cache[key] = code
        return code

    @staticmethod
    def _database_answer(text: str, server: Server) -> int:
        if "aksara migrate" in text and "expect-exit" not in text:
            server.migrated = True
        elif ("aksara status" in text or "aksara doctor" in text) and not server.migrated:
            return 1  # a fresh server: no migrations table
        return 0


def export(files: Mapping[str, bytes], dest: Path, *, wipe: bool = False) -> None:
    """``Directory.export``: merges into ``dest`` unless ``wipe`` (CLI ``--wipe``)."""
    if wipe and dest.exists():
        shutil.rmtree(dest)
    for rel, data in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def tree_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}
