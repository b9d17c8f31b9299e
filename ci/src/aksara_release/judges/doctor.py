"""Judge ``aksara doctor production-check --format json`` by its document, not its
exit code: the report validates against the published schema, its summary counts
agree with its checks, and every production check of the installed package is
present with ``pass`` (except the ids the stage definition declares not evaluated,
which must then be reported ``not_evaluated``).

The check ids come from the installed package's registry (``checks_for``) so a check
that silently drops out of the report is caught. ``jsonschema`` is installed by the
doctor stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aksara_release.judges import Finding, JudgeError, Judgement, one_line
from aksara_release.judges.reports import read_json


def production_check_ids() -> list[str]:
    """The production suite's check ids, from the installed aksara."""
    try:
        from aksara.doctor import registry  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise JudgeError("aksara is not installed: cannot list the production checks") from None
    return [check.id for check in registry.checks_for(registry.PRODUCTION)]


def judge_doctor(path: str, *, schema: str, not_evaluated: Sequence[str],
                 expected_ids: Sequence[str] | None = None) -> Judgement:
    import jsonschema  # type: ignore[import-untyped,unused-ignore]

    report = read_json(path)
    schema_doc = read_json(schema)
    judgement = Judgement(examined="checks")
    validator = jsonschema.Draft202012Validator(schema_doc)
    errors = sorted(validator.iter_errors(report), key=lambda e: list(e.absolute_path))
    for error in errors:
        where = "/".join(str(p) for p in error.absolute_path) or "(document)"
        judgement.problems.append(f"doctor.json does not match {Path(schema).name} at "
                                  f"{where}: {one_line(error.message, 160)}")
    if errors or not isinstance(report, dict):
        return judgement
    checks = {str(c["id"]): c for c in report["checks"]}
    wanted = list(expected_ids) if expected_ids is not None else production_check_ids()
    skipped = set(not_evaluated)
    for check_id in wanted:
        check = checks.get(check_id)
        expected = "not_evaluated" if check_id in skipped else "pass"
        if check is None:
            judgement.problems.append(f"production check {check_id} is missing from the report")
        elif check["status"] != expected:
            judgement.findings.append(Finding(
                rule=check_id, location=str(check["status"]),
                message=one_line(check.get("reason", ""), 200)))
    for check_id in sorted(set(checks) - set(wanted)):
        judgement.problems.append(f"the report has an unknown check {check_id}")
    summary = report["summary"]
    for status in ("pass", "warn", "fail", "not_evaluated"):
        actual = sum(1 for c in report["checks"] if c["status"] == status)
        if summary.get(status) != actual:
            judgement.problems.append(f"summary says {summary.get(status)} {status}, the "
                                      f"checks say {actual}")
    judgement.counts.update(checks=len(checks), expected_checks=len(wanted),
                            findings=len(judgement.findings))
    return judgement


__all__ = ["judge_doctor", "production_check_ids"]
