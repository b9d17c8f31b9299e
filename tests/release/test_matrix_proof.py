"""``matrix_proof``: the publish workflow's proof that every release-gate.yml cell passed on
the commit being released, judged from the GitHub API's JSON (saved by ``gh api``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aksara_release import matrix_proof as mp

COMMIT = "a" * 40
OTHER = "b" * 40


def _run(run_id: int, sha: str = COMMIT, conclusion: str = "success", **kw: Any) -> dict[str, Any]:
    return {"id": run_id, "head_sha": sha, "path": mp.WORKFLOW_PATH, "status": "completed",
            "conclusion": conclusion, "run_attempt": 1, "event": "push", **kw}


def _jobs(run_id: int, sha: str = COMMIT, **override: str) -> dict[str, Any]:
    return {"total_count": 6, "jobs": [
        {"run_id": run_id, "head_sha": sha, "name": name,
         "conclusion": override.get(name, "success")} for name in mp.expected_jobs()]}


def _files(tmp_path: Path, runs: list[dict[str, Any]], *jobs: dict[str, Any]) -> list[str]:
    (tmp_path / "runs.json").write_text(json.dumps({"workflow_runs": runs}))
    paths = [str(tmp_path / "runs.json")]
    for number, data in enumerate(jobs):
        path = tmp_path / f"jobs-{number}.json"
        path.write_text(json.dumps(data))
        paths.append(str(path))
    return paths


def test_six_successful_cells_on_the_commit_prove_it(tmp_path: Path) -> None:
    out = tmp_path / "proof.json"
    args = _files(tmp_path, [_run(7)], _jobs(7))
    assert mp.main(["--commit", COMMIT, "--output", str(out), *args]) == mp.OK
    record = json.loads(out.read_text())
    assert record["proven"] is True and record["run"]["run_id"] == 7
    assert len(record["expected_cells"]) == 6


def test_one_failed_cell_is_not_proof(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cell = mp.JOB_NAME.format(python="3.13", postgres="17")
    args = _files(tmp_path, [_run(7)], _jobs(7, **{cell: "failure"}))
    assert mp.main(["--commit", COMMIT, *args]) == mp.NOT_PROVEN
    assert f"{cell}: failure" in capsys.readouterr().err


def test_a_missing_cell_is_not_proof(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jobs = _jobs(7)
    jobs["jobs"] = jobs["jobs"][:-1]
    assert mp.main(["--commit", COMMIT, *_files(tmp_path, [_run(7)], jobs)]) == mp.NOT_PROVEN
    assert "missing" in capsys.readouterr().err


@pytest.mark.parametrize(
    "run",
    [
        _run(7, sha=OTHER),
        _run(7, conclusion="failure"),
        _run(7, path=".github/workflows/other.yml"),
        _run(7, status="in_progress"),
    ],
)
def test_runs_of_another_commit_workflow_or_state_do_not_count(
    tmp_path: Path, run: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert mp.main(["--commit", COMMIT, *_files(tmp_path, [run], _jobs(7))]) == mp.NOT_PROVEN
    assert "no completed, successful" in capsys.readouterr().err


def test_cells_must_come_from_one_run(tmp_path: Path) -> None:
    """Three cells green in one run and three in another is not one passing matrix."""
    half = mp.expected_jobs()[:3]
    first = _jobs(7, **{n: "failure" for n in mp.expected_jobs() if n not in half})
    second = _jobs(8, **{n: "failure" for n in half})
    args = _files(tmp_path, [_run(7), _run(8)], first, second)
    assert mp.main(["--commit", COMMIT, *args]) == mp.NOT_PROVEN
    assert mp.main(["--commit", COMMIT, *_files(tmp_path, [_run(7), _run(8)], first,
                                                  _jobs(8))]) == mp.OK


@pytest.mark.parametrize("commit", ["abc", "A" * 40, "main"])
def test_a_bad_commit_is_a_usage_error(tmp_path: Path, commit: str) -> None:
    assert mp.main(["--commit", commit, *_files(tmp_path, [_run(7)], _jobs(7))]) == mp.USAGE


def test_unreadable_input_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "runs.json").write_text("{not json")
    assert mp.main(["--commit", COMMIT, str(tmp_path / "runs.json")]) == mp.USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not readable JSON" in err
