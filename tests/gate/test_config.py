"""[tool.aksara-release]: the schema, the overlay, one-line errors, skipped stages.

The configuration is validated by a stdlib validator (the Dagger runtime has no
jsonschema); ``jsonschema`` must agree with it on the published schema, this
repository's table, the shipped example and every bad document below.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import jsonschema
import pytest
from aksara_release import config, stages
from aksara_release.host import executor
from aksara_release.host.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "aksara-framework-0.7.2.toml"
PROJECT = '[project]\nname = "demo-kit"\nversion = "1.0"\n'

BAD = [
    # (table, the key the message must name, a word of the problem)
    ({"import-nam": "x"}, "tool.aksara-release.import-nam", "unknown key"),
    ({"import-name": 3}, "tool.aksara-release.import-name", "expected a string"),
    ({"stages": {"unit-test": {}}}, "tool.aksara-release.stages.unit-test", "unknown key"),
    ({"stages": {"unit-tests": {"paths": "tests"}}},
     "tool.aksara-release.stages.unit-tests.paths", "expected an array"),
    ({"stages": {"unit-tests": {"paths": ["t"], "database": "yes"}}},
     "tool.aksara-release.stages.unit-tests.database", "expected a boolean"),
    ({"stages": {"migration-smoke": {"tampered-exit": 0}}},
     "tool.aksara-release.stages.migration-smoke.tampered-exit", "below"),
    ({"stages": {"migration-smoke": {"tampered-commands": ["upgrade"]}}},
     "tool.aksara-release.stages.migration-smoke.tampered-commands[0]", "not one of"),
    ({"stages": {"static-analysis": {"ruff": {"target": ["."]}}}},
     "tool.aksara-release.stages.static-analysis.ruff.target", "unknown key"),
    ({"stages": {"doctor": {"env": {"A": 1}}}},
     "tool.aksara-release.stages.doctor.env.A", "expected a string"),
    ({"layout": "nested"}, "tool.aksara-release.layout", "not one of"),
]


def _toml_table(table: dict[str, object]) -> str:
    """A tiny TOML writer for the shapes above (json is valid TOML for these values)."""
    lines = []

    def emit(prefix: str, value: dict[str, object]) -> None:
        scalars = {k: v for k, v in value.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in value.items() if isinstance(v, dict)}
        lines.append(f"[{prefix}]")
        lines.extend(f'"{k}" = {json.dumps(v)}' for k, v in scalars.items())
        for key, sub in tables.items():
            emit(f'{prefix}."{key}"', sub)  # type: ignore[arg-type]

    emit("tool.aksara-release", table)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("table", "key", "problem"), BAD)
def test_a_bad_key_or_type_is_one_line_naming_file_and_key(table, key, problem) -> None:
    for where in ("pyproject", "overlay"):
        with pytest.raises(config.ConfigError) as info:
            if where == "pyproject":
                config.parse(PROJECT + _toml_table(table))
            else:
                config.parse(PROJECT, _toml_table(table), overlay_origin="gate.toml")
        message = str(info.value)
        assert "\n" not in message
        origin = "pyproject.toml" if where == "pyproject" else "gate.toml"
        assert message.startswith(f"{origin}: {key}: "), message
        assert problem in message


@pytest.mark.parametrize(("table", "key", "problem"), BAD)
def test_jsonschema_agrees_on_every_bad_document(table, key, problem) -> None:
    assert not jsonschema.Draft202012Validator(config.schema()).is_valid(table)


def test_the_schema_is_valid_and_the_shipped_tables_satisfy_it() -> None:
    schema = config.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    ours = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["aksara-release"]
    example = tomllib.loads(EXAMPLE.read_text())
    for table in (ours, example):
        jsonschema.Draft202012Validator(schema).validate(table)
        config.validate(table, "x")


def test_cli_reports_a_bad_config_in_one_line_with_exit_2(tmp_path, capsys) -> None:
    (tmp_path / "pyproject.toml").write_text(PROJECT)
    bad = tmp_path / "gate.toml"
    bad.write_text('[stages.unit-tests]\npaths = ["tests"]\nmarker = "x"\n')
    code = cli_main(["run", "--source", str(tmp_path), "--config", str(bad),
                     "--evidence", str(tmp_path / "ev")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "gate.toml: tool.aksara-release.stages.unit-tests.marker: unknown key" in err
    assert not (tmp_path / "ev").exists()  # nothing half-done


def test_unreadable_toml_and_missing_overlay_are_one_line_errors(tmp_path, capsys) -> None:
    (tmp_path / "pyproject.toml").write_text(PROJECT + "[tool.aksara-release\n")
    assert cli_main(["run", "--source", str(tmp_path), "--list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gate: error: pyproject.toml: not valid TOML") and err.count("\n") == 1
    (tmp_path / "pyproject.toml").write_text(PROJECT)
    assert cli_main(["run", "--source", str(tmp_path), "--config", str(tmp_path / "no.toml"),
                     "--list"]) == 2
    assert "no.toml: no such file" in capsys.readouterr().err


def test_an_enabled_stage_missing_a_required_key_names_it(tmp_path) -> None:
    project = config.parse(PROJECT + '[tool.aksara-release]\nimport-name = "demo"\n'
                           '[tool.aksara-release.stages.doctor]\nenv = {}\n')
    with pytest.raises(config.ConfigError, match=r"^pyproject.toml: .*stages\.doctor\.command: "
                       "required key missing"):
        stages.build_stages(stages.GateOptions(), project)


def test_unpinned_extra_tool_is_refused() -> None:
    project = config.parse(PROJECT + '[tool.aksara-release]\nimport-name = "demo"\n'
                           '[tool.aksara-release.stages.unit-tests]\npaths = ["t"]\n'
                           'tools = ["pytest", "pytest-asyncio>=1"]\n')
    with pytest.raises(config.ConfigError, match="pytest-asyncio>=1.*pinned"):
        stages.build_stages(stages.GateOptions(), project)


def test_not_configured_and_disabled_stages_carry_their_file() -> None:
    project = config.parse(
        PROJECT + '[tool.aksara-release]\nimport-name = "demo"\n'
        "[tool.aksara-release.stages.package-build]\n",
        '[stages.sbom]\nenabled = false\nreason = "no SBOM tool for this target"\n',
        overlay_origin="gate.toml",
    )
    by_name = {s.name: s for s in stages.build_stages(stages.GateOptions(), project)}
    assert [s.name for s in by_name.values()] == list(stages.STAGE_NAMES)
    assert by_name["package-build"].skip_reason is None
    assert by_name["sbom"].skip_reason == (
        "not configured in gate.toml: no SBOM tool for this target")
    assert by_name["docs-build"].skip_reason == "not configured in gate.toml"
    assert by_name["docs-build"].steps == ()
    reasons = executor.select(list(by_name.values()), (), ())
    assert set(reasons) == set(stages.STAGE_NAMES) - {"package-build"}


def test_without_a_table_nothing_runs(tmp_path) -> None:
    project = config.parse(PROJECT)
    assert project.package == "demo-kit"
    assert all(s.skip_reason == "not configured in pyproject.toml"
               for s in stages.build_stages(stages.GateOptions(), project))


def test_overlay_merges_tables_and_replaces_values() -> None:
    ours = (REPO / "pyproject.toml").read_text()
    project = config.parse(ours, '[stages.unit-tests]\nmarkers = "not slow"\n',
                           overlay_origin="o.toml")
    unit = project.stage("unit-tests")
    assert unit is not None and unit.origin == "o.toml"
    assert unit.get("markers") == "not slow" and unit.get("paths") == ["tests"]
    argv = next(s.argv for s in stages.get_stage("unit-tests", config=project).steps
                if s.argv[4:6] == ("--name", "pytest"))
    pairs = list(zip(argv, argv[1:], strict=False))
    assert ("-m", "not slow") in pairs and ("-m", "not selftest") not in pairs


def test_flat_layout_runs_pytest_so_the_source_cannot_shadow_the_wheel() -> None:
    project = config.parse(PROJECT + '[tool.aksara-release]\nimport-name = "demo"\n'
                           'layout = "flat"\n[tool.aksara-release.stages.unit-tests]\n'
                           'paths = ["tests"]\n')
    step = stages.get_stage("unit-tests", config=project).steps[0].argv
    assert step[:4] == ("python", "-m", "aksara_release.tools", "run-tool")  # judged
    argv = step[step.index("--") + 1:]
    assert argv[:4] == ("python", "-P", "-m", "pytest")
    assert "--import-mode=importlib" in argv
    assert "--gate-import-name=demo" in argv


def test_example_reads_its_migrations_from_beside_itself() -> None:
    project = config.load(REPO, EXAMPLE)
    smoke = stages.get_stage("migration-smoke", config=project)
    first = smoke.steps[0].argv
    assert first[:4] == ("python", "-m", "aksara_release.tools", "write-files")
    files = json.loads(first[-1])
    assert sorted(files) == sorted(
        p.name for p in (EXAMPLE.parent / "aksara-framework-0.7.2" / "migrations").iterdir())
    last = smoke.steps[-1].argv
    assert last[3:7] == ("expect-exit", "--match", "checksum mismatch", "1")
    assert last[7:10] == ("--", "aksara", "migrate")
    # Text output: the evidence files say so.
    assert "migrate.txt" in smoke.evidence


def test_overlay_migrations_need_a_readable_directory(tmp_path) -> None:
    overlay = tmp_path / "g.toml"
    overlay.write_text('[stages.migration-smoke]\nmigrations = "nope"\n')
    with pytest.raises(config.ConfigError, match=r"g\.toml: .*migration-smoke\.migrations: .* "
                       "is not a directory"):
        config.load(REPO, overlay)
    with pytest.raises(config.ConfigError, match="cannot be read here"):
        config.parse(None, overlay.read_text(), overlay_origin="g.toml")


def test_summary_version_comes_from_the_wheel_name() -> None:
    assert executor.wheel_version(Path("tally_ledger-1.2.3-py3-none-any.whl")) == "1.2.3"
    assert executor.wheel_version(None) is None
