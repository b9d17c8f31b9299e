"""Plant every fault the gate must catch; prove the stage meant to catch it goes red.

One copy carries all faults that do not stop the build, and one gate run checks
them together (each stage is judged on its own evidence); faults that break the
build or need a different audit service get their own short runs. The unmodified
repository passing offline (OSV stub, workflow-lint skipped) is proven here too, so a
stage that is red on a clean copy cannot pass for catching its planted fault.
"""

from __future__ import annotations

from pathlib import Path

import faults
import pytest
from gatecopy import GateRun, copy_repo, run_gate
from osv_stub import running_osv_stub

pytestmark = pytest.mark.selftest

#: stage -> (planting function, a text that must appear in that stage's log)
PLANTED = {
    "unit-tests": faults.failing_unit_test,
    "security-tests": faults.failing_security_test,
    "diagnostics-tests": faults.failing_diagnostics_test,
    "fuzz-tests": faults.broken_fuzz_property,
    "migration-tests": faults.failing_migration_test,
    "migration-smoke": faults.checksum_ignores_content,
    "doctor": faults.unsafe_production_setting,
    "docs-build": faults.broken_docs_link,
    "static-analysis": faults.bandit_high_finding,
    "secret-scan": faults.cloud_key,
    "twine-check": faults.readme_twine_rejects,
    "wheel-import": faults.wheel_missing_module,
    "sbom": faults.sbom_before_install,
}


@pytest.fixture(scope="module")
def many_faults(selftest_root: Path) -> tuple[GateRun, dict]:
    copy = copy_repo(selftest_root / "many")
    markers = {stage: plant(copy) for stage, plant in PLANTED.items()}
    with running_osv_stub() as osv:  # its own stub: no other test's plant leaks in
        osv.vulnerable["sqlparse"] = "99.0"
        run = run_gate(copy, "--skip", "workflow-lint", "--osv-url", osv.url)
    return run, markers


@pytest.mark.parametrize("stage", [*PLANTED, "dependency-audit"])
def test_planted_fault_turns_its_stage_red(many_faults, stage: str) -> None:
    run, markers = many_faults
    assert run.code == 1, run.output[-2000:]
    assert run.summary["verdict"] == "fail"
    result = run.stage(stage)
    assert result["status"] == "failed", (stage, result)
    log = run.log(stage) + "\n".join(
        p.read_text(errors="replace")
        for p in (run.evidence / "stages" / stage).iterdir()
        if p.suffix in (".json", ".sarif", ".txt")
    )
    if stage == "doctor":
        import json

        report = json.loads((run.evidence / "stages" / "doctor" / "doctor.json").read_text())
        check = next(c for c in report["checks"] if c["id"] == markers[stage])
        assert check["status"] == "fail", check
        return
    if stage == "static-analysis" and (result["failed_step"] or "").startswith("step 1/"):
        pytest.fail("static-analysis failed at ruff, before bandit ran: the repository itself "
                    f"must be ruff-clean for this fault to be judged ({result['reason']})")
    marker = markers.get(stage, "PYSEC-2026")  # the stub's advisory id
    assert marker in log, f"{stage} failed, but not because of the planted fault ({marker})"


def test_broken_pyproject_fails_the_build(selftest_root: Path) -> None:
    copy = copy_repo(selftest_root / "pyproject")
    faults.broken_pyproject(copy)
    run = run_gate(copy, "--only", "package-build,twine-check")
    assert run.code == 1
    assert run.stage("package-build")["status"] == "failed"
    assert "needs package-build" in run.stage("twine-check")["reason"]


def test_unauditable_dependency_fails_the_audit(selftest_root: Path, osv_stub) -> None:
    osv_stub.broken.add("typing-extensions")
    copy = copy_repo(selftest_root / "audit")
    only = "package-build,dependency-audit"
    run = run_gate(copy, "--only", only, "--osv-url", osv_stub.url)
    assert run.code == 1
    assert run.stage("package-build")["status"] == "passed"
    assert run.stage("dependency-audit")["status"] == "failed"
    assert "typing-extensions" in run.log("dependency-audit")


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
