"""The judges and ``run-tool`` / ``verdict`` against the real tools' output.

Each tool runs at its gate pin (the ``tool_bin`` venv) on a tiny tree with and
without a planted fault: a finding must fail the tool even when the tool exits 0
(zizmor's SARIF mode), and a tool that examined nothing must fail too (bandit on a
missing directory, pytest on an empty suite, an audit of zero dependencies, an SBOM
missing a transitive dependency). Marked ``selftest``: it installs the tools.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CI_SRC = REPO / "ci" / "src"
pytestmark = pytest.mark.selftest


def run_tool(tool_bin: Path, out: Path, *args: str, cwd: Path | None = None
             ) -> dict[str, Any]:
    """``run-tool`` with the tools venv's python; returns the check record."""
    env = {**os.environ, "PYTHONPATH": str(CI_SRC),
           "PATH": f"{tool_bin}:{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(tool_bin / "python"), "-m", "aksara_release.tools", "run-tool",
                           "--out", str(out), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]  # run-tool records; verdict fails
    assert "Traceback" not in proc.stderr
    name = args[args.index("--name") + 1]
    return json.loads((out / "checks" / f"{name}.json").read_text())


def verdict(out: Path, *expect: str) -> tuple[int, dict[str, Any], str]:
    args = [a for name in expect for a in ("--expect", name)]
    proc = subprocess.run([sys.executable, "-m", "aksara_release.tools", "verdict", str(out),
                           *args], env={**os.environ, "PYTHONPATH": str(CI_SRC)},
                          capture_output=True, text=True, check=False)
    return proc.returncode, json.loads((out / "verdict.json").read_text()), proc.stderr


# ----------------------------------------------------------------------------- ruff
def test_ruff_finding_fails_with_rule_and_location(tool_bin: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "clean.py").write_text("VALUE = 1\n")
    sarif = tmp_path / "ruff.sarif"
    args = ("--name", "ruff", "--judge", "sarif", "--report", str(sarif), "--root", str(tree),
            "--list-files", "ruff check --isolated --show-files .", "--",
            "ruff", "check", "--isolated", "--output-format", "sarif", "--output-file",
            str(sarif), ".")
    ok = run_tool(tool_bin, tmp_path / "out1", *args, cwd=tree)
    assert ok["status"] == "passed" and ok["counts"]["files"] == 1, ok

    (tree / "bad.py").write_text("import os\n")
    bad = run_tool(tool_bin, tmp_path / "out2", *args, cwd=tree)
    assert bad["status"] == "failed" and bad["exit_code"] == 1
    assert bad["counts"]["files"] == 2 and bad["findings"] == 1
    assert bad["reason"].startswith("ruff: F401 bad.py:1: "), bad["reason"]


# ----------------------------------------------------------------------------- bandit
def _bandit(tool_bin: Path, out: Path, target: str, cwd: Path) -> dict[str, Any]:
    sarif = out / "bandit.sarif"
    return run_tool(tool_bin, out, "--name", "bandit", "--judge", "sarif",
                    "--report", str(sarif), "--", "bandit", "-r", target, "-ll", "-ii",
                    "-f", "sarif", "-o", str(sarif), cwd=cwd)


def test_bandit_finding_silenced_for_ruff_still_fails(tool_bin: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "src").mkdir(parents=True)
    (tree / "src" / "ok.py").write_text("VALUE = 1\n")
    assert _bandit(tool_bin, tmp_path / "o1", "src", tree)["status"] == "passed"
    (tree / "src" / "shell.py").write_text(
        "import subprocess\n\n\ndef run(c: str) -> int:\n"
        "    return subprocess.call(c, shell=True)  # noqa: S602\n")
    bad = _bandit(tool_bin, tmp_path / "o2", "src", tree)
    assert bad["status"] == "failed" and bad["counts"]["files"] == 2
    assert bad["reason"].startswith("bandit: B602 src/shell.py:5: "), bad["reason"]


def test_bandit_on_a_missing_directory_fails(tool_bin: Path, tmp_path: Path) -> None:
    record = _bandit(tool_bin, tmp_path / "o", "no-such-src", tmp_path)
    assert record["exit_code"] == 0  # what bandit itself says: nothing wrong
    assert record["status"] == "error"
    assert "No such file or directory" in record["reason"], record["reason"]


# ----------------------------------------------------------------------------- zizmor
WORKFLOW = """name: ci
on: push
permissions: {}
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo "%s"
"""


def _zizmor(tool_bin: Path, out: Path, tree: Path) -> dict[str, Any]:
    return run_tool(tool_bin, out, "--name", "zizmor", "--judge", "sarif",
                    "--report", str(out / "zizmor.sarif"), "--stdout", str(out / "zizmor.sarif"),
                    "--examined-pattern", r"completed (\S+)", "--",
                    "zizmor", "--offline", "--format", "sarif", ".github/workflows", cwd=tree)


def test_zizmor_template_injection_fails_though_zizmor_exits_0(tool_bin: Path,
                                                               tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / ".github" / "workflows").mkdir(parents=True)
    wf = tree / ".github" / "workflows" / "ci.yml"
    wf.write_text(WORKFLOW % "hello")
    ok = _zizmor(tool_bin, tmp_path / "o1", tree)
    assert ok["status"] == "passed" and ok["counts"]["files"] == 1, ok
    wf.write_text(WORKFLOW.replace("on: push", "on: issue_comment")
                  % "${{ github.event.comment.body }}")
    bad = _zizmor(tool_bin, tmp_path / "o2", tree)
    assert bad["exit_code"] == 0 and bad["status"] == "failed"
    assert "zizmor/template-injection .github/workflows/ci.yml:8" in bad["reason"] or (
        "zizmor/template-injection" in json.dumps(bad["first_findings"])), bad


# ----------------------------------------------------------------------------- mypy
def test_mypy_error_and_files_checked(tool_bin: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "ok.py").write_text("VALUE: int = 1\n")
    args = ("--name", "mypy", "--judge", "mypy", "--report", str(tmp_path / "mypy.txt"),
            "--stdout", str(tmp_path / "mypy.txt"), "--", "mypy", "--no-incremental", ".")
    ok = run_tool(tool_bin, tmp_path / "o1", *args, cwd=tree)
    assert ok["status"] == "passed" and ok["counts"]["files"] == 1
    (tree / "bad.py").write_text("def f() -> int:\n    return 'x'\n")
    bad = run_tool(tool_bin, tmp_path / "o2", *args, cwd=tree)
    assert bad["status"] == "failed" and bad["counts"]["files"] == 2
    assert bad["reason"].startswith("mypy: return-value bad.py:2: Incompatible return value")


# ----------------------------------------------------------------------------- pytest
def _pytest(tool_bin: Path, out: Path, tree: Path, minimum: int) -> dict[str, Any]:
    junit = out / "junit.xml"
    return run_tool(tool_bin, out, "--name", "pytest", "--judge", "junit", "--report",
                    str(junit), "--min", str(minimum), "--", str(tool_bin / "python"), "-m",
                    "pytest", "-p", "no:cacheprovider", f"--junitxml={junit}",
                    "-o", "junit_family=xunit2", "tests", cwd=tree)


def test_pytest_counts_failures_and_the_minimum(tool_bin: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "tests").mkdir(parents=True)
    (tree / "tests" / "test_a.py").write_text(
        "import pytest\n\ndef test_one():\n    pass\n\n"
        "@pytest.mark.skip(reason='x')\ndef test_skipped():\n    pass\n")
    ok = _pytest(tool_bin, tmp_path / "o1", tree, 1)
    assert ok["status"] == "passed"
    assert ok["counts"]["tests_collected"] == 2 and ok["counts"]["tests_run"] == 1
    short = _pytest(tool_bin, tmp_path / "o2", tree, 2)
    assert short["status"] == "error" and "examined 1 tests run (minimum 2)" in short["reason"]
    (tree / "tests" / "test_b.py").write_text("def test_planted():\n    assert 1 == 2\n")
    bad = _pytest(tool_bin, tmp_path / "o3", tree, 1)
    assert bad["status"] == "failed"
    assert bad["reason"].startswith("pytest: failure tests/test_b.py::test_planted: "), bad


def test_empty_test_suite_fails(tool_bin: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "tests").mkdir(parents=True)
    record = _pytest(tool_bin, tmp_path / "o", tree, 1)
    assert record["exit_code"] == 5 and record["status"] == "error"
    assert "examined 0 tests run" in record["reason"], record["reason"]


# ----------------------------------------------------------------------------- environments
def _wheel(dist: Path, name: str, requires: list[str]) -> None:
    """A minimal, installable pure-Python wheel (no network, no build backend)."""
    tag = f"{name.replace('-', '_')}-1.0"
    files = {
        f"{name.replace('-', '_')}.py": "VALUE = 1\n",
        f"{tag}.dist-info/METADATA": "Metadata-Version: 2.1\nName: " + name
        + "\nVersion: 1.0\n" + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{tag}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = "".join(f"{n},,\n" for n in files) + f"{tag}.dist-info/RECORD,,\n"
    with zipfile.ZipFile(dist / f"{tag}-py3-none-any.whl", "w") as archive:
        for n, text in files.items():
            archive.writestr(n, text)
        archive.writestr(f"{tag}.dist-info/RECORD", record)


@pytest.fixture()
def target(tmp_path: Path) -> tuple[Path, Path]:
    """A package with a direct (demo-mid) and a transitive (demo-leaf) dependency."""
    dist = tmp_path / "dist"
    dist.mkdir()
    _wheel(dist, "demo-app", ["demo-mid>=1", "never-installed; extra == 'x'"])
    _wheel(dist, "demo-mid", ["demo-leaf"])
    _wheel(dist, "demo-leaf", [])
    return dist, tmp_path / "target"


def _install(dist: Path, venv: Path, *extra: str) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--no-index", "--find-links", str(dist), *extra, "demo-app"], check=True)
    return py


def _audit(tool_bin: Path, out: Path, py: Path, url: str) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    req = out / "requirements.txt"
    req.write_text(subprocess.run([str(py), "-m", "pip", "freeze", "--exclude", "demo-app"],
                                  capture_output=True, text=True, check=True).stdout)
    report = out / "pip-audit.json"
    return run_tool(tool_bin, out, "--name", "pip-audit", "--judge", "pip-audit",
                    "--report", str(report), "--target-python", str(py),
                    "--package", "demo-app", "--ok-exit", "0", "--ok-exit", "1", "--",
                    str(tool_bin / "pip-audit"), "--requirement", str(req), "--no-deps",
                    "--disable-pip", "--progress-spinner", "off", "--vulnerability-service",
                    "osv", "--osv-url", url, "--format", "json", "--output", str(report))


def test_pip_audit_counts_and_advisories(tool_bin: Path, target, osv_stub, tmp_path) -> None:
    dist, venv = target
    py = _install(dist, venv)
    ok = _audit(tool_bin, tmp_path / "o1", py, osv_stub.url)
    assert ok["status"] == "passed", ok
    assert ok["counts"]["dependencies_audited"] == ok["counts"]["dependencies_installed"] == 2
    osv_stub.vulnerable["demo-leaf"] = "2.0"
    bad = _audit(tool_bin, tmp_path / "o2", py, osv_stub.url)
    assert bad["status"] == "failed"
    assert bad["reason"].startswith("pip-audit: PYSEC-2026-"), bad["reason"]
    assert "demo-leaf==1.0: known vulnerability (fixed in 2.0)" in bad["reason"]


def test_audit_of_zero_dependencies_fails(tool_bin: Path, target, osv_stub, tmp_path) -> None:
    dist, venv = target
    py = _install(dist, venv, "--no-deps")  # the fault: dependencies left out
    record = _audit(tool_bin, tmp_path / "o", py, osv_stub.url)
    assert record["status"] == "error"
    assert record["counts"]["dependencies_audited"] == 0
    assert "requirement demo-mid (required by demo-app) is not installed" in record["reason"]


def test_sbom_must_cover_transitive_dependencies(tool_bin: Path, target, tmp_path) -> None:
    dist, venv = target
    py = _install(dist, venv)
    sbom = tmp_path / "sbom.cdx.json"
    args = ("--name", "cyclonedx", "--judge", "cyclonedx", "--report", str(sbom),
            "--target-python", str(py), "--package", "demo-app", "--",
            str(tool_bin / "cyclonedx-py"), "environment", "--output-reproducible",
            "--output-format", "JSON", "--output-file", str(sbom), str(py))
    ok = run_tool(tool_bin, tmp_path / "o1", *args)
    assert ok["status"] == "passed", ok
    assert ok["counts"]["components"] >= 4  # demo-app, demo-mid, demo-leaf, pip
    doc = json.loads(sbom.read_text())
    doc["components"] = [c for c in doc["components"] if c["name"] != "demo-leaf"]
    out = tmp_path / "o2"
    strip = ("--name", "cyclonedx", "--judge", "cyclonedx", "--report", str(sbom),
             "--target-python", str(py), "--package", "demo-app", "--", sys.executable, "-c",
             f"open({str(sbom)!r}, 'w').write({json.dumps(doc)!r})")
    bad = run_tool(tool_bin, out, *strip)
    assert bad["status"] == "failed"
    assert bad["reason"] == ("cyclonedx: missing-component demo-leaf==1.0: installed in the "
                             "target environment but not in the SBOM"), bad["reason"]


# ----------------------------------------------------------------------------- verdict
def test_verdict_runs_every_tool_and_names_the_first_failure(tool_bin: Path,
                                                             tmp_path: Path) -> None:
    out = tmp_path / "out"
    py = sys.executable
    run_tool(tool_bin, out, "--name", "first", "--judge", "exit", "--", py, "-c",
             "import sys; print('error: planted first'); sys.exit(3)")
    run_tool(tool_bin, out, "--name", "second", "--judge", "exit", "--", py, "-c", "pass")
    run_tool(tool_bin, out, "--name", "third", "--judge", "exit", "--", "no-such-tool-xyz")
    code, data, stderr = verdict(out, "first", "second", "third", "fourth")
    assert code == 1
    assert data["reason"] == ("first exited 3: error: planted first; also failed: third, "
                              "fourth")
    assert [c["status"] for c in data["checks"]] == ["failed", "passed", "error"]
    assert data["reason"] in stderr
    import jsonschema
    from aksara_release import evidence

    schema = json.loads(evidence.SCHEMA_FILE.read_text())
    jsonschema.validate(data, {"$defs": schema["$defs"], "$ref": "#/$defs/verdict"})


def test_verdict_without_records_fails(tmp_path: Path) -> None:
    code, data, _ = verdict(tmp_path)
    assert code == 1 and data["reason"] == "no tool ran (no check records)"
