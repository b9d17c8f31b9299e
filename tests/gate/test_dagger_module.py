"""The Dagger module, verified offline with the real ``dagger-io`` SDK.

No engine runs here, so these tests read back what the module *would* send: its
registration (functions, checks, cache policies, constructor defaults) and, for
every stage of ``stages.build_stages()``, the lazily built container's query chain:
pinned image, pip cache, exactly the install and step commands of
``Stage.render(CONTAINER_PATHS)`` in order, the environment, the Postgres service
binding and the secrets. ``release-gate`` is driven end to end with the engine's
answers (exit codes, outputs) simulated, proving it runs every stage and never stops
at a failure; ``bundle.py`` then finishes a real evidence directory that the host
executor's verifier accepts.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import dagger
import dagger_chain as dc
import pytest
from aksara_release import bundle, config, main, stages, versions
from aksara_release.host import verify as host_verify
from aksara_release.main import AksaraRelease
from dagger import dag
from dagger.client import gen

REPO = Path(__file__).resolve().parents[2]
WHEEL = "aksara_framework-0.8.0-py3-none-any.whl"
SDIST = "aksara_framework-0.8.0.tar.gz"
ALL_STAGES = stages.build_stages()
STAGE_IDS = [s.name for s in ALL_STAGES]
PATHS = main.container_paths(WHEEL, SDIST)


# ----------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def this_repositorys_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """No engine answers ``source.file('pyproject.toml').contents()`` here: the module
    reads this repository's table, as it would from ``--source=.``."""

    async def project(self: AksaraRelease) -> Any:
        return config.default()

    monkeypatch.setattr(AksaraRelease, "_project", project)


def object_type() -> Any:
    return AksaraRelease.__dagger_object_type__  # type: ignore[attr-defined]


def make(**kwargs: Any) -> AksaraRelease:
    return AksaraRelease(source=dag.directory(), **kwargs)


@pytest.fixture()
def fake_dist(monkeypatch: pytest.MonkeyPatch) -> dagger.Directory:
    """Stand in for the engine's answer to ``dist.entries()`` (the only await a
    stage function makes before returning its lazy container)."""
    directory = dag.directory()

    async def built(self: AksaraRelease) -> main.Dist:
        return main.Dist(directory, WHEEL, SDIST)

    monkeypatch.setattr(AksaraRelease, "_built_dist", built)
    return directory


def stage_function(module: AksaraRelease, stage: stages.Stage) -> Callable[[], Any]:
    return getattr(module, stage.function_name)  # type: ignore[no-any-return]


def run_function(fn: Callable[[], Any]) -> Any:
    async def call() -> Any:
        result = fn()
        # Containers are awaitable themselves (await = sync): only await coroutines
        return await result if inspect.iscoroutine(result) else result

    return anyio.run(call)


def expected_execs(stage: stages.Stage) -> list[tuple[tuple[str, ...], str | None]]:
    rendered = stage.render(PATHS)
    out: list[tuple[tuple[str, ...], str | None]] = []
    for argv in (rendered.install_tools, rendered.install_wheel):
        if argv is not None:
            out.append((argv, None))
    out += [(step.argv, step.stdout) for step in rendered.steps]
    return out


def actual_execs(ctr: Any) -> list[tuple[tuple[str, ...], str | None]]:
    return [
        (tuple(c.args["args"]), c.args.get("redirectStdout"))
        for c in dc.calls(ctr, "withExec")
    ]


# ----------------------------------------------------------------------------- registration


def test_every_stage_is_a_registered_function_and_check() -> None:
    functions = object_type().functions
    checks = {name for name, fn in functions.items() if fn.check}
    assert checks == {s.function_name for s in ALL_STAGES}
    for stage in ALL_STAGES:
        fn = functions[stage.function_name]
        # dagger check only runs checks without required arguments
        assert all(p.is_optional for p in fn.parameters.values()), stage.name
        assert fn.return_type is dagger.Container
        assert fn.doc == f"{stage.title}: {stage.proves}"


def test_helper_functions_are_registered_but_not_checks() -> None:
    functions = object_type().functions
    for name in ("postgres", "dist", "stage_env", "release_gate"):
        assert name in functions and not functions[name].check
    assert functions["postgres"].return_type is dagger.Service
    assert functions["dist"].return_type is dagger.Directory
    assert functions["release_gate"].return_type is dagger.Directory
    gate_params = functions["release_gate"].parameters
    assert set(gate_params) == {"commit", "tag", "osv_url"}
    assert all(p.is_optional and p.is_nullable for p in gate_params.values())
    assert [p.is_optional for p in functions["stage_env"].parameters.values()] == [False]


def test_outside_world_readers_bypass_the_function_cache() -> None:
    functions = object_type().functions
    policies = {name: fn.cache_policy for name, fn in functions.items()}
    assert policies.pop("dependency_audit") == "never"
    assert policies.pop("release_gate") == "never"
    assert set(policies.values()) == {None}  # everything else: Dagger's default
    assert main.READS_OUTSIDE_WORLD == {"dependency-audit"}


def test_constructor_defaults() -> None:
    module = AksaraRelease.__dagger_module__  # type: ignore[attr-defined]
    params = object_type().get_constructor(module._converter).parameters
    assert list(params) == ["source", "python_version", "postgres_version", "config"]
    assert params["config"].is_optional
    source = params["source"]
    assert source.default_path == "/"
    assert source.ignore == list(versions.SOURCE_IGNORE)
    assert source.is_optional and not source.has_default
    assert json.loads(params["python_version"].default_value) == versions.DEFAULT_PYTHON
    assert json.loads(params["postgres_version"].default_value) == versions.DEFAULT_POSTGRES
    assert all(p.doc for p in params.values())


def test_source_ignore_keeps_vcs_envs_caches_and_outputs_out() -> None:
    for pattern in (".git", ".venv", "**/.venv", "**/__pycache__", "ci/sdk", "dist", "build",
                    "evidence", ".pytest_cache", ".mypy_cache", ".gate"):
        assert pattern in versions.SOURCE_IGNORE


def test_full_registration_runs_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's own registration code (what the engine calls on module load) runs
    to the final ``id`` request; every stage is registered with ``withCheck``."""
    module = AksaraRelease.__dagger_module__  # type: ignore[attr-defined]
    monkeypatch.setattr(module, "_main_name", "AksaraRelease")
    monkeypatch.setattr(module, "_main", object_type())

    async def chain_instead_of_id(self: Any) -> Any:
        return self

    monkeypatch.setattr(gen.Module, "id", chain_instead_of_id)
    registered = anyio.run(module._typedefs)
    (with_object,) = dc.calls(registered, "withObject")
    typedef = with_object.args["object"]
    checks, cached = set(), {}
    for call in dc.calls(typedef, "withFunction"):
        fn_chain = dc.names(call.args["function"])
        name = dc.calls(call.args["function"], "function")[0].args["name"]
        if "withCheck" in fn_chain:
            checks.add(name)
        for policy in dc.calls(call.args["function"], "withCachePolicy"):
            cached[name] = policy.args["policy"]
    assert checks == {s.function_name for s in ALL_STAGES}
    assert cached == {"dependency_audit": "Never", "release_gate": "Never"}
    (ctor,) = dc.calls(typedef, "withConstructor")
    source_arg = next(
        c for c in dc.calls(ctor.args["function"], "withArg") if c.args["name"] == "source"
    )
    assert source_arg.args["defaultPath"] == "/"
    assert source_arg.args["ignore"] == list(versions.SOURCE_IGNORE)


# ----------------------------------------------------------------------------- every stage


@pytest.mark.parametrize("stage", ALL_STAGES, ids=STAGE_IDS)
def test_stage_container_runs_exactly_the_stage_definition(
    stage: stages.Stage, fake_dist: dagger.Directory
) -> None:
    ctr = run_function(stage_function(make(), stage))
    rendered = stage.render(PATHS)

    assert dc.image(ctr) == versions.PYTHON_IMAGES[versions.DEFAULT_PYTHON]
    assert len(dc.calls(ctr, "from")) == 1
    assert actual_execs(ctr) == expected_execs(stage)
    # the check variant fails at the first failing step (expect=SUCCESS, the default)
    assert all("expect" not in c.args for c in dc.calls(ctr, "withExec"))

    expected_env = dict(rendered.env)
    if stage.name in main.READS_OUTSIDE_WORLD:
        expected_env[main.CACHE_BUSTER] = dc.env(ctr)[main.CACHE_BUSTER]
        assert re.fullmatch(r"[0-9a-f]{16}", expected_env[main.CACHE_BUSTER])
    assert dc.env(ctr) == expected_env

    workdirs = [c.args["path"] for c in dc.calls(ctr, "withWorkdir")]
    assert workdirs == [rendered.workdir]


@pytest.mark.parametrize("stage", ALL_STAGES, ids=STAGE_IDS)
def test_stage_layers_are_ordered_for_caching(
    stage: stages.Stage, fake_dist: dagger.Directory
) -> None:
    ctr = run_function(stage_function(make(), stage))
    rendered = stage.render(PATHS)
    names = dc.names(ctr)
    cache = dc.index_of(ctr, "withMountedCache", path=main.PIP_CACHE)
    first_exec = names.index("withExec")
    assert cache < first_exec
    installs = sum(a is not None for a in (rendered.install_tools, rendered.install_wheel))
    last_install = [i for i, n in enumerate(names) if n == "withExec"][installs - 1]
    if stage.needs_source:
        src = dc.index_of(ctr, "withDirectory", path="/src")
        assert last_install < src  # tools and wheel installed before the source arrives
        (src_call,) = [c for c in dc.calls(ctr, "withDirectory") if c.args["path"] == "/src"]
        assert "exclude" not in src_call.args  # the constructor's Ignore already filtered
    else:
        assert not [c for c in dc.calls(ctr, "withDirectory") if c.args["path"] == "/src"]
    dist_dirs = [c for c in dc.calls(ctr, "withDirectory") if c.args["path"] == "/dist"]
    assert len(dist_dirs) == (1 if stage.needs_dist else 0)
    if stage.needs_dist:
        assert dist_dirs[0].args["source"] is fake_dist
        dist_at = dc.index_of(ctr, "withDirectory", path="/dist")
        if rendered.install_tools is not None:
            assert names.index("withExec") < dist_at  # tools layer independent of the wheel
        if rendered.install_wheel is not None:
            assert dist_at < last_install
    for mount in ("/out", "/work"):
        dc.index_of(ctr, "withDirectory", path=mount)
    volatile = [
        i for i, n in enumerate(names)
        if n in ("withServiceBinding", "withSecretVariable")
    ]
    assert all(last_install < i for i in volatile)


@pytest.mark.parametrize("stage", ALL_STAGES, ids=STAGE_IDS)
def test_database_stages_get_their_own_postgres_and_secret_url(
    stage: stages.Stage, fake_dist: dagger.Directory
) -> None:
    ctr = run_function(stage_function(make(), stage))
    bindings = dc.calls(ctr, "withServiceBinding")
    secrets_ = dc.secret_env(ctr)
    assert set(secrets_) == ({"DATABASE_URL"} if stage.database else set()) | set(
        stage.generated_secrets
    )
    if not stage.database:
        assert bindings == []
        return
    (binding,) = bindings
    assert binding.args["alias"] == "db"
    service = binding.args["service"]
    database = f"aksara_{stage.function_name}"
    assert dc.image(service) == versions.POSTGRES_IMAGES[versions.DEFAULT_POSTGRES]
    assert dc.env(service) == {"POSTGRES_USER": "postgres", "POSTGRES_DB": database}
    password_name, password = dc.set_secret(dc.secret_env(service)["POSTGRES_PASSWORD"])
    assert len(password) >= 32 and "aksara-gate-postgres-password" in password_name
    (health,) = dc.calls(service, "withDockerHealthcheck")
    assert health.args["args"][:3] == ["pg_isready", "-h", "127.0.0.1"]
    assert dc.calls(service, "withExposedPort")[0].args["port"] == 5432
    (as_service,) = dc.calls(service, "asService")
    assert as_service.args == {"useEntrypoint": True}  # the entrypoint runs initdb

    _, url = dc.set_secret(secrets_["DATABASE_URL"])
    assert url == f"postgresql://postgres:{password}@db:5432/{database}"
    plain = json.dumps([c.args for c in dc.chain(ctr) if c.name != "withSecretVariable"],
                       default=repr)
    assert password not in plain  # travels only inside Dagger secrets


def test_doctor_secret_key_is_generated_per_run(fake_dist: dagger.Directory) -> None:
    doctor = stages.get_stage("doctor")
    keys = []
    for _ in range(2):
        ctr = run_function(make().doctor)
        name, plaintext = dc.set_secret(dc.secret_env(ctr)["AKSARA_SECRET_KEY"])
        assert len(plaintext) >= 50 and plaintext not in name
        keys.append(plaintext)
    assert keys[0] != keys[1]
    assert doctor.generated_secrets == ("AKSARA_SECRET_KEY",)


@pytest.mark.parametrize("stage", ALL_STAGES, ids=STAGE_IDS)
def test_stage_env_is_the_stage_container_before_its_steps(
    stage: stages.Stage, fake_dist: dagger.Directory
) -> None:
    module = make()
    env_ctr = run_function(lambda: module.stage_env(stage.name))
    checked = run_function(stage_function(module, stage))
    n_steps = len(stage.steps)
    assert actual_execs(env_ctr) == expected_execs(stage)[: len(expected_execs(stage)) - n_steps]
    # same layers up to the steps (secrets are regenerated per call, so compare names)
    assert dc.names(checked)[: len(dc.names(env_ctr))] == dc.names(env_ctr)
    assert dc.env(env_ctr).keys() == dc.env(checked).keys()


def test_stage_env_rejects_an_unknown_stage() -> None:
    with pytest.raises(KeyError, match="unknown stage 'nope'; known: package-build"):
        run_function(lambda: make().stage_env("nope"))


def test_versions_are_selectable_and_validated(fake_dist: dagger.Directory) -> None:
    module = make(python_version="3.13", postgres_version="16")
    ctr = run_function(module.unit_tests)
    assert dc.image(ctr) == versions.PYTHON_IMAGES["3.13"]
    (binding,) = dc.calls(ctr, "withServiceBinding")
    assert dc.image(binding.args["service"]) == versions.POSTGRES_IMAGES["16"]
    with pytest.raises(ValueError, match=r"unsupported python_version '2\.7'"):
        run_function(make(python_version="2.7").unit_tests)
    with pytest.raises(ValueError, match=r"unsupported postgres_version '9'"):
        make(postgres_version="9").postgres()


def test_dist_builds_once_with_the_package_build_stage() -> None:
    directory = make().dist()
    build = stages.get_stage("package-build")
    assert dc.chain(directory)[-1].name == "directory"
    assert dc.chain(directory)[-1].args == {"path": "/dist"}
    assert actual_execs(directory) == [
        (build.render(stages.CONTAINER_PATHS).install_tools, None),
        *[(s.argv, s.stdout) for s in build.render(stages.CONTAINER_PATHS).steps],
    ]


def test_postgres_function_generates_a_password_unless_given() -> None:
    service = make().postgres()
    assert dc.env(service)["POSTGRES_DB"] == "aksara"
    assert "POSTGRES_PASSWORD" in dc.secret_env(service)
    given = dag.set_secret("mine", "pw")
    assert dc.secret_env(make().postgres(password=given))["POSTGRES_PASSWORD"] is given


def test_pick_dist_files() -> None:
    assert main.pick_dist_files([SDIST, WHEEL]) == (WHEEL, SDIST)
    with pytest.raises(ValueError, match="exactly one wheel and one sdist"):
        main.pick_dist_files([WHEEL])
    with pytest.raises(ValueError, match="exactly one wheel and one sdist"):
        main.pick_dist_files([WHEEL, WHEEL.replace("0.8.0", "0.8.1"), SDIST])


def test_run_scrubs_generated_secrets() -> None:
    run = main.Run()
    _, plaintext = run.generated("x")
    assert run.scrub(f"password={plaintext}!") == "password=***!"


# ----------------------------------------------------------------------------- release-gate


class Engine:
    """Simulated engine answers for ``release-gate``: exit codes per argv."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fail: dict[str, int] | None = None,
                 leak: bool = False) -> None:
        self.fail = fail or {}
        self.leak = leak
        self.ran: list[tuple[str, ...]] = []
        self.expects: list[Any] = []
        engine = self

        async def sync(ctr: Any) -> Any:
            return ctr

        async def exit_code(ctr: Any) -> int:
            (last,) = dc.calls(ctr, "withExec")[-1:]
            argv = tuple(last.args["args"])
            engine.ran.append(argv)
            engine.expects.append(last.args.get("expect"))
            return next((code for key, code in engine.fail.items() if key in " ".join(argv)), 0)

        async def combined_output(ctr: Any) -> str:
            text = "output of " + " ".join(dc.execs(ctr)[-1])
            if engine.leak:  # a tool that echoes its DATABASE_URL
                for secret in dc.secret_env(ctr).values():
                    text += " " + dc.set_secret(secret)[1]
            return text

        async def entries(directory: Any, path: str | None = None) -> list[str]:
            return [WHEEL, SDIST]

        monkeypatch.setattr(gen.Container, "sync", sync)
        monkeypatch.setattr(gen.Container, "exit_code", exit_code)
        monkeypatch.setattr(gen.Container, "combined_output", combined_output)
        monkeypatch.setattr(gen.Directory, "entries", entries)

    @staticmethod
    def run_gate(**kwargs: Any) -> tuple[dict[str, Any], dict[str, str], Any]:
        result = anyio.run(lambda: make().release_gate(**kwargs))
        (meta_file,) = [c for c in dc.calls(result, "withNewFile")
                        if c.args["path"] == "/meta.json"]
        meta = json.loads(meta_file.args["contents"])
        (tree_call,) = [c for c in dc.calls(result, "withDirectory")
                        if c.args["path"] == main.EVIDENCE_ROOT]
        tree = tree_call.args["source"]
        logs = {c.args["path"]: c.args["contents"] for c in dc.calls(tree, "withNewFile")}
        return meta, logs, result


def by_name(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in meta["stages"]}


def test_release_gate_runs_every_stage_and_bundles_evidence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = Engine(monkeypatch)
    meta, logs, result = Engine.run_gate(commit="abc123", tag="v0.8.0")
    results = by_name(meta)
    assert list(results) == STAGE_IDS
    assert {s["status"] for s in results.values()} == {"passed"}
    # every step of every stage ran, as an exec that may fail without raising
    assert sorted(engine.ran) == sorted(
        step.argv for stage in ALL_STAGES for step in stage.render(PATHS).steps
    )
    assert set(engine.expects) == {"ANY"}
    summary = meta["summary"]
    assert summary["executor"] == "dagger" and summary["version"] == "0.8.0"
    assert summary["options"]["commit"] == "abc123" and summary["options"]["tag"] == "v0.8.0"
    assert summary["environment"]["tools"] == versions.TOOLS
    assert set(logs) == {f"stages/{name}/log.txt" for name in STAGE_IDS}
    # the finishing step is bundle.py in the gate's Python image
    assert dc.execs(result)[-1] == ("python", "-m", "aksara_release.bundle", "/evidence",
                                   "/meta.json")
    assert dc.image(result) == versions.PYTHON_IMAGES[versions.DEFAULT_PYTHON]
    assert dc.chain(result)[-1].args == {"path": "/evidence"}


def test_release_gate_never_stops_at_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine(monkeypatch, fail={"tests --ignore=tests/selftest": 1,
                                       "detect-secrets scan": 2})
    meta, logs, _ = Engine.run_gate()
    results = by_name(meta)
    assert results["unit-tests"]["status"] == "failed"
    assert results["unit-tests"]["exit_code"] == 1
    assert "-- python -m pytest tests" in results["unit-tests"]["failed_step"]
    assert results["secret-scan"]["status"] == "failed"
    assert results["secret-scan"]["exit_code"] == 2
    # the failing stage stopped at its first failing step ...
    assert not any(" verdict /out --expect detect-secrets" in " ".join(a) for a in engine.ran)
    # ... and every other stage still ran to the end
    others = {n: s for n, s in results.items() if n not in ("unit-tests", "secret-scan")}
    assert {s["status"] for s in others.values()} == {"passed"}
    assert "[exit 2 after" in logs["stages/secret-scan/log.txt"]


def test_release_gate_skips_wheel_stages_when_the_build_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Engine(monkeypatch, fail={"python -m build": 1})
    meta, _, result = Engine.run_gate()
    results = by_name(meta)
    assert results["package-build"]["status"] == "failed"
    for stage in ALL_STAGES:
        if stage.needs_dist:
            assert results[stage.name]["status"] == "skipped", stage.name
    assert results["docs-build"]["status"] == "passed"
    assert results["secret-scan"]["status"] == "passed"
    assert meta["summary"]["version"] is None
    tree = next(c.args["source"] for c in dc.calls(result, "withDirectory")
                if c.args["path"] == main.EVIDENCE_ROOT)
    assert not [c for c in dc.calls(tree, "withDirectory") if c.args["path"] == "dist"]


def test_release_gate_logs_never_hold_generated_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Engine(monkeypatch, leak=True)
    meta, logs, _ = Engine.run_gate()
    doctor_log = logs["stages/doctor/log.txt"]
    assert "***" in doctor_log
    assert not re.search(r"postgresql://postgres:(?!\*\*\*)", "".join(logs.values()))
    assert "postgresql://" not in json.dumps(meta)


def test_release_gate_records_an_engine_error_as_error(monkeypatch: pytest.MonkeyPatch) -> None:
    Engine(monkeypatch)

    async def broken(ctr: Any) -> Any:
        if any("mkdocs" in " ".join(a) for a in dc.execs(ctr)):
            raise dagger.TransportError("engine lost the plot")
        return ctr

    monkeypatch.setattr(gen.Container, "sync", broken)
    meta, _, _ = Engine.run_gate()
    results = by_name(meta)
    assert results["docs-build"]["status"] == "error"
    assert "engine lost the plot" in results["docs-build"]["reason"]
    assert {s["status"] for n, s in results.items() if n != "docs-build"} == {"passed"}


def test_release_gate_records_failed_set_up_and_killed_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = Engine(monkeypatch)
    original_exit_code = gen.Container.exit_code

    async def sync(ctr: Any) -> Any:
        if any("twine==" in " ".join(a) for a in dc.execs(ctr)):
            raise dc.exec_error(["pip", "install"], 1, stderr="No matching distribution")
        return ctr

    async def exit_code(ctr: Any) -> int:
        if any("actionlint" in arg for arg in dc.execs(ctr)[-1]):
            raise dc.exec_error(["actionlint"], 137, stderr="Killed")
        return await original_exit_code(ctr)  # type: ignore[no-any-return]

    monkeypatch.setattr(gen.Container, "sync", sync)
    monkeypatch.setattr(gen.Container, "exit_code", exit_code)
    meta, logs, _ = Engine.run_gate()
    results = by_name(meta)
    assert results["twine-check"]["status"] == "error"
    assert results["twine-check"]["exit_code"] == 1
    assert "No matching distribution" in logs["stages/twine-check/log.txt"]
    assert results["workflow-lint"]["status"] == "failed"
    assert results["workflow-lint"]["exit_code"] == 137
    assert "Killed" in logs["stages/workflow-lint/log.txt"]
    assert engine.ran  # the rest ran
    others = {n: s for n, s in results.items() if n not in ("twine-check", "workflow-lint")}
    assert {s["status"] for s in others.values()} == {"passed"}


# ----------------------------------------------------------------------------- bundle.py


PASSED_VERDICT = {
    "kind": "aksara-release-gate-verdict", "schema_version": 1, "passed": True, "reason": None,
    "checks": [{"name": "tool", "ran": True, "exit_code": 0, "status": "passed",
                "counts": {"files": 1}, "examined": "files", "minimum": 1, "findings": 0,
                "reason": None}],
}


def lay_out(root: Path, meta: dict[str, Any]) -> None:
    """What the module's evidence tree holds before bundle.py runs."""
    for stage in ALL_STAGES:
        out = root / "stages" / stage.name
        out.mkdir(parents=True)
        (out / "log.txt").write_text(f"# {stage.name}\n")
        status = next(s["status"] for s in meta["stages"] if s["name"] == stage.name)
        for name in stage.evidence:
            if name == "verdict.json":
                # written by the stage's last step: only when every step before it passed
                if status == "passed":
                    (out / name).write_text(json.dumps(PASSED_VERDICT))
                continue
            (out / name).write_text(f"{stage.name} {name}\n")
    if meta["summary"]["version"]:
        (root / "dist").mkdir()
        (root / "dist" / WHEEL).write_bytes(b"PK\x03\x04 wheel bytes")
        (root / "dist" / SDIST).write_bytes(b"\x1f\x8b sdist bytes")


@pytest.fixture()
def gate_meta(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., dict[str, Any]]]:
    def produce(**fail: int) -> dict[str, Any]:
        with monkeypatch.context() as patch:
            Engine(patch, fail=fail)
            return Engine.run_gate()[0]

    yield produce


def test_bundle_writes_evidence_the_verifier_accepts(
    tmp_path: Path, gate_meta: Callable[..., dict[str, Any]]
) -> None:
    meta = gate_meta()
    lay_out(tmp_path, meta)
    meta_file = tmp_path.parent / "meta.json"
    meta_file.write_text(json.dumps(meta))
    assert bundle.main([str(tmp_path), str(meta_file)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["verdict"] == "pass" and summary["executor"] == "dagger"
    assert host_verify.verify(tmp_path) == []
    result = json.loads((tmp_path / "stages/doctor/result.json").read_text())
    assert [a["path"] for a in result["artifacts"]] == [
        "stages/doctor/doctor.json", "stages/doctor/migrate.json",
        "stages/doctor/verdict.json",
    ]
    assert result["checks"] == PASSED_VERDICT["checks"]
    assert (tmp_path / "dist/SHA256SUMS").read_text().count("\n") == 2
    # tampering after the run is caught
    (tmp_path / "stages/doctor/doctor.json").write_text("{}")
    assert any("SHA-256 mismatch" in p for p in host_verify.verify(tmp_path))


def test_bundle_of_a_failed_gate_does_not_verify(
    tmp_path: Path, gate_meta: Callable[..., dict[str, Any]]
) -> None:
    meta = gate_meta(**{"mkdocs build": 1})
    lay_out(tmp_path, meta)
    summary = bundle.finish(tmp_path, meta)
    assert summary["verdict"] == "fail" and summary["exit_code"] == 1
    problems = host_verify.verify(tmp_path)
    assert "required stage docs-build: failed: step exited with 1" in problems
    assert "verdict is fail, not pass" in problems


def test_bundle_rejects_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "meta.json"
    bad.write_text("{not json")
    assert bundle.main([str(tmp_path), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unreadable (JSONDecodeError)" in err
    bad.write_text(json.dumps({"stages": []}))
    assert bundle.main([str(tmp_path), str(bad)]) == 2
    assert "meta: missing 'summary'" in capsys.readouterr().err
    assert bundle.main([]) == 2


# ----------------------------------------------------------------------------- static checks


def test_mypy_strict_passes_over_ci_src(tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy comes with the [dev] extra")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental",
         "--cache-dir", str(tmp_path), "--python-version", "3.11", "ci/src"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**os.environ, "MYPYPATH": ""},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_module_layout_matches_dagger_init() -> None:
    config = json.loads((REPO / "dagger.json").read_text())
    assert config == {
        "name": "aksara-release",
        "engineVersion": "v0.21.11",
        "sdk": {"source": "python"},
        "source": "ci",
    }
    assert f"dagger-io=={config['engineVersion'].lstrip('v')}" == versions.TOOLS["dagger-io"]
    pyproject = (REPO / "ci/pyproject.toml").read_text()
    assert 'dagger-io = { path = "sdk", editable = true }' in pyproject
    assert 'main_object = "aksara_release.main:AksaraRelease"' in pyproject
    assert (REPO / "ci/.gitignore").read_text().split() == ["/sdk", "/.venv"]
    lock = (REPO / "ci/uv.lock").read_text()
    assert 'name = "aksara-release"' in lock and 'source = { editable = "sdk" }' in lock
