"""Redaction by libpq's rules, through the real CLI (issue 16 item 5).

Each reproduction once leaked the password: an encoded key libpq accepts
(``?pass%77ord=``) printed in clear by ``status`` and the doctor; an unencoded ``@`` in
the password (libpq splits at the first ``@``, Python at the last: "failed to resolve
host '…SECRET…@db.internal'"); an unencoded ``/`` ("cannot connect to
user:1234/SECRETPART@…"); a malformed percent-encoding echoed raw by libpq. Every one
runs through ``aksara status`` and ``aksara doctor production-check`` in text and JSON,
and the planted secret must not appear whole or as any 8-character fragment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aksara_release.stages import PRODUCTION_ENV
from leakcheck import assert_no_leak, planted_secret

from aksara.dburl import MASK, parse_database_url, redact_url, scrub
from aksara.exitcodes import ExitCode

COMMANDS = [
    ("status",), ("status", "--format", "json"),
    ("doctor",), ("doctor", "--format", "json"),
    ("doctor", "production-check"), ("doctor", "production-check", "--format", "json"),
]


def _run_all(run_cli: Any, url: str, migrations: Path) -> list[tuple[tuple[str, ...], Any]]:
    env = {**PRODUCTION_ENV, "DATABASE_URL": url, "PGCONNECT_TIMEOUT": "3"}
    return [(argv, run_cli(*argv, "--migrations-dir", str(migrations), env=env))
            for argv in COMMANDS]


@pytest.fixture()
def migrations(tmp_path: Path) -> Path:
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "0001_t.sql").write_text("CREATE TABLE t (id int);\n")
    return directory


@pytest.mark.db
@pytest.mark.parametrize("key", ["pass%77ord", "%70%61%73%73%77%6F%72%64", "password"])
def test_percent_encoded_password_key_is_redacted_on_a_live_connection(
    run_cli: Any, planted_db: Any, migrations: Path, key: str
) -> None:
    url = (f"postgresql://{planted_db.role}@{planted_db.host}:{planted_db.port}/"
           f"{planted_db.name}?{key}={quote(planted_db.password, safe='')}")
    for argv, result in _run_all(run_cli, url, migrations):
        assert "Traceback" not in result.everything, argv
        assert_no_leak(result.everything, planted_db.password)
        if argv[0] == "status":
            # It connected with the password libpq read from the encoded key.
            assert result.code == ExitCode.PENDING, (argv, result.everything)
            assert f"{key}={MASK}" in result.everything
    doctor = dict(_run_all(run_cli, url, migrations))[("doctor", "--format", "json")]
    assert doctor.check("database.reachable")["status"] == "pass"
    shown = {s["name"]: s["value"] for s in doctor.json()["settings"]}
    assert shown["database_url"].endswith(f"?{key}={MASK}")


def _ambiguous_urls(secret: str) -> dict[str, str]:
    head, tail = secret[:14], secret[14:]
    return {
        "unencoded @": f"postgresql://app:{head}@{tail}@db.internal/app",
        "unencoded /": f"postgresql://user:1234/{secret}@db.internal/app",
        "malformed %": f"postgresql://app:{head}%zz{tail}@127.0.0.1:1/app",
        "unencoded ?": f"postgresql://app:{head}?{tail}@db.internal/app",
        "unencoded #": f"postgresql://app:{head}#{tail}@db.internal/app",
        "bad key case": f"postgresql://app@db.internal/app?PASSWORD={secret}",
    }


@pytest.mark.parametrize("case", list(_ambiguous_urls("x" * 30)))
def test_urls_the_parsers_read_differently_are_rejected_without_the_secret(
    run_cli: Any, migrations: Path, case: str
) -> None:
    secret = planted_secret("ambiguous")
    url = _ambiguous_urls(secret)[case]
    for argv, result in _run_all(run_cli, url, migrations):
        assert "Traceback" not in result.everything, argv
        assert_no_leak(result.everything, secret)
        # Rejected before any connection attempt: no resolver or server message.
        assert "resolve host" not in result.everything
        assert "cannot connect to" not in result.everything
        if argv[0] == "status":
            assert result.code == ExitCode.USAGE, (argv, result.everything)
            assert len(result.err.strip().splitlines()) == 1
            assert "database URL" in result.err
        else:
            assert result.code == 1
    doctor = dict(_run_all(run_cli, url, migrations))[("doctor", "production-check",
                                                       "--format", "json")]
    reason = doctor.check("database.reachable")["reason"]
    assert doctor.check("database.reachable")["status"] == "fail"
    assert "database URL" in reason and "percent-encode" in reason


def test_status_json_of_a_rejected_url_is_one_line_on_stderr(run_cli: Any,
                                                             migrations: Path) -> None:
    secret = planted_secret("jsonerr")
    result = run_cli("status", "--format", "json", "--migrations-dir", str(migrations),
                     env={"DATABASE_URL": _ambiguous_urls(secret)["unencoded @"]})
    assert result.code == ExitCode.USAGE
    assert_no_leak(result.everything, secret)
    if result.out.strip():  # a JSON error document, when the command writes one
        json.loads(result.out)


@pytest.mark.parametrize(
    ("url", "hidden"),
    [
        ("postgresql://u:" + "raw%41text" + "@h/db", ["raw%41text", "rawAtext"]),
        ("postgresql://u@h/db?password=a+b%2Bc", ["a+b%2Bc", "a+b+c"]),
        ("postgresql://u@h/db?sslpassword=one&sslpassword=two", ["one", "two"]),
        ("postgresql://u@h/db?oauth_client_secret=s3", ["s3"]),
    ],
)
def test_secrets_cover_raw_and_decoded_spellings(url: str, hidden: list[str]) -> None:
    parsed = parse_database_url(url)
    for text in hidden:
        assert text in parsed.secrets()
        assert text not in parsed.redacted
        assert scrub(f"driver said: {text}!", parsed.secrets()) == f"driver said: {MASK}!"


def test_every_key_libpq_marks_secret_is_redacted() -> None:
    from psycopg import pq

    marked = [o.keyword.decode() for o in pq.Conninfo.get_defaults() if o.dispchar == b"*"]
    assert "password" in marked
    for key in marked:
        url = f"postgresql://u@h/db?{key}=hidden-value"
        assert redact_url(url) == f"postgresql://u@h/db?{key}={MASK}"
        assert "hidden-value" in parse_database_url(url).secrets()
