"""Human-readable output of ``aksara status`` and ``aksara migrate``.

Why separate from the JSON: the text is for people and may change; the JSON documents
(``to_json`` of the reports) are the stable, documented interface.
Every line goes through :func:`~aksara.migrations.safetext.printable`: descriptions,
role names and server messages come from the database and must not forge lines.
"""

from __future__ import annotations

from aksara.migrations.engine import MigrateReport
from aksara.migrations.safetext import printable
from aksara.migrations.status import StatusReport

#: Drifted or missing migrations listed by ``migrate`` before "and N more".
DRIFT_LINES = 50


def _header(database: str, table: str, directory: str) -> list[str]:
    return [
        f"database:       {database}",
        f"tracking table: {table}",
        f"migrations:     {directory}",
    ]


def status_text(report: StatusReport) -> str:
    lines = _header(report.database, report.tracking_table, report.migrations_dir)
    lines.append("")
    for m in report.migrations:
        name = m.file.name if m.file else f"(file missing: {m.description})"
        detail = ""
        if m.record is not None:
            detail = f"applied {m.record.applied_at:%Y-%m-%d %H:%M:%S%z} by {m.record.applied_by}"
        if m.state == "drifted" and m.file is not None and m.record is not None:
            detail = (
                f"file checksum {m.file.checksum[:12]}... != recorded {m.record.checksum[:12]}..."
            )
        lines.append(f"  {m.state:<8} {m.version:>6}  {name}  {detail}".rstrip())
    if not report.migrations:
        lines.append("  (no migrations)")
    s = report.summary()
    lines.append("")
    lines.append(
        f"status: {report.status} ({s['applied']} applied, {s['pending']} pending, "
        f"{s['drifted']} drifted, {s['missing']} missing)"
    )
    return _join(lines)


def _join(lines: list[str]) -> str:
    """One printed line per entry: a newline or escape inside an entry is shown escaped."""
    return "\n".join(printable(line) for line in lines)


def migrate_text(report: MigrateReport) -> str:
    """The final summary (progress lines were printed while applying)."""
    lines: list[str] = []
    if report.drift:
        lines.append("refusing to migrate: applied migrations do not match their files:")
        for m in report.drift[:DRIFT_LINES]:
            what = "changed after it was applied" if m.state == "drifted" else "file is missing"
            lines.append(f"  {m.state:<8} {m.version:>6}  {m.name}: {what}")
        if len(report.drift) > DRIFT_LINES:
            lines.append(f"  ... and {len(report.drift) - DRIFT_LINES} more (see 'aksara status')")
        lines.append("nothing was applied.")
        return _join(lines)
    if report.dry_run:
        if report.steps:
            lines.append(f"dry run: would apply {len(report.steps)} migration(s):")
            for step in report.steps:
                mode = "" if step.file.transactional else "  [no-transaction]"
                lines.append(f"  {step.file.version:>6}  {step.file.name}{mode}")
        else:
            lines.append("dry run: nothing to apply.")
        lines.append("dry run: nothing was changed.")
        return _join(lines)
    if report.error is not None:
        lines.append(f"failed: {report.error}")
        lines.append(
            f"{report.count('applied')} migration(s) applied before the failure; "
            f"{report.remaining} pending."
        )
        return _join(lines)
    if report.steps:
        lines.append(
            f"done: {report.count('applied')} migration(s) applied, {report.remaining} pending."
        )
    else:
        lines.append(f"up to date: nothing to apply ({report.remaining} pending beyond --target).")
        if not report.remaining:
            lines[-1] = "up to date: nothing to apply."
    return _join(lines)
