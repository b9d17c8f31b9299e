"""Stage definitions from configurations this repository's own table does not use:
optional keys left out, keys that need another table, stages that need a package name.

Each case asserts what the rendered stage runs (or the one-line ConfigError naming the
file and the key), not the whole step list, so the stages can evolve.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aksara_release import config, stages, versions

PROJECT = '[project]\nname = "demo-kit"\nversion = "1.0"\n'
TABLE = '[tool.aksara-release]\nimport-name = "demo"\n'
SMOKE = ('[tool.aksara-release.stages.migration-smoke]\nmigrations = "migrations"\n'
         'migrate = ["demo", "migrate", "{migrations}"]\nstatus = ["demo", "status"]\n'
         'tampered-exit = 5\ntampered-commands = ["status"]\n')


def _stage(name: str, text: str, options: stages.GateOptions | None = None) -> stages.Stage:
    project = config.parse(PROJECT + TABLE + text)
    return stages.get_stage(name, options or stages.GateOptions(), config=project)


def _argvs(stage: stages.Stage) -> list[tuple[str, ...]]:
    return [step.argv for step in stage.steps]


def test_a_requirement_pinned_with_double_equals_is_installed_as_written() -> None:
    pinned = versions.TOOLS["pytest"]
    assert "==" in pinned
    suite = '[tool.aksara-release.stages.security-tests]\npaths = ["t"]\ntools = [{}]\n'
    written = _stage("security-tests", suite.format(f'"{pinned}"'))
    named = _stage("security-tests", suite.format('"pytest"'))
    assert written.tools == named.tools == (pinned,)
    with pytest.raises(config.ConfigError) as info:
        _stage("security-tests", suite.format('"pytest>=8"'))
    assert str(info.value) == (
        "pyproject.toml: tool.aksara-release.stages.security-tests.tools: 'pytest>=8' is "
        "neither a tool pinned by the gate nor pinned with ==")


def test_migration_smoke_without_verify_goes_from_status_to_the_tamper() -> None:
    argvs = _argvs(_stage("migration-smoke", SMOKE))
    status = argvs.index(("demo", "status"))
    assert argvs[status + 1][3] == "tamper"
    with_verify = _argvs(_stage("migration-smoke", SMOKE + 'verify = ["demo", "check"]\n'))
    assert with_verify[with_verify.index(("demo", "status")) + 1] == ("demo", "check")


DOCTOR = '[tool.aksara-release.stages.doctor]\ncommand = ["demo", "doctor"]\n'


def test_a_plain_doctor_runs_its_command_alone_into_its_output() -> None:
    stage = _stage("doctor", DOCTOR + 'output = "report.json"\n',
                   stages.GateOptions(database_tls=False))
    assert [(s.argv, s.stdout) for s in stage.steps] == [
        (("demo", "doctor"), "{out}/report.json")]
    assert "TLS" not in stage.proves  # nothing about TLS is claimed either way
    tls = _stage("doctor", DOCTOR, stages.GateOptions(database_tls=True))
    assert _argvs(tls) == [("demo", "doctor")]
    assert tls.proves.endswith("The database connection's TLS is evaluated for real.")


def test_doctor_migrate_first_needs_the_migration_smoke_table() -> None:
    with pytest.raises(config.ConfigError) as info:
        _stage("doctor", DOCTOR + "migrate-first = true\n")
    assert str(info.value) == (
        "pyproject.toml: tool.aksara-release.stages.doctor.migrate-first: needs a "
        "[stages.migration-smoke] table (its migrations and migrate command)")
    first = _argvs(_stage("doctor", DOCTOR + "migrate-first = true\n" + SMOKE))
    assert first.index(("demo", "migrate", "{work}/migrations")) < first.index(
        ("demo", "doctor"))


def test_static_analysis_without_an_analyser_is_refused() -> None:
    with pytest.raises(config.ConfigError) as info:
        _stage("static-analysis", "[tool.aksara-release.stages.static-analysis]\n")
    assert str(info.value).startswith(
        "pyproject.toml: tool.aksara-release.stages.static-analysis: names no analyser")


@pytest.mark.parametrize("name", ["sbom", "dependency-audit"])
def test_stages_naming_the_distribution_need_a_package(name: str) -> None:
    project = config.parse(TABLE + f"[tool.aksara-release.stages.{name}]\n")
    assert project.package is None
    with pytest.raises(config.ConfigError) as info:
        stages.get_stage(name, stages.GateOptions(), config=project)
    assert str(info.value) == (f"pyproject.toml: tool.aksara-release.package: required by "
                               f"stage {name} (or a [project].name)")


def test_the_package_name_defaults_to_this_repositorys() -> None:
    assert stages.package_name() == config.default().package == "aksara-framework"
    assert stages.package_name(config.parse(PROJECT)) == "demo-kit"


@pytest.mark.parametrize("pyproject", [
    None, PROJECT, PROJECT + TABLE, PROJECT + '[tool.aksara-release]\nimport-nam = "x"\n'])
def test_the_production_env_is_empty_without_a_usable_doctor_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pyproject: str | None
) -> None:
    """In the Dagger runtime the package sits without this repository's pyproject.toml;
    a broken one must not stop the module from loading."""
    assert stages._default_production_env() == stages.PRODUCTION_ENV != {}
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject)
    monkeypatch.setattr(config, "REPO_ROOT", tmp_path)
    assert stages._default_production_env() == {}
