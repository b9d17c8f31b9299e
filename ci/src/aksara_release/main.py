"""The release gate as a Dagger module: one containerized function per stage.

This file is deliberately thin. What each stage installs and runs is defined once in
``stages.py`` (versions in ``versions.py``); the host executor runs the very same
definitions without containers. Here a stage becomes a container:

1. the pinned Python image, a pip cache volume, the stage's pinned tools (installed
   before the source is copied in, so the layer survives source edits);
2. the wheel built once by ``package-build`` (``/dist``), installed with its extras;
3. the stage's environment, the source tree at ``/src``, empty ``/out`` and ``/work``;
4. for database stages, a PostgreSQL service of its own bound as ``db`` and
   ``DATABASE_URL`` passed as a Dagger secret (it holds the generated password);
5. the stage's steps, exactly as ``Stage.render`` gives them.

``dagger call <stage>`` / ``dagger check`` run 1-5 and fail at the first failing step;
``dagger call stage-env --name <stage>`` returns 1-4 for debugging; ``release-gate``
runs every stage concurrently, never stops at a failure, and returns the evidence
directory (layout in ``evidence.py``), finished by ``bundle.py`` in a container.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

import anyio
import dagger
from dagger import DefaultPath, Doc, Ignore, ReturnType, check, dag, function, object_type

from aksara_release import config as gate_config
from aksara_release import evidence, stages, versions

#: Where pip keeps its cache in every stage container (a shared cache volume).
PIP_CACHE = "/root/.cache/pip"
#: Host name of a stage's PostgreSQL service inside the stage container.
DB_ALIAS = "db"
DB_PORT = 5432
DB_USER = "postgres"
#: Set to a fresh value per run on stages that read the outside world, so Dagger's
#: per-exec cache can never replay an old answer (the vulnerability database changes).
CACHE_BUSTER = "AKSARA_GATE_RUN_ID"
#: Stages whose result depends on something outside the source and the pinned tools.
READS_OUTSIDE_WORLD = frozenset({"dependency-audit"})
#: Where the evidence is assembled in the finishing container.
EVIDENCE_ROOT = "/evidence"
#: Longest failed-step description kept in the summary.
_STEP_TEXT_MAX = 200


def _doc(name: str) -> str:
    """A stage function's description, taken from the stage's single definition."""
    stage = stages.get_stage(name)
    return f"{stage.title}: {stage.proves}"


def _step_text(step: stages.Step) -> str:
    text = " ".join(step.argv)
    return text if len(text) <= _STEP_TEXT_MAX else text[: _STEP_TEXT_MAX - 3] + "..."


def with_step(
    ctr: dagger.Container, step: stages.Step, *, expect: ReturnType = ReturnType.SUCCESS
) -> dagger.Container:
    """Append one rendered step; ``step.stdout`` becomes the exec's stdout redirect."""
    return ctr.with_exec(list(step.argv), redirect_stdout=step.stdout or "", expect=expect)


@dataclass
class Run:
    """Per-call state: a nonce and the plaintexts of every secret generated for it.

    The plaintexts are kept only to scrub them from logs as a second line of defence
    (Dagger already scrubs values that travel as secrets).
    """

    nonce: str = field(default_factory=lambda: secrets.token_hex(8))
    plaintexts: list[str] = field(default_factory=list)

    def secret(self, label: str, plaintext: str) -> dagger.Secret:
        """A Dagger secret with a per-run unique name (same-name secrets can collide)."""
        self.plaintexts.append(plaintext)
        return dag.set_secret(f"aksara-gate-{label}-{self.nonce}", plaintext)

    def generated(self, label: str) -> tuple[dagger.Secret, str]:
        """A fresh random secret (URL-safe, 64 characters) and its plaintext."""
        plaintext = secrets.token_urlsafe(48)
        return self.secret(label, plaintext), plaintext

    def scrub(self, text: str) -> str:
        for plaintext in self.plaintexts:
            text = text.replace(plaintext, "***")
        return text


@dataclass
class Outcome:
    """What one stage did in ``release-gate`` (turned into ``result.json`` later)."""

    name: str
    title: str
    status: evidence.StageStatus
    exit_code: int | None = None
    duration_s: float = 0.0
    started_at: str | None = None
    reason: str | None = None
    failed_step: str | None = None
    log: str = ""
    out: dagger.Directory | None = None
    container: dagger.Container | None = None

    def meta(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "exit_code": self.exit_code,
            "duration_s": self.duration_s,
            "started_at": self.started_at,
            "reason": self.reason,
            "failed_step": self.failed_step,
        }


@dataclass
class Dist:
    """The built distributions: the directory and the two file names in it."""

    directory: dagger.Directory
    wheel: str
    sdist: str

    @property
    def version(self) -> str:
        # Wheel names are "<name>-<version>-<tags>.whl" (PEP 427).
        return self.wheel.split("-")[1]


def pick_dist_files(entries: list[str]) -> tuple[str, str]:
    """The one wheel and the one sdist among ``entries`` (ValueError otherwise)."""
    wheels = [e for e in entries if e.endswith(".whl")]
    sdists = [e for e in entries if e.endswith(".tar.gz")]
    if len(wheels) != 1 or len(sdists) != 1:
        raise ValueError(
            f"package-build must produce exactly one wheel and one sdist, found {sorted(entries)}"
        )
    return wheels[0], sdists[0]


def container_paths(wheel: str | None, sdist: str | None) -> stages.Paths:
    """``CONTAINER_PATHS`` with the real distribution file names filled in."""
    paths = stages.CONTAINER_PATHS
    return replace(
        paths,
        wheel=f"{paths.dist}/{wheel}" if wheel else paths.wheel,
        sdist=f"{paths.dist}/{sdist}" if sdist else paths.sdist,
    )


@object_type
class AksaraRelease:
    """Aksara's release gate: every release check as a containerized function."""

    source: Annotated[
        dagger.Directory,
        DefaultPath("/"),
        Ignore(list(versions.SOURCE_IGNORE)),
        Doc("The repository to check (default: the repository holding dagger.json, "
            "without VCS data, virtualenvs, caches and build outputs)"),
    ]
    python_version: Annotated[
        str,
        Doc(f"Python of the stage containers, one of {', '.join(versions.PYTHON_IMAGES)} "
            "(images pinned in ci/src/aksara_release/versions.py)"),
    ] = versions.DEFAULT_PYTHON
    postgres_version: Annotated[
        str,
        Doc(f"PostgreSQL major of the database service, one of "
            f"{', '.join(versions.POSTGRES_IMAGES)} (images pinned in versions.py)"),
    ] = versions.DEFAULT_POSTGRES
    config: Annotated[
        dagger.File | None,
        Doc("TOML overlaid on the source's [tool.aksara-release] table (schema: "
            "ci/src/aksara_release/config.schema.json; see docs/gating-another-project.md)"),
    ] = None

    async def _project(self) -> gate_config.ProjectConfig:
        """The checked source's configuration: its pyproject.toml table, overlaid by
        ``config``. A bad configuration raises ConfigError (one line, file and key)."""
        try:
            project_text: str | None = await self.source.file("pyproject.toml").contents()
        except dagger.QueryError:
            project_text = None
        overlay = None if self.config is None else await self.config.contents()
        name = None if self.config is None else await self.config.name()
        return gate_config.parse(project_text, overlay, overlay_origin=name)

    # ------------------------------------------------------------------ building blocks

    def _python_image(self) -> str:
        try:
            return versions.PYTHON_IMAGES[self.python_version]
        except KeyError:
            raise ValueError(
                f"unsupported python_version {self.python_version!r}; "
                f"choose one of {', '.join(versions.PYTHON_IMAGES)}"
            ) from None

    def _postgres_image(self) -> str:
        try:
            return versions.POSTGRES_IMAGES[self.postgres_version]
        except KeyError:
            raise ValueError(
                f"unsupported postgres_version {self.postgres_version!r}; "
                f"choose one of {', '.join(versions.POSTGRES_IMAGES)}"
            ) from None

    def _postgres_service(self, database: str, password: dagger.Secret) -> dagger.Service:
        # The official image's entrypoint runs initdb and creates POSTGRES_DB; its
        # temporary init server listens on the Unix socket only, so neither Dagger's TCP
        # port check nor the TCP pg_isready health check can pass before init is over.
        return (
            dag.container()
            .from_(self._postgres_image())
            .with_env_variable("POSTGRES_USER", DB_USER)
            .with_env_variable("POSTGRES_DB", database)
            .with_secret_variable("POSTGRES_PASSWORD", password)
            .with_docker_healthcheck(
                ["pg_isready", "-h", "127.0.0.1", "-p", str(DB_PORT), "-U", DB_USER,
                 "-d", database],
                interval="1s",
                timeout="5s",
                start_period="120s",
                start_interval="1s",
                retries=120,
            )
            .with_exposed_port(DB_PORT)
            .as_service(use_entrypoint=True)
        )

    def _database(self, stage: stages.Stage, run: Run) -> tuple[dagger.Service, dagger.Secret]:
        """A PostgreSQL service of the stage's own and the secret ``DATABASE_URL`` for it.

        One server per database stage (not one shared server with a database per
        stage): Dagger stops an unused service after a short grace period, which
        would drop a database created by a separate set-up container; a server whose
        ``POSTGRES_DB`` is the stage's scratch database has no such race, and stages
        running at once cannot see each other's data.
        """
        database = f"aksara_{stage.function_name}"
        password, plaintext = run.generated(f"postgres-password-{stage.name}")
        url = f"postgresql://{DB_USER}:{plaintext}@{DB_ALIAS}:{DB_PORT}/{database}"
        return self._postgres_service(database, password), run.secret(
            f"database-url-{stage.name}", url
        )

    def stage_container(
        self,
        stage: stages.Stage,
        run: Run,
        dist: Dist | None = None,
    ) -> dagger.Container:
        """The stage's container with everything but its steps (no engine call).

        Order matters for caching: image, pip cache and pinned tools first; then the
        wheel; only then the source, services and secrets, which change every run.
        """
        if stage.needs_dist and dist is None:
            raise ValueError(f"stage {stage.name} needs the built distributions")
        rendered = stage.render(
            container_paths(dist.wheel if dist else None, dist.sdist if dist else None)
        )
        ctr = (
            dag.container()
            .from_(self._python_image())
            .with_mounted_cache(PIP_CACHE, dag.cache_volume(f"aksara-pip-py{self.python_version}"))
        )
        if rendered.install_tools is not None:
            ctr = ctr.with_exec(list(rendered.install_tools))
        if dist is not None and stage.needs_dist:
            ctr = ctr.with_directory(stages.CONTAINER_PATHS.dist, dist.directory)
        if rendered.install_wheel is not None:
            ctr = ctr.with_exec(list(rendered.install_wheel))
        for name, value in rendered.env.items():
            ctr = ctr.with_env_variable(name, value)
        if stage.needs_source:
            ctr = ctr.with_directory(stages.CONTAINER_PATHS.src, self.source)
        ctr = (
            ctr.with_directory(stages.CONTAINER_PATHS.out, dag.directory())
            .with_directory(stages.CONTAINER_PATHS.work, dag.directory())
            .with_workdir(rendered.workdir)
        )
        if stage.database:
            service, url = self._database(stage, run)
            ctr = ctr.with_service_binding(DB_ALIAS, service).with_secret_variable(
                "DATABASE_URL", url
            )
        for name in stage.generated_secrets:
            ctr = ctr.with_secret_variable(name, run.generated(name.lower())[0])
        if stage.name in READS_OUTSIDE_WORLD:
            ctr = ctr.with_env_variable(CACHE_BUSTER, run.nonce)
        return ctr

    def _package_build(self, run: Run) -> dagger.Container:
        stage = stages.package_build_stage()
        ctr = self.stage_container(stage, run)
        for step in stage.render(stages.CONTAINER_PATHS).steps:
            ctr = with_step(ctr, step)
        return ctr

    def _dist_directory(self) -> dagger.Directory:
        return self._package_build(Run()).directory(stages.CONTAINER_PATHS.dist)

    async def _built_dist(self) -> Dist:
        directory = self._dist_directory()
        wheel, sdist = pick_dist_files(await directory.entries())
        return Dist(directory, wheel, sdist)

    async def _prepared(
        self, name: str, run: Run
    ) -> tuple[dagger.Container, stages.Stage, Dist | None]:
        stage = stages.get_stage(name, config=await self._project())
        if stage.skip_reason is not None:
            raise ValueError(f"stage {name} does not run: {stage.skip_reason}")
        dist = await self._built_dist() if stage.needs_dist else None
        return self.stage_container(stage, run, dist), stage, dist

    async def _checked(self, name: str) -> dagger.Container:
        """The stage's container after its steps; the first failing step raises."""
        ctr, stage, dist = await self._prepared(name, Run())
        paths = container_paths(dist.wheel if dist else None, dist.sdist if dist else None)
        for step in stage.render(paths).steps:
            ctr = with_step(ctr, step)
        return ctr

    # ------------------------------------------------------------------ services, dist

    @function
    def postgres(
        self,
        database: Annotated[str, Doc("Name of the database the server creates")] = "aksara",
        password: Annotated[
            dagger.Secret | None,
            Doc("Password of the postgres role (default: generated for this call)"),
        ] = None,
    ) -> dagger.Service:
        """The PostgreSQL service the database stages use (official image, pinned,
        health-checked with pg_isready). Each database stage gets a server of its own."""
        if password is None:
            password = Run().generated("postgres-password")[0]
        return self._postgres_service(database, password)

    @function
    def dist(self) -> dagger.Directory:
        """The wheel and the sdist, built once by package-build and reused by every stage."""
        return self._dist_directory()

    @function
    async def stage_env(
        self, name: Annotated[str, Doc("Stage name, e.g. unit-tests (see stages.py)")]
    ) -> dagger.Container:
        """A stage's container before its steps run: tools, wheel, source, environment
        and (for database stages) PostgreSQL bound as 'db'. Chain 'terminal' to debug."""
        return (await self._prepared(name, Run()))[0]

    # ------------------------------------------------------------------ one per stage

    @function(doc=_doc("package-build"))
    @check
    def package_build(self) -> dagger.Container:
        return self._package_build(Run())

    @function(doc=_doc("twine-check"))
    @check
    async def twine_check(self) -> dagger.Container:
        return await self._checked("twine-check")

    @function(doc=_doc("wheel-import"))
    @check
    async def wheel_import(self) -> dagger.Container:
        return await self._checked("wheel-import")

    @function(doc=_doc("unit-tests"))
    @check
    async def unit_tests(self) -> dagger.Container:
        return await self._checked("unit-tests")

    @function(doc=_doc("security-tests"))
    @check
    async def security_tests(self) -> dagger.Container:
        return await self._checked("security-tests")

    @function(doc=_doc("diagnostics-tests"))
    @check
    async def diagnostics_tests(self) -> dagger.Container:
        return await self._checked("diagnostics-tests")

    @function(doc=_doc("fuzz-tests"))
    @check
    async def fuzz_tests(self) -> dagger.Container:
        return await self._checked("fuzz-tests")

    @function(doc=_doc("migration-tests"))
    @check
    async def migration_tests(self) -> dagger.Container:
        return await self._checked("migration-tests")

    @function(doc=_doc("migration-smoke"))
    @check
    async def migration_smoke(self) -> dagger.Container:
        return await self._checked("migration-smoke")

    @function(doc=_doc("doctor"))
    @check
    async def doctor(self) -> dagger.Container:
        return await self._checked("doctor")

    @function(doc=_doc("docs-build"))
    @check
    async def docs_build(self) -> dagger.Container:
        return await self._checked("docs-build")

    # Reads the live vulnerability database: never served from the function cache.
    # (type: ignore: the SDK's overloads of function() omit cache=, a known typing bug.)
    @function(doc=_doc("dependency-audit"), cache="never")  # type: ignore[call-overload,untyped-decorator]
    @check
    async def dependency_audit(self) -> dagger.Container:
        return await self._checked("dependency-audit")

    @function(doc=_doc("static-analysis"))
    @check
    async def static_analysis(self) -> dagger.Container:
        return await self._checked("static-analysis")

    @function(doc=_doc("workflow-lint"))
    @check
    async def workflow_lint(self) -> dagger.Container:
        return await self._checked("workflow-lint")

    @function(doc=_doc("secret-scan"))
    @check
    async def secret_scan(self) -> dagger.Container:
        return await self._checked("secret-scan")

    @function(doc=_doc("sbom"))
    @check
    async def sbom(self) -> dagger.Container:
        return await self._checked("sbom")

    # ------------------------------------------------------------------ the whole gate

    # Never cached: a gate run must run. (type: ignore: see dependency_audit.)
    @function(cache="never")  # type: ignore[call-overload,untyped-decorator]
    async def release_gate(
        self,
        commit: Annotated[str | None, Doc("Source commit recorded in summary.json")] = None,
        tag: Annotated[str | None, Doc("Release tag recorded in summary.json")] = None,
        osv_url: Annotated[
            str | None,
            Doc("OSV-compatible vulnerability service for pip-audit (default: PyPI's)"),
        ] = None,
    ) -> dagger.Directory:
        """Run every stage concurrently and return the evidence directory.

        Never stops at the first failure: every stage runs (those needing the wheel
        are skipped only when package-build failed) and the verdict is in
        summary.json. Export it and let the verifier decide the exit code:
        dagger call release-gate export --path=./evidence && python3 ci/gate.py verify ./evidence
        """
        project = await self._project()
        gate = stages.build_stages(stages.GateOptions(osv_url=osv_url), project)
        run = Run()
        started_at = evidence.now_iso()
        clock = time.monotonic()
        outcomes: dict[str, Outcome] = {}
        built: list[Dist] = []
        dist_done = anyio.Event()

        async def one(stage: stages.Stage) -> None:
            if stage.skip_reason is not None:  # not configured: recorded, never run
                outcomes[stage.name] = Outcome(
                    stage.name, stage.title, "skipped", reason=stage.skip_reason
                )
                if stage.name == stages.BUILD_STAGE:
                    dist_done.set()
                return
            if stage.needs_dist:
                await dist_done.wait()
                if not built:
                    outcomes[stage.name] = Outcome(
                        stage.name, stage.title, "skipped",
                        reason="package-build produced no wheel and sdist",
                    )
                    return
            try:
                outcome = await self._execute(stage, run, built[0] if built else None)
                if stage.produces_dist and outcome.status == "passed":
                    built.append(await self._collect_dist(outcome))
            except Exception as exc:  # noqa: BLE001 - one stage must never stop the others
                outcome = Outcome(
                    stage.name, stage.title, "error", reason=run.scrub(_one_line(exc))
                )
            finally:
                if stage.produces_dist:
                    dist_done.set()
            outcomes[stage.name] = outcome

        async with anyio.create_task_group() as group:
            for stage in gate:
                group.start_soon(one, stage)

        meta = {
            "stages": [outcomes[s.name].meta() for s in gate],
            "summary": {
                "executor": "dagger",
                "required": list(stages.required_stages()),
                "package": project.package or "(unknown)",
                "version": built[0].version if built else None,
                "started_at": started_at,
                "finished_at": evidence.now_iso(),
                "wall_time_s": time.monotonic() - clock,
                "database": (
                    f"PostgreSQL service {self._postgres_image()} (one server per "
                    "database stage)"
                ),
                "options": {
                    "commit": commit,
                    "tag": tag,
                    "osv_url": osv_url,
                    "config": project.origin,
                    "python_version": self.python_version,
                    "postgres_version": self.postgres_version,
                },
                "environment": {
                    "python_image": self._python_image(),
                    "postgres_image": self._postgres_image(),
                    "tools": dict(versions.TOOLS),
                },
            },
        }
        return self._bundle(gate, outcomes, built[0] if built else None, meta)

    async def _collect_dist(self, outcome: Outcome) -> Dist:
        if outcome.container is None:  # a passed stage always has its container
            raise RuntimeError("package-build passed without a container")
        directory = outcome.container.directory(stages.CONTAINER_PATHS.dist)
        wheel, sdist = pick_dist_files(await directory.entries())
        return Dist(directory, wheel, sdist)

    async def _execute(self, stage: stages.Stage, run: Run, dist: Dist | None) -> Outcome:
        """Run one stage step by step, recording exit codes and output; never raises
        for a failing command (only for a broken engine call)."""
        started_at = evidence.now_iso()
        clock = time.monotonic()
        rendered = stage.render(
            container_paths(dist.wheel if dist else None, dist.sdist if dist else None)
        )
        log = [f"# {stage.name}: {stage.title}", f"# image: {self._python_image()}"]
        for argv in (rendered.install_tools, rendered.install_wheel):
            if argv is not None:
                log.append("$ " + " ".join(argv))
        outcome = Outcome(stage.name, stage.title, "passed", exit_code=0, started_at=started_at)
        try:
            ctr = await self.stage_container(stage, run, dist).sync()
        except dagger.ExecError as exc:
            log += [_exec_output(exc), f"[environment set-up failed, exit {exc.exit_code}]"]
            outcome.status = "error"
            outcome.exit_code = exc.exit_code
            outcome.reason = "installing the stage's tools or the wheel failed"
            ctr = None
        if ctr is not None:
            for step in rendered.steps:
                step_clock = time.monotonic()
                redirect = f" > {step.stdout}" if step.stdout else ""
                log.append("$ " + " ".join(step.argv) + redirect)
                try:
                    after = with_step(ctr, step, expect=ReturnType.ANY)
                    code = await after.exit_code()
                    log.append(await after.combined_output())
                    ctr = after
                except dagger.ExecError as exc:  # e.g. killed by a signal (exit >= 128)
                    code = exc.exit_code
                    log.append(_exec_output(exc))
                log.append(f"[exit {code} after {time.monotonic() - step_clock:.1f}s]")
                outcome.exit_code = code
                if code != 0:
                    outcome.status = "failed"
                    outcome.failed_step = _step_text(step)
                    outcome.reason = f"step exited with {code}"
                    break
            outcome.out = ctr.directory(stages.CONTAINER_PATHS.out)
            outcome.container = ctr
        outcome.duration_s = time.monotonic() - clock
        outcome.log = run.scrub("\n".join(log) + "\n")
        return outcome

    def _bundle(
        self,
        gate: tuple[stages.Stage, ...],
        outcomes: Mapping[str, Outcome],
        dist: Dist | None,
        meta: Mapping[str, Any],
    ) -> dagger.Directory:
        """Lay out the evidence and let ``bundle.py`` (stdlib, in a container) add the
        checksums, result.json files, SHA256SUMS, summary.json and summary.md."""
        tree = dag.directory()
        for stage in gate:
            outcome = outcomes[stage.name]
            base = f"{evidence.STAGES_DIR}/{stage.name}"
            out = outcome.out if outcome.out is not None else dag.directory()
            tree = tree.with_directory(base, out).with_new_file(
                f"{base}/{evidence.LOG_FILE}", outcome.log or f"# {stage.name}: not run\n"
            )
        if dist is not None:
            tree = tree.with_directory(evidence.DIST_DIR, dist.directory)
        return (
            dag.container()
            .from_(self._python_image())
            .with_directory("/gate", self.source.directory("ci/src"))
            .with_env_variable("PYTHONPATH", "/gate")
            .with_env_variable("PYTHONDONTWRITEBYTECODE", "1")
            .with_directory(EVIDENCE_ROOT, tree)
            .with_new_file("/meta.json", json.dumps(meta, indent=2))
            .with_exec(["python", "-m", "aksara_release.bundle", EVIDENCE_ROOT, "/meta.json"])
            .directory(EVIDENCE_ROOT)
        )


def _exec_output(exc: dagger.ExecError) -> str:
    return "\n".join(part for part in (exc.stdout, exc.stderr) if part)


_WS = re.compile(r"\s+")


def _one_line(exc: BaseException) -> str:
    text = _WS.sub(" ", str(exc)).strip() or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}"[:500]
