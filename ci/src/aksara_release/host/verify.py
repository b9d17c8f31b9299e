"""``verify <evidence-dir>``: trust nothing in an evidence directory without re-checking.

Checks, each reported on one line: ``summary.json`` parses and matches the schema
(and its schema version); every artifact it lists exists with the recorded SHA-256
and size; ``dist/SHA256SUMS`` matches the distributions; no unlisted file hides in
``dist/`` or ``stages/``; ``summary.md`` is the rendering of ``summary.json``; the
verdict is ``pass`` and every required stage (the union of the summary's list and
the current stage definitions) passed. The publish workflow runs this before upload.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aksara_release import evidence, stages


def _schema() -> dict[str, Any]:
    return json.loads(evidence.SCHEMA_FILE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def schema_problems(summary: Any) -> list[str]:
    import jsonschema  # type: ignore[import-untyped,unused-ignore]

    validator = jsonschema.Draft202012Validator(_schema())
    problems = []
    for error in sorted(validator.iter_errors(summary), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        problems.append(f"summary.json schema: {where}: {error.message[:200]}")
    return problems


def verify(directory: Path, required: Sequence[str] | None = None) -> list[str]:
    """Every problem found (empty: the evidence is intact and the gate passed)."""
    root = directory.resolve()
    summary_path = root / evidence.SUMMARY_JSON
    if not summary_path.is_file():
        return [f"{summary_path}: missing (not an evidence directory?)"]
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [f"summary.json: not valid JSON ({exc.__class__.__name__})"]
    except OSError as exc:
        return [f"summary.json: unreadable ({exc.strerror or exc.__class__.__name__})"]
    problems = schema_problems(summary)
    if problems:
        return problems

    listed: set[str] = set()
    for artifact in evidence.all_artifacts(summary):
        listed.add(artifact.path)
        path = root / artifact.path
        if not path.is_file():
            what = "not a regular file" if path.exists() else "missing"
            problems.append(f"{artifact.path}: {what}")
            continue
        try:
            intact = (path.stat().st_size == artifact.size
                      and evidence.sha256_file(path) == artifact.sha256)
        except OSError as exc:
            problems.append(f"{artifact.path}: unreadable ({exc.strerror or exc})")
            continue
        if not intact:
            problems.append(f"{artifact.path}: SHA-256 mismatch (modified after the run)")

    sums_path = root / evidence.DIST_DIR / evidence.SHA256SUMS
    dist_files = [a for a in summary["dist"] if not a["path"].endswith(evidence.SHA256SUMS)]
    if dist_files:
        try:
            sums = evidence.parse_sha256sums(sums_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            problems.append("dist/SHA256SUMS: missing")
        except OSError as exc:
            problems.append(f"dist/SHA256SUMS: unreadable ({exc.strerror or exc})")
        except ValueError as exc:  # UnicodeDecodeError too
            problems.append(f"dist/SHA256SUMS: unreadable ({exc.__class__.__name__}: {exc})")
        else:
            for item in dist_files:
                name = item["path"].rsplit("/", 1)[-1]
                if sums.get(name) != item["sha256"]:
                    problems.append(f"dist/SHA256SUMS: {name} does not match summary.json")
            for name in sorted(set(sums) - {a["path"].rsplit("/", 1)[-1] for a in dist_files}):
                problems.append(f"dist/SHA256SUMS: lists {name}, which summary.json does not")

    for sub in (evidence.DIST_DIR, evidence.STAGES_DIR):
        base = root / sub
        if base.is_dir():
            for path in sorted(base.rglob("*")):
                rel = path.relative_to(root).as_posix()
                if path.is_file() and rel not in listed:
                    problems.append(f"{rel}: not listed in summary.json")

    md = root / evidence.SUMMARY_MD
    try:
        if md.read_text(encoding="utf-8") != evidence.render_summary_md(summary):
            problems.append("summary.md: does not match summary.json")
    except FileNotFoundError:
        problems.append("summary.md: missing")
    except (OSError, ValueError) as exc:
        problems.append(f"summary.md: unreadable ({exc.__class__.__name__})")

    by_name = {s["name"]: s for s in summary["stages"]}
    current = required or stages.required_stages()
    wanted = list(dict.fromkeys([*summary["required_stages"], *current]))
    for name in wanted:
        stage = by_name.get(name)
        if stage is None:
            problems.append(f"required stage {name}: no result")
        elif stage["status"] != "passed":
            detail = f": {stage['reason']}" if stage.get("reason") else ""
            problems.append(f"required stage {name}: {stage['status']}{detail}")
    if summary["verdict"] != "pass":
        problems.append(f"verdict is {summary['verdict']}, not pass")
    elif evidence.compute_verdict(
        [evidence.StageResult.from_json(s) for s in summary["stages"]], wanted
    ) != "pass":
        problems.append("verdict says pass but the stage results do not")
    return problems


#: Where the publish workflow puts the ``release-identity`` report in the evidence.
IDENTITY_FILE = "release-identity.json"


def expectation_problems(
    directory: Path,
    *,
    commit: str | None = None,
    tag: str | None = None,
    identity: bool = False,
) -> list[str]:
    """Does the evidence describe *this* release? (``verify --expect-commit/--expect-tag
    /--expect-identity``).

    Why: an intact bundle that passed proves nothing about what is being published
    unless it names the commit and tag being released. With ``identity``, the
    ``release-identity.json`` report must be there, have passed, and name the same
    tag and commit.
    """
    root = directory.resolve()
    try:
        summary = json.loads((root / evidence.SUMMARY_JSON).read_text(encoding="utf-8"))
        options = dict(summary["options"])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError,
            ValueError):
        return ["summary.json: cannot read the recorded commit and tag"]
    problems = []
    for key, wanted in (("commit", commit), ("tag", tag)):
        if wanted is not None and options.get(key) != wanted:
            problems.append(
                f"summary.json: {key} is {options.get(key)!r}, expected {wanted!r}"
            )
    if identity:
        path = root / IDENTITY_FILE
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return [*problems, f"{IDENTITY_FILE}: missing"]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return [*problems, f"{IDENTITY_FILE}: not valid JSON"]
        if not isinstance(report, dict) or report.get("schema") != "aksara-release-identity/1":
            return [*problems, f"{IDENTITY_FILE}: not a release-identity report"]
        if report.get("verdict") != "pass":
            problems.append(f"{IDENTITY_FILE}: verdict is {report.get('verdict')!r}, not pass")
        for key, wanted in (("commit", commit or options.get("commit")),
                            ("tag", tag or options.get("tag"))):
            if report.get(key) != wanted:
                problems.append(
                    f"{IDENTITY_FILE}: {key} is {report.get(key)!r}, the evidence's is {wanted!r}"
                )
    return problems
