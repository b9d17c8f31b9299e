#!/usr/bin/env python3
"""Generate the gate's before/after section of docs/benchmarks.md from raw results.

Usage::

    python3 benchmarks/render_benchmarks.py [--before FILE] [--after FILE]
                                            [--results DIR] [--doc FILE] [--check | --print]

Why generated: a table typed by hand drifts from the measurement it quotes. This reads
two results files of ``benchmarks/gate_bench.py`` (``--label before`` / ``--label
after``; by default the newest ``gate-before-*.json`` and ``gate-after-*.json`` in
``--results``, default ``benchmarks/results``) and rewrites the block between
``<!-- gate-before-after:start`` and ``<!-- gate-before-after:end -->`` in ``--doc``
(default docs/benchmarks.md): the machine, both trees' commits, cold and warm wall
time, sum of stage times, installs summed over stages, a per-stage table and the issue's
targets (warm <= 45 s, cold <= 70 s, installs <= 15 s warm) against the "after" figures,
each met or not met. ``--check`` changes nothing and fails when the block differs from
what the results give; ``--print`` prints the block instead of writing it.

The two files must come from the same machine and the same gate selection (skip, only,
jobs, OSV stub), or the comparison means nothing: that is refused. Stdlib only.
Exit codes: 0 done (or up to date), 1 ``--check`` found the block out of date, 2 bad
arguments or a missing, malformed or mismatched results file or doc (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = 2
START = "<!-- gate-before-after:start"
END = "<!-- gate-before-after:end -->"
#: The issue's targets (issue 14) for the "after" tree: (name, run, field, limit in s).
TARGETS: tuple[tuple[str, str, str, float], ...] = (
    ("Warm gate wall time", "warm", "gate_wall_s", 45.0),
    ("Cold gate wall time", "cold", "gate_wall_s", 70.0),
    ("Installs summed over stages, warm", "warm", "install_sum_s", 15.0),
)
#: Machine facts that must agree between before and after.
SAME_MACHINE = ("cpus", "cpu_model", "mem_gib", "platform", "python")
#: Gate selection that must agree between before and after.
SAME_GATE = ("skip", "only", "jobs", "osv_stub")
#: Stage outcomes whose time counts towards a target (skipped on purpose, or passed).
FINISHED = frozenset({"passed", "skipped"})


class RenderError(Exception):
    """A results file or the doc cannot be used (exit 2, one line)."""


@dataclass(frozen=True)
class Results:
    """One results file of gate_bench.py, checked."""

    path: Path
    doc: dict[str, Any]

    def run(self, label: str) -> dict[str, Any]:
        return next(r for r in self.doc["runs"] if r["label"] == label)

    @property
    def shown_path(self) -> str:
        try:
            return self.path.resolve().relative_to(ROOT).as_posix()
        except ValueError:
            return self.path.name


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_run(path: Path, run: object) -> None:
    if not isinstance(run, dict):
        raise RenderError(f"{path}: a run is not an object")
    label = run.get("label")
    for key in ("gate_wall_s", "stage_time_sum_s"):
        if not _number(run.get(key)):
            raise RenderError(f"{path}: run {label!r} has no number {key!r}")
    if run.get("install_sum_s") is not None and not _number(run["install_sum_s"]):
        raise RenderError(f"{path}: run {label!r}: install_sum_s is not a number or null")
    stages = run.get("stages")
    if not isinstance(stages, dict) or not stages:
        raise RenderError(f"{path}: run {label!r} has no stages")
    for name, stage in stages.items():
        if not (isinstance(stage, dict) and isinstance(stage.get("status"), str)
                and _number(stage.get("duration_s"))):
            raise RenderError(f"{path}: run {label!r}, stage {name!r}: needs status and "
                              "duration_s")
        for key in ("install_s", "run_s"):
            if stage.get(key) is not None and not _number(stage[key]):
                raise RenderError(f"{path}: run {label!r}, stage {name!r}: {key} is not a "
                                  "number or null")


def load(path: Path, label: str) -> Results:
    """Read and check one results file (what rendering relies on, nothing more)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RenderError(f"{path}: not UTF-8 text") from None
    except FileNotFoundError:
        raise RenderError(f"{path}: no such results file") from None
    except OSError as exc:
        raise RenderError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RenderError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    except ValueError:  # e.g. text that is not UTF-8
        raise RenderError(f"{path}: not JSON") from None
    if not isinstance(doc, dict):
        raise RenderError(f"{path}: not a gate_bench results object")
    if doc.get("schema") != SCHEMA:
        raise RenderError(f"{path}: results schema {doc.get('schema')!r}, expected {SCHEMA} "
                          "(written by benchmarks/gate_bench.py --label)")
    if doc.get("label") != label:
        raise RenderError(f"{path}: labelled {doc.get('label')!r}, expected {label!r}")
    for key in ("machine", "gate", "tree"):
        if not isinstance(doc.get(key), dict):
            raise RenderError(f"{path}: no {key!r} object")
    runs = doc.get("runs")
    if not isinstance(runs, list):
        raise RenderError(f"{path}: no 'runs' list")
    for run in runs:
        _check_run(path, run)
    labels = [r["label"] for r in runs]
    for needed in ("cold", "warm"):
        if needed not in labels:
            raise RenderError(f"{path}: no {needed!r} run")
    return Results(path, doc)


def newest(results_dir: Path, label: str) -> Path:
    """The newest ``gate-<label>-<stamp>.json`` (the UTC stamps sort as text)."""
    found = sorted(results_dir.glob(f"gate-{label}-*.json"))
    if not found:
        raise RenderError(f"{results_dir}: no gate-{label}-*.json (run benchmarks/gate_bench.py "
                          f"--label {label})")
    return found[-1]


def check_comparable(before: Results, after: Results) -> None:
    for key in SAME_MACHINE:
        if before.doc["machine"].get(key) != after.doc["machine"].get(key):
            raise RenderError(f"{before.path} and {after.path} come from different machines "
                              f"({key}: {before.doc['machine'].get(key)!r} vs "
                              f"{after.doc['machine'].get(key)!r})")
    for key in SAME_GATE:
        if before.doc["gate"].get(key) != after.doc["gate"].get(key):
            raise RenderError(f"{before.path} and {after.path} ran different gate selections "
                              f"({key}: {before.doc['gate'].get(key)!r} vs "
                              f"{after.doc['gate'].get(key)!r})")


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _caches(sizes: object) -> str:
    if not isinstance(sizes, dict) or not sizes:
        return "n/a"
    return ", ".join(f"{name} {size}" for name, size in sizes.items())


def _stage_cell(stage: dict[str, Any] | None) -> str:
    if stage is None:
        return "-"
    if stage["status"] == "skipped":
        return "skipped"
    cell = f"{stage['duration_s']:.1f}"
    if stage.get("install_s") is not None:
        cell += f" (install {stage['install_s']:.1f})"
    if stage["status"] != "passed":
        cell += f" **{stage['status']}**"
    return cell


def _target_rows(after: Results, partial: bool) -> list[str]:
    rows = []
    for name, label, key, limit in TARGETS:
        run = after.run(label)
        value = run.get(key)
        # a stage that failed or errored may have stopped early: its time proves nothing
        unfinished = [n for n, s in run["stages"].items() if s["status"] not in FINISHED]
        if value is None:
            verdict = "not measured"
        elif partial:
            verdict = "not comparable (a partial gate ran, see above)"
        elif unfinished:
            verdict = f"not comparable (did not pass: {', '.join(unfinished)})"
        else:
            verdict = "met" if value <= limit else f"**not met** (over by {value - limit:.1f} s)"
        rows.append(f"| {name} | <= {limit:.0f} s | {_s(value)} s | {verdict} |")
    return rows


def render(before: Results, after: Results) -> str:
    """The generated block, markers included."""
    m = after.doc["machine"]
    gate = after.doc["gate"]
    trial = bool(before.doc.get("trial") or after.doc.get("trial"))
    partial = bool(gate.get("only"))
    cols = [(before, "cold"), (after, "cold"), (before, "warm"), (after, "warm")]
    runs = [res.run(label) for res, label in cols]
    lines = [
        f"{START} (generated by benchmarks/render_benchmarks.py; do not edit) -->",
        "",
    ]
    if trial:
        lines += ["> **TRIAL FIGURES, NOT THE MEASUREMENT.** At least one results file is "
                  "marked as a trial (`gate_bench.py --trial`): taken to prove the pipeline, "
                  "on a busy machine or with stages left out. Do not quote these numbers.", ""]
    selection = []
    if gate.get("skip"):
        selection.append(f"`--skip {gate['skip']}`")
    if gate.get("only"):
        selection.append(f"`--only {gate['only']}` (a partial gate)")
    selection.append(f"`--jobs {gate.get('jobs')}`")
    selection.append("dependency audit against the local OSV stub" if gate.get("osv_stub")
                     else "dependency audit not pointed at the OSV stub")
    lines += [
        f"Machine: {m.get('cpus')} CPUs ({m.get('cpu_model') or 'model unknown'}), "
        f"{m.get('mem_gib')} GiB, {m.get('platform')}, Python {m.get('python')}. "
        f"Gate selection (both trees): {', '.join(selection)}.",
        "",
    ]
    for res, what in ((before, "Before"), (after, "After")):
        tree = res.doc["tree"]
        commit = (tree.get("commit") or "unknown")[:12]
        dirty = " (with uncommitted changes)" if tree.get("dirty") else ""
        caches = ", ".join(res.doc["gate"].get("caches_emptied_for_cold") or []) or "none"
        lines.append(f"- {what}: commit `{commit}`{dirty}, measured "
                     f"{res.doc.get('measured_at')}, raw results `{res.shown_path}`; "
                     f"caches emptied for the cold run: {caches}.")
    lines += [
        "",
        "| | Before, cold | After, cold | Before, warm | After, warm |",
        "| --- | ---: | ---: | ---: | ---: |",
        "| Wall time (s) | " + " | ".join(_s(r["gate_wall_s"]) for r in runs) + " |",
        "| Sum of stage times (s) | " + " | ".join(_s(r["stage_time_sum_s"]) for r in runs)
        + " |",
        "| Installs summed over stages (s) | "
        + " | ".join(_s(r.get("install_sum_s")) for r in runs) + " |",
        "| Package caches after the run (MiB) | "
        + " | ".join(_caches(r.get("cache_mib_after")) for r in runs) + " |",
        "| Verdict | " + " | ".join(str(r.get("verdict", "?")) for r in runs) + " |",
        "| 1-minute load average at start | "
        + " | ".join(_s(r.get("load1_before")) for r in runs) + " |",
        "",
        "n/a: the tree does not record install times (`install_s` came with the hash-locked "
        "uv installs).",
        "",
        "Targets (issue 14, for the after tree):",
        "",
        "| Target | Limit | After | Verdict |",
        "| --- | ---: | ---: | --- |",
        *_target_rows(after, partial),
        "",
        "Per stage, seconds (install time in brackets where the tree records it):",
        "",
        "| Stage | Before, cold | After, cold | Before, warm | After, warm |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    names = list(runs[1]["stages"]) + [n for n in runs[0]["stages"] if n not in runs[1]["stages"]]
    for name in names:
        lines.append(f"| {name} | "
                     + " | ".join(_stage_cell(r["stages"].get(name)) for r in runs) + " |")
    lines += ["", END]
    return "\n".join(lines)


def replace_block(doc_text: str, block: str, doc_path: Path) -> str:
    start = doc_text.find(START)
    end = doc_text.find(END)
    if start < 0 or end < start:
        raise RenderError(f"{doc_path}: no '{START} ... {END}' block to fill")
    return doc_text[:start] + block + doc_text[end + len(END):]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--before", type=Path, help="results of the before tree")
    parser.add_argument("--after", type=Path, help="results of the after tree")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail if the doc is out of date")
    mode.add_argument("--print", action="store_true", help="print the block only")
    args = parser.parse_args(argv)
    try:
        before = load(args.before or newest(args.results, "before"), "before")
        after = load(args.after or newest(args.results, "after"), "after")
        check_comparable(before, after)
        block = render(before, after)
        if args.print:
            print(block)
            return 0
        try:
            current = args.doc.read_text(encoding="utf-8")
        except OSError as exc:
            raise RenderError(f"{args.doc}: cannot read: {exc.strerror}") from None
        updated = replace_block(current, block, args.doc)
    except RenderError as exc:
        print(f"render_benchmarks: error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if updated != current:
            print(f"render_benchmarks: {args.doc} is out of date with {before.shown_path} and "
                  f"{after.shown_path}: run python3 benchmarks/render_benchmarks.py",
                  file=sys.stderr)
            return 1
        return 0
    if updated != current:
        args.doc.write_text(updated, encoding="utf-8")
    print(f"render_benchmarks: {args.doc} from {before.shown_path} and {after.shown_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
