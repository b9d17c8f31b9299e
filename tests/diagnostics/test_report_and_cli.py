"""The doctor's outputs: JSON schema, exit codes, --strict, --skip, text rendering and
the developer ``aksara doctor`` view with provenance."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from aksara import __version__
from aksara.doctor.registry import CheckResult, Status
from aksara.doctor.report import Report
from aksara.exitcodes import ExitCode

LINE = re.compile(r"^\[(PASS|WARN|FAIL| N/A)\] [a-z_]+\.[a-z_]+: \S.*$")


def _result(status: Status, check_id: str = "x.y") -> CheckResult:
    return CheckResult(check_id, "title", status, "reason", "" if status is Status.PASS else "hint")


@pytest.mark.parametrize(
    ("statuses", "strict", "code"),
    [
        ([Status.PASS], False, 0),
        ([Status.PASS, Status.WARN, Status.NOT_EVALUATED], False, 0),
        ([Status.PASS, Status.WARN], True, 1),
        ([Status.PASS, Status.NOT_EVALUATED], True, 1),
        ([Status.PASS, Status.FAIL], False, 1),
        ([Status.FAIL, Status.NOT_EVALUATED], True, 1),
        ([], True, 0),
    ],
)
def test_exit_code_rule(statuses, strict, code, validate) -> None:
    report = Report("doctor production-check", [_result(s) for s in statuses], strict)
    assert int(report.exit_code) == code
    document = report.to_json()
    validate(document)
    assert document["exit_code"] == code
    assert document["status"] == ("pass" if code == 0 else "fail")
    assert sum(document["summary"].values()) == len(statuses)


DOCS = Path(__file__).resolve().parents[2] / "docs" / "doctor.md"


def _documented_exit_codes() -> set[int]:
    section = DOCS.read_text(encoding="utf-8").split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return {int(code) for code in re.findall(r"^\| `(\d+)` \|", section, re.MULTILINE)}


def test_the_cli_exits_with_exactly_the_documented_codes(run_cli, production_env) -> None:
    """Each documented code is produced by the real CLI in the situation the docs name."""
    assert _documented_exit_codes() == {0, 1, 2, 70}
    assert ExitCode.INTERNAL == 70  # the one code no scenario here may trigger on purpose
    skip_db = ("--skip", "database.tls", "--skip", "database.reachable")
    observed = {
        0: run_cli("doctor", "production-check", *skip_db, env=production_env).code,
        1: run_cli("doctor", "production-check", env=production_env).code,  # no database URL
        2: run_cli("doctor", "production-check", "--skip", "no.such", env=production_env).code,
    }
    assert observed == {0: 0, 1: 1, 2: 2}
    strict = run_cli("doctor", "production-check", "--strict", *skip_db, env=production_env)
    assert strict.code == 1  # not evaluated fails under --strict, as documented


def test_schema_rejects_documents_that_break_the_contract(validate) -> None:
    import jsonschema

    good = Report("doctor production-check", [_result(Status.PASS)], False).to_json()
    validate(good)
    for broken in (
        {**good, "status": "ok"},
        {**good, "exit_code": 1},  # status pass but exit 1
        {**good, "extra": True},
        {**good, "checks": [{**good["checks"][0], "status": "passed"}]},
        {**good, "checks": [{**good["checks"][0], "reason": "two\nlines"}]},
        {**good, "settings": []},  # only `doctor` has settings
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate(broken)


def test_production_check_json_is_valid_and_complete(run_cli, validate, production_env) -> None:
    result = run_cli("doctor", "production-check", "--format", "json", env=production_env)
    document = result.json()
    validate(document)
    assert document["command"] == "doctor production-check"
    assert document["aksara_version"] == __version__
    assert document["strict"] is False
    assert result.code == document["exit_code"] == 1  # no database URL
    assert [c["id"] for c in document["checks"] if c["status"] == "fail"] == [
        "database.tls", "database.reachable"]
    assert result.check("migrations.applied")["status"] == "not_evaluated"
    assert result.err == ""


def test_json_is_one_document_that_agrees_with_the_text_output(run_cli, production_env) -> None:
    env = {**production_env, "AKSARA_LOG_LEVEL": "CRITICAL"}  # one of each status
    as_json = run_cli("doctor", "production-check", "--format", "json", env=env)
    document, end = json.JSONDecoder().raw_decode(as_json.out)
    assert as_json.out[end:] == "\n"  # exactly one document, nothing after it
    as_text = run_cli("doctor", "production-check", env=env)
    labels = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "not_evaluated": " N/A"}
    rendered = [f"[{labels[c['status']]}] {c['id']}: {c['reason']}" for c in document["checks"]]
    text_lines = as_text.out.splitlines()[:-1]
    assert [line.split(" (fix: ")[0] for line in text_lines] == rendered
    counts = {status: [c["status"] for c in document["checks"]].count(status)
              for status in labels}
    assert document["summary"] == counts
    assert counts == {"pass": 6, "warn": 1, "fail": 2, "not_evaluated": 1}
    assert as_json.code == as_text.code == document["exit_code"] == 1


def test_text_output_is_one_line_per_check_then_a_summary(run_cli, production_env) -> None:
    result = run_cli("doctor", "production-check", env=production_env)
    lines = result.out.splitlines()
    assert len(lines) == 11
    for line in lines[:10]:
        assert LINE.match(line), line
    assert lines[7].startswith("[FAIL] database.tls: ")
    assert "(fix: " in lines[7]
    assert lines[-1] == ("doctor production-check: FAIL: 7 passed, 0 warning(s), 2 failed, "
                         "1 not evaluated; exit 1")


def test_skip_is_repeatable_and_never_passes(run_cli, production_env) -> None:
    result = run_cli("doctor", "production-check", "--format", "json",
                     "--skip", "database.tls", "--skip", "database.reachable", env=production_env)
    assert result.check("database.tls")["status"] == "not_evaluated"
    assert result.check("database.reachable")["status"] == "not_evaluated"
    assert result.code == 0
    assert result.json()["summary"] == {"pass": 7, "warn": 0, "fail": 0, "not_evaluated": 3}
    strict = run_cli("doctor", "production-check", "--strict", "--skip", "database.tls",
                     "--skip", "database.reachable", env=production_env)
    assert strict.code == 1 and "(strict)" in strict.out.splitlines()[-1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("doctor", "production-check", "--skip", "no.such"), "unknown check id"),
        (("doctor", "production-check", "--skip", "secret_key.strength; rm -rf /"),
         "unknown check id"),
        (("doctor", "--skip", "database.tls"), "unknown check id"),  # not a doctor check
        (("doctor", "production-check", "--connect-timeout", "0"), "at least 1 second"),
    ],
)
def test_usage_errors_exit_2_with_one_line(run_cli, argv, message) -> None:
    result = run_cli(*argv)
    assert result.code == 2
    assert result.out == ""
    assert result.err.count("\n") == 1 and message in result.err


@pytest.mark.parametrize("argv", [("doctor", "production-check", "--format", "yaml"),
                                  ("doctor", "production-check", "--bogus"),
                                  ("doctor", "production-check", "--connect-timeout", "soon")])
def test_argparse_errors_exit_2(run_cli, argv, capsys) -> None:
    with pytest.raises(SystemExit) as excinfo:
        run_cli(*argv)
    assert excinfo.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error:" in err


# -- aksara doctor (the developer view) -------------------------------------------------

def test_doctor_reports_provenance_of_every_setting(run_cli, validate, tmp_path: Path) -> None:
    result = run_cli("doctor", "--format", "json", "--migrations-dir", str(tmp_path),
                     env={"AKSARA_DEBUG": "true", "AKSARA_SCHEMA": "app"})
    document = result.json()
    validate(document)
    settings = {s["name"]: s for s in document["settings"]}
    assert settings["migrations_dir"] == {"name": "migrations_dir", "value": str(tmp_path),
                                          "source": "flag", "origin": "--migrations-dir",
                                          "error": None}
    assert settings["debug"]["source"] == "environment"
    assert settings["debug"]["origin"] == "AKSARA_DEBUG" and settings["debug"]["value"] == "true"
    assert settings["schema"]["value"] == "app"
    assert settings["log_level"] == {"name": "log_level", "value": "INFO", "source": "default",
                                     "origin": None, "error": None}
    assert settings["secret_key"]["value"] is None
    assert document["python_version"].count(".") == 2
    assert [c["id"] for c in document["checks"]] == [
        "settings.valid", "database.reachable", "migrations.tracking_table", "migrations.applied"]
    # Without a database URL the developer view fails database.reachable.
    assert result.code == 1


@pytest.mark.db
def test_doctor_on_a_migrated_database_passes(run_cli, migrated: str, migrations_dir: Path,
                                              secret_key: str) -> None:
    result = run_cli("doctor", "--migrations-dir", str(migrations_dir),
                     env={"AKSARA_DATABASE_URL": migrated, "AKSARA_SECRET_KEY": secret_key})
    assert result.code == 0, result.out
    lines = result.out.splitlines()
    assert lines[0] == f"aksara {__version__} on Python " + lines[0].rsplit(" ", 1)[1]
    assert "setting secret_key = *** [environment: AKSARA_SECRET_KEY]" in lines
    assert any(line.startswith("setting database_url = postgresql://") and
               ":***@" in line and "[environment: AKSARA_DATABASE_URL]" in line
               for line in lines)
    assert "[PASS] migrations.tracking_table: 'public.aksara_migrations' exists" in lines
    assert lines[-1].startswith("doctor: PASS: 4 passed")
    assert secret_key not in result.out


def test_doctor_malformed_setting_fails_settings_valid(run_cli) -> None:
    result = run_cli("doctor", "--format", "json", "--skip", "database.reachable",
                     env={"AKSARA_LOG_LEVEL": "loud", "AKSARA_ENV": "prod"})
    check = result.check("settings.valid")
    assert check["status"] == "fail"
    assert "AKSARA_ENV is not a known environment: 'prod'" in check["reason"]
    assert "AKSARA_LOG_LEVEL is not a log level: 'loud'" in check["reason"]
    settings = {s["name"]: s for s in result.json()["settings"]}
    assert settings["log_level"]["value"] == "(invalid)"
    assert settings["log_level"]["error"].startswith("AKSARA_LOG_LEVEL")


def test_options_before_the_subcommand_are_kept(run_cli) -> None:
    result = run_cli("doctor", "--format", "json", "--skip", "database.tls",
                     "production-check", "--skip", "log.level")
    document = result.json()
    assert document["command"] == "doctor production-check"
    skipped = {c["id"] for c in document["checks"] if c["reason"] == "skipped with --skip"}
    assert skipped == {"database.tls", "log.level"}
