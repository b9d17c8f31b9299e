"""Read a lazily built Dagger pipeline back as data, without an engine.

Why: no machine here runs a Dagger engine, but the real ``dagger-io`` SDK builds
every ``Container``/``Service``/``Secret``/``Directory`` lazily as a chain of GraphQL
field selections. Reading that chain lets the tests assert exactly what the module
would ask the engine to do. The chain lives in the SDK's private ``_ctx.selections``:
this module is the ONLY place that touches it, so an SDK change breaks here, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Call:
    """One selection, e.g. ``Call("Container", "withExec", {"args": [...]})``."""

    type_name: str
    name: str
    args: dict[str, Any]


def chain(obj: Any) -> list[Call]:
    """The selections that build ``obj``, root first (``Query.container`` ...)."""
    selections = obj._ctx.selections  # the one private access (see module docstring)
    return [Call(s.type_name, s.name, dict(s.args)) for s in selections]


def calls(obj: Any, name: str) -> list[Call]:
    """The selections called ``name`` (e.g. ``withExec``), in order."""
    return [c for c in chain(obj) if c.name == name]


def names(obj: Any) -> list[str]:
    return [c.name for c in chain(obj)]


def index_of(obj: Any, name: str, **match: Any) -> int:
    """Position of the first ``name`` selection whose args include ``match``."""
    for i, c in enumerate(chain(obj)):
        if c.name == name and all(c.args.get(k) == v for k, v in match.items()):
            return i
    raise LookupError(f"no {name} {match} in chain")


def execs(obj: Any) -> list[tuple[str, ...]]:
    """The argv of every ``withExec``, in order."""
    return [tuple(c.args["args"]) for c in calls(obj, "withExec")]


def env(obj: Any) -> dict[str, str]:
    """Plain environment variables set with ``withEnvVariable`` (last one wins)."""
    return {c.args["name"]: c.args["value"] for c in calls(obj, "withEnvVariable")}


def secret_env(obj: Any) -> dict[str, Any]:
    """Secret environment variables: name -> the ``Secret`` object."""
    return {c.args["name"]: c.args["secret"] for c in calls(obj, "withSecretVariable")}


def set_secret(secret: Any) -> tuple[str, str]:
    """``(name, plaintext)`` of a secret made with ``dag.set_secret``."""
    (call,) = calls(secret, "setSecret")
    return call.args["name"], call.args["plaintext"]


def image(obj: Any) -> str:
    """The address of the (last) ``from`` of a container chain."""
    return str(calls(obj, "from")[-1].args["address"])


def exec_error(cmd: list[str], exit_code: int, stdout: str = "", stderr: str = "") -> Exception:
    """The ``dagger.ExecError`` the SDK raises for a failed exec, built the way the SDK
    builds it from an engine response (``QueryError.__new__`` picks the subclass)."""
    from types import SimpleNamespace

    import dagger
    from dagger._exceptions import QueryErrorValue

    value = QueryErrorValue(
        message=f"process did not complete successfully: exit code: {exit_code}",
        extensions={"_type": "EXEC_ERROR", "cmd": cmd, "exitCode": exit_code,
                    "stdout": stdout, "stderr": stderr},
    )
    error = dagger.QueryError([value], SimpleNamespace(document=None))  # type: ignore[arg-type]
    assert isinstance(error, dagger.ExecError)
    return error
