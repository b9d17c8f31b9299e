"""The ``coverage`` judge and the unit-tests stage's coverage steps.

The judge reads coverage.py's JSON report and counts only the files of the measured
packages installed in the stage's ``site-packages``. Each failure mode is planted:
a floor above the measured value fails (naming package and percentage), nothing
measured fails ("examined nothing": no data at all, no file of the package, a package
never imported), a malformed report is an error, and a missing coverage tool is an
error. The real coverage.py (the dev environment's, the gate pins the same version)
runs the gate's own rcfile on a tiny installed package, a Python subprocess included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aksara_release import config as gate_config
from aksara_release import stages, versions
from aksara_release.judges import JudgeError
from aksara_release.judges.checks import ToolSpec, build_verdict, record, write_record
from aksara_release.judges.coverage import installed_roots, judge_coverage

REPO = Path(__file__).resolve().parents[2]
CI_SRC = REPO / "ci" / "src"


def _file(statements: int, covered: int, branches: int, taken: int) -> dict[str, Any]:
    return {"summary": {"num_statements": statements, "covered_lines": covered,
                        "num_branches": branches, "covered_branches": taken}}


def _report(tmp_path: Path, files: dict[str, Any], *, branch: bool = True) -> str:
    path = tmp_path / "coverage.json"
    path.write_text(json.dumps({"meta": {"version": "7.17.5", "branch_coverage": branch},
                                "files": files}))
    return str(path)


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site-packages"
    (root / "pkg" / "sub").mkdir(parents=True)
    return root.resolve()


def test_counts_only_the_installed_package_and_passes_at_the_floor(tmp_path: Path,
                                                                    site: Path) -> None:
    report = _report(tmp_path, {
        f"{site}/pkg/__init__.py": _file(10, 9, 4, 3),
        f"{site}/pkg/sub/mod.py": _file(10, 10, 6, 6),
        # the source tree's copy and another package do not count
        str(tmp_path / "src" / "pkg" / "__init__.py"): _file(50, 0, 10, 0),
        f"{site}/pkgextra/__init__.py": _file(50, 0, 10, 0),
    })
    got = judge_coverage(report, "", packages=["pkg"], lines=95, branches=90, roots=[str(site)])
    assert not got.problems and not got.findings
    assert got.counts == {"files": 2, "statements": 20, "covered_statements": 19,
                          "branches": 10, "covered_branches": 9}
    assert got.percent == {"pkg.lines": 95.0, "pkg.branches": 90.0}


def test_a_floor_above_the_measured_value_fails_naming_package_and_percent(
        tmp_path: Path, site: Path) -> None:
    report = _report(tmp_path, {f"{site}/pkg/__init__.py": _file(10, 10, 8, 7)})
    got = judge_coverage(report, "", packages=["pkg"], lines=90, branches=90, roots=[str(site)])
    assert [f.text() for f in got.findings] == [
        "below-floor pkg: branches 87.50% < floor 90% (7 of 8)"]
    assert not got.problems


@pytest.mark.parametrize(("files", "why"), [
    ({}, "pkg: examined nothing (no file of it measured"),
    ({"elsewhere/pkg/__init__.py": _file(10, 10, 2, 2)}, "pkg: examined nothing (no file"),
    ({"SITE/pkg/__init__.py": _file(10, 0, 2, 0)},
     "pkg: examined nothing (none of its 10 statements ran"),
    ({"SITE/pkg/__init__.py": _file(0, 0, 0, 0)}, "pkg: examined nothing (no file"),
])
def test_measuring_nothing_fails(tmp_path: Path, site: Path, files: dict[str, Any],
                                 why: str) -> None:
    files = {name.replace("SITE", str(site)): entry for name, entry in files.items()}
    got = judge_coverage(_report(tmp_path, files), "", packages=["pkg"], branches=0,
                         roots=[str(site)])
    assert len(got.problems) == 1 and got.problems[0].startswith(why), got.problems


def test_every_measured_package_must_have_been_measured(tmp_path: Path, site: Path) -> None:
    report = _report(tmp_path, {f"{site}/pkg/__init__.py": _file(10, 10, 2, 2)})
    got = judge_coverage(report, "", packages=["pkg", "other"], roots=[str(site)])
    assert [p.split(" (")[0] for p in got.problems] == ["other: examined nothing"]


@pytest.mark.parametrize(("text", "why"), [
    (None, "report coverage.json is missing"),
    ("", "report coverage.json is empty"),
    ("{not json", "not valid JSON"),
    ("[]", "not a coverage.py JSON report"),
    ('{"meta": {"branch_coverage": false}, "files": {}}', "holds no branch data"),
    ('{"meta": {"branch_coverage": true}, "files": {"a.py": {"summary": {}}}}',
     "has no statement and branch counts"),
    ('{"meta": {"branch_coverage": true}, "files": {"a.py": {"summary": {"num_statements": '
     '-1, "covered_lines": 0, "num_branches": 0, "covered_branches": 0}}}}',
     "has no statement and branch counts"),
])
def test_a_malformed_report_cannot_be_judged(tmp_path: Path, text: str | None,
                                             why: str) -> None:
    path = tmp_path / "coverage.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(JudgeError, match=why):
        judge_coverage(str(path), "", packages=["pkg"], roots=[str(tmp_path)])


def test_no_data_is_examined_nothing_not_a_missing_report(tmp_path: Path) -> None:
    with pytest.raises(JudgeError, match="^examined nothing: coverage.py collected no data"):
        judge_coverage(str(tmp_path / "coverage.json"), "No data to combine\n",
                       packages=["pkg"], roots=[str(tmp_path)])


def test_the_installed_roots_are_the_interpreters_site_packages() -> None:
    import sysconfig

    assert os.path.realpath(sysconfig.get_path("purelib")) in installed_roots()


# ----------------------------------------------------------------- real coverage.py, run-tool
def _tiny_project(tmp_path: Path) -> tuple[Path, Path]:
    """A package installed in a stand-in site-packages and a test that also runs it in a
    Python subprocess (the branch ``flag`` is only taken there)."""
    site = (tmp_path / "site").resolve()
    (site / "tiny").mkdir(parents=True)
    (site / "tiny" / "__init__.py").write_text(
        "def pick(flag):\n    if flag:\n        return 'sub'\n    return 'main'\n")
    tests = tmp_path / "tree" / "tests"
    tests.mkdir(parents=True)
    (tests / "test_tiny.py").write_text(
        "import subprocess, sys\nimport tiny\n\n"
        "def test_main():\n    assert tiny.pick(False) == 'main'\n\n"
        "def test_sub():\n    out = subprocess.run([sys.executable, '-c', "
        "'import tiny; print(tiny.pick(True))'], capture_output=True, text=True, check=True)\n"
        "    assert out.stdout.strip() == 'sub'\n")
    return site, tmp_path / "tree"


def _rendered(tmp_path: Path, coverage: dict[str, Any]) -> list[stages.Step]:
    """The unit-tests stage of a project with ``coverage`` set, paths filled for tmp_path."""
    project = gate_config.parse(
        "[tool.aksara-release]\nimport-name = \"tiny\"\n"
        "[tool.aksara-release.stages.unit-tests]\npaths = [\"tests\"]\n"
        f"coverage = {_toml(coverage)}\n")
    stage = stages.build_stages(config=project)[stages.STAGE_NAMES.index("unit-tests")]
    paths = stages.Paths(src=str(tmp_path / "tree"), out=str(tmp_path / "out"),
                         work=str(tmp_path / "work"), dist="/D", gate=str(CI_SRC))
    return list(stage.render(paths).steps)


def _toml(table: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in table.items()) + " }"


def _spec(step: stages.Step) -> ToolSpec:
    """The ToolSpec ``run-tool`` builds from a rendered step (through its own parser),
    the stage's ``python`` being this interpreter."""
    from aksara_release.tools import _parser

    args = _parser().parse_args(list(step.argv[3:]))
    argv = list(args.argv[1:])
    argv[0] = sys.executable if argv[0] == "python" else argv[0]
    return ToolSpec(name=args.name, judge=args.judge, argv=argv, out=args.out,
                    report=args.report, minimum=args.minimum, measure=tuple(args.measure),
                    floor_lines=args.floor_lines, floor_branches=args.floor_branches)


def _run_stage(tmp_path: Path, coverage: dict[str, Any], site: Path, tree: Path,
               monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the rendered steps with this interpreter (coverage at the gate's pin), the
    tiny package importable from ``site``, which stands in for the stage's
    site-packages (the one thing not real here)."""
    write, pytest_step, coverage_step, _verdict = _rendered(tmp_path, coverage)
    monkeypatch.setenv("PYTHONPATH", f"{site}{os.pathsep}{CI_SRC}")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    for name in ("COVERAGE_PROCESS_START", "COVERAGE_RCFILE", "COVERAGE_PROCESS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tree)
    monkeypatch.setattr("aksara_release.pytest_origin.installed_roots", lambda: [site])

    def run(argv: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        argv = (sys.executable, *argv[1:]) if argv[0] == "python" else argv
        return subprocess.run(argv, capture_output=True, text=True, check=False)

    assert run(write.argv).returncode == 0
    tests = pytest_step.argv[pytest_step.argv.index("--") + 1:]
    # without the import-origin plugin: `site` is not this interpreter's site-packages
    tests = tests[:tests.index(stages.ORIGIN_PLUGIN) - 1]
    done = run(tests)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    spec = _spec(coverage_step)
    write_record(spec.out, record(spec))
    data = json.loads((Path(spec.out) / "checks" / "coverage.json").read_text())
    return data, build_verdict(spec.out, ["coverage"])


def test_real_coverage_measures_subprocesses_and_records_percentages(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site, tree = _tiny_project(tmp_path)
    data, verdict = _run_stage(tmp_path, {"packages": ["tiny"], "lines": 100, "branches": 100},
                               site, tree, monkeypatch)
    assert data["status"] == "passed", data
    # the `if flag` branch to `return 'sub'` ran only in the subprocess
    assert data["percent"] == {"tiny.lines": 100.0, "tiny.branches": 100.0}
    assert data["counts"]["branches"] == 2 and data["counts"]["covered_branches"] == 2
    report = json.loads((tmp_path / "out" / "coverage.json").read_text())
    assert report["meta"]["branch_coverage"] is True
    assert verdict["passed"] and verdict["checks"][0]["percent"] == data["percent"]


def test_real_coverage_below_the_floor_fails_the_verdict(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site, tree = _tiny_project(tmp_path)
    (tree / "tests" / "test_tiny.py").write_text(
        "import tiny\n\ndef test_main():\n    assert tiny.pick(False) == 'main'\n")
    data, verdict = _run_stage(tmp_path, {"packages": ["tiny"], "branches": 90}, site, tree,
                               monkeypatch)
    assert data["status"] == "failed"
    assert data["reason"] == "coverage: below-floor tiny: branches 50.00% < floor 90% (1 of 2)"
    assert not verdict["passed"] and verdict["reason"] == data["reason"]


def test_real_coverage_of_a_package_never_imported_is_examined_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site, tree = _tiny_project(tmp_path)
    (tree / "tests" / "test_tiny.py").write_text("def test_other():\n    assert True\n")
    data, _ = _run_stage(tmp_path, {"packages": ["tiny"]}, site, tree, monkeypatch)
    # coverage.py reports nothing at all for a source package never imported
    assert data["status"] == "error"
    assert data["reason"].startswith("coverage: examined nothing"), data["reason"]


def test_no_coverage_data_at_all_is_examined_nothing(tmp_path: Path) -> None:
    rc = tmp_path / "work" / "coveragerc"
    rc.parent.mkdir(parents=True)
    rc.write_text(stages.coverage_rc({}, "tiny").replace(stages.COVERAGE_WORK,
                                                         str(tmp_path / "work")))
    out = tmp_path / "out"
    spec = ToolSpec(name="coverage", judge="coverage", out=str(out),
                    report=str(out / "coverage.json"), measure=("tiny",),
                    argv=[sys.executable, "-m", "aksara_release.tools", "coverage-json",
                          "--rcfile", str(rc), "--output", str(out / "coverage.json")])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(CI_SRC))
        data = record(spec)
    assert data["exit_code"] == 1 and data["status"] == "error"
    assert data["reason"].startswith(
        "coverage: examined nothing: coverage.py collected no data (No data to combine)"), data


def test_a_missing_coverage_tool_is_an_error(tmp_path: Path) -> None:
    out = tmp_path / "out"
    spec = ToolSpec(name="coverage", judge="coverage", out=str(out),
                    report=str(out / "coverage.json"), measure=("tiny",),
                    argv=[sys.executable, "-I", "-S", "-m", "coverage", "json"])
    data = record(spec)
    assert data["status"] == "error" and data["exit_code"] == 1
    assert "report coverage.json is missing" in data["reason"]
    assert "No module named coverage" in data["reason"]


# ----------------------------------------------------------------------------- the stage
def test_the_unit_tests_stage_of_this_repository_measures_the_wheel() -> None:
    stage = stages.get_stage("unit-tests")
    assert versions.TOOLS["coverage"] in stage.tools
    assert "coverage.json" in stage.evidence
    steps = [s.argv for s in stage.steps]
    assert steps[0][3] == "write-files" and steps[0][4] == stages.COVERAGE_WORK
    rc = json.loads(steps[0][5])[stages.COVERAGE_RC_NAME]
    assert "patch = subprocess" in rc and "branch = true" in rc
    assert "source_pkgs = aksara\n" in rc  # the wheel's package only: not the gate's
    pytest_argv = steps[1][steps[1].index("--") + 1:]
    assert pytest_argv[:6] == ("python", "-m", "coverage", "run",
                               f"--rcfile={stages.COVERAGE_RC}", "-m")
    assert steps[2][steps[2].index("--judge") + 1] == "coverage"
    assert steps[-1][3] == "verdict" and steps[-1][-2:] == ("--expect", "coverage")


def test_without_the_setting_the_stage_is_unchanged() -> None:
    project = gate_config.parse(
        "[tool.aksara-release]\nimport-name = \"tiny\"\n"
        "[tool.aksara-release.stages.unit-tests]\npaths = [\"tests\"]\n")
    stage = stages.build_stages(config=project)[stages.STAGE_NAMES.index("unit-tests")]
    assert [s.argv[5] for s in stage.steps[:-1]] == ["pytest"]
    assert "coverage.json" not in stage.evidence
    assert not any("coverage" in t for t in stage.tools)


def test_a_flat_layout_keeps_the_source_tree_off_sys_path_under_coverage() -> None:
    project = gate_config.parse(
        "[tool.aksara-release]\nimport-name = \"tiny\"\nlayout = \"flat\"\n"
        "[tool.aksara-release.stages.unit-tests]\npaths = [\"tests\"]\ncoverage = {}\n")
    stage = stages.build_stages(config=project)[stages.STAGE_NAMES.index("unit-tests")]
    argv = stage.steps[1].argv
    assert argv[argv.index("--") + 1:][:5] == ("python", "-P", "-m", "coverage", "run")


@pytest.mark.parametrize(("setting", "why"), [
    ('{ packages = [] }', "needs at least 1 item"),
    ('{ packages = ["a/b"] }', "does not match"),
    ('{ branches = 101 }', "101 is above 100"),
    ('{ lines = "90" }', "expected an integer"),
    ('{ floor = 90 }', "coverage.floor: unknown key"),
])
def test_bad_coverage_settings_are_one_line_config_errors(setting: str, why: str) -> None:
    with pytest.raises(gate_config.ConfigError, match=why):
        gate_config.parse("[tool.aksara-release]\nimport-name = \"tiny\"\n"
                          "[tool.aksara-release.stages.unit-tests]\npaths = [\"tests\"]\n"
                          f"coverage = {setting}\n")
