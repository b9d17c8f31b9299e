"""The release gate as a Dagger module: one containerized function per stage.

This file is deliberately thin. What each stage installs and runs is defined once in
``stages.py`` (versions in ``versions.py``); the host executor runs the very same
definitions without containers. Here a stage becomes a container:

1. the pinned Python image, a pip cache volume, the stage's pinned tools (installed
   before the source is copied in, so the layer survives source edits);
2. the wheel built once by ``package-build`` (``/dist``), installed with its extras;
3. the stage's environment, the gate's own code at ``/gate`` (from this module's
   source, never from the tree under test), the source tree at ``/src``, empty
   ``/out`` and ``/work``;
4. for database stages, a PostgreSQL service of its own (TLS on) bound as ``db`` and
   ``DATABASE_URL`` passed as a Dagger secret (it holds the generated password);
5. the stage's steps, exactly as ``Stage.render`` gives them.

How this maps onto the engine's rules (see docs/release-gate.md): a database stage's
service is started explicitly and stopped when the stage ends (a service bound to
separate execs is stopped ~10 s after each exec detaches); ``release-gate`` puts the
run's nonce before every stage's steps, so an accepted non-zero exit (cacheable) is
never replayed by a later run; errors are classified by the failing command
(``ExecError.command``); step output goes to files in ``/out/steps``, never through
Python; the evidence is scrubbed of the run's secrets, passed as Dagger secrets.

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

from aksara_release import bundle, evidence, locks, release_identity, stages, versions, wheelenv
from aksara_release import config as gate_config
from aksara_release.scrub import Scrubber

#: Where pip keeps its cache in every stage container (a shared cache volume).
PIP_CACHE = "/root/.cache/pip"
#: uv's cache in every stage container (a shared cache volume, ``UV_CACHE_DIR``). The
#: volume is another file system than the container's: uv copies instead of linking.
UV_CACHE = "/root/.cache/uv"
UV_ENV: dict[str, str] = {"UV_CACHE_DIR": UV_CACHE, "UV_LINK_MODE": "copy"}
#: The hash locks inside the container (the gate's own ``aksara_release/locks``), mounted
#: before the installs so the tool layers depend on the lock files only.
LOCKS_PATH = f"{stages.CONTAINER_PATHS.gate}/{locks.LOCK_SUBDIR}"
#: The pinned uv, installed hash-checked with the image's pip (the host runner gets it
#: from ``ci/gate.py``): the first install of every stage container.
UV_BOOTSTRAP: tuple[str, ...] = tuple(stages.CONTAINER_PATHS.fill(a) for a in stages.UV_BOOTSTRAP)
#: Host name of a stage's PostgreSQL service inside the stage container.
DB_ALIAS = "db"
DB_PORT = 5432
DB_USER = "postgres"
#: Set to the run's nonce after the installs and before the steps: of every stage
#: ``release-gate`` runs (an accepted non-zero exit is a cacheable result, which a later
#: run must not replay), and of the stages that read the outside world in their check
#: functions too (the vulnerability database changes).
CACHE_BUSTER = "AKSARA_GATE_RUN_ID"
#: Stages whose result depends on something outside the source and the pinned tools.
READS_OUTSIDE_WORLD = frozenset({"dependency-audit"})
#: What the Dagger executor's stages are rendered with: its Postgres serves TLS.
GATE_OPTIONS = stages.GateOptions(database_tls=True)
#: The official Debian-based Postgres images ship the ``ssl-cert`` snakeoil pair
#: (generated when the image was built: it proves TLS is on, not who the server is,
#: which is what ``sslmode=require`` asks). The entrypoint still runs initdb because
#: the command starts with ``postgres``.
POSTGRES_TLS_COMMAND: tuple[str, ...] = (
    "postgres",
    "-c", "ssl=on",
    "-c", "ssl_cert_file=/etc/ssl/certs/ssl-cert-snakeoil.pem",
    "-c", "ssl_key_file=/etc/ssl/private/ssl-cert-snakeoil.key",
)
#: Stages that run the CLI the way production does: their ``DATABASE_URL`` says
#: ``sslmode=require`` (the doctor evaluates ``database.tls`` on it). The test suites get
#: the URL without ``sslmode``: libpq's default (``prefer``) still negotiates TLS with
#: this server, and the suites derive per-test URLs from it and reproduce the host
#: gate's scenario, whose URL has no ``sslmode`` (tests/diagnostics/test_production_gate).
REQUIRE_TLS = frozenset({"migration-smoke", "doctor"})
#: Where, inside a stage's ``/out``, ``release-gate`` redirects each step's output
#: (``NN.stdout`` unless the step redirects stdout itself, and ``NN.stderr``).
STEP_LOGS = "steps"
#: The gate's own package inside this module's source directory (``ci/src``).
GATE_CODE = "src"
#: Where the evidence is assembled in the finishing container.
EVIDENCE_ROOT = "/evidence"
#: Longest failed-step description kept in the summary.
_STEP_TEXT_MAX = 200
#: The release-identity container: where the gate's package and the checkout live.
GATE_DIR = stages.CONTAINER_PATHS.gate
IDENTITY_REPO = "/repo"
IDENTITY_OUTPUT = "/out/release-identity.json"
IDENTITY_TOOLS_INSTALL = (
    "apt-get update -qq && apt-get install -y -qq --no-install-recommends git openssh-client "
    "> /dev/null && rm -rf /var/lib/apt/lists/*"
)


def release_identity_argv(
    tag: str,
    *,
    commit: str | None = None,
    wheel: str | None = None,
    require_signed: bool = False,
    allowed_signers: str | None = None,
) -> list[str]:
    """The command both executors run: ``python -m aksara_release.release_identity``."""
    argv = ["python", "-m", "aksara_release.release_identity", "--repo", IDENTITY_REPO,
            "--tag", tag, "--output", IDENTITY_OUTPUT]
    if commit:
        argv += ["--commit", commit]
    if wheel:
        argv += ["--wheel", wheel]
    if require_signed:
        argv.append("--require-signed")
    if allowed_signers:
        argv += ["--allowed-signers", allowed_signers]
    return argv


def _doc(name: str) -> str:
    """A stage function's description, taken from the stage's single definition."""
    stage = stages.get_stage(name, GATE_OPTIONS)
    return f"{stage.title}: {stage.proves}"


def _step_text(step: stages.Step) -> str:
    text = " ".join(step.argv)
    return text if len(text) <= _STEP_TEXT_MAX else text[: _STEP_TEXT_MAX - 3] + "..."


def with_step(
    ctr: dagger.Container, step: stages.Step, *, expect: ReturnType = ReturnType.SUCCESS
) -> dagger.Container:
    """Append one rendered step; ``step.stdout`` becomes the exec's stdout redirect."""
    return ctr.with_exec(list(step.argv), redirect_stdout=step.stdout or "", expect=expect)


def step_log_files(index: int, step: stages.Step) -> tuple[str, str]:
    """Where ``release-gate`` sends step ``index``'s stdout and stderr (files in the
    stage's ``/out``, so logs travel as directories, never as Python strings)."""
    base = f"{stages.CONTAINER_PATHS.out}/{STEP_LOGS}/{index:02d}"
    return step.stdout or f"{base}.stdout", f"{base}.stderr"


def with_logged_step(ctr: dagger.Container, index: int, step: stages.Step) -> dagger.Container:
    """One step for ``release-gate``: a non-zero exit is a result (``expect=ANY``),
    stdout and stderr go to files in ``/out``."""
    stdout, stderr = step_log_files(index, step)
    return ctr.with_exec(
        list(step.argv), redirect_stdout=stdout, redirect_stderr=stderr, expect=ReturnType.ANY
    )


def describe(argv: list[str] | tuple[str, ...], limit: int = 6) -> str:
    """A short label for a command (argv carries paths, never secrets)."""
    shown = list(argv[:limit]) + (["..."] if len(argv) > limit else [])
    return " ".join(shown)


@dataclass
class Run:
    """Per-call state: a nonce and the plaintexts of every secret generated for it.

    The plaintexts are kept only to scrub them from logs as a second line of defence
    (Dagger already scrubs values that travel as secrets).
    """

    nonce: str = field(default_factory=lambda: secrets.token_hex(8))
    plaintexts: list[str] = field(default_factory=list)
    #: The same values as Dagger secrets, handed to the bundle step for scrubbing.
    secrets: list[dagger.Secret] = field(default_factory=list)

    def secret(self, label: str, plaintext: str) -> dagger.Secret:
        """A Dagger secret with a per-run unique name (same-name secrets can collide)."""
        self.plaintexts.append(plaintext)
        made = dag.set_secret(f"aksara-gate-{label}-{self.nonce}", plaintext)
        self.secrets.append(made)
        return made

    def generated(self, label: str) -> tuple[dagger.Secret, str]:
        """A fresh random secret (URL-safe, 64 characters) and its plaintext."""
        plaintext = secrets.token_urlsafe(48)
        return self.secret(label, plaintext), plaintext

    def scrub(self, text: str) -> str:
        return Scrubber(self.plaintexts)(text)


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
    install_s: float | None = None
    run_s: float | None = None
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
            "install_s": self.install_s,
            "run_s": self.run_s,
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
    """The one wheel and the one sdist among ``entries`` (ValueError otherwise), which
    must also hold the dependency set resolved for the wheel (``wheel-env.txt``, read by
    dependency-audit and sbom from the same directory)."""
    wheels = [e for e in entries if e.endswith(".whl")]
    sdists = [e for e in entries if e.endswith(".tar.gz")]
    if len(wheels) != 1 or len(sdists) != 1 or wheelenv.FILE not in entries:
        raise ValueError(
            f"package-build must produce exactly one wheel, one sdist and {wheelenv.FILE}, "
            f"found {sorted(entries)}"
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
            "without VCS data, virtualenvs, caches, build outputs and .env files; "
            "patterns in versions.SOURCE_IGNORE)"),
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
            .as_service(args=list(POSTGRES_TLS_COMMAND), use_entrypoint=True)
        )

    def _database(self, stage: stages.Stage, run: Run) -> tuple[dagger.Service, dagger.Secret]:
        """A PostgreSQL service of the stage's own and the secret ``DATABASE_URL`` for it.

        One server per database stage (stages running at once cannot see each other's
        data), whose ``POSTGRES_DB`` is the stage's scratch database. A service bound
        to a container is stopped ~10 s after each exec using it ends, so a stage whose
        steps are separate execs must start it itself (:func:`started`) and stop it
        when the stage ends, or a later step meets a fresh, empty server.
        """
        database = f"aksara_{stage.function_name}"
        password, plaintext = run.generated(f"postgres-password-{stage.name}")
        url = f"postgresql://{DB_USER}:{plaintext}@{DB_ALIAS}:{DB_PORT}/{database}"
        if stage.name in REQUIRE_TLS:
            url += "?sslmode=require"
        return self._postgres_service(database, password), run.secret(
            f"database-url-{stage.name}", url
        )

    def _gate_code(self) -> dagger.Directory:
        """The gate's own package from this module's source directory (``ci/src`` of
        the checkout holding dagger.json), independent of ``--source``."""
        return dag.current_module().source().directory(GATE_CODE)

    def stage_container(
        self,
        stage: stages.Stage,
        run: Run,
        dist: Dist | None = None,
        *,
        database: tuple[dagger.Service, dagger.Secret] | None = None,
        nonce: bool = False,
    ) -> dagger.Container:
        """The stage's container with everything but its steps (no engine call).

        Order matters for caching: image, pip and uv caches, the lock files, the pinned uv
        (hash-checked with pip) and the pinned tools (hash-checked with uv) first; then the
        wheel; only then the gate code, the source, services and secrets, which change
        more often; the run's nonce (``nonce=True``, or a stage reading the outside
        world) last, right before the steps. ``database`` is the service (already
        started by the caller) and URL to bind; by default a new one is made.
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
            .with_mounted_cache(UV_CACHE, dag.cache_volume(f"aksara-uv-py{self.python_version}"))
        )
        for name, value in UV_ENV.items():
            ctr = ctr.with_env_variable(name, value)
        ctr = ctr.with_directory(
            LOCKS_PATH, self._gate_code().directory(locks.LOCK_SUBDIR)
        ).with_exec(list(UV_BOOTSTRAP))
        if rendered.install_tools is not None:
            ctr = ctr.with_exec(list(rendered.install_tools))
        if dist is not None and stage.needs_dist:
            ctr = ctr.with_directory(stages.CONTAINER_PATHS.dist, dist.directory)
        if rendered.install_wheel is not None:
            ctr = ctr.with_exec(list(rendered.install_wheel))
        for name, value in rendered.env.items():
            ctr = ctr.with_env_variable(name, value)
        ctr = ctr.with_directory(stages.CONTAINER_PATHS.gate, self._gate_code())
        if stage.needs_source:
            ctr = ctr.with_directory(stages.CONTAINER_PATHS.src, self.source)
        ctr = (
            ctr.with_directory(
                stages.CONTAINER_PATHS.out, dag.directory().with_new_directory(STEP_LOGS)
            )
            .with_directory(stages.CONTAINER_PATHS.work, dag.directory())
            .with_workdir(rendered.workdir)
        )
        if stage.database:
            service, url = database if database is not None else self._database(stage, run)
            ctr = ctr.with_service_binding(DB_ALIAS, service).with_secret_variable(
                "DATABASE_URL", url
            )
        for name in stage.generated_secrets:
            ctr = ctr.with_secret_variable(name, run.generated(name.lower())[0])
        if nonce or stage.name in READS_OUTSIDE_WORLD:
            ctr = ctr.with_env_variable(CACHE_BUSTER, run.nonce)
        return ctr

    def _package_build(self, run: Run, *, nonce: bool = False) -> dagger.Container:
        stage = stages.package_build_stage()
        ctr = self.stage_container(stage, run, nonce=nonce)
        for step in stage.render(stages.CONTAINER_PATHS).steps:
            ctr = with_step(ctr, step)
        return ctr

    def _dist_directory(self, *, fresh: bool = False) -> dagger.Directory:
        return self._package_build(Run(), nonce=fresh).directory(stages.CONTAINER_PATHS.dist)

    async def _built_dist(self, fresh: bool = False) -> Dist:
        """package-build's ``/dist``. ``fresh``: not served from the engine's cache, so
        ``wheel-env.txt`` is resolved against the index as it is now (a stage reading the
        outside world, e.g. ``dagger call dependency-audit`` on a schedule)."""
        directory = self._dist_directory(fresh=fresh)
        wheel, sdist = pick_dist_files(await directory.entries())
        return Dist(directory, wheel, sdist)

    async def _prepared(
        self,
        name: str,
        run: Run,
        database: tuple[dagger.Service, dagger.Secret] | None = None,
    ) -> tuple[dagger.Container, stages.Stage, Dist | None]:
        stage = stages.get_stage(name, GATE_OPTIONS, config=await self._project())
        if stage.skip_reason is not None:
            raise ValueError(f"stage {name} does not run: {stage.skip_reason}")
        fresh = stage.name in READS_OUTSIDE_WORLD
        dist = await self._built_dist(fresh) if stage.needs_dist else None
        return self.stage_container(stage, run, dist, database=database), stage, dist

    async def _checked(self, name: str) -> dagger.Container:
        """The stage's container after its steps; the first failing step raises.

        A database stage's service is started here and stopped when its steps are
        done, so it lives through every step (the container is evaluated before it
        is returned); other stages return the lazy container for the caller to run.
        """
        run = Run()
        stage = stages.get_stage(name, GATE_OPTIONS, config=await self._project())
        if stage.skip_reason is not None:
            raise ValueError(f"stage {name} does not run: {stage.skip_reason}")
        if not stage.database:
            ctr, stage, dist = await self._prepared(name, run)
            return self._with_steps(ctr, stage, dist)
        service, url = self._database(stage, run)
        svc = await service.start()
        try:
            ctr, stage, dist = await self._prepared(name, run, (svc, url))
            return await self._with_steps(ctr, stage, dist).sync()
        finally:
            await svc.stop()

    @staticmethod
    def _with_steps(
        ctr: dagger.Container, stage: stages.Stage, dist: Dist | None
    ) -> dagger.Container:
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
        """The PostgreSQL service the database stages use (official image, pinned, TLS
        on with the image's self-signed pair, health-checked with pg_isready). Each
        database stage gets a server of its own."""
        if password is None:
            password = Run().generated("postgres-password")[0]
        return self._postgres_service(database, password)

    @function
    def dist(self) -> dagger.Directory:
        """The wheel, the sdist and wheel-env.txt (the wheel's runtime dependencies,
        hash-pinned), built once by package-build and reused by every stage."""
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
        dagger call release-gate export --path=./evidence --wipe &&
        python3 ci/gate.py verify ./evidence
        (``--wipe``: export merges into an existing directory, and the verifier
        rejects files a previous run left there.)
        """
        project = await self._project()
        gate = stages.build_stages(replace(GATE_OPTIONS, osv_url=osv_url), project)
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
                    "database stage, TLS on, sslmode=require)"
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
        return self._bundle(gate, outcomes, built[0] if built else None, meta, run)

    async def _collect_dist(self, outcome: Outcome) -> Dist:
        if outcome.container is None:  # pragma: no cover - _execute sets it before "passed"
            raise RuntimeError("package-build passed without a container")
        directory = outcome.container.directory(stages.CONTAINER_PATHS.dist)
        wheel, sdist = pick_dist_files(await directory.entries())
        return Dist(directory, wheel, sdist)

    async def _execute(self, stage: stages.Stage, run: Run, dist: Dist | None) -> Outcome:
        """Run one stage step by step, recording exit codes; never raises.

        What went wrong is told apart by the failing command (``ExecError.command``):
        the step's own argv exiting non-zero is ``failed``; anything else (the
        database's health check, a set-up command) or any other engine error is
        ``error``, and the log and ``/out`` up to that point are kept.
        """
        started_at = evidence.now_iso()
        clock = time.monotonic()
        rendered = stage.render(
            container_paths(dist.wheel if dist else None, dist.sdist if dist else None)
        )
        installs = [UV_BOOTSTRAP, *(argv for argv in (rendered.install_tools,
                                                      rendered.install_wheel) if argv)]
        log = [f"# {stage.name}: {stage.title}", f"# image: {self._python_image()}"]
        outcome = Outcome(stage.name, stage.title, "passed", exit_code=0, started_at=started_at)
        ctr: dagger.Container | None = None
        started: dagger.Service | None = None

        def error(reason: str, code: int | None = None) -> None:
            outcome.status, outcome.exit_code = "error", code
            outcome.reason = run.scrub(reason)
            log.append(f"[error: {outcome.reason}]")

        install_clock: float | None = None
        try:
            database = None
            if stage.database:
                service, url = self._database(stage, run)
                log.append(
                    f"# database: {self._postgres_image()} as {DB_ALIAS!r} (TLS), "
                    "started for the whole stage"
                )
                started = await service.start()
                database = (started, url)
            prepared = self.stage_container(stage, run, dist, database=database, nonce=True)
            log += ["$ " + " ".join(argv) for argv in installs]
            install_clock = time.monotonic()
            ctr = await prepared.sync()
            outcome.install_s = time.monotonic() - install_clock
            run_clock = time.monotonic()
            for index, step in enumerate(rendered.steps, 1):
                step_clock = time.monotonic()
                stdout, stderr = step_log_files(index, step)
                log.append(
                    "$ " + " ".join(step.argv)
                    + f" > {_in_out(stdout)} 2> {_in_out(stderr)}"
                )
                after = with_logged_step(ctr, index, step)
                try:
                    code = await after.exit_code()
                    ctr = after
                except dagger.ExecError as exc:
                    log.append(_exec_output(exc))
                    if list(exc.command) != list(step.argv):
                        error(f"{describe(exc.command)} exited {exc.exit_code} during step "
                              f"{index} (not the step's own command)")
                        break
                    code = exc.exit_code  # the step itself, e.g. killed by a signal
                log.append(f"[exit {code} after {time.monotonic() - step_clock:.1f}s]")
                outcome.exit_code = code
                if code != 0:
                    outcome.status = "failed"
                    outcome.failed_step = _step_text(step)
                    outcome.reason = f"step exited with {code}"
                    break
            outcome.run_s = time.monotonic() - run_clock
        except dagger.ExecError as exc:  # before the steps: the service or the set-up
            if install_clock is not None and outcome.install_s is None:
                outcome.install_s = time.monotonic() - install_clock
            log.append(_exec_output(exc))
            mismatch = locks.hash_failure(_exec_output(exc))
            if list(exc.command) in [list(argv) for argv in installs] and mismatch:
                # A download that is not what the lock fixed: a finding, not a breakage.
                outcome.status, outcome.exit_code = "failed", exc.exit_code
                outcome.reason = run.scrub(f"install: {mismatch}")
                outcome.failed_step = _step_text(stages.Step(tuple(exc.command)))
                log.append(f"[failed: {outcome.reason}]")
            elif list(exc.command) in [list(argv) for argv in installs]:
                error("installing the stage's tools or the wheel failed", exc.exit_code)
            elif stage.database and ctr is None and started is None:
                error(f"the database service did not become ready: {describe(exc.command)} "
                      f"exited {exc.exit_code}", exc.exit_code)
            else:
                error(f"set-up command {describe(exc.command)} exited {exc.exit_code}",
                      exc.exit_code)
        except dagger.DaggerError as exc:  # any other engine error: keep what we have
            error(_one_line(exc))
        finally:
            if started is not None:
                try:
                    await started.stop()
                except dagger.DaggerError as exc:
                    log.append(run.scrub(f"# stopping the database service: {_one_line(exc)}"))
        if ctr is not None:
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
        run: Run,
    ) -> dagger.Directory:
        """Lay out the evidence and let ``bundle.py`` (stdlib, in a container, the
        gate's own code) scrub every text file of the run's secrets (handed over as
        Dagger secrets) and add the checksums, result.json files, SHA256SUMS,
        summary.json and summary.md."""
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
        ctr = (
            dag.container()
            .from_(self._python_image())
            .with_directory(stages.CONTAINER_PATHS.gate, self._gate_code())
            .with_env_variable("PYTHONPATH", stages.CONTAINER_PATHS.gate)
            .with_env_variable("PYTHONDONTWRITEBYTECODE", "1")
            .with_directory(EVIDENCE_ROOT, tree)
            .with_new_file("/meta.json", json.dumps(meta, indent=2))
        )
        for index, secret in enumerate(run.secrets):
            ctr = ctr.with_secret_variable(f"{bundle.SCRUB_ENV_PREFIX}{index}", secret)
        return ctr.with_exec(
            ["python", "-m", "aksara_release.bundle", EVIDENCE_ROOT, "/meta.json"]
        ).directory(EVIDENCE_ROOT)

    # ------------------------------------------------------------------ publishing lane
    # Self-contained: the reproducible-build stage and the release identity (issue 12).

    @function(doc=_doc("reproducible-build"))
    @check
    async def reproducible_build(self) -> dagger.Container:
        return await self._checked("reproducible-build")

    def identity_container(
        self,
        tag: str,
        repository: dagger.GitRepository,
        *,
        commit: str | None = None,
        wheel: dagger.File | None = None,
        wheel_name: str | None = None,
        require_signed: bool = False,
        allowed_signers: dagger.File | None = None,
    ) -> dagger.Container:
        """The container running ``release_identity`` on the tag's checkout, with its .git
        (no engine call). ``git`` and ``ssh-keygen`` come from Debian packages."""
        release_identity.tag_version(tag)  # refuse a malformed tag before it is used
        checkout = repository.tag(tag).tree(discard_git_dir=False)
        ctr = (
            dag.container()
            .from_(self._python_image())
            .with_exec(["sh", "-c", IDENTITY_TOOLS_INSTALL])
            .with_directory(GATE_DIR, self._gate_code())
            .with_env_variable("PYTHONPATH", GATE_DIR)
            .with_env_variable("PYTHONDONTWRITEBYTECODE", "1")
            .with_directory(IDENTITY_REPO, checkout)
        )
        if wheel is not None:
            ctr = ctr.with_file(f"/wheel/{wheel_name or 'package.whl'}", wheel)
        if allowed_signers is not None:
            ctr = ctr.with_file("/allowed_signers", allowed_signers)
        return ctr.with_workdir(IDENTITY_REPO).with_exec(
            release_identity_argv(
                tag, commit=commit,
                wheel=f"/wheel/{wheel_name or 'package.whl'}" if wheel is not None else None,
                require_signed=require_signed,
                allowed_signers="/allowed_signers" if allowed_signers is not None else None,
            ),
            expect=ReturnType.ANY,
        )

    # Reads the repository's tags and keys as they are now. (type: ignore: see above.)
    @function(cache="never")  # type: ignore[call-overload,untyped-decorator]
    async def release_identity(
        self,
        tag: Annotated[str, Doc("The release tag, vX.Y.Z")],
        repository: Annotated[
            dagger.GitRepository,
            DefaultPath("/"),
            Doc("The git repository holding the tag (default: the one holding dagger.json)"),
        ],
        commit: Annotated[
            str | None, Doc("The commit the tag must point at (default: the tag's own)")
        ] = None,
        wheel: Annotated[
            dagger.File | None, Doc("The built wheel whose version the tag must name")
        ] = None,
        require_signed: Annotated[
            bool, Doc("The tag must carry an SSH signature by a key in the allowed signers")
        ] = False,
        allowed_signers: Annotated[
            dagger.File | None,
            Doc("Allowed-signers file (default: .github/allowed_signers at the tag)"),
        ] = None,
    ) -> dagger.File:
        """The release identity (python3 ci/gate.py release-identity, same module): tag =
        package version, dated CHANGELOG entry, tag on the commit, signature when required.
        Returns release-identity.json; fails with the reasons when a check fails."""
        wheel_name = await wheel.name() if wheel is not None else None
        ctr = self.identity_container(
            tag, repository, commit=commit, wheel=wheel, wheel_name=wheel_name,
            require_signed=require_signed, allowed_signers=allowed_signers,
        )
        code = await ctr.exit_code()
        if code != 0:
            raise ValueError(
                f"release-identity exited {code}: " + _WS.sub(" ", await ctr.stderr()).strip()
            )
        return ctr.file(IDENTITY_OUTPUT)


def _in_out(path: str) -> str:
    """A path in ``/out`` as the evidence names it (relative to the stage directory)."""
    prefix = stages.CONTAINER_PATHS.out + "/"
    return path[len(prefix):] if path.startswith(prefix) else path



def _exec_output(exc: dagger.ExecError) -> str:
    return "\n".join(part for part in (exc.stdout, exc.stderr) if part)


_WS = re.compile(r"\s+")


def _one_line(exc: BaseException) -> str:
    text = _WS.sub(" ", str(exc)).strip() or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}"[:500]
