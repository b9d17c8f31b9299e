"""The planted-regression table (ci/planted_regressions.py) stays true to the code.

Running every planted regression takes minutes (it runs the fault tests twice each), so
the suite does not; it checks what would make the table stale or the script lie: every
edit applies exactly once to the current tree and changes it, every named test exists,
and a regression the tests do not catch is reported as not caught.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("planted_regressions",
                                               ROOT / "ci" / "planted_regressions.py")
assert _spec and _spec.loader
planted = importlib.util.module_from_spec(_spec)
sys.modules["planted_regressions"] = planted
_spec.loader.exec_module(planted)


@pytest.mark.parametrize("regression", planted.REGRESSIONS, ids=lambda r: r.id)
def test_every_planted_edit_still_applies_once(regression, tmp_path: Path) -> None:
    target = tmp_path / regression.path
    target.parent.mkdir(parents=True)
    original = (ROOT / regression.path).read_text(encoding="utf-8")
    target.write_text(original, encoding="utf-8")
    planted.apply(regression, tmp_path)
    assert target.read_text(encoding="utf-8") != original


@pytest.mark.parametrize("regression", planted.REGRESSIONS, ids=lambda r: r.id)
def test_every_named_test_exists(regression) -> None:
    for node in regression.tests:
        path, _, name = node.partition("::")
        source = (ROOT / path).read_text(encoding="utf-8")
        if name:
            assert re.search(rf"^(async )?def {re.escape(name)}\(", source, re.M), node


def test_an_edit_that_no_longer_applies_is_an_error(tmp_path: Path) -> None:
    reg = planted.REGRESSIONS[0]
    (tmp_path / reg.path).parent.mkdir(parents=True)
    (tmp_path / reg.path).write_text("nothing to plant here\n")
    with pytest.raises(ValueError, match="found 0"):
        planted.apply(reg, tmp_path)


def test_ids_are_unique_and_the_table_lists_every_regression() -> None:
    ids = [r.id for r in planted.REGRESSIONS]
    assert len(ids) == len(set(ids))
    rows = [{"id": ids[0], "baseline": 0, "planted": 1, "caught": True, "seconds": 1.0},
            {"id": ids[1], "baseline": 0, "planted": 0, "caught": False, "seconds": 1.0}]
    table = planted.render(rows, "abc1234")
    assert table.count("\n| ") == len(ids) + 2  # header, separator, one row each
    assert "**red** (exit 1)" in table and "NOT CAUGHT (exit 0)" in table
    assert table.count("not run") == 2 * (len(ids) - 2)


def test_unknown_id_is_one_line_exit_2(capsys) -> None:
    assert planted.main(["--only", "no-such-fault"]) == 2
    assert capsys.readouterr().err.strip() == (
        "planted-regressions: error: unknown id(s): no-such-fault")


def test_a_server_left_behind_by_a_planted_run_is_stopped_and_removed() -> None:
    # gate-signal-db-start plants a surviving postmaster; the script must stop it (even a
    # SIGSTOPped one) and the run's TMPDIR, and leave every server outside it alone (an
    # other one runs beside it here, as another test session's would).
    from aksara_release.pgserver import EmbeddedPostgres, process_running

    root = Path(tempfile.mkdtemp(prefix="aksara-planted-test-", dir="/tmp"))  # noqa: S108  # nosec B108
    run_tmp, outside = root / "tmp", root / "outside"
    server, other = EmbeddedPostgres(base_dir=run_tmp / "pg"), EmbeddedPostgres(base_dir=outside)
    try:
        server.start()
        other.start()
        pid, other_pid = server._postmaster_pid(), other._postmaster_pid()
        assert pid is not None and other_pid is not None
        assert planted._embedded_postmasters(run_tmp) == {pid: server.data_dir}
        os.kill(pid, signal.SIGSTOP)
        assert planted._stop_left_behind(run_tmp) == [server.data_dir]
        assert not process_running(pid)
        assert not run_tmp.exists()
        assert process_running(other_pid) and outside.exists()
    finally:
        server.stop(timeout=1)
        other.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_only_new_unmapped_shared_memory_segments_are_removed() -> None:
    # A segment from before the run, one still mapped, and (as root) one another user
    # owns all stay; a new orphan of the embedded server's user goes.
    import mmap

    shm, tag = planted.SHM, os.getpid()
    old = shm / f"PostgreSQL.{tag}0"
    old.write_bytes(b"x")
    before = planted._shm_segments()
    orphan, mapped, foreign = (shm / f"PostgreSQL.{tag}{n}" for n in (1, 2, 3))
    uid = planted._embedded_server_uid()
    for seg in (orphan, mapped, foreign):
        seg.write_bytes(b"x" * mmap.PAGESIZE)
        os.chown(seg, uid, -1)
    if os.geteuid() == 0 and uid != 0:
        os.chown(foreign, 0, -1)  # not the embedded server's: never touched
    else:
        foreign.unlink()
    try:
        with mapped.open("r+b") as handle, mmap.mmap(handle.fileno(), 0):
            assert planted._drop_orphaned_segments(before, grace=0.3) == [orphan]
        assert not orphan.exists() and old.exists() and mapped.exists()
    finally:
        for seg in (old, orphan, mapped, foreign):
            seg.unlink(missing_ok=True)
