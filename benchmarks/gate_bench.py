#!/usr/bin/env python3
"""Benchmark of the host release gate: cold vs warm wall time, parallel speed-up, memory.

Usage::

    python3 benchmarks/gate_bench.py [--skip STAGE,..] [--jobs N] [--sequential]
                                     [--out benchmarks/results]

Runs ``python3 ci/gate.py run`` on this repository

1. **cold**: with empty pip and uv caches (``--pip-cache`` / ``--uv-cache`` pointing at
   new directories), so every stage downloads its tools and wheels from the index;
2. **warm**: again, with the cache the cold run filled;
3. optionally (``--sequential``) warm with ``--jobs 1``: the stages one after another.

For each run it records the wall time, the sum of the stage times (from the run's
``summary.json``), their ratio (the parallel speed-up), the verdict and every stage's
status, time and its install and run times (``install_s``, ``run_s`` of result.json; the
install times summed over the stages as ``install_sum_s``), and the peak memory: the
peak of the summed RSS of the gate's whole process tree (sampled every 0.25 s from
/proc) and the peak size of the gate's run directory on tmpfs (stage venvs live there
while they run). Results go to
``<out>/gate-<UTC timestamp>.json`` and a Markdown table ``<out>/gate_bench.md``.

The runner venv (``.gate/runner``) is reused by both runs: "cold" is about the
package caches the stages use, not the bootstrap. Stdlib only. Exit code 0 when the
measurements were taken (whatever the gate's verdict, which the results record),
2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _children(pid: int) -> list[int]:
    """Children of every thread of ``pid`` (the gate starts stages from worker threads,
    and /proc lists a child under the thread that forked it)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            out += [int(p) for p in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except OSError:
            continue
    return out


def _tree_rss(pid: int) -> int:
    """Summed resident set size (bytes) of ``pid`` and all its descendants."""
    total, stack = 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while stack:
        current = stack.pop()
        try:
            fields = Path(f"/proc/{current}/statm").read_text().split()
            total += int(fields[1]) * page
        except OSError:
            continue
        stack.extend(_children(current))
    return total


def _dir_size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


class Sampler:
    """Peak tree RSS and peak run-directory size while the gate runs."""

    def __init__(self, pid: int, run_root: Path) -> None:
        self.pid, self.run_root = pid, run_root
        self.peak_rss = 0
        self.peak_run_dir = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._tick = 0

    def _loop(self) -> None:
        while not self._stop.wait(0.25):
            self.peak_rss = max(self.peak_rss, _tree_rss(self.pid))
            self._tick += 1
            if self._tick % 8 == 0:  # walking the venvs is costlier: every 2 s
                self.peak_run_dir = max(self.peak_run_dir, _dir_size(self.run_root))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_once(label: str, cache: Path, args: list[str], work: Path) -> dict[str, Any]:
    evidence = work / f"evidence-{label}"
    run_root = work / f"runroot-{label}"
    run_root.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(ROOT / "ci" / "gate.py"), "run", "--evidence", str(evidence),
           "--pip-cache", str(cache / "pip"), "--uv-cache", str(cache / "uv"),
           "--run-root", str(run_root), *args]
    print(f"[{label}] {' '.join(cmd)}", flush=True)
    start = time.monotonic()
    with open(work / f"{label}.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        with Sampler(proc.pid, run_root) as sampler:
            code = proc.wait()
    wall = time.monotonic() - start
    summary = json.loads((evidence / "summary.json").read_text())
    stage_sum = float(summary["stage_time_sum_s"])
    result = {
        "label": label,
        "exit_code": code,
        "verdict": summary["verdict"],
        "wall_s": round(wall, 1),
        "gate_wall_s": summary["wall_time_s"],
        "stage_time_sum_s": stage_sum,
        "speedup": round(stage_sum / summary["wall_time_s"], 2) if summary["wall_time_s"] else None,
        "peak_tree_rss_mib": round(sampler.peak_rss / 2**20, 1),
        "peak_run_dir_mib": round(sampler.peak_run_dir / 2**20, 1),
        "install_sum_s": round(sum(s.get("install_s") or 0.0 for s in summary["stages"]), 1),
        "stages": {s["name"]: {"status": s["status"], "duration_s": s["duration_s"],
                               "install_s": s.get("install_s"), "run_s": s.get("run_s")}
                   for s in summary["stages"]},
    }
    print(f"[{label}] wall {wall:.1f}s, stages sum {stage_sum:.1f}s, verdict "
          f"{summary['verdict']}, peak RSS {result['peak_tree_rss_mib']} MiB", flush=True)
    return result


def render_md(doc: dict[str, Any]) -> str:
    runs = doc["runs"]
    lines = [
        "# Host release gate benchmark",
        "",
        f"Measured {doc['measured_at']} on {doc['machine']['cpus']} CPUs "
        f"({doc['machine']['platform']}, Python {doc['machine']['python']}), "
        f"`python3 benchmarks/gate_bench.py {' '.join(doc['arguments'])}`.",
        "The machine was shared with other work while measuring: treat the times as "
        "upper bounds.",
        "",
        "| Run | Wall (s) | Sum of stage times (s) | Installs summed (s) | Speed-up | "
        "Peak RSS of the gate's processes (MiB) | Peak stage venvs on tmpfs (MiB) | Verdict |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in runs:
        installs = r.get("install_sum_s")
        lines.append(
            f"| {r['label']} | {r['gate_wall_s']:.1f} | {r['stage_time_sum_s']:.1f} | "
            f"{'n/a' if installs is None else installs} | "
            f"{r['speedup']}x | {r['peak_tree_rss_mib']} | {r['peak_run_dir_mib']} | "
            f"{r['verdict']} |"
        )
    names = list(runs[0]["stages"])
    lines += ["", "Per stage (s):", "",
              "| Stage | " + " | ".join(r["label"] for r in runs) + " |",
              "| --- |" + " ---: |" * len(runs)]
    for name in names:
        cells = []
        for r in runs:
            s = r["stages"][name]
            install = s.get("install_s")
            cells.append(f"{s['duration_s']:.1f}"
                         + ("" if install is None else f" (install {install:.1f})")
                         + ("" if s["status"] == "passed" else f" ({s['status']})"))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip", default="", help="stages to skip (comma-separated)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sequential", action="store_true", help="also a warm --jobs 1 run")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    raw = list(argv if argv is not None else sys.argv[1:])
    gate_args = ["--jobs", str(args.jobs)] + (["--skip", args.skip] if args.skip else [])
    work = Path(tempfile.mkdtemp(prefix="aksara-gate-bench-",
                                 dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    cache = Path(tempfile.mkdtemp(prefix="aksara-gate-bench-cache-"))
    try:
        runs = [run_once("cold", cache, gate_args, work), run_once("warm", cache, gate_args, work)]
        if args.sequential:
            seq_args = ["--jobs", "1"] + (["--skip", args.skip] if args.skip else [])
            runs.append(run_once("warm-sequential", cache, seq_args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
    doc = {
        "benchmark": "host release gate",
        "measured_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "arguments": raw,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (args.out / f"gate-{stamp}.json").write_text(json.dumps(doc, indent=2) + "\n")
    (args.out / "gate_bench.md").write_text(render_md(doc))
    print(render_md(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
