"""The verdict helpers' refusals: bad input is one line on stderr and exit 2 (never a
traceback, never a pass), and a real problem is exit 1.

Most cases call ``aksara_release.tools.main`` in-process (the same code the stages run
as ``python -m aksara_release.tools``). ``sbom-verify`` needs cyclonedx-python-lib,
which the dev environment does not have: it runs with the real library from the pinned
tool environment (``tool_bin``) on the path, and in-process without it, where its
refusal to run is itself the behaviour under test.
"""

from __future__ import annotations

import importlib.util
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


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = gate_tools.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _usage(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run ``argv``; it must be a one-line usage error (exit 2); return that line."""
    code, _, err = _run(capsys, *argv)
    assert code == gate_tools.USAGE, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("aksara_release.tools: error: "), err
    return err.strip().removeprefix("aksara_release.tools: error: ")


def _migrations(tmp_path: Path) -> Path:
    d = tmp_path / "migrations"
    d.mkdir()
    (d / "0001_first.sql").write_text("CREATE TABLE a (id int);\n")
    return d


# ----------------------------------------------------------------- reading JSON input
def test_json_input_that_is_missing_or_unreadable_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = _migrations(tmp_path)
    missing = tmp_path / "none.json"
    assert _usage(capsys, "smoke-verify", str(missing), str(d)) == f"{missing}: no such file"
    assert _usage(capsys, "smoke-verify", str(d), str(d)) == (
        f"{d}: cannot read (IsADirectoryError)")
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe{}")
    assert _usage(capsys, "smoke-verify", str(binary), str(d)) == (
        f"{binary}: cannot read (UnicodeDecodeError)")


# ----------------------------------------------------------------- expect-exit
def test_expect_exit_without_a_command_or_with_a_bad_pattern_is_a_usage_error(
    capsys: pytest.CaptureFixture[str]
) -> None:
    assert _usage(capsys, "expect-exit", "0") == "expect-exit needs a command after --"
    assert _usage(capsys, "expect-exit", "0", "--") == "expect-exit needs a command after --"
    message = _usage(capsys, "expect-exit", "--match", "(", "0", "--", sys.executable, "-c", "")
    assert message.startswith("--match: not a regular expression")


def test_expect_exit_drops_one_leading_separator_argparse_left(
    capsys: pytest.CaptureFixture[str]
) -> None:
    """Whether argparse keeps a ``--`` in REMAINDER differs between Python versions."""
    code, _, err = _run(capsys, "expect-exit", "3", "--", "--", sys.executable, "-c",
                        "raise SystemExit(3)")
    assert code == 0 and "exited 3 as expected" in err


def test_expect_exit_match_fails_when_the_code_is_right_but_the_output_is_not(
    capsys: pytest.CaptureFixture[str]
) -> None:
    script = "import sys; print('boom'); sys.exit(4)"
    code, out, err = _run(capsys, "expect-exit", "--match", "checksum", "4", "--",
                          sys.executable, "-c", script)
    assert code == gate_tools.CHECK_FAILED and out == "boom\n"
    assert "exited 4 but its output does not match 'checksum'" in err


# ----------------------------------------------------------------- smoke-verify / tamper
def test_smoke_verify_refuses_what_is_not_a_status_report_or_has_no_migrations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = _migrations(tmp_path)
    report = tmp_path / "s.json"
    for document in ([], {"status": "clean"}, {"migrations": {}}):
        report.write_text(json.dumps(document))
        assert _usage(capsys, "smoke-verify", str(report), str(d)) == (
            f"{report}: not an aksara status document")
    report.write_text(json.dumps({"status": "clean", "migrations": []}))
    assert _usage(capsys, "smoke-verify", str(report), str(tmp_path / "nope")) == (
        f"{tmp_path / 'nope'}: not a directory")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.md").write_text("not a migration")
    assert _usage(capsys, "smoke-verify", str(report), str(empty)) == (
        f"{empty}: no migration files")


def test_tamper_refuses_a_missing_directory_or_no_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nope = tmp_path / "nope"
    assert _usage(capsys, "tamper", str(nope)) == f"{nope}: not a directory"
    assert _usage(capsys, "tamper", str(nope), "--pattern", "*.py") == f"{nope}: not a directory"
    d = _migrations(tmp_path)
    (d / "_private.py").write_text("x = 1\n")
    assert _usage(capsys, "tamper", str(d), "--pattern", "*.py") == f"{d}: no migration files"
    assert (d / "_private.py").read_text() == "x = 1\n"  # untouched


def test_tamper_separates_the_comment_from_a_last_line_without_newline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "m"
    d.mkdir()
    (d / "0001_a.sql").write_bytes(b"SELECT 1;")
    code, _, _ = _run(capsys, "tamper", str(d))
    assert code == 0
    assert (d / "0001_a.sql").read_bytes() == b"SELECT 1;\n" + gate_tools.TAMPER_LINE.encode()


# ----------------------------------------------------------------- expect-applied
def test_expect_applied_bad_input_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = _migrations(tmp_path)
    status = tmp_path / "status.txt"
    status.write_text("0001_first  applied\n")
    assert _usage(capsys, "expect-applied", str(tmp_path / "none.txt"), str(d),
                  "--pattern", "*.sql") == f"{tmp_path / 'none.txt'}: cannot read"
    assert _usage(capsys, "expect-applied", str(status), str(tmp_path / "nope"),
                  "--pattern", "*.sql") == f"{tmp_path / 'nope'}: not a directory"
    assert _usage(capsys, "expect-applied", str(status), str(d), "--pattern", "*.py") == (
        f"{d}: no migration files match '*.py'")
    code, out, _ = _run(capsys, "expect-applied", str(status), str(d), "--pattern", "*.sql")
    assert code == 0 and "1 migrations reported applied" in out


# ----------------------------------------------------------------- write-files
def test_write_files_refuses_invalid_json_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out"
    assert _usage(capsys, "write-files", str(target), '{"a.sql": ') == (
        "write-files: not valid JSON (line 1)")
    assert _usage(capsys, "write-files", str(target), "[]") == (
        "write-files: expected a non-empty JSON object of name -> text")
    assert not target.exists()


# ----------------------------------------------------------------- audit-verdict
def test_audit_verdict_reads_requirements_like_pip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("# pinned\n\n--only-binary :all:\nPsycopg[binary]==3.3.9  # driver\n")
    report = tmp_path / "audit.json"
    report.write_text(json.dumps({"dependencies": [
        {"name": "psycopg", "version": "3.3.9", "vulns": []}]}))
    code, out, _ = _run(capsys, "audit-verdict", str(report), str(req))
    assert code == 0 and "1 dependencies audited" in out

    report.write_text(json.dumps({"dependencies": [{"name": "psycopg", "version": "3.3.9",
                                                    "vulns": [{"id": "GHSA-x"}]}]}))
    code, _, err = _run(capsys, "audit-verdict", str(report), str(req))
    assert code == 1 and "psycopg==3.3.9 is vulnerable: GHSA-x (fixed in none)" in err


def test_audit_verdict_bad_input_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("psycopg>=3\n")
    report = tmp_path / "audit.json"
    report.write_text(json.dumps({"dependencies": []}))
    assert _usage(capsys, "audit-verdict", str(report), str(req)) == (
        f"{req}: 'psycopg>=3' is not pinned with ==")
    assert _usage(capsys, "audit-verdict", str(report), str(tmp_path / "none.txt")) == (
        f"{tmp_path / 'none.txt'}: cannot read")
    for document in ([], {"dependencies": {}}):
        report.write_text(json.dumps(document))
        assert _usage(capsys, "audit-verdict", str(report), str(req)) == (
            f"{report}: not a pip-audit JSON report")


# ----------------------------------------------------------------- secrets-verdict
def test_secrets_verdict_bad_report_or_baseline_is_a_usage_error_and_writes_no_sarif(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report, baseline, sarif = tmp_path / "ds.json", tmp_path / "base.json", tmp_path / "s.sarif"
    report.write_text(json.dumps({"results": []}))
    assert _usage(capsys, "secrets-verdict", str(report), "--sarif", str(sarif)) == (
        f"{report}: not a detect-secrets JSON report")
    finding = {"type": "Secret Keyword", "hashed_secret": "ab", "line_number": 3}
    report.write_text(json.dumps({"results": {"a.py": [finding]}}))
    baseline.write_text(json.dumps({"results": []}))
    assert _usage(capsys, "secrets-verdict", str(report), "--sarif", str(sarif),
                  "--baseline", str(baseline)) == f"{baseline}: not a detect-secrets baseline"
    assert not sarif.exists()
    code, _, err = _run(capsys, "secrets-verdict", str(report), "--sarif", str(sarif))
    assert code == 1 and err.strip().endswith("a.py:3: secret-keyword")


# ----------------------------------------------------------------- run-tool
def test_run_tool_takes_the_command_with_or_without_a_separator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, sep in (("plain", ()), ("separated", ("--",))):
        code, _, err = _run(capsys, "run-tool", "--name", name, "--judge", "exit", "--out",
                            str(tmp_path), *sep, sys.executable, "-c", "raise SystemExit(3)")
        assert code == 0, err  # the verdict step fails the stage, not run-tool
        record = json.loads((tmp_path / "checks" / f"{name}.json").read_text())
        assert record["ran"] is True and record["exit_code"] == 3
        assert record["status"] == "failed"


def test_verdict_fails_a_stage_whose_expected_check_never_ran(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = _run(capsys, "run-tool", "--name", "ruff", "--judge", "exit", "--out",
                      str(tmp_path), sys.executable, "-c", "pass")
    assert code == 0
    code, _, err = _run(capsys, "verdict", str(tmp_path), "--expect", "ruff")
    assert code == 0 and "1 checks passed" in err
    code, _, err = _run(capsys, "verdict", str(tmp_path), "--expect", "ruff", "--expect", "mypy")
    assert code == 1 and "mypy: did not run (no check record)" in err
    assert json.loads((tmp_path / "verdict.json").read_text())["passed"] is False


# ----------------------------------------------------------------- sbom-verify
def _wheel(tmp_path: Path, requires: list[str], name: str = "demo-1.0-py3-none-any.whl") -> Path:
    path = tmp_path / name
    meta = "Metadata-Version: 2.4\nName: demo\nVersion: 1.0\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("demo-1.0.dist-info/METADATA", meta)
    return path


def _bom(spec: str = "1.6", components: tuple[str, ...] | list[str] = ()) -> str:
    return json.dumps({
        "bomFormat": "CycloneDX", "specVersion": spec, "version": 1,
        "components": [{"type": "library", "name": n, "bom-ref": n} for n in components],
    })


@pytest.mark.skipif(importlib.util.find_spec("cyclonedx") is not None,
                    reason="cyclonedx-python-lib is installed here")
def test_sbom_verify_without_its_library_says_what_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sbom = tmp_path / "sbom.json"
    sbom.write_text(_bom())
    assert _usage(capsys, "sbom-verify", str(sbom), "--wheel", str(_wheel(tmp_path, []))) == (
        "sbom-verify needs cyclonedx installed")


def _sbom_verify(tool_bin: Path, sbom: Path, wheel: Path) -> subprocess.CompletedProcess[str]:
    """This interpreter (so coverage sees it) with the tool environment's libraries."""
    site = next((tool_bin.parent / "lib").glob("python*/site-packages"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(CI_SRC), str(site)))}
    return subprocess.run([sys.executable, "-m", "aksara_release.tools", "sbom-verify",
                           str(sbom), "--wheel", str(wheel)],
                          capture_output=True, text=True, env=env, check=False)


@pytest.mark.selftest
def test_sbom_verify_refusals_with_real_cyclonedx(tool_bin: Path, tmp_path: Path) -> None:
    sbom = tmp_path / "sbom.json"
    wheel = _wheel(tmp_path, ["requests>=2", "idna; python_version >= '3'",
                              "extra-only; extra == 'cli'"])

    def usage(expected: str) -> None:
        proc = _sbom_verify(tool_bin, sbom, wheel)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr == f"aksara_release.tools: error: {expected}\n"

    sbom.write_text(_bom(components=["requests", "idna"]))
    ok = _sbom_verify(tool_bin, sbom, wheel)
    assert ok.returncode == 0, ok.stderr
    assert "2 components, all 2 runtime dependencies present" in ok.stdout

    sbom.write_text(_bom(components=["requests"]))
    missing = _sbom_verify(tool_bin, sbom, wheel)
    assert missing.returncode == 1
    assert missing.stderr == ("aksara_release.tools: sbom-verify: runtime dependency idna "
                              "is not a component\n")

    data = json.loads(_bom(components=["requests", "idna"]))
    data["components"][0]["type"] = "no-such-type"
    sbom.write_text(json.dumps(data))
    invalid = _sbom_verify(tool_bin, sbom, wheel)
    assert invalid.returncode == 1 and "Traceback" not in invalid.stderr
    assert invalid.stderr.startswith(
        "aksara_release.tools: sbom-verify: not valid CycloneDX 1.6 JSON: ")
    assert invalid.stderr.count("\n") == 1  # present components still count: one problem

    sbom.write_text(_bom(spec="9.9"))
    usage(f"{sbom}: unsupported CycloneDX specVersion '9.9'")
    sbom.write_text("[]")
    usage(f"{sbom}: unsupported CycloneDX specVersion ''")
    sbom.write_text("{")
    usage(f"{sbom}: not valid JSON (line 1)")
    sbom.unlink()
    usage(f"{sbom}: cannot read")

    sbom.write_text(_bom(components=["requests", "idna"]))
    wheel = tmp_path / "not-a-wheel.whl"
    wheel.write_text("plain text")
    usage(f"{wheel}: not a readable wheel")
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("demo/__init__.py", "")
    usage(f"{wheel}: not a readable wheel")
    wheel = _wheel(tmp_path, ["requests >>> 2"], name="bad-1.0-py3-none-any.whl")
    usage(f"{wheel}: invalid Requires-Dist 'requests >>> 2'")
