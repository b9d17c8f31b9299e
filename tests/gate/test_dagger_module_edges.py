"""The Dagger module's edges, offline: how it reads the checked project's configuration,
what it refuses before asking the engine, stages that are not configured, engine answers
that are not what a passing build gives, and the ``release-identity`` function.

Same method as ``test_dagger_module.py``: the real ``dagger-io`` SDK builds the lazy
query chains; ``fake_engine.FakeEngine`` answers the awaits the module makes (here also
``File.contents()`` / ``File.name()``, which the module awaits to read configuration).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import dagger_chain as dc
import pytest
from aksara_release import config, main, stages
from aksara_release.main import AksaraRelease
from dagger import dag
from dagger.client import gen
from fake_engine import SDIST, WHEEL, FakeEngine, query_error
from test_dagger_module import by_name, run_gate

PROJECT = '[project]\nname = "demo-kit"\nversion = "1.0"\n'


def serve_files(monkeypatch: pytest.MonkeyPatch, files: Mapping[str, str]) -> None:
    """The engine's answers to ``<directory>.file(path).contents()`` and ``.name()``: a
    path not in ``files`` is the engine's error for a missing file."""

    def path_of(file: Any) -> str:
        return str(dc.calls(file, "file")[-1].args["path"])

    async def contents(file: Any) -> str:
        path = path_of(file)
        if path not in files:
            raise query_error(f"{path}: no such file or directory")
        return files[path]

    async def name(file: Any) -> str:
        return path_of(file).rsplit("/", 1)[-1]

    monkeypatch.setattr(gen.File, "contents", contents)
    monkeypatch.setattr(gen.File, "name", name)


def use_project(monkeypatch: pytest.MonkeyPatch, text: str | None) -> None:
    """The module reads ``text`` as the source's pyproject.toml (None: this repository's)."""

    async def project(self: AksaraRelease) -> config.ProjectConfig:
        return config.default() if text is None else config.parse(text)

    monkeypatch.setattr(AksaraRelease, "_project", project)


# ----------------------------------------------------------------- the configuration
def test_the_project_is_read_from_the_source_and_the_config_overlay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    serve_files(monkeypatch, {
        "pyproject.toml": PROJECT + '[tool.aksara-release]\nimport-name = "demo"\n'
                          '[tool.aksara-release.stages.unit-tests]\npaths = ["tests"]\n',
        "gate.toml": '[stages.unit-tests]\nmarkers = "not slow"\n',
    })
    module = AksaraRelease(source=dag.directory(), config=dag.directory().file("gate.toml"))
    project = anyio.run(module._project)
    unit = project.stage("unit-tests")
    assert unit is not None and unit.origin == "gate.toml"
    assert unit.get("paths") == ["tests"] and unit.get("markers") == "not slow"
    assert project.package == "demo-kit" and project.import_name == "demo"


def test_a_source_without_pyproject_runs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    serve_files(monkeypatch, {})
    project = anyio.run(AksaraRelease(source=dag.directory())._project)
    assert project.stages == {}
    assert project.skip_reason("unit-tests") == "not configured in pyproject.toml"


def test_a_bad_overlay_is_one_line_naming_the_file_and_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    serve_files(monkeypatch, {"pyproject.toml": PROJECT,
                              "gate.toml": '[stages.unit-tests]\nmarker = "x"\n'})
    module = AksaraRelease(source=dag.directory(), config=dag.directory().file("gate.toml"))
    with pytest.raises(config.ConfigError) as info:
        anyio.run(module._project)
    assert str(info.value) == "gate.toml: tool.aksara-release.stages.unit-tests.marker: unknown key"


# ----------------------------------------------------------------- refusals
def test_a_stage_that_needs_the_wheel_is_refused_without_it() -> None:
    module = AksaraRelease(source=dag.directory())
    stage = stages.get_stage("twine-check", main.GATE_OPTIONS, config=config.default())
    assert stage.needs_dist
    with pytest.raises(ValueError, match="stage twine-check needs the built distributions"):
        module.stage_container(stage, main.Run(), None)


@pytest.mark.parametrize("function", ["unit_tests", "migration_smoke", "stage_env"])
def test_a_stage_not_configured_is_refused_with_its_reason(
    monkeypatch: pytest.MonkeyPatch, function: str
) -> None:
    """``dagger call unit-tests`` on a project without that table: the reason, not a
    container that checks nothing."""
    FakeEngine(monkeypatch)
    use_project(monkeypatch, PROJECT)
    module = AksaraRelease(source=dag.directory())
    name = "unit-tests" if function == "stage_env" else function.replace("_", "-")

    async def call() -> Any:
        if function == "stage_env":
            return await module.stage_env(name)
        return await getattr(module, function)()

    with pytest.raises(ValueError) as info:
        anyio.run(call)
    assert str(info.value) == f"stage {name} does not run: not configured in pyproject.toml"


def test_the_built_dist_is_read_from_the_package_build_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    FakeEngine(monkeypatch)
    dist = anyio.run(AksaraRelease(source=dag.directory())._built_dist)
    assert (dist.wheel, dist.sdist) == (WHEEL, SDIST)
    assert dc.chain(dist.directory)[-1].args == {"path": stages.CONTAINER_PATHS.dist}
    assert any("python -m build" in " ".join(a) for a in dc.execs(dist.directory))


# ----------------------------------------------------------------- release-gate
def test_stages_not_configured_are_skipped_and_wheel_stages_wait_for_no_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = FakeEngine(monkeypatch)
    use_project(monkeypatch, PROJECT + '[tool.aksara-release]\nimport-name = "demo"\n'
                '[tool.aksara-release.stages.wheel-import]\n'
                '[tool.aksara-release.stages.workflow-lint]\n')
    results = by_name(run_gate()[0])
    assert results["package-build"] == {**results["package-build"], "status": "skipped",
                                        "reason": "not configured in pyproject.toml"}
    assert results["wheel-import"]["status"] == "skipped"
    assert results["wheel-import"]["reason"] == "package-build produced no wheel and sdist"
    assert results["workflow-lint"]["status"] == "passed"
    assert {s["status"] for n, s in results.items() if n != "workflow-lint"} == {"skipped"}
    assert engine.ran and all("actionlint" in " ".join(a) or "run-tool" in " ".join(a)
                              or "verdict" in " ".join(a) for a in engine.ran)


def test_a_build_without_one_wheel_and_one_sdist_is_an_error_not_a_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The engine lists dist/ without the two files: package-build cannot be called
    passed, and nothing is installed from it."""
    FakeEngine(monkeypatch)
    use_project(monkeypatch, None)

    async def entries(directory: Any, path: str | None = None) -> list[str]:
        return [WHEEL]

    monkeypatch.setattr(gen.Directory, "entries", entries)
    results = by_name(run_gate()[0])
    assert results["package-build"]["status"] == "error"
    assert "sdist" in results["package-build"]["reason"]
    for stage in stages.build_stages(main.GATE_OPTIONS):
        if stage.needs_dist:
            assert results[stage.name]["status"] == "skipped", stage.name
            assert results[stage.name]["reason"] == "package-build produced no wheel and sdist"


def test_a_failing_set_up_command_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeEngine(monkeypatch)
    use_project(monkeypatch, None)
    original = gen.Container.sync

    async def sync(ctr: Any) -> Any:
        if any("mkdocs" in " ".join(a) for a in dc.execs(ctr)):
            raise dc.exec_error(["mkdir", "-p", "/work"], 1, stderr="read-only file system")
        return await original(ctr)

    monkeypatch.setattr(gen.Container, "sync", sync)
    meta, logs, _ = run_gate()
    docs = by_name(meta)["docs-build"]
    assert docs["status"] == "error" and docs["exit_code"] == 1
    assert docs["reason"] == "set-up command mkdir -p /work exited 1"
    assert docs["install_s"] is not None and docs["run_s"] is None
    assert "read-only file system" in logs["stages/docs-build/log.txt"]


def test_a_database_service_that_will_not_stop_is_logged_not_fatal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    FakeEngine(monkeypatch)
    use_project(monkeypatch, None)

    async def stop(service: Any, *, kill: bool | None = False) -> Any:
        raise query_error("service already gone")

    monkeypatch.setattr(gen.Service, "stop", stop)
    meta, logs, _ = run_gate()
    results = by_name(meta)
    database_stages = [s.name for s in stages.build_stages(main.GATE_OPTIONS) if s.database]
    assert database_stages
    for name in database_stages:
        assert results[name]["status"] == "passed", name
        assert ("# stopping the database service: QueryError: service already gone"
                in logs[f"stages/{name}/log.txt"])


# ----------------------------------------------------------------- release-identity
def test_identity_container_carries_the_wheel_under_its_name() -> None:
    module = AksaraRelease(source=dag.directory())
    wheel = dag.directory().file("w")
    for name, path in (("demo-0.8.0-py3-none-any.whl", "/wheel/demo-0.8.0-py3-none-any.whl"),
                       (None, "/wheel/package.whl")):
        ctr = module.identity_container("v0.8.0", dag.git("https://example.invalid/a.git"),
                                        wheel=wheel, wheel_name=name)
        assert [c.args["path"] for c in dc.calls(ctr, "withFile")] == [path]
        argv = dc.execs(ctr)[-1]
        assert argv[argv.index("--wheel") + 1] == path
        assert "--allowed-signers" not in argv and "--require-signed" not in argv


def test_release_identity_returns_the_report_or_raises_with_the_reasons(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    serve_files(monkeypatch, {"w": "wheel bytes"})
    FakeEngine(monkeypatch)
    module = AksaraRelease(source=dag.directory())
    repository = dag.git("https://example.invalid/a.git")
    report = anyio.run(lambda: module.release_identity(
        "v0.8.0", repository, wheel=dag.directory().file("w"), require_signed=True))
    assert dc.chain(report)[-1].name == "file"
    assert dc.chain(report)[-1].args == {"path": main.IDENTITY_OUTPUT}
    argv = dc.execs(report)[-1]
    assert argv[argv.index("--wheel") + 1] == "/wheel/w" and "--require-signed" in argv

    FakeEngine(monkeypatch, fail={"aksara_release.release_identity": 1})
    with pytest.raises(ValueError) as info:
        anyio.run(lambda: module.release_identity("v0.8.0", repository))
    message = str(info.value)
    assert message.startswith("release-identity exited 1: stderr of python -m "
                              "aksara_release.release_identity")
    assert "\n" not in message


def test_release_identity_never_returns_a_report_for_a_failed_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Exit 3 (could not check) is not a pass either."""
    FakeEngine(monkeypatch, fail={"aksara_release.release_identity": 3})
    module = AksaraRelease(source=dag.directory())
    with pytest.raises(ValueError, match="^release-identity exited 3: "):
        anyio.run(lambda: module.release_identity(
            "v0.8.0", dag.git("https://example.invalid/a.git")))

