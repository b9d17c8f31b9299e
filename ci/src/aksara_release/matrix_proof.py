"""Proof that the full release-gate matrix passed on one exact commit.

Why a proof instead of re-running the matrix in the publish workflow: pushing a
``v*`` tag already runs ``release-gate.yml`` over every Python x PostgreSQL cell on
the tagged commit. Re-running six cells inside the publish run would double the cost
and add nothing the commit's own runs do not show. What the publish run must not do
is *assume* those runs passed: it asks the GitHub API for ``release-gate.yml`` runs
whose ``head_sha`` is the commit being released and requires one completed,
successful run in which every cell's job concluded ``success``. (The publish run
still runs the gate itself once, on the default cell, to build the very files it
publishes.)

Input: the JSON of ``GET /repos/{repo}/actions/workflows/release-gate.yml/runs
?head_sha=<sha>`` and, for each run listed, ``GET .../actions/runs/{id}/jobs``
(saved by ``gh api`` in the workflow). Output: one line per cell; ``--output`` writes
a JSON record for the evidence.

Exit codes: 0 proven; 1 not proven (which cells are missing or failed); 2 bad usage
or unreadable input. Stdlib only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROG = "matrix-proof"
OK, NOT_PROVEN, USAGE = 0, 1, 2
WORKFLOW_PATH = ".github/workflows/release-gate.yml"
#: The cells of release-gate.yml's matrix (tests/workflows asserts they are equal).
PYTHONS: tuple[str, ...] = ("3.11", "3.12", "3.13")
POSTGRES: tuple[str, ...] = ("17", "18")
#: release-gate.yml's job name template (``name:`` of its ``gate`` job).
JOB_NAME = "Gate (Python {python}, PostgreSQL {postgres})"


class InputError(Exception):
    """Unreadable or malformed input: exit 2."""


def expected_jobs() -> list[str]:
    return [JOB_NAME.format(python=p, postgres=g) for p in PYTHONS for g in POSTGRES]


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not readable JSON ({exc.__class__.__name__})") from None


def prove(commit: str, runs: Any, jobs_by_run: dict[int, list[dict[str, Any]]]) -> dict[str, Any]:
    """The proof record: ``proven`` and, per candidate run, what each cell concluded."""
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise InputError(f"--commit {commit[:60]!r} is not a full commit SHA")
    if not isinstance(runs, dict) or not isinstance(runs.get("workflow_runs"), list):
        raise InputError("the runs file is not a GitHub 'list workflow runs' response")
    wanted = expected_jobs()
    candidates = []
    for run in runs["workflow_runs"]:
        if not isinstance(run, dict):
            continue
        ok_run = (
            run.get("head_sha") == commit
            and run.get("path") == WORKFLOW_PATH
            and run.get("status") == "completed"
            and run.get("conclusion") == "success"
        )
        if not ok_run:
            continue
        jobs = {j.get("name"): j for j in jobs_by_run.get(int(run["id"]), [])
                if isinstance(j, dict) and j.get("head_sha", commit) == commit}
        cells = {name: (jobs[name].get("conclusion") if name in jobs else "missing")
                 for name in wanted}
        candidates.append({"run_id": run["id"], "run_attempt": run.get("run_attempt"),
                           "url": run.get("html_url"), "event": run.get("event"),
                           "cells": cells})
        if all(c == "success" for c in cells.values()):
            return {"commit": commit, "workflow": WORKFLOW_PATH, "proven": True,
                    "run": candidates[-1], "expected_cells": wanted}
    return {"commit": commit, "workflow": WORKFLOW_PATH, "proven": False,
            "candidates": candidates, "expected_cells": wanted}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="prove the gate matrix passed")
    parser.add_argument("--commit", required=True)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("runs", type=Path, help="list-workflow-runs JSON")
    parser.add_argument("jobs", type=Path, nargs="*", help="list-jobs-for-a-run JSON files")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return USAGE if exc.code else OK
    try:
        runs = _load(args.runs)
        jobs_by_run: dict[int, list[dict[str, Any]]] = {}
        for path in args.jobs:
            data = _load(path)
            if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
                raise InputError(f"{path}: not a GitHub 'list jobs for a run' response")
            for job in data["jobs"]:
                if isinstance(job, dict) and "run_id" in job:
                    jobs_by_run.setdefault(int(job["run_id"]), []).append(job)
        record = prove(args.commit, runs, jobs_by_run)
    except (InputError, ValueError, TypeError, KeyError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return USAGE
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    if record["proven"]:
        run = record["run"]
        for cell in record["expected_cells"]:
            print(f"{PROG}: {cell}: success in run {run['run_id']}")
        print(f"{PROG}: OK: every cell of {WORKFLOW_PATH} passed on {args.commit}")
        return OK
    if not record["candidates"]:
        print(f"{PROG}: FAILED: no completed, successful {WORKFLOW_PATH} run on {args.commit}",
              file=sys.stderr)
    for candidate in record["candidates"]:
        bad = {c: s for c, s in candidate["cells"].items() if s != "success"}
        print(f"{PROG}: run {candidate['run_id']}: not every cell passed: "
              + ", ".join(f"{c}: {s}" for c, s in bad.items()), file=sys.stderr)
    print(f"{PROG}: FAILED: the full matrix is not proven for {args.commit}", file=sys.stderr)
    return NOT_PROVEN


if __name__ == "__main__":
    raise SystemExit(main())
