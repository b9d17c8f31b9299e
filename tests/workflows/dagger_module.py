"""What the Dagger module defines, read without an engine, and what a ``dagger call`` asks for.

Shared by the workflow and docs tests: every ``dagger call <function> --flag`` that
a workflow runs or a page tells a reader to type must name a function (and flags)
that ``ci/src/aksara_release/main.py`` really defines. The module is read from its
AST because importing it needs the generated SDK and an engine.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DAGGER_JSON = ROOT / "dagger.json"
MODULE_MAIN = ROOT / "ci" / "src" / "aksara_release" / "main.py"


@dataclass(frozen=True)
class DaggerFunction:
    name: str  # CLI name (kebab-case)
    parameters: frozenset[str]  # CLI flag names without the dashes


def kebab(name: str) -> str:
    """Dagger's CLI name of a Python identifier: ``python_version`` -> ``python-version``."""
    return name.rstrip("_").replace("_", "-")


def _decorator_name(node: ast.expr) -> str | None:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr
    if isinstance(target, ast.Name):
        return target.id
    return None


def _name_override(annotation: ast.expr | None) -> str | None:
    """``Annotated[T, Name("from")]`` renames a parameter on the CLI."""
    if annotation is None:
        return None
    for node in ast.walk(annotation):
        if (
            isinstance(node, ast.Call)
            and _decorator_name(node) == "Name"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            return node.args[0].value
    return None


#: The key under which :func:`module_functions` reports the constructor's arguments.
CONSTRUCTOR = ""


def module_functions(source: str, class_name: str) -> dict[str, DaggerFunction]:
    """The functions the main object of the Dagger module exposes, read from its AST.

    Why the AST: importing the module needs the generated SDK and an engine; the
    decorators are plain syntax. A method counts when one of its decorators is
    ``function`` (``@function``, ``@dagger.function``, ``@dagger.function(...)``);
    ``@function(name="x")`` renames it. The object's annotated attributes are its
    constructor's arguments (``dagger call --python-version 3.12 release-gate``),
    reported under :data:`CONSTRUCTOR`.
    """
    tree = ast.parse(source)
    found: dict[str, DaggerFunction] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ClassDef) and node.name == class_name):
            continue
        fields = frozenset(
            _name_override(item.annotation) or kebab(item.target.id)
            for item in node.body
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
        )
        found[CONSTRUCTOR] = DaggerFunction(name=CONSTRUCTOR, parameters=fields)
        for item in node.body:
            if not isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            decorators = [d for d in item.decorator_list if _decorator_name(d) == "function"]
            if not decorators:
                continue
            name = kebab(item.name)
            for decorator in decorators:
                if isinstance(decorator, ast.Call):
                    for keyword in decorator.keywords:
                        if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                            name = str(keyword.value.value)
            arguments = [*item.args.args, *item.args.kwonlyargs]
            params = frozenset(
                _name_override(a.annotation) or kebab(a.arg) for a in arguments if a.arg != "self"
            )
            found[name] = DaggerFunction(name=name, parameters=params)
    return found


def main_class_name() -> str:
    """PascalCase of dagger.json's module name (``aksara-release`` -> ``AksaraRelease``)."""
    name = "aksara-release"
    if DAGGER_JSON.is_file():
        name = json.loads(DAGGER_JSON.read_text(encoding="utf-8")).get("name", name)
    return "".join(part.capitalize() for part in re.split(r"[-_]", name))


# --------------------------------------------------------------------------- dagger calls


@dataclass(frozen=True)
class DaggerCall:
    where: str
    function: str
    flags: tuple[str, ...]
    constructor_flags: tuple[str, ...] = ()


def _take_flags(tokens: list[str]) -> tuple[list[str], list[str]]:
    """Leading ``--flag value`` / ``--flag=value`` pairs, and the tokens after them."""
    flags, i = [], 0
    while i < len(tokens) and tokens[i].startswith("--"):
        token = tokens[i]
        flags.append(token[2:].split("=", 1)[0])
        if "=" not in token and i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
            i += 1  # the flag's value
        i += 1
    return flags, tokens[i:]


def parse_call(text: str, where: str) -> DaggerCall:
    """A ``dagger call`` argument string: the constructor's flags (before the function),
    the first function and its flags (those after the next bare word belong to a
    chained function, e.g. ``export``)."""
    text = re.sub(r"\$\{\{.*?\}\}", "EXPRESSION", text.replace("\\\n", " "))
    tokens = shlex.split(text)
    constructor, rest = _take_flags(tokens)
    if not rest:
        return DaggerCall(where=where, function="", flags=(), constructor_flags=tuple(constructor))
    flags, _ = _take_flags(rest[1:])
    return DaggerCall(
        where=where, function=rest[0], flags=tuple(flags), constructor_flags=tuple(constructor)
    )


def problems_dagger_calls(
    calls: list[DaggerCall], functions: Mapping[str, DaggerFunction]
) -> list[str]:
    """Every called function exists on the module, and so does every flag given to it."""
    problems = []
    constructor = functions.get(CONSTRUCTOR, DaggerFunction(CONSTRUCTOR, frozenset()))
    for call in calls:
        for flag in call.constructor_flags:
            if flag not in constructor.parameters:
                problems.append(f"{call.where}: the module's constructor has no --{flag}")
        function = functions.get(call.function) if call.function != CONSTRUCTOR else None
        if function is None:
            problems.append(f"{call.where}: 'dagger call {call.function}' is not a module function")
            continue
        for flag in call.flags:
            if flag not in function.parameters:
                problems.append(f"{call.where}: {call.function} has no argument --{flag}")
    return problems
