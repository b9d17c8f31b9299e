"""The doctor's report: verdict, exit code, JSON document and text rendering.

The JSON document is a public interface (``report.schema.json`` beside this module,
documented in docs/doctor.md); the text form is one line per check plus a summary.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from aksara import __version__
from aksara.doctor.registry import CheckResult, Status
from aksara.exitcodes import ExitCode
from aksara.settings import Settings

SCHEMA_VERSION = 1
#: Status markers of the text output, all the same width.
MARKERS: dict[Status, str] = {
    Status.PASS: "[PASS]",
    Status.WARN: "[WARN]",
    Status.FAIL: "[FAIL]",
    Status.NOT_EVALUATED: "[ N/A]",
}


def load_schema() -> dict[str, Any]:
    """The JSON Schema of the report, shipped inside the package."""
    text = resources.files("aksara.doctor").joinpath("report.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@dataclass(frozen=True)
class Report:
    """The results of one doctor run and what they add up to."""

    command: str
    checks: Sequence[CheckResult]
    strict: bool
    settings: Settings | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def count(self, status: Status) -> int:
        return sum(1 for c in self.checks if c.status is status)

    @property
    def exit_code(self) -> ExitCode:
        """1 when a check failed; with ``strict``, also on a warning or a not-evaluated check."""
        if self.count(Status.FAIL):
            return ExitCode.CHECK_FAILED
        if self.strict and (self.count(Status.WARN) or self.count(Status.NOT_EVALUATED)):
            return ExitCode.CHECK_FAILED
        return ExitCode.OK

    @property
    def status(self) -> str:
        return "pass" if self.exit_code == ExitCode.OK else "fail"

    def summary(self) -> dict[str, int]:
        return {status.value: self.count(status) for status in Status}

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "command": self.command,
            "aksara_version": __version__,
        }
        if self.settings is not None:
            document["python_version"] = platform.python_version()
            document["settings"] = self.settings.to_json()
        document.update(
            {
                "status": self.status,
                "strict": self.strict,
                "exit_code": int(self.exit_code),
                "summary": self.summary(),
                "checks": [c.to_json() for c in self.checks],
            }
        )
        return document

    def render_json(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=True) + "\n"

    def render_text(self) -> str:
        lines: list[str] = []
        if self.settings is not None:
            lines.append(f"aksara {__version__} on Python {platform.python_version()}")
            for value in self.settings.values.values():
                shown = value.display()
                text = "(not set)" if shown is None else (shown or "(empty)")
                if value.error:
                    text = f"(invalid) {value.error}"
                where = f"{value.source}: {value.origin}" if value.origin else value.source
                lines.append(f"setting {value.name} = {text} [{where}]")
        for check in self.checks:
            line = f"{MARKERS[check.status]} {check.id}: {check.reason}"
            if check.status is not Status.PASS and check.hint:
                line += f" (fix: {check.hint})"
            lines.append(line)
        summary = self.summary()
        lines.append(
            f"{self.command}: {self.status.upper()}: {summary['pass']} passed, "
            f"{summary['warn']} warning(s), {summary['fail']} failed, "
            f"{summary['not_evaluated']} not evaluated"
            + (" (strict)" if self.strict else "")
            + f"; exit {int(self.exit_code)}"
        )
        return "\n".join(lines) + "\n"
