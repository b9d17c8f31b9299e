"""The gate's verdict helpers (``python -m aksara_release.tools``), with the real tools.

detect-secrets, pip-audit and the CycloneDX tools are installed, at their pinned
versions, into one virtual environment per session (kept under ``.gate/`` and reused
while the pins are unchanged): each helper is fed what the real tool produced. Those
tests are marked ``selftest`` (the slow tier that ``python3 ci/gate.py test`` and
``.ci/run`` run): installing the tools would double the gate's own unit-test stage,
and the gate exercises the same tools on every run anyway.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from aksara_release import tools as gate_tools

REPO = Path(__file__).resolve().parents[2]
CI_SRC = REPO / "ci" / "src"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(CI_SRC)
    return env


def run_tool(*args: str, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    return subprocess.run([python, "-m", "aksara_release.tools", *args], capture_output=True,
                          text=True, env=_env(), check=False)


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


# ----------------------------------------------------------------- expect-exit
def test_expect_exit_passes_stdout_through_and_demands_the_code() -> None:
    code = "print('doc'); raise SystemExit(5)"
    ok = run_tool("expect-exit", "5", "--", sys.executable, "-c", code)
    assert ok.returncode == 0 and ok.stdout == "doc\n"
    zero = run_tool("expect-exit", "5", "--", sys.executable, "-c", "pass")
    assert zero.returncode == 1 and "exited 0, expected 5" in zero.stderr
    _one_line_error(run_tool("expect-exit", "5", "--", "no-such-command-xyz"))


# ----------------------------------------------------------------- smoke-verify / tamper
def _checksum(data: bytes) -> str:
    return hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()


def _migrations(tmp_path: Path) -> Path:
    d = tmp_path / "migrations"
    d.mkdir()
    (d / "9_first.sql").write_bytes(b"CREATE TABLE a (id int);\r\n")
    (d / "10_second.sql").write_bytes(b"CREATE TABLE b (id int);\n")
    return d


def _status(d: Path, **over: object) -> dict:
    migrations = []
    for path in sorted(d.iterdir()):
        digest = _checksum(path.read_bytes())
        migrations.append({"version": int(path.name.split("_")[0]), "file": path.name,
                           "state": "applied", "checksum": digest, "recorded_checksum": digest})
    return {"status": "clean", "migrations": migrations, **over}


def test_smoke_verify_accepts_a_clean_matching_report(tmp_path: Path) -> None:
    d = _migrations(tmp_path)
    report = tmp_path / "s.json"
    report.write_text(json.dumps(_status(d)))
    assert run_tool("smoke-verify", str(report), str(d)).returncode == 0


@pytest.mark.parametrize("fault", ["pending", "drift", "missing", "wrong-checksum"])
def test_smoke_verify_rejects(tmp_path: Path, fault: str) -> None:
    d = _migrations(tmp_path)
    status = _status(d)
    if fault == "pending":
        status["status"] = "pending"
        status["migrations"][0].update(state="pending", recorded_checksum=None)
    elif fault == "drift":
        status["migrations"][1]["recorded_checksum"] = "0" * 64
    elif fault == "missing":
        status["migrations"].pop()
    else:
        for m in status["migrations"]:
            m["checksum"] = m["recorded_checksum"] = "f" * 64
    report = tmp_path / "s.json"
    report.write_text(json.dumps(status))
    assert run_tool("smoke-verify", str(report), str(d)).returncode == 1


def test_smoke_verify_bad_input_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    _one_line_error(run_tool("smoke-verify", str(bad), str(_migrations(tmp_path))))


def test_tamper_edits_the_lowest_version(tmp_path: Path) -> None:
    d = _migrations(tmp_path)
    before = (d / "9_first.sql").read_bytes()
    assert run_tool("tamper", str(d)).returncode == 0
    after = (d / "9_first.sql").read_bytes()
    assert after.startswith(before) and after.endswith(gate_tools.TAMPER_LINE.encode())
    assert (d / "10_second.sql").read_bytes() == b"CREATE TABLE b (id int);\n"


# ----------------------------------------------------------------- audit-verdict
def _pip_audit(tool_bin: Path, req: Path, out: Path, url: str) -> int:
    proc = subprocess.run(
        [str(tool_bin / "pip-audit"), "--requirement", str(req), "--no-deps", "--disable-pip",
         "--progress-spinner", "off", "--vulnerability-service", "osv", "--osv-url", url,
         "--format", "json", "--output", str(out)],
        capture_output=True, text=True, check=False,
    )
    return proc.returncode


@pytest.mark.selftest
def test_audit_verdict_with_real_pip_audit(tool_bin: Path, osv_stub, tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("sqlparse==0.6.1\ntyping_extensions==4.16.0\n")
    out = tmp_path / "audit.json"
    assert _pip_audit(tool_bin, req, out, osv_stub.url) == 0
    assert set(osv_stub.queries) == {"sqlparse", "typing-extensions"}
    assert run_tool("audit-verdict", str(out), str(req)).returncode == 0

    osv_stub.vulnerable["sqlparse"] = "99.0"
    assert _pip_audit(tool_bin, req, out, osv_stub.url) == 1  # pip-audit itself fails too
    proc = run_tool("audit-verdict", str(out), str(req))
    assert proc.returncode == 1 and "sqlparse==0.6.1 is vulnerable" in proc.stderr


def test_audit_verdict_fails_on_unaudited_and_missing(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("psycopg==3.3.9\nsqlparse==0.6.1\n")
    # the shape pip-audit 2.10 writes when the vulnerability service cannot be reached
    report = {"dependencies": [{"name": "psycopg", "skip_reason":
              "Dependency not found on PyPI and could not be audited: psycopg (3.3.9)"}],
              "fixes": []}
    out = tmp_path / "audit.json"
    out.write_text(json.dumps(report))
    proc = run_tool("audit-verdict", str(out), str(req))
    assert proc.returncode == 1
    assert "psycopg could not be audited" in proc.stderr
    assert "sqlparse==0.6.1 is missing from the audit report" in proc.stderr


# ----------------------------------------------------------------- secrets-verdict
def _scan(tool_bin: Path, tree: Path, out: Path) -> None:
    with out.open("w") as handle:
        subprocess.run([str(tool_bin / "detect-secrets"), "scan", "--all-files", "."], cwd=tree,
                       stdout=handle, check=True)


@pytest.mark.selftest
def test_secrets_verdict_with_real_detect_secrets(tool_bin: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "clean.py").write_text("VALUE = 1\n")
    report, sarif = tmp_path / "ds.json", tmp_path / "s.sarif"
    _scan(tool_bin, tree, report)
    assert run_tool("secrets-verdict", str(report), "--sarif", str(sarif)).returncode == 0
    assert json.loads(sarif.read_text())["runs"][0]["results"] == []

    key = "AKIA" + "QWERTYUIOPASDFGH"  # assembled so this file holds no key-shaped literal
    (tree / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{key}"\n')
    _scan(tool_bin, tree, report)
    proc = run_tool("secrets-verdict", str(report), "--sarif", str(sarif))
    assert proc.returncode == 1 and "settings.py:1" in proc.stderr
    log = json.loads(sarif.read_text())
    assert log["version"] == "2.1.0"
    assert any(r["ruleId"] == "aws-access-key" for r in log["runs"][0]["results"])
    assert key not in sarif.read_text() and key not in proc.stderr


# ----------------------------------------------------------------- sbom-verify
def _wheel(tmp_path: Path, requires: list[str]) -> Path:
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    meta = "Metadata-Version: 2.4\nName: demo\nVersion: 1.0\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("demo-1.0.dist-info/METADATA", meta)
    return path


def _sbom(tool_bin: Path, env_dir: Path, out: Path) -> None:
    subprocess.run([str(tool_bin / "cyclonedx-py"), "environment", "--output-reproducible",
                    "--output-format", "JSON", "--output-file", str(out), str(env_dir)],
                   check=True, capture_output=True)


@pytest.mark.selftest
def test_sbom_verify_with_real_cyclonedx(tool_bin: Path, tmp_path: Path) -> None:
    target = tmp_path / "target"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
    sbom = tmp_path / "sbom.json"
    _sbom(tool_bin, tool_bin.parent, sbom)  # the tool venv: has pip-audit, requests, ...
    wheel = _wheel(tmp_path, ["requests>=2", "pip-audit", "nothing-here; extra == 'x'",
                              "winonly; sys_platform == 'win32'"])
    py = str(tool_bin / "python")
    ok = run_tool("sbom-verify", str(sbom), "--wheel", str(wheel), python=py)
    assert ok.returncode == 0, ok.stderr

    _sbom(tool_bin, target, sbom)  # an environment without the runtime dependencies
    proc = run_tool("sbom-verify", str(sbom), "--wheel", str(wheel), python=py)
    assert proc.returncode == 1
    assert "runtime dependency requests is not a component" in proc.stderr
    assert "nothing-here" not in proc.stderr and "winonly" not in proc.stderr

    data = json.loads(sbom.read_text())
    data["components"] = "not a list"
    sbom.write_text(json.dumps(data))
    broken = run_tool("sbom-verify", str(sbom), "--wheel", str(_wheel(tmp_path, [])), python=py)
    # components that are not a list: the document fails the schema, a check failure (1)
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    assert "not valid CycloneDX" in broken.stderr
