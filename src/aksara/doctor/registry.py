"""The check registry: small registered units, in the spirit of Django's system checks.

Why a registry: each check is one function with an id and a title, so adding a check
is one decorated function, the CLI can validate ``--skip`` ids against the known set,
and the docs and tests can enumerate every check. A check receives a
:class:`~aksara.doctor.context.CheckContext` and returns a :class:`Result`; it never
raises (the runner turns an unexpected exception into a failing result anyway, so a
buggy check can never be mistaken for a passing one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aksara.dburl import scrub

if TYPE_CHECKING:
    from aksara.doctor.context import CheckContext

#: The two check suites: the developer diagnostics and the production policy.
DOCTOR = "doctor"
PRODUCTION = "production"
#: Secrets shorter than this are not scrubbed from free text (they would mask ordinary
#: words); checks never quote secrets in the first place, scrubbing is the second line.
MIN_SCRUB_LENGTH = 4


class Status(StrEnum):
    """Outcome of one check. ``NOT_EVALUATED`` is never a pass."""

    PASS = "pass"  # noqa: S105 - a status name, not a password
    WARN = "warn"
    FAIL = "fail"
    NOT_EVALUATED = "not_evaluated"


@dataclass(frozen=True)
class Result:
    """What a check function returns: a status, a one-line reason and a fix hint."""

    status: Status
    reason: str
    hint: str = ""


def passed(reason: str) -> Result:
    return Result(Status.PASS, reason, "")


def warn(reason: str, hint: str) -> Result:
    return Result(Status.WARN, reason, hint)


def fail(reason: str, hint: str) -> Result:
    return Result(Status.FAIL, reason, hint)


def not_evaluated(reason: str, hint: str = "") -> Result:
    return Result(Status.NOT_EVALUATED, reason, hint)


@dataclass(frozen=True)
class CheckResult:
    """A check's result as reported: its id and title plus the :class:`Result`."""

    id: str
    title: str
    status: Status
    reason: str
    hint: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status.value,
            "reason": self.reason,
            "hint": self.hint,
        }


CheckFunction = Callable[["CheckContext"], Result]


@dataclass(frozen=True)
class Check:
    """A registered check."""

    id: str
    title: str
    suites: frozenset[str]
    func: CheckFunction


_REGISTRY: dict[str, Check] = {}


def register(
    check_id: str, title: str, suites: Iterable[str]
) -> Callable[[CheckFunction], CheckFunction]:
    """Decorator: register ``func`` as check ``check_id`` in the given suites."""

    def decorate(func: CheckFunction) -> CheckFunction:
        if check_id in _REGISTRY:
            raise ValueError(f"check {check_id!r} registered twice")
        _REGISTRY[check_id] = Check(check_id, title, frozenset(suites), func)
        return func

    return decorate


def checks_for(suite: str) -> list[Check]:
    """The checks of ``suite`` in registration order (the order they are reported in)."""
    _load_builtin_checks()
    return [check for check in _REGISTRY.values() if suite in check.suites]


def get_check(check_id: str) -> Check:
    _load_builtin_checks()
    return _REGISTRY[check_id]


def _load_builtin_checks() -> None:
    # Importing the modules registers their checks (once; imports are cached).
    from aksara.doctor import checks_config, checks_database  # noqa: F401


def _one_line(text: str, empty: str = "") -> str:
    """Collapse all whitespace (newlines included) so a reason is always one line."""
    return " ".join(text.split()) or empty


def run_check(check: Check, context: CheckContext, skip: Iterable[str] = ()) -> CheckResult:
    """Run one check; skipped and crashing checks are never reported as passed."""
    if check.id in set(skip):
        result = not_evaluated("skipped with --skip", f"drop '--skip {check.id}' to evaluate it")
    else:
        try:
            result = check.func(context)
        except Exception as exc:  # noqa: BLE001 - a crashing check must fail, not vanish
            result = fail(
                f"the check crashed ({type(exc).__name__})",
                "this is a bug in aksara; please report it",
            )
    secrets = [s for s in context.secrets() if len(s) >= MIN_SCRUB_LENGTH]
    return CheckResult(
        id=check.id,
        title=check.title,
        status=result.status,
        reason=_one_line(scrub(result.reason, secrets), "(no reason given)"),
        hint=_one_line(scrub(result.hint, secrets)),
    )


def run_suite(suite: str, context: CheckContext, skip: Iterable[str] = ()) -> list[CheckResult]:
    skipped = set(skip)
    return [run_check(check, context, skipped) for check in checks_for(suite)]
