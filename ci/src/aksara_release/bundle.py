"""Finish an evidence directory: checksums, result.json per stage, summary files.

Why a separate step: the Dagger module lays the evidence out (stage outputs, logs,
the built distributions) but cannot hash bytes it never holds; this module runs in a
container over the assembled tree and writes everything that describes it, through
``evidence.py`` so both executors produce identical documents.

Before anything is hashed, every text file of the tree is scrubbed of the run's
generated secrets (``scrub.py``, the rule the host runner uses): the Dagger module
hands them to this container as secret environment variables ``AKSARA_GATE_SCRUB_<n>``,
never as arguments or files. A stage whose evidence (not its log) held a secret fails,
as on the host.

Usage: ``python -m aksara_release.bundle EVIDENCE_DIR META_JSON``. ``META_JSON``
holds ``{"stages": [<StageResult fields without artifacts>...], "summary": {...
keyword arguments of evidence.build_summary except results and dist...}}``.
Exit codes: 0 written, 2 bad input (one line on stderr, never a traceback). The
gate's verdict is *not* this command's exit code: ``ci/gate.py verify`` judges it.

Stdlib only.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from aksara_release import evidence
from aksara_release.scrub import Scrubber, scrub_tree

PROG = "aksara_release.bundle"
#: Prefix of the environment variables carrying the values to scrub (Dagger secrets).
SCRUB_ENV_PREFIX = "AKSARA_GATE_SCRUB_"
#: Files of a stage directory that are not its evidence (they describe it).
_NOT_ARTIFACTS = frozenset({evidence.LOG_FILE, evidence.RESULT_FILE})
_SUMMARY_KEYS = frozenset({
    "executor", "required", "package", "version", "started_at", "finished_at",
    "wall_time_s", "database", "options", "environment",
})


class BundleError(Exception):
    """Bad input: reported as one line with exit code 2."""


def _files(root: Path, directory: Path, skip: frozenset[str]) -> list[evidence.Artifact]:
    if not directory.is_dir():
        return []
    return [
        evidence.artifact_from_file(root, path)
        for path in sorted(directory.rglob("*"))
        if path.is_file() and not (path.parent == directory and path.name in skip)
    ]


def scrub_values(environ: Mapping[str, str]) -> list[str]:
    """The secret values handed to this process (``AKSARA_GATE_SCRUB_<n>``)."""
    return [v for k, v in sorted(environ.items()) if k.startswith(SCRUB_ENV_PREFIX)]


def finish(
    root: Path, meta: Mapping[str, Any], secrets: Sequence[str] = ()
) -> dict[str, Any]:
    """Scrub ``secrets`` from every text file under ``root``, then write result.json
    files, dist/SHA256SUMS, summary.json and summary.md; return the summary document."""
    leaked = scrub_tree(root, Scrubber(secrets))
    try:
        stage_meta: Sequence[Mapping[str, Any]] = meta["stages"]
        summary_args = dict(meta["summary"])
    except (KeyError, TypeError) as exc:
        raise BundleError(f"meta: missing {exc}") from None
    unknown = set(summary_args) - _SUMMARY_KEYS
    if unknown:
        raise BundleError(f"meta: unknown summary keys {sorted(unknown)}")

    results: list[evidence.StageResult] = []
    for item in stage_meta:
        name = str(item["name"])
        stage_dir = root / evidence.STAGES_DIR / name
        stage_dir.mkdir(parents=True, exist_ok=True)
        prefix = f"{evidence.STAGES_DIR}/{name}/"
        leaks = [
            path[len(prefix):] for path in leaked
            if path.startswith(prefix) and path[len(prefix):] not in _NOT_ARTIFACTS
        ]
        status: Any = item.get("status")  # StageResult validates it
        reason = item.get("reason")
        if leaks and status == "passed":
            status, reason = "failed", "secret value leaked into " + ", ".join(leaks)
        try:
            result = evidence.StageResult(
                name=name,
                title=str(item["title"]),
                status=status,
                exit_code=item.get("exit_code"),
                duration_s=float(item.get("duration_s") or 0.0),
                artifacts=tuple(_files(root, stage_dir, _NOT_ARTIFACTS)),
                reason=reason,
                failed_step=item.get("failed_step"),
                started_at=item.get("started_at"),
                install_s=evidence.seconds(item.get("install_s")),
                run_s=evidence.seconds(item.get("run_s")),
            )
        except (KeyError, ValueError) as exc:
            raise BundleError(f"meta: stage {name}: {exc}") from None
        result = evidence.apply_verdict(result, stage_dir)
        log = stage_dir / evidence.LOG_FILE
        if not log.is_file():
            log.write_text(f"# stage {name}: no log\n", encoding="utf-8")
        # result.json lists the stage's evidence; the summary also vouches for the log
        # and result.json themselves (the host executor writes the same shape).
        evidence.write_json(stage_dir / evidence.RESULT_FILE, result.to_json())
        described = tuple(
            evidence.artifact_from_file(root, stage_dir / file)
            for file in (evidence.LOG_FILE, evidence.RESULT_FILE)
        )
        results.append(replace(result, artifacts=result.artifacts + described))

    dist_dir = root / evidence.DIST_DIR
    dist = _files(root, dist_dir, frozenset({evidence.SHA256SUMS}))
    if dist:
        sums = dist_dir / evidence.SHA256SUMS
        sums.write_text(evidence.render_sha256sums(dist), encoding="utf-8")
        dist.append(evidence.artifact_from_file(root, sums))

    required = summary_args.pop("required")
    summary = evidence.build_summary(results, dist=dist, required=required, **summary_args)
    evidence.write_json(root / evidence.SUMMARY_JSON, summary)
    (root / evidence.SUMMARY_MD).write_text(evidence.render_summary_md(summary), encoding="utf-8")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print(f"usage: python -m {PROG} EVIDENCE_DIR META_JSON", file=sys.stderr)
        return 2
    root, meta_path = Path(args[0]), Path(args[1])
    try:
        if not root.is_dir():
            raise BundleError(f"{root}: not a directory")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BundleError(f"{meta_path}: unreadable ({exc.__class__.__name__})") from None
        summary = finish(root, meta, scrub_values(os.environ))
    except BundleError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print(f"{PROG}: verdict {summary['verdict']} ({len(summary['stages'])} stages)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
