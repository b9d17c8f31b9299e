"""Properties of configuration parsing, secret-key judgement and the doctor's JSON."""

from __future__ import annotations

import json
from functools import lru_cache

import jsonschema
from hypothesis import assume, given
from hypothesis import strategies as st

from aksara.doctor import secretkey
from aksara.doctor.context import CheckContext
from aksara.doctor.registry import (
    PRODUCTION,
    Check,
    Result,
    Status,
    checks_for,
    run_check,
)
from aksara.doctor.report import Report, load_schema
from aksara.settings import SPECS, load_settings, parse_bool

VARIABLES = sorted({var for spec in SPECS for var in spec.env_vars})
ENVIRONS = st.dictionaries(st.sampled_from(VARIABLES),
                           st.text(max_size=60).filter(lambda v: "\x00" not in v), max_size=8)


@lru_cache(maxsize=1)
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load_schema())


@given(st.text(max_size=30))
def test_parse_bool_accepts_exactly_the_documented_words(raw: str) -> None:
    word = raw.strip().lower()
    try:
        value = parse_bool(raw)
    except ValueError as exc:
        assert word not in {"1", "0", "true", "false", "yes", "no", "on", "off"}
        assert "\n" not in str(exc)
        return
    assert value is (word in {"1", "true", "yes", "on"})


@given(ENVIRONS, st.dictionaries(st.sampled_from(["database_url", "migrations_dir", "schema"]),
                                 st.text(max_size=40).filter(lambda v: "\x00" not in v)))
def test_loading_settings_never_raises_and_errors_are_one_line(environ, flags) -> None:
    settings = load_settings(environ, flags)
    for value in settings.values.values():
        assert (value.error is None) == value.ok
        if value.error:
            assert "\n" not in value.error and "\r" not in value.error
            assert value.origin and value.error.startswith(value.origin)
        if value.source == "flag":
            assert value.name in flags
        json.dumps(value.to_json())


def _production_report(environ: dict[str, str]) -> Report:
    context = CheckContext(load_settings(environ), environ)
    skip = {"database.reachable", "migrations.applied"}  # keep the fuzz loop offline
    return Report("doctor production-check",
                  [run_check(c, context, skip) for c in checks_for(PRODUCTION)], strict=False)


@given(ENVIRONS, st.text(min_size=8, max_size=80))
def test_production_suite_never_raises_and_never_prints_the_key(environ, key) -> None:
    environ = {k: v for k, v in environ.items() if k not in ("DATABASE_URL",
                                                               "AKSARA_DATABASE_URL")}
    baseline = _production_report({**environ, "AKSARA_SECRET_KEY": "\x01" * 8})
    assume(key not in baseline.render_text() + baseline.render_json())
    report = _production_report({**environ, "AKSARA_SECRET_KEY": key})
    validator().validate(report.to_json())
    text = report.render_text() + report.render_json()
    assert key not in text
    assert len(report.render_text().splitlines()) == len(report.checks) + 1


KEY_VERDICTS = {
    "AKSARA_SECRET_KEY is not set",
    "AKSARA_SECRET_KEY is set but empty",
    "AKSARA_SECRET_KEY is a known placeholder value",
    f"AKSARA_SECRET_KEY is shorter than {secretkey.MIN_LENGTH} characters",
    "AKSARA_SECRET_KEY has too little entropy (too few distinct characters)",
    "AKSARA_SECRET_KEY is a short pattern repeated",
    "AKSARA_SECRET_KEY contains a placeholder word (e.g. 'change', 'secret')",
    "AKSARA_SECRET_KEY is made of keyboard runs or character sequences",
    "AKSARA_SECRET_KEY repeats itself (it compresses well; random keys do not)",
}


@given(st.one_of(st.none(), st.text(max_size=100)))
def test_secret_key_verdict_never_depends_on_the_key_text(key: str | None) -> None:
    """Every verdict is one of a fixed set of sentences: no part of the key can leak."""
    verdict = secretkey.weakness(key)
    if verdict is None:
        assert key is not None and len(key) >= secretkey.MIN_LENGTH
    else:
        assert verdict in KEY_VERDICTS


@given(st.text(max_size=200), st.text(max_size=200),
       st.sampled_from(list(Status)), st.booleans())
def test_json_round_trips_and_validates_for_any_reason(reason, hint, status, strict) -> None:
    check = Check("fuzz.check", "Fuzzed", frozenset({"fuzz"}),
                  lambda ctx: Result(status, reason, hint))
    result = run_check(check, CheckContext(load_settings({}), {}))
    report = Report("doctor production-check", [result], strict)
    rendered = report.render_json()
    document = json.loads(rendered)
    assert document == report.to_json()
    validator().validate(document)
    assert document["checks"][0]["status"] == status.value
    assert (document["exit_code"] == 0) == (
        status is Status.PASS or (not strict and status is not Status.FAIL))
    line = report.render_text().splitlines()[0]
    assert line.startswith("[")
    assert len(report.render_text().splitlines()) == 2
