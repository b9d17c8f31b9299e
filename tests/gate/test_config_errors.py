"""Bad configurations the schema tests do not reach: each is one line naming the file and
the key, exit 2 through the gate CLI, never a traceback and never half-applied.

The stdlib validator in ``config.py`` also covers schema features this repository's
schema does not use yet (``required``, open ``additionalProperties``, arrays without
``items``); those are checked against ``jsonschema`` on small schemas, so a future
schema edit cannot silently meet a validator that accepts what jsonschema rejects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aksara_release import config, stages
from aksara_release.host.cli import main as cli_main

PROJECT = '[project]\nname = "demo-kit"\nversion = "1.0"\n'
TABLE = "[tool.aksara-release]\n"


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = cli_main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("gate: error: "), err
    return err.strip()


def _list(source: Path, *extra: str) -> list[str]:
    return ["run", "--source", str(source), *extra, "--list"]


# ------------------------------------------------------------------ the schema's checks
IMP = "tool.aksara-release.import-name"
SCHEMA_FAULTS = [
    # (table text under [tool.aksara-release], the key named, the problem)
    ("import-name = true\n", IMP, "expected a string, got a boolean"),
    ("import-name = {a = 1}\n", IMP, "expected a string, got a table"),
    ("import-name = []\n", IMP, "expected a string, got an array"),
    ("import-name = 1.5\n", IMP, "expected a string, got float"),
    ("package = 3\n", "tool.aksara-release.package", "expected a string, got an integer"),
    ("import-name = \"\"\n", IMP, "must not be empty"),
    ("[tool.aksara-release.stages.migration-smoke]\ntampered-exit = true\n",
     "tool.aksara-release.stages.migration-smoke.tampered-exit",
     "expected an integer, got a boolean"),
    ("[tool.aksara-release.stages.migration-smoke]\ntampered-exit = 256\n",
     "tool.aksara-release.stages.migration-smoke.tampered-exit", "256 is above 255"),
    ("[tool.aksara-release.stages.migration-smoke]\ntampered-commands = []\n",
     "tool.aksara-release.stages.migration-smoke.tampered-commands", "needs at least 1 item"),
    ("[tool.aksara-release.stages.doctor]\ncommand = []\n",
     "tool.aksara-release.stages.doctor.command", "needs at least 1 item"),
    ("source-dirs = [\"src\", 3]\n", "tool.aksara-release.source-dirs[1]", "expected a string"),
]


@pytest.mark.parametrize(("text", "key", "problem"), SCHEMA_FAULTS)
def test_each_schema_fault_is_one_line_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, key: str, problem: str
) -> None:
    body = text if text.startswith("[") else TABLE + text
    (tmp_path / "pyproject.toml").write_text(PROJECT + body)
    err = _one_line_exit_2(capsys, _list(tmp_path))
    assert err.startswith(f"gate: error: pyproject.toml: {key}: "), err
    assert problem in err.removeprefix(f"gate: error: pyproject.toml: {key}: "), err


@pytest.mark.parametrize(("text", "key", "problem"), SCHEMA_FAULTS)
def test_jsonschema_agrees_on_each_schema_fault(text: str, key: str, problem: str) -> None:
    import tomllib

    body = text if text.startswith("[") else TABLE + text
    table = tomllib.loads(body)["tool"]["aksara-release"]
    assert not jsonschema.Draft202012Validator(config.schema()).is_valid(table)


# ------------------------------------------------------------------ the documents
def test_a_table_that_is_not_a_table_names_it(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text(PROJECT + '[tool]\n"aksara-release" = 3\n')
    err = _one_line_exit_2(capsys, _list(tmp_path))
    assert err == "gate: error: pyproject.toml: tool.aksara-release: expected a table"
    overlay = tmp_path / "gate.toml"
    (tmp_path / "pyproject.toml").write_text(PROJECT)
    overlay.write_text('[tool]\n"aksara-release" = "x"\n')
    err = _one_line_exit_2(capsys, _list(tmp_path, "--config", str(overlay)))
    assert err.endswith("gate.toml: tool.aksara-release: expected a table"), err


def test_an_overlay_mixing_the_table_and_top_level_keys_names_the_stray_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text(PROJECT)
    overlay = tmp_path / "gate.toml"
    overlay.write_text('layout = "flat"\n[tool.aksara-release]\nimport-name = "demo"\n')
    err = _one_line_exit_2(capsys, _list(tmp_path, "--config", str(overlay)))
    assert err.endswith("gate.toml: layout: unknown key (the file has a [tool.aksara-release])")


def test_an_overlay_that_is_not_toml_is_one_line(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text(PROJECT)
    overlay = tmp_path / "gate.toml"
    overlay.write_text("[stages.sbom\n")
    err = _one_line_exit_2(capsys, _list(tmp_path, "--config", str(overlay)))
    assert "gate.toml: not valid TOML" in err


@pytest.mark.parametrize("fault", ["directory", "not-utf8"])
def test_an_unreadable_overlay_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           fault: str) -> None:
    (tmp_path / "pyproject.toml").write_text(PROJECT)
    overlay = tmp_path / "gate.toml"
    if fault == "directory":
        overlay.mkdir()
        expected = "gate.toml: cannot read (IsADirectoryError)"
    else:
        overlay.write_bytes(b'[stages.sbom]\nreason = "\xff"\n')
        expected = "gate.toml: cannot read (UnicodeDecodeError)"
    err = _one_line_exit_2(capsys, _list(tmp_path, "--config", str(overlay)))
    assert err.endswith(expected), err


def test_a_pyproject_that_is_not_utf8_is_one_line(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_bytes(PROJECT.encode() + b'# caf\xe9\n')
    err = _one_line_exit_2(capsys, _list(tmp_path))
    assert err == "gate: error: pyproject.toml: cannot read (UnicodeDecodeError)"


def test_a_stage_needing_the_import_name_names_the_missing_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        PROJECT + TABLE + "[tool.aksara-release.stages.unit-tests]\npaths = [\"tests\"]\n")
    err = _one_line_exit_2(capsys, _list(tmp_path))
    assert err == ("gate: error: pyproject.toml: tool.aksara-release.import-name: "
                   "required by stage unit-tests")


def test_overlay_migrations_in_an_empty_directory_are_refused(tmp_path: Path) -> None:
    (tmp_path / "smoke").mkdir()
    (tmp_path / "smoke" / ".hidden").write_text("x")  # hidden files do not count
    (tmp_path / "smoke" / "__init__.py").write_text("")
    overlay = tmp_path / "g.toml"
    overlay.write_text('[stages.migration-smoke]\nmigrations = "smoke"\n')
    with pytest.raises(config.ConfigError) as info:
        config.load(tmp_path, overlay)
    message = str(info.value)
    assert "\n" not in message
    assert message.endswith(
        f"tool.aksara-release.stages.migration-smoke.migrations: {tmp_path / 'smoke'} "
        "holds no migration files")


def test_an_overlay_migration_that_is_not_utf8_names_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text(PROJECT)
    (tmp_path / "smoke").mkdir()
    (tmp_path / "smoke" / "0001_a.sql").write_bytes(b"-- caf\xe9\n")
    overlay = tmp_path / "g.toml"
    overlay.write_text('[stages.migration-smoke]\nmigrations = "smoke"\n')
    err = _one_line_exit_2(capsys, _list(tmp_path, "--config", str(overlay)))
    assert "g.toml: tool.aksara-release.stages.migration-smoke.migrations: " in err
    assert "0001_a.sql: cannot read (UnicodeDecodeError)" in err


def test_a_disabled_overlay_stage_does_not_read_its_migrations(tmp_path: Path) -> None:
    overlay = tmp_path / "g.toml"
    overlay.write_text('[stages.migration-smoke]\nmigrations = "absent"\nenabled = false\n')
    project = config.load(tmp_path, overlay)
    assert project.stage("migration-smoke") is None
    assert project.skip_reason("migration-smoke") == f"not configured in {overlay}"


def test_default_without_a_pyproject_is_empty(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """In the Dagger runtime the gate package sits without this repository's pyproject."""
    assert config.default().stage("unit-tests") is not None  # this repository's table
    monkeypatch.setattr(config, "REPO_ROOT", tmp_path)
    empty = config.default()
    assert empty.stages == {} and empty.origin == "pyproject.toml"
    assert all(s.skip_reason == "not configured in pyproject.toml"
               for s in stages.build_stages(stages.GateOptions(), empty))


# ------------------------------------------------------------------ the validator itself
STRINGS = {"type": "array", "items": {"type": "string"}}
VALIDATOR_CASES: list[tuple[dict[str, Any], Any, str | None]] = [
    # (schema, value, the key our validator names, None when valid)
    ({"type": "object", "required": ["a"]}, {}, "t.a: required key missing"),
    ({"type": "object", "required": ["a"]}, {"a": 1}, None),
    ({"type": "object", "properties": {"a": {"type": "string"}}}, {"b": 1}, None),
    ({"type": "object", "additionalProperties": {"type": "string"}}, {"b": 1},
     "t.b: expected a string, got an integer"),
    ({"type": "array", "minItems": 2}, [1], "t: needs at least 2 item(s)"),
    ({"type": "array"}, [1, "x", None], None),
    ({"type": "array", "items": {"$ref": "#/$defs/strings"}}, [["a"], ["b", 2]],
     "t[1][1]: expected a string, got an integer"),
    ({"type": "integer", "minimum": 1, "maximum": 3}, 0, "t: 0 is below 1"),
    ({"type": "integer", "minimum": 1, "maximum": 3}, 4, "t: 4 is above 3"),
    ({"type": "integer"}, False, "t: expected an integer, got a boolean"),
    ({"type": "string"}, None, "t: expected a string, got NoneType"),
    ({"enum": ["a", "b"]}, "c", "t: 'c' is not one of 'a', 'b'"),
]


@pytest.mark.parametrize(("node", "value", "problem"), VALIDATOR_CASES)
def test_the_stdlib_validator_agrees_with_jsonschema(node: dict[str, Any], value: Any,
                                                     problem: str | None) -> None:
    root = {**node, "$defs": {"strings": STRINGS}}
    assert config._check(value, root, root, "t") == problem
    assert jsonschema.Draft202012Validator(root).is_valid(value) is (problem is None)
