"""The gate's configuration of a project: ``[tool.aksara-release]``, validated.

Why a configuration: the stages (``stages.py``) say *how* a release is checked; which
package, which test paths, which CLI flags prove a migration was applied are facts of
the checked project. They live in that project's ``pyproject.toml`` under
``[tool.aksara-release]``, optionally overlaid by a TOML file (``--config FILE``, the
Dagger module's ``config`` argument) so a project can be gated without editing it.

Both documents are checked against the published schema ``config.schema.json`` (next
to this module) before they are merged; an unknown key or a wrong type is a
:class:`ConfigError` whose message is one line naming the file and the key.

Stdlib only (``tomllib`` and a validator for the small JSON-schema subset the schema
uses): the Dagger runtime imports this module without extra packages. A test checks
that ``jsonschema`` agrees with this validator on the schema and the shipped files.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The published schema of the table.
SCHEMA_PATH = Path(__file__).with_name("config.schema.json")
#: Where the table lives in pyproject.toml.
TABLE = ("tool", "aksara-release")
TABLE_NAME = "tool.aksara-release"
#: The repository holding this gate (``ci/src/aksara_release`` -> the root).
REPO_ROOT = Path(__file__).resolve().parents[3]


class ConfigError(Exception):
    """The configuration cannot be used; the message is one line naming file and key."""


@dataclass(frozen=True)
class StageConfig:
    """One stage's table: on or off (and why), and its settings."""

    name: str
    enabled: bool
    #: The file that configured (or disabled) the stage, as shown to the user.
    origin: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: The smoke migrations read from beside an overlay file (name -> text); None when
    #: ``migrations`` names a directory of the source tree.
    files: Mapping[str, str] | None = None

    def get(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)


@dataclass(frozen=True)
class ProjectConfig:
    """The merged configuration of one checked project."""

    #: The file(s) it was read from, as shown in skip reasons ("pyproject.toml", ...).
    origin: str
    package: str | None = None
    import_name: str | None = None
    layout: str = "src"
    source_dirs: tuple[str, ...] = ()
    python_versions: tuple[str, ...] = ()
    postgres_versions: tuple[str, ...] = ()
    stages: Mapping[str, StageConfig] = field(default_factory=dict)

    def stage(self, name: str) -> StageConfig | None:
        """The stage's table when the stage is configured and enabled, else None."""
        entry = self.stages.get(name)
        return entry if entry is not None and entry.enabled else None

    def skip_reason(self, name: str) -> str | None:
        """Why ``name`` does not run ("not configured in <file>[: reason]"), or None."""
        entry = self.stages.get(name)
        if entry is None:
            return f"not configured in {self.origin}"
        if entry.enabled:
            return None
        why = entry.get("reason")
        return f"not configured in {entry.origin}" + (f": {why}" if why else "")

    def require_import_name(self, stage: str) -> str:
        if not self.import_name:
            raise ConfigError(
                f"{self.origin}: {TABLE_NAME}.import-name: required by stage {stage}"
            )
        return self.import_name


# --------------------------------------------------------------------------- schema
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
}


_ARTICLE = {
    "object": "a table", "array": "an array", "string": "a string",
    "boolean": "a boolean", "integer": "an integer",
}


def schema() -> dict[str, Any]:
    """The published JSON schema of the table."""
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def _type_ok(value: Any, name: str) -> bool:
    if name == "integer" and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[name])


def _check(value: Any, node: Mapping[str, Any], root: Mapping[str, Any], key: str) -> str | None:
    """The first violation of ``node`` by ``value`` as "key: problem", or None."""
    ref = node.get("$ref")
    if ref is not None:
        node = root["$defs"][str(ref).rsplit("/", 1)[-1]]
    expected = node.get("type")
    if expected is not None and not _type_ok(value, expected):
        return f"{key}: expected {_ARTICLE[expected]}, got {_describe(value)}"
    if "enum" in node and value not in node["enum"]:
        return f"{key}: {value!r} is not one of {', '.join(map(repr, node['enum']))}"
    if isinstance(value, str) and len(value) < node.get("minLength", 0):
        return f"{key}: must not be empty"
    if isinstance(value, str) and "pattern" in node and not re.search(node["pattern"], value):
        return f"{key}: {value!r} does not match {node['pattern']}"
    if isinstance(value, int) and not isinstance(value, bool):
        if "minimum" in node and value < node["minimum"]:
            return f"{key}: {value} is below {node['minimum']}"
        if "maximum" in node and value > node["maximum"]:
            return f"{key}: {value} is above {node['maximum']}"
    if isinstance(value, list):
        if len(value) < node.get("minItems", 0):
            return f"{key}: needs at least {node['minItems']} item(s)"
        items = node.get("items")
        if items is not None:
            for index, item in enumerate(value):
                problem = _check(item, items, root, f"{key}[{index}]")
                if problem:
                    return problem
    if isinstance(value, dict):
        props: Mapping[str, Any] = node.get("properties", {})
        extra = node.get("additionalProperties", True)
        for name, item in value.items():
            sub = f"{key}.{name}"
            if name in props:
                problem = _check(item, props[name], root, sub)
            elif extra is False:
                return f"{sub}: unknown key"
            elif isinstance(extra, dict):
                problem = _check(item, extra, root, sub)
            else:
                problem = None
            if problem:
                return problem
        for name in node.get("required", ()):
            if name not in value:
                return f"{key}.{name}: required key missing"
    return None


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def validate(table: Mapping[str, Any], origin: str) -> None:
    """Raise :class:`ConfigError` ("<file>: <key>: <problem>") on the first violation."""
    root = schema()
    problem = _check(dict(table), root, root, TABLE_NAME)
    if problem:
        raise ConfigError(f"{origin}: {problem}")


# --------------------------------------------------------------------------- loading
def _table(document: Mapping[str, Any], origin: str, *, overlay: bool) -> dict[str, Any]:
    """The ``[tool.aksara-release]`` table; an overlay may also hold the keys at its top."""
    tool = document.get("tool")
    if isinstance(tool, dict) and TABLE[1] in tool:
        table = tool[TABLE[1]]
        if not isinstance(table, dict):
            raise ConfigError(f"{origin}: {TABLE_NAME}: expected a table")
        if overlay and set(document) - {"tool"}:
            extra = sorted(set(document) - {"tool"})[0]
            raise ConfigError(f"{origin}: {extra}: unknown key (the file has a [{TABLE_NAME}])")
        return dict(table)
    if overlay:
        return {k: v for k, v in document.items()}
    return {}


def _merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merge key by key (recursively); any other value of ``top`` replaces."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def parse(
    project_text: str | None,
    overlay_text: str | None = None,
    *,
    project_origin: str = "pyproject.toml",
    overlay_origin: str | None = None,
    overlay_dir: str | None = None,
) -> ProjectConfig:
    """Build a :class:`ProjectConfig` from the texts of pyproject.toml and an overlay."""
    project_doc: dict[str, Any] = {}
    if project_text is not None:
        try:
            project_doc = tomllib.loads(project_text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{project_origin}: not valid TOML ({exc})") from None
    base = _table(project_doc, project_origin, overlay=False)
    validate(base, project_origin)
    top: dict[str, Any] = {}
    o_origin = overlay_origin or "the --config file"
    if overlay_text is not None:
        try:
            overlay_doc = tomllib.loads(overlay_text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{o_origin}: not valid TOML ({exc})") from None
        top = _table(overlay_doc, o_origin, overlay=True)
        validate(top, o_origin)
    merged = _merge(base, top)
    origin = o_origin if overlay_text is not None else project_origin
    stage_tables: dict[str, StageConfig] = {}
    top_stages = top.get("stages", {})
    for name, settings in merged.get("stages", {}).items():
        from_overlay = name in top_stages
        reads_beside = (from_overlay and "migrations" in top_stages[name]
                        and settings.get("enabled", True))
        stage_tables[name] = StageConfig(
            name=name,
            enabled=bool(settings.get("enabled", True)),
            origin=o_origin if from_overlay else project_origin,
            settings=settings,
            files=(
                _read_migrations(overlay_dir, o_origin, name, str(top_stages[name]["migrations"]))
                if reads_beside else None
            ),
        )
    project = project_doc.get("project")
    default_package = project.get("name") if isinstance(project, dict) else None
    return ProjectConfig(
        origin=origin,
        package=merged.get("package") or (default_package if isinstance(default_package, str)
                                           else None),
        import_name=merged.get("import-name"),
        layout=merged.get("layout", "src"),
        source_dirs=tuple(merged.get("source-dirs", ())),
        python_versions=tuple(merged.get("python-versions", ())),
        postgres_versions=tuple(merged.get("postgres-versions", ())),
        stages=stage_tables,
    )


def load(source: Path, overlay: Path | None = None) -> ProjectConfig:
    """The configuration of the project in ``source`` (overlaid by ``overlay``)."""
    pyproject = source / "pyproject.toml"
    project_text = _read_toml_text(pyproject, "pyproject.toml") if pyproject.is_file() else None
    overlay_text = None
    overlay_origin = None
    overlay_dir = None
    if overlay is not None:
        overlay_origin = _display(overlay)
        overlay_text = _read_toml_text(overlay, overlay_origin)
        overlay_dir = str(overlay.resolve().parent)
    return parse(
        project_text, overlay_text, project_origin="pyproject.toml",
        overlay_origin=overlay_origin, overlay_dir=overlay_dir,
    )


def _read_toml_text(path: Path, origin: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{origin}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{origin}: cannot read ({exc.__class__.__name__})") from None


def _display(path: Path) -> str:
    """A short name for messages: relative to the working directory when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def default() -> ProjectConfig:
    """This repository's own table (empty when its pyproject.toml is not present,
    e.g. in the Dagger runtime, where the module reads the checked source instead)."""
    pyproject = REPO_ROOT / "pyproject.toml"
    if not pyproject.is_file():
        return ProjectConfig(origin="pyproject.toml")
    return parse(pyproject.read_text(encoding="utf-8"))


def _read_migrations(base: str | None, origin: str, stage: str, relative: str
                     ) -> dict[str, str]:
    """The migrations named by an overlay file, read from beside it (name -> text)."""
    key = f"{TABLE_NAME}.stages.{stage}.migrations"
    if base is None:
        raise ConfigError(
            f"{origin}: {key}: a directory beside the config file cannot be read here; "
            "put the migrations in the checked source tree"
        )
    directory = Path(base) / relative
    if not directory.is_dir():
        raise ConfigError(f"{origin}: {key}: {directory} is not a directory")
    files: dict[str, str] = {}
    for p in sorted(directory.iterdir()):
        if p.is_file() and not p.name.startswith((".", "__")):
            try:
                files[p.name] = p.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{origin}: {key}: {p}: cannot read "
                                  f"({exc.__class__.__name__})") from None
    if not files:
        raise ConfigError(f"{origin}: {key}: {directory} holds no migration files")
    return files


__all__ = [
    "ConfigError",
    "ProjectConfig",
    "StageConfig",
    "default",
    "load",
    "parse",
    "schema",
    "validate",
]
