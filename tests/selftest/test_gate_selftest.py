"""Plant every fault the gate must catch; prove the stage meant to catch it goes red,
with a reason line that names the fault.

One copy carries all faults that do not stop the build, and one gate run checks
them together (each stage is judged on its own evidence); the static-analysis stage
gets one fault per analyser, each visible to that analyser only, and every analyser
must report its own. A second copy carries the "examined nothing" faults (an empty
test suite, an audit of zero dependencies, an analyser given a missing directory, an
SBOM missing a transitive dependency) and the README declared with the wrong content
type; in that run exactly the planted stages may fail. Faults that break the build or
need a different audit service get their own short runs. The unmodified repository
passing offline (OSV stub, workflow-lint skipped) is proven here too, so a stage that
is red on a clean copy cannot pass for catching its planted fault.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import faults
import pytest
from gatecopy import GateRun, copy_repo, run_gate
from osv_stub import running_osv_stub

pytestmark = pytest.mark.selftest

#: stage -> planting function; it returns a text the stage's reason line must contain
PLANTED = {
    "unit-tests": faults.failing_unit_test,
    "security-tests": faults.failing_security_test,
    "diagnostics-tests": faults.failing_diagnostics_test,
    "fuzz-tests": faults.broken_fuzz_property,
    "migration-tests": faults.failing_migration_test,
    "migration-smoke": faults.checksum_ignores_content,
    "doctor": faults.unsafe_production_setting,
    "docs-build": faults.broken_docs_link,
    "secret-scan": faults.cloud_key,
    "twine-check": faults.readme_twine_rejects,
    "wheel-import": faults.wheel_missing_module,
    "sbom": faults.sbom_before_install,
}
#: static-analysis: one fault per analyser that only that analyser can see
TOOL_FAULTS = {
    "ruff": faults.ruff_finding,
    "bandit": faults.bandit_high_finding,
    "mypy": faults.mypy_error,
    "zizmor": faults.zizmor_template_injection,
}
#: The file each analyser's fault is planted in (no other analyser may report it).
PLANTED_FILES = {"ruff": f"_{faults.MARK}_ruff.py", "bandit": f"_{faults.MARK}_shell.py",
                 "mypy": f"_{faults.MARK}_mypy.py", "zizmor": f"{faults.MARK}.yml"}
#: Test stages: planted tests elsewhere in tests/ fail there too, so the suite's first
#: failure may be another planted one; the fault must then be among its findings.
TEST_STAGES = ("unit-tests", "security-tests", "diagnostics-tests", "fuzz-tests",
               "migration-tests")
#: "Examined nothing" (and the README content type): exactly these stages go red.
NOTHING = {
    "fuzz-tests": faults.empty_test_suite,
    "dependency-audit": faults.audit_without_dependencies,
    "static-analysis": faults.analyser_missing_directory,
    "sbom": faults.sbom_missing_transitive,
    "twine-check": faults.readme_declared_rst,
}
NOTHING_RUN = ("package-build", "twine-check", "wheel-import", "fuzz-tests",
               "dependency-audit", "static-analysis", "secret-scan", "sbom")


def check_record(run: GateRun, stage: str, tool: str) -> dict[str, Any]:
    path = run.evidence / "stages" / stage / "checks" / f"{tool}.json"
    return json.loads(path.read_text())


def failed_tests(run: GateRun, stage: str) -> set[str]:
    import xml.etree.ElementTree as ET

    root = ET.parse(run.evidence / "stages" / stage / "junit.xml").getroot()
    return {str(case.get("name")) for case in root.iter("testcase")
            if case.find("failure") is not None or case.find("error") is not None}


def finding_texts(record: dict[str, Any]) -> str:
    return "\n".join(
        f"{f['rule']} {f['location']}: {f['message']}" for f in record["first_findings"]
    ) + "\n" + "\n".join(record["problems"])


@pytest.fixture(scope="module")
def many_faults(selftest_root: Path) -> tuple[GateRun, dict]:
    copy = copy_repo(selftest_root / "many")
    # The gate's own tests (tests/gate: ~600 tests, about half the unit-tests stage) test
    # the tooling, not the product the planted faults live in; this copy is modified
    # anyway, so they are left out to keep CI inside its budget. The unmodified copy
    # (test_unmodified_repository_passes) still runs every test.
    shutil.rmtree(copy / "tests" / "gate")
    markers = {stage: plant(copy) for stage, plant in PLANTED.items()}
    markers.update({tool: plant(copy) for tool, plant in TOOL_FAULTS.items()})
    markers["coverage"] = faults.coverage_floor_above_measured(copy)
    with running_osv_stub() as osv:  # its own stub: no other test's plant leaks in
        osv.vulnerable["pglast"] = "99.0"
        run = run_gate(copy, "--skip", "workflow-lint", "--osv-url", osv.url)
    return run, markers


@pytest.mark.parametrize("stage", [*PLANTED, "dependency-audit"])
def test_planted_fault_turns_its_stage_red(many_faults, stage: str) -> None:
    run, markers = many_faults
    assert run.code == 1, run.output[-2000:]
    assert run.summary["verdict"] == "fail"
    result = run.stage(stage)
    assert result["status"] == "failed", (stage, result)
    reason = result["reason"] or ""
    marker = markers.get(stage, "PYSEC-2026-")  # the stub's advisory id
    if stage in TEST_STAGES and marker not in reason:
        # another planted test failed first: the reason names it and counts the rest;
        # the planted test is among the failures of the stage's JUnit report
        assert " more" in reason and "failure tests/" in reason, reason
        assert marker in failed_tests(run, stage), stage
        return
    assert marker in reason, f"{stage}: the reason does not name the fault: {reason}"
    if stage == "dependency-audit":
        assert "pglast==" in reason and "fixed in 99.0" in reason, reason


def test_coverage_below_its_floor_fails_the_unit_tests(many_faults) -> None:
    """Issue 15: the coverage check judges the installed wheel's measured coverage against
    the floor (planted: 100% branches) and names package and percentage."""
    run, markers = many_faults
    record = check_record(run, "unit-tests", "coverage")
    assert record["status"] == "failed" and record["ran"], record
    assert record["reason"].startswith(markers["coverage"]), record["reason"]
    assert "% < floor 100% (" in record["reason"], record["reason"]
    assert record["counts"]["branches"] > 0 and 0 < record["percent"]["aksara.branches"] < 100
    assert (run.evidence / "stages" / "unit-tests" / "coverage.json").is_file()
    # the planted failing test is reported first; the coverage check is named after it
    assert "also failed: coverage" in (run.stage("unit-tests")["reason"] or "")


def test_static_analysis_runs_every_analyser(many_faults) -> None:
    run, _ = many_faults
    result = run.stage("static-analysis")
    assert result["status"] == "failed"
    assert [c["name"] for c in result["checks"]] == list(TOOL_FAULTS)
    assert result["reason"].startswith("ruff: F401 ")
    assert result["reason"].endswith("also failed: bandit, mypy, zizmor"), result["reason"]
    summary_md = (run.evidence / "summary.md").read_text()
    for tool in TOOL_FAULTS:
        assert f"| static-analysis | {tool} | yes |" in summary_md


@pytest.mark.parametrize("tool", list(TOOL_FAULTS))
def test_each_analyser_reports_the_fault_only_it_can_see(many_faults, tool: str) -> None:
    run, markers = many_faults
    record = check_record(run, "static-analysis", tool)
    assert record["ran"] and record["status"] == "failed", record
    assert record["counts"]["files"] >= 1
    assert record["reason"].startswith(f"{tool}: ")
    # other planted faults (e.g. the redefined checksum function) may come first
    assert markers[tool] in finding_texts(record), record["reason"]
    planted_file = PLANTED_FILES[tool]
    for other in TOOL_FAULTS:
        if other != tool:
            assert planted_file not in finding_texts(check_record(run, "static-analysis", other))


@pytest.fixture(scope="module")
def nothing_examined(selftest_root: Path) -> tuple[GateRun, dict]:
    copy = copy_repo(selftest_root / "nothing")
    markers = {stage: plant(copy) for stage, plant in NOTHING.items()}
    with running_osv_stub() as osv:  # its own stub: no advisory planted elsewhere
        run = run_gate(copy, "--only", ",".join(NOTHING_RUN), "--osv-url", osv.url)
    return run, markers


def test_examining_nothing_turns_exactly_its_stage_red(nothing_examined) -> None:
    run, markers = nothing_examined
    statuses = {s["name"]: s["status"] for s in run.summary["stages"] if s["name"] in NOTHING_RUN}
    expected = {name: ("failed" if name in NOTHING else "passed") for name in NOTHING_RUN}
    assert statuses == expected, {n: run.stage(n)["reason"] for n in statuses}
    for stage, marker in markers.items():
        reason = run.stage(stage)["reason"] or ""
        if stage == "twine-check" and not reason.startswith("readme"):
            # twine itself may reject the README rendered as reStructuredText too
            assert "also failed: readme" in reason, reason
            reason = check_record(run, stage, "readme")["reason"]
        assert marker in reason, f"{stage}: {reason}"


def test_broken_pyproject_is_a_usage_error(selftest_root: Path) -> None:
    """The gate reads its configuration from pyproject.toml: unparsable TOML stops it
    before any stage, with one line naming the file (exit 2)."""
    copy = copy_repo(selftest_root / "pyproject")
    faults.broken_pyproject(copy)
    run = run_gate(copy, "--only", "package-build,twine-check")
    assert run.code == 2
    assert "pyproject.toml: not valid TOML" in run.output and "Traceback" not in run.output


def test_bad_dependency_specifier_fails_the_build(selftest_root: Path) -> None:
    copy = copy_repo(selftest_root / "specifier")
    marker = faults.bad_dependency_specifier(copy)
    run = run_gate(copy, "--only", "package-build,twine-check")
    assert run.code == 1
    build = run.stage("package-build")
    assert build["status"] == "failed"
    assert build["reason"].startswith("build exited 1: "), build["reason"]
    assert marker in build["reason"], build["reason"]  # the exact error line
    assert "needs package-build" in run.stage("twine-check")["reason"]


def test_unauditable_dependency_fails_the_audit(selftest_root: Path, osv_stub) -> None:
    osv_stub.broken.add("typing-extensions")
    copy = copy_repo(selftest_root / "audit")
    only = "package-build,dependency-audit"
    run = run_gate(copy, "--only", only, "--osv-url", osv_stub.url)
    assert run.code == 1
    assert run.stage("package-build")["status"] == "passed"
    audit = run.stage("dependency-audit")
    assert audit["status"] == "failed"
    # pip-audit crashes on the service error (no report); the reason says why
    assert audit["reason"].startswith("pip-audit: report pip-audit.json is missing (exit 1: ")
    assert "500 Server Error" in audit["reason"], audit["reason"]


def test_a_tampered_wheel_env_fails_audit_and_sbom(selftest_root: Path, osv_stub) -> None:
    """package-build resolves the wheel's dependencies once (dist/wheel-env.txt); a wrong
    hash in it fails both stages that install from it, naming the distribution."""
    copy = copy_repo(selftest_root / "wheel-env")
    marker = faults.wheel_env_tampered(copy)
    run = run_gate(copy, "--only", "package-build,dependency-audit,sbom",
                   "--osv-url", osv_stub.url)
    assert run.code == 1, run.output[-3000:]
    assert run.stage("package-build")["status"] == "passed"
    assert "pglast==" in (run.evidence / "dist" / "wheel-env.txt").read_text()
    for stage in ("dependency-audit", "sbom"):
        result = run.stage(stage)
        assert result["status"] == "failed", (stage, result)
        assert result["reason"].startswith(marker), (stage, result["reason"])
        assert result["reason"].endswith("the download does not match the hash in "
                                         "wheel-env.txt"), result["reason"]
        assert [c["name"] for c in result["checks"]] == ["wheel-env"]  # stopped there


def test_unmodified_repository_passes(selftest_root: Path, osv_stub) -> None:
    """Offline like the planted run: the OSV stub, and only workflow-lint skipped (it
    downloads actionlint from GitHub). Every other stage must pass, so the planted
    faults above are what turned their stages red."""
    copy = copy_repo(selftest_root / "clean")
    run = run_gate(copy, "--skip", "workflow-lint", "--osv-url", osv_stub.url)
    assert run.code == 3, run.output[-3000:]
    assert run.summary["verdict"] == "incomplete"
    assert run.summary["not_passed"] == ["workflow-lint"]
    assert run.stage("workflow-lint")["status"] == "skipped"
    not_passed = [s["name"] for s in run.summary["stages"]
                  if s["status"] != "passed" and s["name"] != "workflow-lint"]
    assert not_passed == [], run.output[-3000:]
    assert osv_stub.queries  # the audit really asked the stub
