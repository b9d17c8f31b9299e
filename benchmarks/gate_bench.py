#!/usr/bin/env python3
"""Benchmark of a host release gate: cold vs warm wall time, install times, memory.

Usage::

    python3 benchmarks/gate_bench.py [--tree PATH] [--label before|after|...]
                                     [--skip STAGE,..] [--only STAGE,..] [--jobs N]
                                     [--no-osv-stub] [--sequential] [--trial]
                                     [--out benchmarks/results]

Runs ``python3 ci/gate.py run`` of the checkout ``--tree`` (default: this repository)
*with that tree's own gate*, so an older commit (``git worktree add --detach
/tmp/bench-before <commit>``) is measured as it was:

1. **cold**: every package cache the tree's gate accepts an option for (read from its
   ``run --help``: ``--pip-cache``, ``--uv-cache``) points at a new, empty directory, so
   every stage downloads its tools and wheels from the index;
2. **warm**: again, with the caches the cold run filled;
3. optionally (``--sequential``) warm with ``--jobs 1``: the stages one after another.

The dependency audit asks a local OSV-compatible stub (``tests/gate/osv_stub.py``, no
advisory planted) through ``--osv-url`` unless ``--no-osv-stub``; a tree whose gate has
no ``--osv-url`` must then skip ``dependency-audit``. Give both trees of a comparison
the same ``--skip``/``--only``.

For each run it records the wall time, the sum of the stage times (from the run's
``summary.json``), their ratio (the parallel speed-up), the verdict, every stage's
status, time and, where the tree records them, its install and run times (``install_s``,
``run_s`` of result.json; their sum over the stages as ``install_sum_s``, ``null`` when
the tree records none), the 1-minute load average before and after (the machine may be
shared), and the peak memory: the summed RSS of the gate's whole process tree (sampled
every 0.25 s from /proc) and the size of the gate's run directory on tmpfs, and the
size of each package cache after the run (``cache_mib_after``).

The tree's runner venv (``.gate/runner``) is created or refreshed *before* the cold run
(its time is recorded as ``bootstrap_s``): "cold" is about the package caches the stages
use, not the runner bootstrap, which pip fills from the user's own pip cache.

Results go to ``<out>/gate-<label>-<UTC timestamp>.json`` (``gate-<timestamp>.json``
and the table ``<out>/gate_bench.md`` without ``--label``);
``benchmarks/render_benchmarks.py`` turns a before/after pair into docs/benchmarks.md.
Stdlib only. Exit code 0 when the measurements were taken (whatever the gate's verdict,
which the results record), 2 on bad arguments or a tree that cannot be benchmarked
as asked, 3 when a gate run left no summary.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Version of the results document (render_benchmarks.py refuses other versions).
SCHEMA = 2
#: The cache options a gate may accept, and the directory name each gets.
CACHE_OPTIONS: dict[str, str] = {"--pip-cache": "pip", "--uv-cache": "uv"}


class BenchError(Exception):
    """The benchmark cannot run as asked (exit 2, one line)."""


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


def _load1() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def machine_facts() -> dict[str, Any]:
    """What identifies the machine (render_benchmarks.py compares before and after)."""
    model = None
    try:
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        model = match.group(1).strip() if match else None
    except OSError:
        pass
    mem_gib = None
    try:
        match = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        mem_gib = round(int(match.group(1)) / 2**20, 1) if match else None
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "mem_gib": mem_gib,
            "platform": platform.platform(), "python": platform.python_version()}


def _env() -> dict[str, str]:
    """This environment without ``AKSARA_GATE_HOME``: each tree uses its own runner."""
    return {k: v for k, v in os.environ.items() if k != "AKSARA_GATE_HOME"}


def gate_options(tree: Path) -> set[str]:
    """The long options of the tree's ``gate.py run`` (its ``--help``): what it supports."""
    gate = tree / "ci" / "gate.py"
    if not gate.is_file():
        raise BenchError(f"{tree} has no ci/gate.py: not a checkout of this project")
    proc = subprocess.run([sys.executable, str(gate), "run", "--help"], cwd=tree,
                          env=_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"{gate} run --help failed (exit {proc.returncode}): {last}")
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", proc.stdout))


def tree_commit(tree: Path) -> str | None:
    proc = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=False)
    commit = proc.stdout.strip()
    return commit or None


def _tree_dirty(tree: Path) -> bool:
    proc = subprocess.run(["git", "-C", str(tree), "status", "--porcelain",
                           "--untracked-files=no"], capture_output=True, text=True, check=False)
    return bool(proc.stdout.strip())


@contextmanager
def osv_stub() -> Iterator[str]:
    """The test suite's OSV stub (no advisory): the audit runs offline and cannot flake."""
    sys.path.insert(0, str(ROOT / "tests" / "gate"))
    from osv_stub import running_osv_stub  # type: ignore[import-not-found]

    with running_osv_stub() as stub:
        yield stub.url


def bootstrap(tree: Path) -> float:
    """Create or refresh the tree's runner venv (``run --list`` does it); its time."""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, str(tree / "ci" / "gate.py"), "run", "--list"],
                          cwd=tree, env=_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"the gate of {tree} could not bootstrap its runner: {last}")
    return round(time.monotonic() - start, 1)


def run_once(label: str, tree: Path, cache: Path, caches: list[str], args: list[str],
             work: Path) -> dict[str, Any]:
    """One gate run of ``tree`` with the caches under ``cache``; what it measured."""
    evidence = work / f"evidence-{label}"
    run_root = work / f"runroot-{label}"
    run_root.mkdir(parents=True, exist_ok=True)
    cache_args: list[str] = []
    for option in caches:
        cache_args += [option, str(cache / CACHE_OPTIONS[option])]
    cmd = [sys.executable, str(tree / "ci" / "gate.py"), "run", "--source", str(tree),
           "--evidence", str(evidence), *cache_args, "--run-root", str(run_root), *args]
    print(f"[{label}] {' '.join(cmd)}", flush=True)
    load_before = _load1()
    start = time.monotonic()
    with open(work / f"{label}.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=tree, env=_env(), stdout=log,
                                stderr=subprocess.STDOUT)
        with Sampler(proc.pid, run_root) as sampler:
            code = proc.wait()
    wall = time.monotonic() - start
    try:
        summary = json.loads((evidence / "summary.json").read_text())
    except (OSError, ValueError) as exc:
        tail = (work / f"{label}.log").read_text(errors="replace").strip().splitlines()
        raise RuntimeError(f"[{label}] the gate (exit {code}) left no readable summary.json "
                           f"({exc.__class__.__name__}); last output: "
                           f"{tail[-1] if tail else 'none'}") from None
    stage_sum = float(summary["stage_time_sum_s"])
    installs = [s["install_s"] for s in summary["stages"] if s.get("install_s") is not None]
    result = {
        "label": label,
        "exit_code": code,
        "verdict": summary["verdict"],
        "wall_s": round(wall, 1),
        "gate_wall_s": summary["wall_time_s"],
        "stage_time_sum_s": stage_sum,
        "speedup": round(stage_sum / summary["wall_time_s"], 2) if summary["wall_time_s"] else None,
        "install_sum_s": round(sum(installs), 1) if installs else None,
        "load1_before": load_before,
        "load1_after": _load1(),
        "peak_tree_rss_mib": round(sampler.peak_rss / 2**20, 1),
        "peak_run_dir_mib": round(sampler.peak_run_dir / 2**20, 1),
        # what the caches hold afterwards: an index whose answers are not cacheable
        # leaves them empty (pip) or revalidated on every use (uv), so warm == cold
        "cache_mib_after": {CACHE_OPTIONS[o]: round(_dir_size(cache / CACHE_OPTIONS[o]) / 2**20, 1)
                            for o in caches},
        "stages": {s["name"]: {"status": s["status"], "duration_s": s["duration_s"],
                               "install_s": s.get("install_s"), "run_s": s.get("run_s")}
                   for s in summary["stages"]},
    }
    print(f"[{label}] wall {wall:.1f}s, stages sum {stage_sum:.1f}s, installs "
          f"{result['install_sum_s']}, verdict {summary['verdict']}, peak RSS "
          f"{result['peak_tree_rss_mib']} MiB", flush=True)
    return result


def render_md(doc: dict[str, Any]) -> str:
    """The quick table of one results file (the unlabelled mode's gate_bench.md)."""
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="checkout whose own gate is measured (default: this one)")
    parser.add_argument("--label", default=None,
                        help="names the results file, e.g. before / after")
    parser.add_argument("--skip", default="", help="stages to skip (comma-separated)")
    parser.add_argument("--only", default="", help="stages to run (comma-separated)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-osv-stub", action="store_true",
                        help="do not point the audit at the local OSV stub")
    parser.add_argument("--sequential", action="store_true", help="also a warm --jobs 1 run")
    parser.add_argument("--trial", action="store_true",
                        help="mark the results a trial (not a measurement to quote)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    raw = list(argv if argv is not None else sys.argv[1:])
    if args.label is not None and not re.fullmatch(r"[a-z0-9][a-z0-9-]*", args.label):
        parser.error("--label must be lower-case letters, digits and dashes")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    tree = args.tree.resolve()
    try:
        options = gate_options(tree)
        caches = [o for o in CACHE_OPTIONS if o in options]
        if not caches:
            raise BenchError(f"the gate of {tree} accepts no cache option "
                             f"({', '.join(CACHE_OPTIONS)}): a cold run cannot be arranged")
        skipped = {s for s in args.skip.split(",") if s}
        use_stub = not args.no_osv_stub
        if use_stub and "--osv-url" not in options:
            if "dependency-audit" not in skipped:
                raise BenchError(f"the gate of {tree} has no --osv-url: skip dependency-audit "
                                 "(in both trees) or pass --no-osv-stub")
            use_stub = False
        bootstrap_s = bootstrap(tree)
    except BenchError as exc:
        print(f"gate_bench: error: {exc}", file=sys.stderr)
        return 2
    selection = (["--skip", args.skip] if args.skip else []) + (
        ["--only", args.only] if args.only else [])
    work = Path(tempfile.mkdtemp(prefix="aksara-gate-bench-",
                                 dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    cache = Path(tempfile.mkdtemp(prefix="aksara-gate-bench-cache-"))
    try:
        with osv_stub() if use_stub else _no_stub() as osv_url:
            extra = ["--osv-url", osv_url] if osv_url else []
            gate_args = ["--jobs", str(args.jobs), *selection, *extra]
            runs = [run_once("cold", tree, cache, caches, gate_args, work),
                    run_once("warm", tree, cache, caches, gate_args, work)]
            if args.sequential:
                seq_args = ["--jobs", "1", *selection, *extra]
                runs.append(run_once("warm-sequential", tree, cache, caches, seq_args, work))
    except RuntimeError as exc:
        print(f"gate_bench: error: {exc}", file=sys.stderr)
        return 3
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
    doc = {
        "benchmark": "host release gate",
        "schema": SCHEMA,
        "label": args.label,
        "trial": args.trial,
        "measured_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "arguments": raw,
        "tree": {"commit": tree_commit(tree), "dirty": _tree_dirty(tree),
                 "is_this_checkout": tree == ROOT},
        "gate": {"caches_emptied_for_cold": [CACHE_OPTIONS[o] for o in caches],
                 "osv_stub": use_stub, "jobs": args.jobs, "skip": args.skip or None,
                 "only": args.only or None, "bootstrap_s": bootstrap_s},
        "machine": machine_facts(),
        "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"gate-{args.label}-{stamp}.json" if args.label else f"gate-{stamp}.json"
    (args.out / name).write_text(json.dumps(doc, indent=2) + "\n")
    if not args.label:
        (args.out / "gate_bench.md").write_text(render_md(doc))
    print(render_md(doc))
    print(f"results: {args.out / name}")
    return 0


@contextmanager
def _no_stub() -> Iterator[str]:
    yield ""


if __name__ == "__main__":
    raise SystemExit(main())
