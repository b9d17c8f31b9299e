"""Judge of coverage.py's JSON report: what a test stage measured of the installed wheel.

Why a judge and not ``coverage report --fail-under``: ``--fail-under`` takes one
number for statements and branches of all packages together, and counts whatever was
imported, including a source tree on ``sys.path``. The stage tests
the wheel, so this judge counts only the files of each package under the stage
interpreter's ``site-packages`` (purelib/platlib, as ``pytest_origin`` finds them: the
host's stage venv, the container's image Python), and per package:

- nothing measured (no file of it there, or none of its statements ran) is a problem
  ("examined nothing"): the tool did not look, which must never pass;
- a statement or branch percentage below its floor is a finding (the stage fails).

Stdlib only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aksara_release import pytest_origin
from aksara_release.judges import Finding, JudgeError, Judgement
from aksara_release.judges.reports import read_json

#: What coverage.py prints when it has nothing to combine or report.
_NO_DATA = re.compile(r"No data to (combine|report)")
_SUMMARY_KEYS = ("num_statements", "covered_lines", "num_branches", "covered_branches")


@dataclass(frozen=True)
class Totals:
    """One package's measured files and counts."""

    files: int = 0
    statements: int = 0
    covered_statements: int = 0
    branches: int = 0
    covered_branches: int = 0

    def add(self, summary: Mapping[str, int]) -> Totals:
        return Totals(self.files + 1, self.statements + summary["num_statements"],
                      self.covered_statements + summary["covered_lines"],
                      self.branches + summary["num_branches"],
                      self.covered_branches + summary["covered_branches"])

    def percent(self, kind: str) -> float:
        """Percent of statements (``lines``) or branches covered; 100 when there are none."""
        total, done = ((self.statements, self.covered_statements) if kind == "lines"
                       else (self.branches, self.covered_branches))
        return 100.0 * done / total if total else 100.0


def installed_roots() -> tuple[str, ...]:
    """The running interpreter's ``site-packages`` directories (resolved): where the
    stage installed the wheel (the same definition as the import-origin plugin's)."""
    return tuple(str(p) for p in pytest_origin.installed_roots())


def _owner(filename: str, packages: Sequence[str], roots: Sequence[str]) -> str | None:
    """The package among ``packages`` an installed file belongs to, or None."""
    path = os.path.realpath(filename)  # relative names are relative to the stage's cwd
    for root in roots:
        for package in packages:
            top = os.path.join(root, *package.split("."))
            if path.startswith(top + os.sep) or path == top + ".py":
                return package
    return None


def _summary(name: str, entry: Any, report: str) -> dict[str, int]:
    summary = entry.get("summary") if isinstance(entry, dict) else None
    if not isinstance(summary, dict) or not all(
            isinstance(summary.get(k), int) and not isinstance(summary.get(k), bool)
            and summary[k] >= 0 for k in _SUMMARY_KEYS):
        raise JudgeError(f"report {report}: file {name!r} has no statement and branch counts")
    return {k: int(summary[k]) for k in _SUMMARY_KEYS}


def judge_coverage(path: str, output: str, *, packages: Sequence[str],
                   lines: float | None = None, branches: float | None = None,
                   roots: Sequence[str] | None = None) -> Judgement:
    """Per package of ``packages``: statements and branches measured in the installed
    files, their percentages (``Judgement.percent``) against the floors."""
    report = Path(path).name
    if not packages:
        raise JudgeError("judge coverage needs --measure (the packages to measure)")
    no_data = _NO_DATA.search(output)
    if no_data is not None and not Path(path).exists():
        raise JudgeError(f"examined nothing: coverage.py collected no data ({no_data.group(0)})")
    data = read_json(path)
    files = data.get("files") if isinstance(data, dict) else None
    meta = data.get("meta") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not isinstance(meta, dict):
        raise JudgeError(f"report {report} is not a coverage.py JSON report (no files/meta)")
    if meta.get("branch_coverage") is not True:
        raise JudgeError(f"report {report} holds no branch data (measured without branch = true)")
    where = tuple(roots) if roots is not None else installed_roots()
    totals = {package: Totals() for package in packages}
    for name, entry in files.items():
        summary = _summary(str(name), entry, report)
        owner = _owner(str(name), packages, where)
        if owner is not None:
            totals[owner] = totals[owner].add(summary)
    judgement = Judgement(examined="statements")
    floors = {"lines": lines, "branches": branches}
    for package, got in totals.items():
        if got.statements == 0:
            judgement.problems.append(
                f"{package}: examined nothing (no file of it measured in the installed "
                f"wheel under {', '.join(where)})")
            continue
        if got.covered_statements == 0:
            judgement.problems.append(
                f"{package}: examined nothing (none of its {got.statements} statements ran: "
                "the tests never imported it from the installed wheel)")
            continue
        for kind, floor in floors.items():
            value = got.percent(kind)
            judgement.percent[f"{package}.{kind}"] = round(value, 2)
            if floor is not None and value < floor:
                done, total = ((got.covered_statements, got.statements) if kind == "lines"
                               else (got.covered_branches, got.branches))
                judgement.findings.append(Finding(
                    rule="below-floor", location=package,
                    message=f"{kind} {value:.2f}% < floor {floor:g}% ({done} of {total})"))
    measured = list(totals.values())
    judgement.counts.update({
        "files": sum(t.files for t in measured),
        "statements": sum(t.statements for t in measured),
        "covered_statements": sum(t.covered_statements for t in measured),
        "branches": sum(t.branches for t in measured),
        "covered_branches": sum(t.covered_branches for t in measured),
    })
    return judgement


__all__ = ["Totals", "installed_roots", "judge_coverage"]
