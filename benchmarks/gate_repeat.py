#!/usr/bin/env python3
"""Stability proof of the host release gate: N consecutive runs on an unchanged tree.

Usage::

    python3 benchmarks/gate_repeat.py [--runs 5] [--skip workflow-lint] [--out benchmarks/results]

Why: a flaky check either fails a clean release or teaches people to re-run. This runs
``python3 ci/gate.py run`` on this repository ``--runs`` times in a row (offline: the
dependency audit asks a local OSV-compatible stub, ``tests/gate/osv_stub.py``, with no
advisory planted; the stages given with ``--skip`` are recorded skipped) and records,
per run, the exit code, the verdict, every stage's status and reason, and the wall time.
A run counts as clean when every stage that was not skipped on purpose passed.

Results go to ``<out>/gate-repeat-<UTC timestamp>.json`` and ``<out>/gate_repeat.md``.
Exit code 0 when every run was clean, 1 when any was not (the file says which stage),
2 on bad arguments. Stdlib only (plus the stub module from the test suite).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "gate"))

from osv_stub import running_osv_stub  # noqa: E402


def one_run(index: int, skip: list[str], osv_url: str, evidence: Path) -> dict:
    """Run the gate once; return what it decided."""
    argv = [sys.executable, str(REPO / "ci" / "gate.py"), "run", "--evidence", str(evidence),
            "--osv-url", osv_url]
    for name in skip:
        argv += ["--skip", name]
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    try:
        summary = json.loads((evidence / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"run": index, "exit_code": proc.returncode, "clean": False, "wall_s": wall,
                "error": (proc.stderr.strip().splitlines() or ["no summary.json"])[-1]}
    stages = [{"name": s["name"], "status": s["status"], "reason": s.get("reason")}
              for s in summary["stages"]]
    not_clean = [s for s in stages if s["status"] != "passed" and s["name"] not in skip]
    return {"run": index, "exit_code": proc.returncode, "verdict": summary["verdict"],
            "clean": not not_clean, "wall_s": round(wall, 1), "stages": stages,
            "not_clean": not_clean}


def render_md(doc: dict) -> str:
    lines = [
        "# Host gate stability: consecutive runs on an unchanged tree",
        "",
        f"Taken {doc['taken_at']} on {doc['machine']} (commit {doc['commit']}); "
        f"skipped on purpose: {', '.join(doc['skipped']) or 'none'}; the audit asked a "
        "local OSV stub.",
        "",
        "| Run | Exit | Verdict | Clean | Wall (s) | Not clean |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for run in doc["runs"]:
        bad = "; ".join(f"{s['name']}: {s['status']} ({s['reason']})"
                        for s in run.get("not_clean", [])) or run.get("error", "")
        lines.append(f"| {run['run']} | {run['exit_code']} | {run.get('verdict', '-')} | "
                     f"{'yes' if run['clean'] else 'NO'} | {run['wall_s']} | {bad} |")
    lines += ["", f"**{doc['clean_runs']} of {len(doc['runs'])} runs clean.**", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip", action="append", default=None,
                        help="a stage skipped on purpose (repeatable; default workflow-lint)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    skip = args.skip if args.skip is not None else ["workflow-lint"]
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()
    runs = []
    with running_osv_stub() as osv, tempfile.TemporaryDirectory() as tmp:
        for index in range(1, args.runs + 1):
            run = one_run(index, skip, osv.url, Path(tmp) / f"evidence-{index}")
            print(f"run {index}: exit {run['exit_code']}, clean {run['clean']}, "
                  f"{run['wall_s']} s", flush=True)
            runs.append(run)
    doc = {
        "taken_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": f"{platform.machine()}, {platform.system()}, Python {platform.python_version()}",
        "commit": commit or None,
        "skipped": skip,
        "runs": runs,
        "clean_runs": sum(r["clean"] for r in runs),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = doc["taken_at"].replace("-", "").replace(":", "")
    (args.out / f"gate-repeat-{stamp}.json").write_text(json.dumps(doc, indent=2) + "\n")
    (args.out / "gate_repeat.md").write_text(render_md(doc))
    return 0 if doc["clean_runs"] == len(runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
