"""``python -m aksara_release.host run|verify``: the host gate's command line.

Normally reached through ``python3 ci/gate.py`` (which creates the runner
environment first). Exit codes: 0 pass / verified, 1 a stage failed / verification
failed, 2 usage error, 3 incomplete (stages skipped), 70 internal error, 130 / 143
interrupted by SIGINT / SIGTERM (the running stages are killed, the embedded server is
stopped and the evidence records every unfinished stage as ``interrupted``). Errors are
one line, never a traceback (``--debug``, anywhere on the command line, adds it), and
never carry a password: URL passwords and ``password=`` values are masked.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import unquote, urlsplit

from aksara_release import stages
from aksara_release.config import ConfigError
from aksara_release.host.executor import GateConfig, GateUsageError, run_gate
from aksara_release.host.runner import DEFAULT_STAGE_TIMEOUT, GateInterrupted
from aksara_release.scrub import Scrubber

PROG = "gate"
USAGE = 2
INTERNAL = 70


def _names(value: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in value.split(",") if n.strip())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Aksara release gate (host executor)")
    parser.add_argument("--debug", action="store_true",
                        help="on an internal error, print the (redacted) traceback")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the release gate")
    run.add_argument("--only", type=_names, default=(), help="comma-separated stages to run")
    run.add_argument("--skip", type=_names, default=None, action="append",
                     help="comma-separated stages to skip (recorded as skipped)")
    run.add_argument("--evidence", type=Path, default=None,
                     help="evidence directory (default: <source>/evidence)")
    run.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                     help="stages run at the same time (default: CPU count)")
    run.add_argument("--osv-url", default=None,
                     help="OSV-compatible vulnerability service for pip-audit")
    run.add_argument("--source", type=Path, default=Path.cwd(), help="repository to check")
    run.add_argument("--config", type=Path, default=None, dest="config_file",
                     help="TOML file overlaid on the source's [tool.aksara-release] table")
    run.add_argument("--commit", default=None,
                     help="source commit recorded in summary.json (default: git HEAD)")
    run.add_argument("--tag", default=None,
                     help="release tag recorded in summary.json (default: a v* tag at HEAD)")
    run.add_argument("--pip-cache", type=Path, default=None, help="pip cache directory")
    run.add_argument("--uv-cache", type=Path, default=None,
                     help="uv cache directory (default: <gate home>/cache/uv)")
    run.add_argument("--run-root", type=Path, default=None,
                     help="where stage venvs live while they run (default: /dev/shm if roomy)")
    run.add_argument("--keep-run-dir", action="store_true",
                     help="keep the stage venvs and source copies (debugging)")
    run.add_argument("--stage-timeout", type=float, default=DEFAULT_STAGE_TIMEOUT)
    run.add_argument("--list", action="store_true", help="list the stages and exit")
    verify = sub.add_parser("verify", help="re-check an evidence directory")
    verify.add_argument("directory", type=Path)
    verify.add_argument("--expect-commit", default=None,
                        help="summary.json must name this commit")
    verify.add_argument("--expect-tag", default=None, help="summary.json must name this tag")
    verify.add_argument("--expect-identity", action="store_true",
                        help="release-identity.json must be present, passed, same commit/tag")
    _add_release_identity(sub)
    return parser


def _add_release_identity(sub: Any) -> None:
    """``release-identity``: tag, version, changelog, commit and signature (exit codes in
    :mod:`aksara_release.release_identity`: 0 ok, 1 failed, 2 usage, 3 could not check)."""
    from aksara_release import release_identity

    parser = sub.add_parser("release-identity", help="check a release tag before publishing")
    release_identity.add_arguments(parser)


_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*:)[^@\s/]*@")
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` without passwords: URL userinfo, ``password=`` values, DATABASE_URL's."""
    text = _URL_PASSWORD.sub(r"\g<head>***@", text)
    text = _KV_PASSWORD.sub(r"\g<head>***", text)
    try:
        password = urlsplit(os.environ.get("DATABASE_URL", "")).password
    except ValueError:
        password = None
    # The gate's one masking rule (as for evidence): raw and decoded spelling, longest first.
    return Scrubber([password, unquote(password)] if password else [])(text)


def _install_signal_handlers() -> dict[int, object]:
    """SIGINT and SIGTERM raise :class:`GateInterrupted` once; later ones wait for cleanup.

    Returns the previous handlers (restored when :func:`main` returns).
    """
    fired: list[int] = []
    previous: dict[int, object] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        if fired:
            return  # already stopping: the cleanup (kill stages, write evidence) finishes
        fired.append(signum)
        raise GateInterrupted(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.signal(signum, handler)
    return previous


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_in
    args = _parser().parse_args([a for a in args_in if a != "--debug"])
    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        previous = _install_signal_handlers()
    try:
        return _main(args, debug)
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)  # type: ignore[arg-type]


def _main(args: argparse.Namespace, debug: bool) -> int:
    warnings.filterwarnings("ignore", module="platformdirs")
    try:
        if args.command == "release-identity":
            from aksara_release import release_identity

            return release_identity.run(args)
        if args.command == "verify":
            from aksara_release.host.verify import expectation_problems, verify

            problems = verify(args.directory)
            problems += expectation_problems(
                args.directory, commit=args.expect_commit, tag=args.expect_tag,
                identity=args.expect_identity,
            )
            for problem in problems:
                print(f"{PROG}: verify: {problem}", file=sys.stderr)
            if problems:
                print(f"{PROG}: verify: FAILED ({len(problems)} problems)", file=sys.stderr)
                return 1
            print(f"{PROG}: verify: OK: {args.directory} is intact and every required stage passed")
            return 0
        if args.list:
            from aksara_release.host.executor import load_project

            project = load_project(args.source.resolve(), args.config_file)
            for stage in stages.build_stages(stages.GateOptions(), project):
                state = f"  [skipped: {stage.skip_reason}]" if stage.skip_reason else ""
                print(f"{stage.name:<20} {stage.title}{state}")
            return 0
        skip = tuple(n for group in args.skip or () for n in group)
        gate_home = Path(os.environ.get("AKSARA_GATE_HOME") or args.source / ".gate").resolve()
        config = GateConfig(
            source=args.source,
            evidence_dir=args.evidence or args.source / "evidence",
            gate_home=gate_home,
            only=args.only,
            skip=skip,
            jobs=args.jobs,
            osv_url=args.osv_url,
            pip_cache=args.pip_cache,
            uv_cache=args.uv_cache,
            keep_run_dir=args.keep_run_dir,
            run_root=args.run_root,
            stage_timeout=args.stage_timeout,
            commit=args.commit,
            tag=args.tag,
            config_file=args.config_file,
        )
        return run_gate(config)
    except (GateUsageError, ConfigError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return USAGE
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, GateInterrupted) else signal.SIGINT
        print(f"{PROG}: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
        return 128 + signum
    except Exception as exc:  # noqa: BLE001 - the boundary: one line, no traceback
        if debug:
            print(redact("".join(traceback.format_exception(exc))), end="", file=sys.stderr)
        message = " ".join(redact(f"{exc.__class__.__name__}: {exc}").split())[:300]
        hint = "" if debug else " (run with --debug for the traceback)"
        print(f"{PROG}: internal error: {message}{hint}", file=sys.stderr)
        return INTERNAL
