"""Judges: read a tool's report and say what it examined and what it found.

Why: an exit code alone lets a finding pass (``zizmor --format sarif`` exits 0 with
findings) and lets "looked at nothing" pass (bandit on a missing directory exits 0).
A judge parses the report the tool wrote and returns a :class:`Judgement`: counts of
what was examined, the findings (rule id, ``file:line``, message) and problems that
mean the report could not be trusted (missing, empty, unparsable). The exit code is
judged separately by ``run-tool`` (``checks.py``); either one failing fails the tool.

Stdlib only at import time; judges needing a third-party library (CycloneDX schema
validation, ``packaging`` markers, ``jsonschema``) import it inside the function, in
the stage that installs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class JudgeError(Exception):
    """The report cannot be judged (missing, empty, unparsable): the tool fails."""


@dataclass(frozen=True)
class Finding:
    """One problem a tool reported, in the words of an actionable reason line."""

    rule: str
    location: str
    message: str

    def text(self) -> str:
        where = f"{self.location}: " if self.location else ""
        rule = f"{self.rule} " if self.rule else ""
        return f"{rule}{where}{self.message}".strip()

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "location": self.location, "message": self.message}


@dataclass
class Judgement:
    """What a judge concluded from one report.

    ``counts`` hold what the tool examined (``files``, ``tests_run``, ``dependencies``,
    ``components``...); ``examined`` names the count that must reach the minimum
    (``None``: nothing to count for this tool). ``problems`` are reasons the report
    cannot be trusted or the tool did not look (they fail the tool like findings).
    """

    counts: dict[str, int] = field(default_factory=dict)
    examined: str | None = None
    findings: list[Finding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: Percentages a judge measured (coverage: ``<package>.lines``/``.branches``);
    #: recorded beside the counts, which are whole numbers.
    percent: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "examined": self.examined,
            "findings": [f.to_json() for f in self.findings],
            "problems": list(self.problems),
            "percent": dict(self.percent),
        }


def one_line(text: object, limit: int = 300) -> str:
    """First line of ``text``, whitespace-collapsed and bounded (for reason lines)."""
    line = " ".join(str(text).strip().splitlines()[0].split()) if str(text).strip() else ""
    return line[:limit]


__all__ = ["Finding", "JudgeError", "Judgement", "one_line"]
