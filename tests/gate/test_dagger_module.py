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
import ignore_vectors
import pytest
from aksara_release import bundle, config, main, scrub, stages, versions
from aksara_release.host import runner as host_runner
from aksara_release.host import snapshot
from aksara_release.host import verify as host_verify
from aksara_release.main import AksaraRelease
from dagger import dag
from dagger.client import gen
from fake_engine import SDIST, WHEEL, WHEEL_ENV, FakeEngine, export, tree_files

REPO = Path(__file__).resolve().parents[2]
#: The stages as the Dagger executor renders them (its Postgres serves TLS).
ALL_STAGES = stages.build_stages(main.GATE_OPTIONS)
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
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    return FakeEngine(monkeypatch)


@pytest.fixture()
def fake_dist(monkeypatch: pytest.MonkeyPatch, engine: FakeEngine) -> dagger.Directory:
    """Stand in for the engine's answer to ``dist.entries()`` and, for database stages,
    to ``Service.start()/stop()`` and ``sync()`` (the awaits a stage function makes)."""
    directory = dag.directory()

    async def built(self: AksaraRelease, fresh: bool = False) -> main.Dist:
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
    # the pinned uv first, hash-checked from its lock (the host runner has it already)
    out: list[tuple[tuple[str, ...], str | None]] = [(main.UV_BOOTSTRAP, None)]
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
    assert policies.pop("release_identity") == "never"  # reads tags and keys as they are now
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


@pytest.mark.parametrize(("patterns", "path", "ignored"), ignore_vectors.RULES)
def test_host_snapshot_applies_the_engine_pattern_rules(
    patterns: list[str], path: str, ignored: bool
) -> None:
    assert snapshot.is_ignored(path, patterns) is ignored


def test_source_ignore_means_the_same_to_both_executors(tmp_path: Path) -> None:
    """The engine gets SOURCE_IGNORE verbatim (constructor Ignore) and applies the
    patternmatcher rules; the host snapshot must leave out exactly the same paths."""
    assert snapshot.ignore_patterns() == versions.SOURCE_IGNORE
    assert [p for p in versions.SOURCE_IGNORE if p.startswith("!")] == []  # see versions.py
    for path, ignored in ignore_vectors.SOURCE:
        assert snapshot.is_ignored(path) is ignored, path
        (tmp_path / "repo" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "repo" / path).write_text(path)
    snapshot.copy_source(tmp_path / "repo", tmp_path / "snap")
    copied = {p.relative_to(tmp_path / "snap").as_posix()
              for p in (tmp_path / "snap").rglob("*") if p.is_file()}
    assert copied == {path for path, ignored in ignore_vectors.SOURCE if not ignored}


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
    assert cached == {"dependency_audit": "Never", "release_gate": "Never",
                      "release_identity": "Never"}
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

    expected_env = {**main.UV_ENV, **rendered.env}  # the executor's uv cache, then the stage's
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
    uv_cache = dc.index_of(ctr, "withMountedCache", path=main.UV_CACHE)
    lock_dir = dc.index_of(ctr, "withDirectory", path=main.LOCKS_PATH)
    first_exec = names.index("withExec")
    assert cache < first_exec and uv_cache < first_exec
    assert lock_dir < first_exec  # the locks, not the whole gate code, before the installs
    assert dc.env(ctr)["UV_CACHE_DIR"] == main.UV_CACHE
    installs = 1 + sum(a is not None for a in (rendered.install_tools, rendered.install_wheel))
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
    stage: stages.Stage, fake_dist: dagger.Directory, engine: FakeEngine
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
    # the stage binds the service it started itself (and stopped when its steps ended)
    (ident,) = engine.servers
    assert dc.chain(binding.args["service"])[0].args["id"] == ident
    assert engine.events[0] == ("start", ident) and engine.events[-1] == ("stop", ident)
    service = engine.servers[ident].chain
    database = f"aksara_{stage.function_name}"
    assert dc.image(service) == versions.POSTGRES_IMAGES[versions.DEFAULT_POSTGRES]
    assert dc.env(service) == {"POSTGRES_USER": "postgres", "POSTGRES_DB": database}
    password_name, password = dc.set_secret(dc.secret_env(service)["POSTGRES_PASSWORD"])
    assert len(password) >= 32 and "aksara-gate-postgres-password" in password_name
    (health,) = dc.calls(service, "withDockerHealthcheck")
    assert health.args["args"][:3] == ["pg_isready", "-h", "127.0.0.1"]
    assert dc.calls(service, "withExposedPort")[0].args["port"] == 5432
    (as_service,) = dc.calls(service, "asService")
    # the entrypoint runs initdb (the command starts with "postgres"), TLS on with the
    # image's snakeoil pair
    assert as_service.args == {"useEntrypoint": True, "args": list(main.POSTGRES_TLS_COMMAND)}
    assert as_service.args["args"][:3] == ["postgres", "-c", "ssl=on"]
    assert "ssl_cert_file=/etc/ssl/certs/ssl-cert-snakeoil.pem" in as_service.args["args"]
    assert "ssl_key_file=/etc/ssl/private/ssl-cert-snakeoil.key" in as_service.args["args"]

    _, url = dc.set_secret(secrets_["DATABASE_URL"])
    tls = "?sslmode=require" if stage.name in ("migration-smoke", "doctor") else ""
    assert url == f"postgresql://postgres:{password}@db:5432/{database}{tls}"
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


def test_versions_are_selectable_and_validated(
    fake_dist: dagger.Directory, engine: FakeEngine
) -> None:
    module = make(python_version="3.13", postgres_version="16")
    ctr = run_function(module.unit_tests)
    assert dc.image(ctr) == versions.PYTHON_IMAGES["3.13"]
    (server,) = engine.servers.values()
    assert dc.image(server.chain) == versions.POSTGRES_IMAGES["16"]
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
        (main.UV_BOOTSTRAP, None),
        (build.render(stages.CONTAINER_PATHS).install_tools, None),
        *[(s.argv, s.stdout) for s in build.render(stages.CONTAINER_PATHS).steps],
    ]


def test_postgres_function_generates_a_password_unless_given() -> None:
    service = make().postgres()
    assert dc.env(service)["POSTGRES_DB"] == "aksara"
    assert "POSTGRES_PASSWORD" in dc.secret_env(service)
    given = dag.set_secret("mine", "pw")
    assert dc.secret_env(make().postgres(password=given))["POSTGRES_PASSWORD"] is given


def test_a_standalone_audit_resolves_the_wheel_env_afresh(engine: FakeEngine) -> None:
    """``dagger call dependency-audit`` (run on a schedule) audits today's resolution:
    its package-build carries a nonce, so wheel-env.txt is never a cached one; the
    other stages may reuse a cached build (release-gate nonces every stage anyway)."""
    def mounted_dist(ctr: Any) -> Any:
        (source,) = [c.args["source"] for c in dc.calls(ctr, "withDirectory")
                     if c.args["path"] == "/dist"]
        return source

    audit = mounted_dist(run_function(make().dependency_audit))
    assert main.CACHE_BUSTER in dc.env(audit)
    chain = dc.chain(audit)
    nonce_at = next(i for i, c in enumerate(chain) if c.name == "withEnvVariable"
                    and c.args["name"] == main.CACHE_BUSTER)
    resolve_at = [i for i, c in enumerate(chain) if c.name == "withExec"
                  and "aksara_release.wheelenv" in c.args["args"]]
    assert resolve_at and nonce_at < resolve_at[0]
    assert main.CACHE_BUSTER not in dc.env(mounted_dist(run_function(make().sbom)))


def test_pick_dist_files() -> None:
    assert main.pick_dist_files([SDIST, WHEEL_ENV, WHEEL]) == (WHEEL, SDIST)
    wanted = "exactly one wheel, one sdist and wheel-env.txt"
    with pytest.raises(ValueError, match=wanted):
        main.pick_dist_files([WHEEL, WHEEL_ENV])
    with pytest.raises(ValueError, match=wanted):
        main.pick_dist_files([WHEEL, WHEEL.replace("0.8.0", "0.8.1"), SDIST, WHEEL_ENV])
    with pytest.raises(ValueError, match=wanted):  # the resolved set is part of the build
        main.pick_dist_files([WHEEL, SDIST])


def test_run_scrubs_generated_secrets() -> None:
    run = main.Run()
    _, plaintext = run.generated("x")
    assert run.scrub(f"password={plaintext}!") == "password=***!"


# ----------------------------------------------------------------------------- release-gate


def run_gate(**kwargs: Any) -> tuple[dict[str, Any], dict[str, str], Any]:
    """Run ``release-gate`` against the patched engine: (meta, logs by path, result)."""
    result = anyio.run(lambda: make().release_gate(**kwargs))
    (meta_file,) = [c for c in dc.calls(result, "withNewFile") if c.args["path"] == "/meta.json"]
    meta = json.loads(meta_file.args["contents"])
    logs = {c.args["path"]: c.args["contents"] for c in dc.calls(evidence_tree(result),
                                                               "withNewFile")}
    return meta, logs, result


def evidence_tree(result: Any) -> Any:
    (tree_call,) = [c for c in dc.calls(result, "withDirectory")
                    if c.args["path"] == main.EVIDENCE_ROOT]
    return tree_call.args["source"]


def stage_outs(result: Any) -> dict[str, Any]:
    """The directory each stage's evidence comes from (``stages/<name>``)."""
    return {c.args["path"].split("/", 1)[1]: c.args["source"]
            for c in dc.calls(evidence_tree(result), "withDirectory")
            if c.args["path"].startswith("stages/")}


def by_name(meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in meta["stages"]}


def test_release_gate_runs_every_stage_and_bundles_evidence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = FakeEngine(monkeypatch)
    meta, logs, result = run_gate(commit="abc123", tag="v0.8.0")
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


def test_database_stage_keeps_one_server_for_all_its_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 11.1: each step is its own exec, and a merely bound service is stopped
    after an exec detaches (the fake: always). migration-smoke and doctor only pass
    when the stage starts its server, binds the started service and stops it last."""
    engine = FakeEngine(monkeypatch)
    meta, _, result = run_gate()
    results = by_name(meta)
    assert results["migration-smoke"]["status"] == "passed", results["migration-smoke"]
    assert results["doctor"]["status"] == "passed", results["doctor"]
    database_stages = [s for s in ALL_STAGES if s.database]
    assert len(engine.servers) == len(database_stages)
    assert all(not server.running for server in engine.servers.values())  # all stopped
    outs = stage_outs(result)
    for stage in database_stages:
        (binding,) = dc.calls(outs[stage.name], "withServiceBinding")
        ident = dc.chain(binding.args["service"])[0].args["id"]
        assert ident in engine.servers  # the started service, not a lazily bound one
        assert dc.env(engine.servers[ident].chain)["POSTGRES_DB"] == (
            f"aksara_{stage.function_name}")
        # started before the stage's first step, stopped after its last
        start = engine.events.index(("start", ident))
        stop = engine.events.index(("stop", ident))
        steps = [" ".join(s.argv) for s in stage.render(PATHS).steps]
        first = engine.events.index(("exec", steps[0]), start)
        assert start < first and stop > first
        assert all(("exec", s) in engine.events[start:stop] for s in steps)


def test_every_stage_gets_the_run_nonce_before_its_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11.2: an accepted non-zero exit is a cacheable result, so every stage of
    release-gate carries the run's nonce between its installs and its steps."""
    FakeEngine(monkeypatch)
    _, _, result = run_gate()
    outs = stage_outs(result)
    nonces = set()
    for stage in ALL_STAGES:
        ctr = outs[stage.name]
        names = dc.names(ctr)
        (buster,) = [i for i, c in enumerate(dc.chain(ctr))
                     if c.name == "withEnvVariable" and c.args["name"] == main.CACHE_BUSTER]
        execs = [i for i, n in enumerate(names) if n == "withExec"]
        installs = 1 + sum(a is not None for a in (stage.install_tools_argv(),
                                                   stage.install_wheel_argv()))
        assert all(i < buster for i in execs[:installs]), stage.name  # installs stay cached
        assert all(buster < i for i in execs[installs:]), stage.name
        nonces.add(dc.env(ctr)[main.CACHE_BUSTER])
    assert len(nonces) == 1  # one run, one nonce: the SBOM and the audit resolve alike
    _, _, again = run_gate()
    assert dc.env(stage_outs(again)["sbom"])[main.CACHE_BUSTER] not in nonces


def test_an_accepted_failure_is_not_replayed_by_the_next_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 11.2, against the engine's cache: a transient failure in one run must
    not come back from the cache in the next."""
    cache: dict[str, int] = {}
    FakeEngine(monkeypatch, flaky={"mkdocs build": 1, "cyclonedx-py": 1}, cache=cache)
    first, _, _ = run_gate()
    assert by_name(first)["docs-build"]["status"] == "failed"
    assert by_name(first)["sbom"]["status"] == "failed"
    second, _, _ = run_gate()  # same engine cache, the tools are fine now
    assert by_name(second)["docs-build"]["status"] == "passed"
    assert by_name(second)["sbom"]["status"] == "passed"


def test_a_failed_health_check_is_an_error_not_a_test_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 11.3: the engine reports a failed health check as an ExecError whose
    command is pg_isready; that is the database's fault, not the stage's."""
    FakeEngine(monkeypatch, health_fails=True)
    meta, logs, _ = run_gate()
    results = by_name(meta)
    for stage in ALL_STAGES:
        result = results[stage.name]
        if not stage.database:
            assert result["status"] == "passed", stage.name
            continue
        assert result["status"] == "error", stage.name
        assert result["failed_step"] is None
        assert result["reason"].startswith("the database service did not become ready: "
                                           "pg_isready"), result["reason"]
        assert "no response" in logs[f"stages/{stage.name}/log.txt"]


def test_an_exec_error_of_another_command_during_a_step_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = FakeEngine(monkeypatch)
    original = gen.Container.exit_code

    async def exit_code(ctr: Any) -> int:
        if "mkdocs" in dc.execs(ctr)[-1]:
            raise dc.exec_error(["pg_isready", "-h", "127.0.0.1"], 2)
        return await original(ctr)  # type: ignore[no-any-return]

    monkeypatch.setattr(gen.Container, "exit_code", exit_code)
    results = by_name(run_gate()[0])
    assert results["docs-build"]["status"] == "error"
    assert "pg_isready -h 127.0.0.1 exited 2 during step 1" in results["docs-build"]["reason"]
    assert results["docs-build"]["failed_step"] is None
    assert engine.ran


def test_an_engine_error_keeps_the_log_and_evidence_so_far(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 11.4: a QueryError in the middle of a stage keeps what was done."""
    FakeEngine(monkeypatch, query_errors={"aksara status": "buildkit: connection reset"})
    meta, logs, result = run_gate()
    smoke = by_name(meta)["migration-smoke"]
    assert smoke["status"] == "error"
    assert "buildkit: connection reset" in smoke["reason"]
    log = logs["stages/migration-smoke/log.txt"]
    assert "not run" not in log
    assert "$ aksara migrate" in log and "[exit 0 after" in log  # the steps before it
    assert "[error: QueryError: buildkit: connection reset]" in log
    # the evidence directory is the container after the last step that ran
    out = stage_outs(result)["migration-smoke"]
    assert dc.chain(out)[-1].args == {"path": "/out"}
    assert dc.execs(out)[-1][:2] == ("aksara", "migrate")


def test_step_output_stays_in_files_never_in_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11.8: stdout and stderr of every step are redirected to files in /out;
    no step output is read back through Python."""
    engine = FakeEngine(monkeypatch)
    meta, logs, result = run_gate()
    assert engine.output_reads == []
    outs = stage_outs(result)
    for stage in ALL_STAGES:
        steps = dc.calls(outs[stage.name], "withExec")[-len(stage.steps):]
        for index, (call, step) in enumerate(zip(steps, stage.render(PATHS).steps), 1):
            stdout = step.stdout or f"/out/steps/{index:02d}.stdout"
            assert call.args["redirectStdout"] == stdout
            assert call.args["redirectStderr"] == f"/out/steps/{index:02d}.stderr"
        log = logs[f"stages/{stage.name}/log.txt"]
        assert f"2> steps/{len(stage.steps):02d}.stderr" in log
    assert max(len(text) for text in logs.values()) < 4000  # commands and exits only


def test_release_gate_never_stops_at_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = FakeEngine(monkeypatch, fail={"tests --ignore=tests/selftest": 1,
                                           "detect-secrets scan": 2})
    meta, logs, _ = run_gate()
    results = by_name(meta)
    assert results["unit-tests"]["status"] == "failed"
    assert results["unit-tests"]["exit_code"] == 1
    assert " -m pytest tests --ignor" in results["unit-tests"]["failed_step"]  # truncated
    assert results["secret-scan"]["status"] == "failed"
    assert results["secret-scan"]["exit_code"] == 2
    # the failing stage stopped at its first failing step ...
    assert not any(" verdict /out --expect detect-secrets" in " ".join(a) for a in engine.ran)
    # ... and every other stage still ran to the end
    others = {n: s for n, s in results.items() if n not in ("unit-tests", "secret-scan")}
    assert {s["status"] for s in others.values()} == {"passed"}
    assert "[exit 2 after" in logs["stages/secret-scan/log.txt"]


def test_unit_tests_run_under_coverage_in_the_container(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    """Issue 15: the same rendered steps in the container: the gate's rcfile written to
    /work, pytest under coverage.py, the report combined into /out and judged, coverage
    installed from the stage's hash lock."""
    FakeEngine(monkeypatch)
    meta, _, result = run_gate()
    assert by_name(meta)["unit-tests"]["status"] == "passed"
    ran = [" ".join(argv) for argv in dc.execs(stage_outs(result)["unit-tests"])]
    assert any(" -m coverage run --rcfile=/work/coverage/coveragerc -m pytest tests " in r
               for r in ran)
    assert any(r.endswith(" -- python -m aksara_release.tools coverage-json --rcfile "
                          "/work/coverage/coveragerc --output /out/coverage.json") for r in ran)
    assert any(" write-files /work/coverage " in r and "data_file = /work/coverage/data" in r
               for r in ran)
    assert any("locks/coverage+dagger-io+hypothesis+jsonschema+pytest+pyyaml.txt" in r
               for r in ran)


def test_release_gate_skips_wheel_stages_when_the_build_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    FakeEngine(monkeypatch, fail={"python -m build": 1})
    meta, _, result = run_gate()
    results = by_name(meta)
    assert results["package-build"]["status"] == "failed"
    for stage in ALL_STAGES:
        if stage.needs_dist:
            assert results[stage.name]["status"] == "skipped", stage.name
    assert results["docs-build"]["status"] == "passed"
    assert results["secret-scan"]["status"] == "passed"
    assert meta["summary"]["version"] is None
    assert not [c for c in dc.calls(evidence_tree(result), "withDirectory")
                if c.args["path"] == "dist"]


def test_audit_and_sbom_read_the_one_wheel_env_package_build_resolved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """package-build resolves wheel-env.txt into /dist; dependency-audit and sbom get that
    very directory (the one the evidence's dist/ is) and install and audit the file."""
    FakeEngine(monkeypatch)
    _, _, result = run_gate()
    (evidence_dist,) = [c.args["source"] for c in dc.calls(evidence_tree(result),
                                                           "withDirectory")
                        if c.args["path"] == "dist"]
    build_execs = dc.execs(evidence_dist)
    assert build_execs[-2][:4] == ("python", "-m", "aksara_release.tools", "run-tool")
    assert build_execs[-2][-6:] == ("python", "-m", "aksara_release.wheelenv", "--dist",
                                    "/dist", "--record", "/out/wheel-env.json")[-6:]
    outs = stage_outs(result)
    for name in ("dependency-audit", "sbom"):
        (mounted,) = [c.args["source"] for c in dc.calls(outs[name], "withDirectory")
                      if c.args["path"] == "/dist"]
        assert dc.chain(mounted) == dc.chain(evidence_dist), name
        installs = [argv for argv in dc.execs(outs[name]) if f"/dist/{WHEEL_ENV}" in argv]
        assert any("--require-hashes" in argv and "--no-deps" in argv for argv in installs)
    (audit,) = [argv for argv in dc.execs(outs["dependency-audit"]) if "--requirement" in argv]
    assert audit[audit.index("--requirement") + 1] == f"/dist/{WHEEL_ENV}"


def test_release_gate_logs_never_hold_generated_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    FakeEngine(monkeypatch)
    original = gen.Container.exit_code

    async def exit_code(ctr: Any) -> int:  # a killed tool that echoed its DATABASE_URL
        if "doctor" in dc.execs(ctr)[-1]:
            echoed = " ".join(dc.set_secret(s)[1] for s in dc.secret_env(ctr).values())
            raise dc.exec_error(list(dc.execs(ctr)[-1]), 137, stdout=echoed)
        return await original(ctr)  # type: ignore[no-any-return]

    monkeypatch.setattr(gen.Container, "exit_code", exit_code)
    meta, logs, _ = run_gate()
    doctor_log = logs["stages/doctor/log.txt"]
    assert by_name(meta)["doctor"]["exit_code"] == 137
    assert "***" in doctor_log
    assert not re.search(r"postgresql://postgres:(?!\*\*\*)", "".join(logs.values()))
    assert "postgresql://" not in json.dumps(meta)


def test_the_bundle_step_scrubs_with_the_runs_secrets_as_dagger_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 11.9: bundle.py receives every generated secret as a Dagger secret
    (never as plaintext in an argument, a file or a plain variable)."""
    FakeEngine(monkeypatch)
    _, _, result = run_gate()
    handed = {c.args["name"]: c.args["secret"] for c in dc.calls(result, "withSecretVariable")}
    assert handed and all(n.startswith(bundle.SCRUB_ENV_PREFIX) for n in handed)
    outs = stage_outs(result)
    generated = {dc.set_secret(s) for ctr in outs.values() for s in dc.secret_env(ctr).values()}
    generated |= {dc.set_secret(dc.secret_env(server)["POSTGRES_PASSWORD"])
                  for ctr in outs.values() for b in dc.calls(ctr, "withServiceBinding")
                  for server in [b.args["service"]]
                  if dc.chain(server)[0].name != "loadServiceFromID"}
    assert {dc.set_secret(s) for s in handed.values()} >= generated
    plaintexts = {plain for _, plain in map(dc.set_secret, handed.values())}
    plain = json.dumps([c.args for c in dc.chain(result) if c.name != "withSecretVariable"],
                       default=repr)
    assert not [p for p in plaintexts if p in plain]


def test_gate_code_comes_from_the_module_not_the_checked_tree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 11.7: /gate holds the module's own ci/src (currentModule.source/src) in
    every stage container and in the bundle container; --source may be any tree."""
    FakeEngine(monkeypatch)
    _, _, result = run_gate()
    containers = [*stage_outs(result).values(), result]
    assert len(containers) == len(ALL_STAGES) + 1
    for ctr in containers:
        (gate,) = [c for c in dc.calls(ctr, "withDirectory") if c.args["path"] == "/gate"]
        assert [(c.name, c.args) for c in dc.chain(gate.args["source"])] == [
            ("currentModule", {}), ("source", {}), ("directory", {"path": "src"})
        ]
        # wheel-import runs with the installed wheel only (no PYTHONPATH at all)
        assert dc.env(ctr).get("PYTHONPATH", "/gate") == "/gate"
    assert dc.env(result)["PYTHONPATH"] == "/gate"
    assert stages.CONTAINER_PATHS.gate == "/gate"
    assert stages.BASE_ENV["PYTHONPATH"] == "{gate}"


def test_doctor_evaluates_tls_in_the_dagger_executor_only() -> None:
    # the doctor command is the judged step before the verdict; its judge must see
    # database.tls pass in Dagger and accepts it as not evaluated only on the host
    dagger_step = stages.get_stage("doctor", main.GATE_OPTIONS).steps[-2].argv
    host_step = stages.get_stage("doctor").steps[-2].argv
    dagger_doctor = dagger_step[dagger_step.index("--") + 1:]
    host_doctor = host_step[host_step.index("--") + 1:]
    assert "database.tls" not in dagger_step
    assert host_doctor[-2:] == ("--skip", "database.tls")
    assert ("--not-evaluated", "database.tls") in zip(host_step, host_step[1:])
    assert dagger_doctor == host_doctor[:-2]


def test_release_gate_records_an_engine_error_as_error(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeEngine(monkeypatch)
    original = gen.Container.sync

    async def broken(ctr: Any) -> Any:
        if any("mkdocs" in " ".join(a) for a in dc.execs(ctr)):
            raise dagger.TransportError("engine lost the plot")
        return await original(ctr)

    monkeypatch.setattr(gen.Container, "sync", broken)
    meta, logs, _ = run_gate()
    results = by_name(meta)
    assert results["docs-build"]["status"] == "error"
    assert "engine lost the plot" in results["docs-build"]["reason"]
    assert "engine lost the plot" in logs["stages/docs-build/log.txt"]
    assert {s["status"] for n, s in results.items() if n != "docs-build"} == {"passed"}


def test_release_gate_records_failed_set_up_and_killed_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = FakeEngine(monkeypatch)
    original_sync, original_exit_code = gen.Container.sync, gen.Container.exit_code
    twine_install = list(stages.get_stage("twine-check").render(PATHS).install_tools or ())
    secrets_install = list(stages.get_stage("secret-scan").render(PATHS).install_tools or ())
    mismatch = ("error: Failed to download `detect-secrets==1.5.0`\n"  # pragma: allowlist secret
                "  cause: Hash mismatch for `detect-secrets==1.5.0`\n")  # pragma: allowlist secret

    async def sync(ctr: Any) -> Any:
        if any("locks/twine.txt" in " ".join(a) for a in dc.execs(ctr)):
            raise dc.exec_error(twine_install, 1, stderr="No matching distribution")
        if any("locks/detect-secrets.txt" in " ".join(a) for a in dc.execs(ctr)):
            raise dc.exec_error(secrets_install, 1, stderr=mismatch)
        return await original_sync(ctr)

    async def exit_code(ctr: Any) -> int:
        argv = dc.execs(ctr)[-1]
        if any("actionlint" in arg for arg in argv):
            raise dc.exec_error(list(argv), 137, stderr="Killed")
        return await original_exit_code(ctr)  # type: ignore[no-any-return]

    monkeypatch.setattr(gen.Container, "sync", sync)
    monkeypatch.setattr(gen.Container, "exit_code", exit_code)
    meta, logs, _ = run_gate()
    results = by_name(meta)
    assert results["twine-check"]["status"] == "error"
    assert results["twine-check"]["exit_code"] == 1
    assert results["twine-check"]["reason"] == "installing the stage's tools or the wheel failed"
    assert "No matching distribution" in logs["stages/twine-check/log.txt"]
    # a download not matching its lock's hash is a finding: failed, naming the distribution
    assert results["secret-scan"]["status"] == "failed"
    assert results["secret-scan"]["reason"] == (
        "install: hash mismatch for detect-secrets==1.5.0: the download does not match the "
        "locked hash")
    assert results["secret-scan"]["install_s"] is not None
    assert results["secret-scan"]["run_s"] is None
    assert results["workflow-lint"]["status"] == "failed"
    assert results["workflow-lint"]["exit_code"] == 137
    assert "Killed" in logs["stages/workflow-lint/log.txt"]
    # every other stage ran all of its steps
    others = [s for s in ALL_STAGES
              if s.name not in ("twine-check", "workflow-lint", "secret-scan")]
    assert sorted(a for a in engine.ran if not any("actionlint" in x for x in a)) == sorted(
        step.argv for stage in others for step in stage.render(PATHS).steps
    )
    assert {results[s.name]["status"] for s in others} == {"passed"}
    assert all(results[s.name]["install_s"] is not None and results[s.name]["run_s"] is not None
               for s in others)


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
        (root / "dist" / WHEEL_ENV).write_text("pglast==8.8 \\\n    --hash=sha256:00\n")


@pytest.fixture()
def gate_meta(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., dict[str, Any]]]:
    def produce(**fail: int) -> dict[str, Any]:
        with monkeypatch.context() as patch:
            FakeEngine(patch, fail=fail)
            return run_gate()[0]

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
    sums = (tmp_path / "dist/SHA256SUMS").read_text()
    assert sums.count("\n") == 3 and f"  {WHEEL_ENV}\n" in sums  # wheel, sdist, wheel-env.txt
    assert [a["path"] for a in summary["dist"]] == [
        f"dist/{WHEEL}", f"dist/{SDIST}", f"dist/{WHEEL_ENV}", "dist/SHA256SUMS"]
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


def test_bundle_scrubs_every_text_file_before_hashing(
    tmp_path: Path, gate_meta: Callable[..., dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11.9: tools write evidence the engine never scrubs (JUnit, SARIF, JSON);
    bundle.py masks the run's secrets in every text file, and a stage whose evidence
    held one fails, as on the host."""
    meta = gate_meta()
    lay_out(tmp_path, meta)
    secret = "generated-" + "x" * 40  # pragma: allowlist secret
    junit = tmp_path / "stages/unit-tests/junit.xml"
    junit.write_text(f"<failure>postgresql://postgres:{secret}@db/x</failure>\n")
    (tmp_path / "stages/doctor/log.txt").write_text(f"echoed {secret}\n")
    (tmp_path / "stages/doctor/steps").mkdir()
    (tmp_path / "stages/doctor/steps/03.stderr").write_text(f"key={secret}\n")
    meta_file = tmp_path.parent / "meta.json"
    meta_file.write_text(json.dumps(meta))
    monkeypatch.setenv(f"{bundle.SCRUB_ENV_PREFIX}0", secret)
    monkeypatch.setenv(f"{bundle.SCRUB_ENV_PREFIX}1", "abc")  # too short to mask
    assert bundle.main([str(tmp_path), str(meta_file)]) == 0
    texts = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    assert not [t for t in texts if secret.encode() in t]
    assert "postgresql://postgres:***@db/x" in junit.read_text()
    summary = json.loads((tmp_path / "summary.json").read_text())
    results = by_name(summary)
    assert results["unit-tests"]["status"] == "failed"
    assert results["unit-tests"]["reason"] == "secret value leaked into junit.xml"
    # a leak into the step output files is a leak into evidence too
    assert results["doctor"]["reason"] == "secret value leaked into steps/03.stderr"
    assert (tmp_path / "dist" / WHEEL).read_bytes() == b"PK\x03\x04 wheel bytes"  # binary
    assert sorted(host_verify.verify(tmp_path)) == [
        "required stage doctor: failed: secret value leaked into steps/03.stderr",
        "required stage unit-tests: failed: secret value leaked into junit.xml",
        "verdict is fail, not pass",
    ]


def test_host_runner_and_bundle_share_one_scrub_rule(tmp_path: Path) -> None:
    assert host_runner._Scrubber is scrub.Scrubber
    assert host_runner.MASK == scrub.MASK
    (tmp_path / "a.json").write_text('{"k": "s3cr3t-value"}')  # pragma: allowlist secret
    (tmp_path / "log.txt").write_text("s3cr3t-value")
    leaked = host_runner._scrub_evidence(tmp_path, scrub.Scrubber(["s3cr3t-value"]))
    assert leaked == ["a.json"]
    assert (tmp_path / "a.json").read_text() == '{"k": "***"}'


def test_export_merges_so_the_documented_command_wipes(
    tmp_path: Path, gate_meta: Callable[..., dict[str, Any]]
) -> None:
    """Issue 11.5: ``export`` merges into an existing directory, so a file left by an
    earlier run makes the verifier reject the next one; ``--wipe`` replaces it."""
    runs = []
    for n, extra in enumerate((True, False)):
        root = tmp_path / f"run{n}"
        meta = gate_meta()
        lay_out(root, meta)
        if extra:
            (root / "stages/docs-build/steps").mkdir()
            (root / "stages/docs-build/steps/01.stdout").write_text("run 0\n")
        bundle.finish(root, meta)
        runs.append(tree_files(root))
    merged, wiped = tmp_path / "merged", tmp_path / "wiped"
    for dest, wipe in ((merged, False), (wiped, True)):
        export(runs[0], dest)
        export(runs[1], dest, wipe=wipe)
    assert host_verify.verify(merged) == [
        "stages/docs-build/steps/01.stdout: not listed in summary.json"
    ]
    assert host_verify.verify(wiped) == []
    documented = [
        REPO / "README.md", REPO / ".github/workflows/release-gate.yml",
        *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "ci/src").rglob("*.py")),
    ]
    mentions = [
        (path.name, line) for path in documented
        for line in path.read_text(encoding="utf-8").splitlines()
        if "export --path=./evidence" in line
    ]
    assert len(mentions) >= 6
    assert [m for m in mentions if "export --path=./evidence --wipe" not in m[1]] == []


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
