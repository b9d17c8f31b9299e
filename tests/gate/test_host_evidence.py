"""The evidence API: verdict rule, summary.json schema, summary.md and SHA256SUMS."""

from __future__ import annotations

import json

import jsonschema
import pytest
from aksara_release import evidence
from aksara_release.evidence import Artifact, StageResult

SCHEMA = json.loads(evidence.SCHEMA_FILE.read_text())
DIGEST = "ab" * 32


def _passed(name: str) -> StageResult:
    return StageResult(name=name, title=name.title(), status="passed", exit_code=0, duration_s=1.0)


def _summary(results: list[StageResult], required: list[str]) -> dict:
    return evidence.build_summary(
        results, executor="host", required=required, package="aksara-framework",
        version="0.8.0", dist=[Artifact("dist/a.whl", DIGEST, 10)], wall_time_s=2.0,
        database="embedded PostgreSQL 18 on 127.0.0.1:5432",
    )


def test_pass_only_when_every_required_stage_passed() -> None:
    assert evidence.compute_verdict([_passed("a"), _passed("b")], ["a", "b"]) == "pass"


@pytest.mark.parametrize("status", ["failed", "error"])
def test_a_failed_or_errored_stage_fails_the_gate(status: str) -> None:
    bad = StageResult(name="b", title="B", status=status)  # type: ignore[arg-type]
    assert evidence.compute_verdict([_passed("a"), bad], ["a", "b"]) == "fail"


def test_skipped_stage_is_incomplete_never_pass() -> None:
    results = [_passed("a"), evidence.skipped("b", "B", "skipped with --skip")]
    assert evidence.compute_verdict(results, ["a", "b"]) == "incomplete"
    summary = _summary(results, ["a", "b"])
    assert summary["exit_code"] == 3 and summary["not_passed"] == ["b"]


def test_interrupted_stage_is_incomplete_never_pass_and_schema_valid() -> None:
    results = [_passed("a"), evidence.interrupted("b", "B", "interrupted by SIGTERM")]
    assert evidence.compute_verdict(results, ["a", "b"]) == "incomplete"
    summary = _summary(results, ["a", "b"])
    assert summary["counts"]["interrupted"] == 1 and summary["exit_code"] == 3
    jsonschema.validate(summary, SCHEMA)
    forged = {**summary, "verdict": "pass", "exit_code": 0, "not_passed": []}
    with pytest.raises(jsonschema.ValidationError):  # counts.interrupted must be 0 on a pass
        jsonschema.validate(forged, SCHEMA)
    assert "| b | INTERRUPTED |" in evidence.render_summary_md(summary)
    assert set(SCHEMA["$defs"]["stage"]["properties"]["status"]["enum"]) == set(
        evidence.STAGE_STATUSES)


def test_missing_required_stage_is_incomplete() -> None:
    summary = _summary([_passed("a")], ["a", "b"])
    assert summary["verdict"] == "incomplete" and summary["missing_stages"] == ["b"]


def test_summary_matches_schema_and_schema_forbids_a_false_pass() -> None:
    summary = _summary([_passed("a"), evidence.skipped("b", "B", "x")], ["a", "b"])
    jsonschema.validate(summary, SCHEMA)
    summary["verdict"] = "pass"
    summary["exit_code"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(summary, SCHEMA)


def test_schema_rejects_a_database_url_with_a_password() -> None:
    summary = _summary([_passed("a")], ["a"])
    summary["database"] = "postgresql://user:" + "hunter2" + "@db:5432/x"  # assembled: no literal
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(summary, SCHEMA)


def test_invalid_status_is_refused() -> None:
    with pytest.raises(ValueError):
        StageResult(name="a", title="A", status="ok")  # type: ignore[arg-type]


def test_stage_result_round_trips() -> None:
    result = StageResult(
        name="a", title="A", status="failed", exit_code=2, duration_s=1.5,
        artifacts=(Artifact("stages/a/x.json", DIGEST, 3),), reason="r", failed_step="step 1/1: x",
    )
    assert StageResult.from_json(result.to_json()) == result


def test_sha256sums_round_trip_and_format() -> None:
    text = evidence.render_sha256sums([Artifact("dist/b.tar.gz", "cd" * 32, 1),
                                       Artifact("dist/a.whl", DIGEST, 1)])
    assert text.splitlines()[0] == f"{DIGEST}  a.whl"
    assert evidence.parse_sha256sums(text) == {"a.whl": DIGEST, "b.tar.gz": "cd" * 32}
    with pytest.raises(ValueError):
        evidence.parse_sha256sums("nonsense\n")


def test_summary_md_shows_verdict_and_every_stage() -> None:
    results = [_passed("a"), evidence.skipped("b", "B", "skipped with --skip")]
    summary = _summary(results, ["a", "b"])
    md = evidence.render_summary_md(summary)
    assert "INCOMPLETE" in md and "| b | SKIP |" in md and "skipped with --skip" in md


def test_in_memory_artifacts_and_mapping_sums_match_the_file_forms(tmp_path) -> None:
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "a.whl").write_bytes(b"wheel")
    from_file = evidence.artifact_from_file(tmp_path, tmp_path / "dist" / "a.whl")
    assert evidence.artifact_from_bytes("dist/a.whl", b"wheel") == from_file
    by_map = evidence.render_sha256sums({"a.whl": from_file.sha256})
    assert by_map == evidence.render_sha256sums([from_file])
    assert evidence.parse_sha256sums("\n" + by_map + "\n") == {"a.whl": from_file.sha256}
    with pytest.raises(ValueError, match="line 1 is malformed"):
        evidence.parse_sha256sums("abc a.whl\n")


def test_extra_round_trips_and_missing_stages_are_shown() -> None:
    result = StageResult(name="a", title="A", status="passed", extra={"tests": 3})
    assert StageResult.from_json(result.to_json()) == result
    summary = _summary([result], ["a", "b"])
    assert summary["missing_stages"] == ["b"] and summary["verdict"] == "incomplete"
    assert "| b | MISSING | | | required stage has no result |" in (
        evidence.render_summary_md(summary))
