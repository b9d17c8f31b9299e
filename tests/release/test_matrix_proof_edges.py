"""``matrix_proof`` on input that is not what ``gh api`` saves: each is a usage error in
one line (exit 2), never a proof; entries of the wrong shape inside a response are
passed over, so they cannot count as a passing cell either."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aksara_release import matrix_proof as mp
from test_matrix_proof import COMMIT, _files, _jobs, _run


def _usage(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert mp.main(argv) == mp.USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


def test_missing_files_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = _files(tmp_path, [_run(7)])[0]
    missing = tmp_path / "none.json"
    assert _usage(capsys, ["--commit", COMMIT, str(missing)]) == (
        f"matrix-proof: error: {missing}: no such file")
    assert _usage(capsys, ["--commit", COMMIT, runs, str(missing)]) == (
        f"matrix-proof: error: {missing}: no such file")


@pytest.mark.parametrize("runs", [[], {"workflow_runs": {}}, {"total_count": 0}])
def test_a_runs_file_of_another_shape_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], runs: object
) -> None:
    (tmp_path / "runs.json").write_text(json.dumps(runs))
    assert _usage(capsys, ["--commit", COMMIT, str(tmp_path / "runs.json")]) == (
        "matrix-proof: error: the runs file is not a GitHub 'list workflow runs' response")


@pytest.mark.parametrize("jobs", [[], {"jobs": {}}, {"total_count": 6}])
def test_a_jobs_file_of_another_shape_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], jobs: object
) -> None:
    runs, path = _files(tmp_path, [_run(7)], {"jobs": []})
    Path(path).write_text(json.dumps(jobs))
    assert _usage(capsys, ["--commit", COMMIT, runs, path]) == (
        f"matrix-proof: error: {path}: not a GitHub 'list jobs for a run' response")


def test_entries_of_the_wrong_shape_are_passed_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = _jobs(7)
    orphan = dict(jobs["jobs"][0])
    del orphan["run_id"]  # a job not tied to a run proves nothing
    partial = {"jobs": [*jobs["jobs"][1:], orphan, "not a job"]}
    args = _files(tmp_path, ["not a run", _run(7)], partial)
    out = tmp_path / "proof.json"
    assert mp.main(["--commit", COMMIT, "--output", str(out), *args]) == mp.NOT_PROVEN
    record = json.loads(out.read_text())
    assert record["proven"] is False
    (candidate,) = record["candidates"]
    first = mp.expected_jobs()[0]
    assert candidate["cells"][first] == "missing"
    assert f"{first}: missing" in capsys.readouterr().err

    complete = _files(tmp_path, ["not a run", _run(7)], {"jobs": [*jobs["jobs"], "x"]})
    assert mp.main(["--commit", COMMIT, *complete]) == mp.OK


def test_a_run_without_an_id_is_a_usage_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(7)
    del run["id"]
    args = _files(tmp_path, [run], _jobs(7))
    assert _usage(capsys, ["--commit", COMMIT, *args]).startswith("matrix-proof: error: ")


def test_arguments_and_python_m(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert mp.main([]) == mp.USAGE  # --commit and the runs file are required
    assert mp.main(["--help"]) == mp.OK
    assert "--commit" in capsys.readouterr().out
    env = {**os.environ, "PYTHONPATH": str(Path(mp.__file__).parents[1])}
    args = _files(tmp_path, [_run(7)], _jobs(7))
    proc = subprocess.run([sys.executable, "-m", "aksara_release.matrix_proof", "--commit",
                           COMMIT, *args], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == mp.OK, proc.stderr
    assert proc.stdout.strip().endswith(f"passed on {COMMIT}")
