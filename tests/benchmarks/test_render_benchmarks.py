"""The gate benchmark's before/after section is generated from raw results (issue 14).

``benchmarks/render_benchmarks.py`` turns two results files of ``gate_bench.py`` into the
block of docs/benchmarks.md. These tests render from a small committed fixture pair
(no gate run), plant a target on each side of its limit, and prove that a missing,
malformed, mislabelled or other-machine results file is refused with one line on stderr
and exit code 2, and that ``--check`` goes red when the doc no longer matches.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
BEFORE = FIXTURES / "gate-before-20260101T000000Z.json"
AFTER = FIXTURES / "gate-after-20260101T010000Z.json"
RENDER = ROOT / "benchmarks" / "render_benchmarks.py"
BENCH = ROOT / "benchmarks" / "gate_bench.py"
DOC = """# Benchmarks

Prose before.

<!-- gate-before-after:start (placeholder) -->
nothing yet
<!-- gate-before-after:end -->

Prose after.
"""


def _render(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RENDER), *map(str, args)],
                          capture_output=True, text=True, check=False)


def _pair(tmp_path: Path, edit_after: Any = None, edit_before: Any = None
          ) -> tuple[Path, Path]:
    """Copies of the fixture pair, optionally edited (a callable on the loaded doc)."""
    out = []
    for src, edit in ((BEFORE, edit_before), (AFTER, edit_after)):
        doc = json.loads(src.read_text())
        if edit:
            edit(doc)
        dest = tmp_path / src.name
        dest.write_text(json.dumps(doc))
        out.append(dest)
    return out[0], out[1]


def _rows(block: str) -> dict[str, str]:
    """Table rows keyed by their first cell."""
    return {line.split(" | ")[0].lstrip("| "): line for line in block.splitlines()
            if line.startswith("| ") and " | " in line}


def test_renders_the_before_after_table_from_the_fixture() -> None:
    proc = _render("--print", "--before", BEFORE, "--after", AFTER)
    assert proc.returncode == 0, proc.stderr
    rows = _rows(proc.stdout)
    assert rows["Wall time (s)"] == "| Wall time (s) | 87.0 | 71.5 | 68.0 | 44.5 |"
    assert rows["Sum of stage times (s)"] == (
        "| Sum of stage times (s) | 170.0 | 120.0 | 150.0 | 90.0 |")
    # the before tree records no install times: n/a, never 0
    assert rows["Installs summed over stages (s)"] == (
        "| Installs summed over stages (s) | n/a | 30.0 | n/a | 14.0 |")
    assert rows["Package caches after the run (MiB)"] == (
        "| Package caches after the run (MiB) | pip 0.0 | pip 0.0, uv 120.5 | pip 0.0 | "
        "pip 0.0, uv 120.5 |")
    assert rows["unit-tests"] == (
        "| unit-tests | 44.0 | 38.0 (install 6.0) | 40.0 | 36.5 (install 2.5) |")
    assert rows["workflow-lint"] == "| workflow-lint | skipped | skipped | skipped | skipped |"
    assert rows["Warm gate wall time"].endswith("| 44.5 s | met |")
    assert rows["Cold gate wall time"].endswith("| 71.5 s | **not met** (over by 1.5 s) |")
    assert rows["Installs summed over stages, warm"].endswith("| 14.0 s | met |")
    assert "commit `aaaaaaaaaaaa`" in proc.stdout and "commit `bbbbbbbbbbbb`" in proc.stdout
    assert "Test CPU" in proc.stdout
    assert "TRIAL" not in proc.stdout


def test_targets_flip_on_each_side_of_the_limit(tmp_path: Path) -> None:
    def slower(doc: dict[str, Any]) -> None:
        doc["runs"][1]["gate_wall_s"] = 45.1
        doc["runs"][1]["install_sum_s"] = 15.2
        doc["runs"][0]["gate_wall_s"] = 70.0

    before, after = _pair(tmp_path, edit_after=slower)
    rows = _rows(_render("--print", "--before", before, "--after", after).stdout)
    assert rows["Warm gate wall time"].endswith("| 45.1 s | **not met** (over by 0.1 s) |")
    assert rows["Installs summed over stages, warm"].endswith(
        "| 15.2 s | **not met** (over by 0.2 s) |")
    assert rows["Cold gate wall time"].endswith("| 70.0 s | met |")


def test_a_stage_that_did_not_pass_makes_the_targets_not_comparable(tmp_path: Path) -> None:
    def failed(doc: dict[str, Any]) -> None:
        doc["runs"][1]["stages"]["unit-tests"]["status"] = "failed"

    before, after = _pair(tmp_path, edit_after=failed)
    proc = _render("--print", "--before", before, "--after", after)
    rows = _rows(proc.stdout)
    assert rows["Warm gate wall time"].endswith("| not comparable (did not pass: unit-tests) |")
    assert rows["unit-tests"].endswith("| 36.5 (install 2.5) **failed** |")
    assert rows["Cold gate wall time"].endswith("**not met** (over by 1.5 s) |")


def test_a_partial_gate_and_a_trial_are_labelled(tmp_path: Path) -> None:
    def partial_trial(doc: dict[str, Any]) -> None:
        doc["gate"]["only"] = "package-build"
        doc["trial"] = True

    def partial(doc: dict[str, Any]) -> None:
        doc["gate"]["only"] = "package-build"

    before, after = _pair(tmp_path, edit_after=partial_trial, edit_before=partial)
    proc = _render("--print", "--before", before, "--after", after)
    assert "TRIAL FIGURES, NOT THE MEASUREMENT" in proc.stdout
    assert _rows(proc.stdout)["Warm gate wall time"].endswith(
        "| not comparable (a partial gate ran, see above) |")


def _one_line_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("render_benchmarks: error: ")
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_a_missing_results_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "gate-before-nothing.json"
    _one_line_error(_render("--print", "--before", missing, "--after", AFTER),
                    str(missing), "no such results file")


def test_no_results_of_a_label_is_one_line(tmp_path: Path) -> None:
    _one_line_error(_render("--print", "--results", tmp_path), "no gate-before-*.json")


@pytest.mark.parametrize(("text", "fragment"), [
    ("{not json", "not JSON"),
    ("[]", "not a gate_bench results object"),
    ('{"schema": 1, "label": "before"}', "results schema 1"),
])
def test_a_malformed_results_file_is_one_line(tmp_path: Path, text: str, fragment: str) -> None:
    bad = tmp_path / "gate-before-bad.json"
    bad.write_text(text)
    _one_line_error(_render("--print", "--before", bad, "--after", AFTER), str(bad), fragment)


def test_a_run_without_numbers_or_a_warm_run_is_refused(tmp_path: Path) -> None:
    def no_wall(doc: dict[str, Any]) -> None:
        doc["runs"][0]["gate_wall_s"] = "fast"

    before, after = _pair(tmp_path, edit_after=no_wall)
    _one_line_error(_render("--print", "--before", before, "--after", after),
                    "run 'cold' has no number 'gate_wall_s'")

    def cold_only(doc: dict[str, Any]) -> None:
        doc["runs"] = doc["runs"][:1]

    before, after = _pair(tmp_path, edit_after=cold_only)
    _one_line_error(_render("--print", "--before", before, "--after", after), "no 'warm' run")


def test_swapped_labels_are_refused() -> None:
    _one_line_error(_render("--print", "--before", AFTER, "--after", BEFORE),
                    "labelled 'after', expected 'before'")


def test_results_from_different_machines_or_selections_are_refused(tmp_path: Path) -> None:
    def other_machine(doc: dict[str, Any]) -> None:
        doc["machine"]["cpus"] = 8

    before, after = _pair(tmp_path, edit_after=other_machine)
    _one_line_error(_render("--print", "--before", before, "--after", after),
                    "different machines (cpus: 2 vs 8)")

    def other_skip(doc: dict[str, Any]) -> None:
        doc["gate"]["skip"] = "workflow-lint,dependency-audit"

    before, after = _pair(tmp_path, edit_after=other_skip)
    _one_line_error(_render("--print", "--before", before, "--after", after),
                    "different gate selections (skip:")


def test_writes_only_the_block_and_check_goes_red_when_stale(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(DOC)
    args = ("--before", BEFORE, "--after", AFTER, "--doc", doc)
    assert _render("--check", *args).returncode == 1  # the placeholder is out of date
    written = _render(*args)
    assert written.returncode == 0, written.stderr
    text = doc.read_text()
    assert text.startswith(
        "# Benchmarks\n\nProse before.\n\n<!-- gate-before-after:start (generated")
    assert text.endswith("<!-- gate-before-after:end -->\n\nProse after.\n")
    assert "| Wall time (s) | 87.0 | 71.5 | 68.0 | 44.5 |" in text
    assert _render("--check", *args).returncode == 0
    doc.write_text(text.replace("| 87.0 |", "| 80.0 |"))
    stale = _render("--check", *args)
    assert stale.returncode == 1
    assert "is out of date" in stale.stderr


def test_a_doc_without_the_block_is_one_line(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n")
    _one_line_error(_render("--before", BEFORE, "--after", AFTER, "--doc", doc),
                    "no '<!-- gate-before-after:start")


def test_the_committed_doc_matches_the_results_it_cites() -> None:
    """docs/benchmarks.md's block is exactly what the renderer makes of the two raw
    results files it names. (Not "the newest pair": a benchmark in progress writes the
    before file first, and the gate it then runs on this tree must not fail on that.)"""
    doc = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    cited = dict(re.findall(r"raw results `(benchmarks/results/gate-(before|after)-[^`]+)`",
                            doc))
    by_label = {label: path for path, label in cited.items()}
    assert set(by_label) == {"before", "after"}, cited
    proc = _render("--check", "--before", str(ROOT / by_label["before"]),
                   "--after", str(ROOT / by_label["after"]))
    assert proc.returncode == 0, proc.stderr


def test_gate_bench_refuses_a_tree_without_a_gate_in_one_line(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--tree", str(tmp_path), "--label",
                           "before", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"gate_bench: error: {tmp_path} has no ci/gate.py: not a " \
                                  "checkout of this project"
    assert not (tmp_path / "out").exists()
