"""The measurements: timed migrate and status runs, and the concurrency trials.

Why this shape: every tool runs against the *same* embedded PostgreSQL server in the
same process lifetime, each run on a fresh database, in rounds whose tool order
rotates so that a burst of load from a neighbour on this shared machine does not
always hit the same tool. Every run is *verified* against the database afterwards
(N tables, one row each, N bookkeeping rows): a fast run that did not migrate is a
failure, not a good time.

Runs inside the harness's own venv (``benchmarks/.work/venvs/driver``): it needs
``psycopg`` and the embedded server, which ``run.py`` installed there.
"""

from __future__ import annotations

import os
import re
import statistics
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from aksara_release.pgserver import ADMIN_ROLE, create_database, drop_database
from measure import Measured, run_concurrently, run_measured
from psycopg import sql
from tools import Target, Tool


@dataclass(frozen=True)
class Settings:
    ns: tuple[int, ...]
    runs: int
    trials: int
    concurrency: int
    trial_n: int
    timeout_s: float


@dataclass(frozen=True)
class DbState:
    """What a database holds after a tool ran: the ground truth for every verdict."""

    tables: int
    rows: int
    empty_tables: int
    double_applications: int  # extra rows beyond the first, summed over tables
    tracking_rows: int | None

    def complete(self, n: int) -> bool:
        tracking_ok = self.tracking_rows is None or self.tracking_rows == n
        return self.tables == n and self.rows == n and tracking_ok


def inspect_db(url: str, tracking_sql: str | None) -> DbState:
    """Count benchmark tables and their rows, and the tool's bookkeeping rows."""
    with psycopg.connect(url, autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_catalog.pg_tables "
                "WHERE schemaname = 'public' AND tablename LIKE 'bench\\_%' ORDER BY 1"
            )
        ]
        counts: list[int] = []
        for start in range(0, len(names), 200):
            chunk = names[start : start + 200]
            query = sql.SQL(" UNION ALL ").join(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(name)) for name in chunk
            )
            counts += [int(r[0]) for r in conn.execute(query)]
        tracking: int | None = None
        if tracking_sql is not None:
            try:
                row = conn.execute(tracking_sql).fetchone()
                tracking = int(row[0]) if row else 0
            except psycopg.errors.UndefinedTable:
                tracking = 0
    return DbState(
        tables=len(names),
        rows=sum(counts),
        empty_tables=sum(1 for c in counts if c == 0),
        double_applications=sum(c - 1 for c in counts if c > 1),
        tracking_rows=tracking,
    )


class LoadSampler:
    """Samples the 1-minute load average while the benchmark runs (noise context)."""

    def __init__(self, interval_s: float = 5.0) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._interval = interval_s
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(self._interval)

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, Any]:
        s = self.samples or [os.getloadavg()[0]]
        return {
            "cpus": os.cpu_count(),
            "loadavg_1m_min": round(min(s), 2),
            "loadavg_1m_median": round(statistics.median(s), 2),
            "loadavg_1m_max": round(max(s), 2),
            "samples": len(s),
        }


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")


def _run_record(m: Measured, state: DbState | None, n: int | None) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "exit_code": m.exit_code,
        "wall_s": round(m.wall_s, 4),
        "max_rss_kib": m.max_rss_kib,
        "cpu_s": round(m.cpu_s, 3),
        "timed_out": m.timed_out,
    }
    if state is not None and n is not None:
        rec["verified"] = m.exit_code == 0 and state.complete(n)
        rec["db_state"] = asdict(state)
    else:
        rec["verified"] = m.exit_code == 0
    if not rec["verified"]:
        rec["output_tail"] = m.output_tail
    return rec


def _summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    good = [r for r in runs if r["verified"]]
    out: dict[str, Any] = {"runs": runs, "ok_runs": len(good), "failed_runs": len(runs) - len(good)}
    if good:
        walls = [r["wall_s"] for r in good]
        rss = [r["max_rss_kib"] for r in good]
        cpu = [r["cpu_s"] for r in good]
        out.update(
            median_s=round(statistics.median(walls), 4),
            min_s=round(min(walls), 4),
            max_s=round(max(walls), 4),
            peak_rss_kib=max(rss),
            median_rss_kib=int(statistics.median(rss)),
            median_cpu_s=round(statistics.median(cpu), 3),
        )
    return out


def _reason(tail: str, work: Path) -> str:
    """A failed process's last output line, with paths and migration numbers generalised."""
    lines = tail.strip().splitlines()
    line = lines[-1].strip() if lines else "(no output)"
    line = line.replace(str(work), "<work>")
    line = re.sub(r"\b\d{4}_create_bench_\d{4}", "NNNN_create_bench_NNNN", line)
    line = re.sub(r"\bbench_\d{4}\b", "bench_NNNN", line)
    return line[:140]


def _reasons(per_trial: list[dict[str, Any]]) -> dict[str, int]:
    """How many failed processes, over all trials, ended with each (generalised) line."""
    reasons: dict[str, int] = {}
    for trial in per_trial:
        for reason in trial["failure_reasons"]:
            reasons[reason] = reasons.get(reason, 0) + 1
    return reasons


class Bench:
    """Holds the server, the tools and the work directory for one benchmark run."""

    def __init__(
        self,
        *,
        admin_url: str,
        port: int,
        password: str,
        tools: dict[str, Tool],
        work: Path,
        settings: Settings,
        log: Any,
    ) -> None:
        self.admin_url = admin_url
        self.port = port
        self.password = password
        self.secrets = [password, quote(password, safe="")]
        self.tools = tools
        self.work = work
        self.settings = settings
        self.log = log
        self._counter = 0

    def _target(self, database: str) -> Target:
        return Target("127.0.0.1", self.port, ADMIN_ROLE, self.password, database)

    def _fresh_db(self, label: str) -> tuple[str, Target]:
        self._counter += 1
        name = f"b{self._counter:05d}_{label}"[:60]
        url = create_database(self.admin_url, name)
        return url, self._target(name)

    def timed(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Migrate + status medians per tool and N, with all N applied for status."""
        migrate: dict[str, Any] = {}
        status: dict[str, Any] = {}
        names = list(self.tools)
        for n in self.settings.ns:
            dirs = {
                name: tool.prepare(self.work / "gen" / _slug(name) / str(n), n)
                for name, tool in self.tools.items()
            }
            mig_runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
            st_runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
            for rnd in range(self.settings.runs):
                order = names[rnd % len(names) :] + names[: rnd % len(names)]
                for name in order:
                    tool = self.tools[name]
                    url, target = self._fresh_db(f"{_slug(name)}_{n}")
                    argv, env = tool.migrate(target, dirs[name])
                    m = run_measured(
                        argv,
                        env=env,
                        cwd=dirs[name],
                        secrets=self.secrets,
                        log=self.work / "logs" / f"{_slug(name)}-{n}-migrate-{rnd}.log",
                        timeout_s=self.settings.timeout_s,
                    )
                    state = inspect_db(url, tool.tracking_sql)
                    rec = _run_record(m, state, n)
                    mig_runs[name].append(rec)
                    self.log(
                        f"migrate {name:<24} N={n:<5} round {rnd}: {m.wall_s:7.3f}s "
                        f"rss={m.max_rss_kib // 1024}MiB exit={m.exit_code} "
                        f"verified={rec['verified']}"
                    )
                    if rec["verified"]:
                        argv, env = tool.status(target, dirs[name])
                        s = run_measured(
                            argv,
                            env=env,
                            cwd=dirs[name],
                            secrets=self.secrets,
                            log=self.work / "logs" / f"{_slug(name)}-{n}-status-{rnd}.log",
                            timeout_s=self.settings.timeout_s,
                        )
                        st_runs[name].append(_run_record(s, None, None))
                        self.log(
                            f"status  {name:<24} N={n:<5} round {rnd}: {s.wall_s:7.3f}s "
                            f"exit={s.exit_code}"
                        )
                    drop_database(self.admin_url, target.database)
            for name in names:
                migrate.setdefault(name, {})[str(n)] = _summarise(mig_runs[name])
                status.setdefault(name, {})[str(n)] = _summarise(st_runs[name])
        return migrate, status

    def trials(self, tool_names: Sequence[str]) -> dict[str, Any]:
        """``concurrency`` simultaneous migrators on one fresh database, ``trials`` times."""
        n = self.settings.trial_n
        results: dict[str, Any] = {}
        for name in tool_names:
            tool = self.tools[name]
            directory = tool.prepare(self.work / "gen" / _slug(name) / f"trial-{n}", n)
            per_trial = []
            for trial in range(self.settings.trials):
                url, target = self._fresh_db(f"t_{_slug(name)}")
                cmd = tool.migrate(target, directory)
                procs = run_concurrently(
                    [cmd] * self.settings.concurrency,
                    cwd=directory,
                    secrets=self.secrets,
                    log_dir=self.work / "logs" / f"trial-{_slug(name)}-{trial}",
                    timeout_s=self.settings.timeout_s,
                )
                state = inspect_db(url, tool.tracking_sql)
                failed = [p for p in procs if p.exit_code != 0]
                partial = (
                    state.tables != n
                    or state.empty_tables > 0
                    or (state.tracking_rows is not None and state.tracking_rows != n)
                )
                per_trial.append(
                    {
                        "failed_processes": len(failed),
                        "double_applications": state.double_applications,
                        "partial_schema": partial,
                        "db_state": asdict(state),
                        "wall_s_max": round(max(p.wall_s for p in procs), 3),
                        "failure_reasons": [_reason(p.output_tail, self.work) for p in failed],
                    }
                )
                self.log(
                    f"trial   {name:<24} #{trial:<2}: failed={len(failed)} "
                    f"double={state.double_applications} partial={partial}"
                )
                drop_database(self.admin_url, target.database)
            results[name] = {
                "claims_locking": tool.claims_locking,
                "lock_note": tool.lock_note,
                "n": n,
                "concurrency": self.settings.concurrency,
                "trials": len(per_trial),
                "double_applications": sum(t["double_applications"] for t in per_trial),
                "trials_with_double_applications": sum(
                    1 for t in per_trial if t["double_applications"]
                ),
                "failed_processes": sum(t["failed_processes"] for t in per_trial),
                "partial_schemas": sum(1 for t in per_trial if t["partial_schema"]),
                "failure_reasons": _reasons(per_trial),
                "per_trial": per_trial,
            }
        return results


__all__ = ["Bench", "DbState", "LoadSampler", "Settings", "inspect_db"]
