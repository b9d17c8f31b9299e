"""One stage's edges in the host runner: a command that cannot start, a stage that
needs a database it did not get, a snapshot that is not there, a failing step whose
reason lives in its redirected stdout, binary evidence, and a gate already stopping."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import time
from pathlib import Path

from aksara_release import evidence, procfs
from aksara_release.host import runner
from aksara_release.host.progress import Progress
from aksara_release.host.runner import StageContext, run_stage
from aksara_release.stages import Stage, Step


def _ctx(tmp_path: Path, *steps: Step, **kw: object) -> StageContext:
    stage = Stage(name="x", title="X", proves="t", steps=steps,
                  needs_source=bool(kw.pop("needs_source", False)), **kw)  # type: ignore[arg-type]
    return StageContext(stage=stage, root=tmp_path / "r", snapshot=tmp_path / "snap",
                        out=tmp_path / "o", dist=tmp_path / "d", pip_cache=tmp_path / "c",
                        database=None)


def _log(tmp_path: Path) -> str:
    return (tmp_path / "o" / "log.txt").read_text()


def test_a_command_that_cannot_start_fails_with_127(tmp_path) -> None:
    result = run_stage(_ctx(tmp_path, Step(("no-such-tool-anywhere", "--version"))))
    assert (result.status, result.exit_code) == ("failed", 127)
    assert result.reason and result.reason.startswith("step 1/1 (no-such-tool-anywhere) exited 127")
    assert "cannot run no-such-tool-anywhere: No such file or directory" in _log(tmp_path)


def test_a_database_stage_without_a_server_is_an_error(tmp_path) -> None:
    result = run_stage(_ctx(tmp_path, Step(("python", "-c", "pass")), database=True))
    assert (result.status, result.reason) == (
        "error", "stage needs a database but none was provided")


def test_a_missing_snapshot_is_an_executor_error(tmp_path) -> None:
    result = run_stage(_ctx(tmp_path, Step(("python", "-c", "pass")), needs_source=True))
    assert result.status == "error"
    assert result.reason and result.reason.startswith("executor error: ")
    assert "executor error" in _log(tmp_path)


def test_the_reason_comes_from_redirected_stdout_when_stderr_is_silent(tmp_path) -> None:
    code = "print('first'); print('the real reason'); raise SystemExit(4)"
    result = run_stage(_ctx(tmp_path, Step(("python", "-c", code), stdout="{out}/report.txt")))
    assert (result.status, result.exit_code) == ("failed", 4)
    assert result.reason == "step 1/1 (python) exited 4: the real reason"
    assert result.failed_step == "step 1/1: python -c " + code


def test_binary_evidence_is_kept_and_not_scanned_as_text(tmp_path) -> None:
    code = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_bytes(bytes(range(256)))"
    result = run_stage(_ctx(tmp_path, Step(("python", "-c", code, "{out}/blob.bin"))))
    assert result.status == "passed"
    assert (tmp_path / "o" / "blob.bin").read_bytes() == bytes(range(256))


def test_an_interrupted_gate_starts_no_new_step(tmp_path) -> None:
    runner.kill_active()  # what the executor does on SIGINT / SIGTERM
    try:
        marker = tmp_path / "ran"
        result = run_stage(_ctx(tmp_path, Step(("python", "-c", f"open({str(marker)!r}, 'w')"))))
    finally:
        runner.reset_abort()
    assert result.status == "failed" and result.exit_code == 130
    assert not marker.exists()
    assert "gate interrupted: not started" in _log(tmp_path)


def test_running_groups_sees_members_and_not_zombies(tmp_path) -> None:
    # A group whose leader has exited (and been reaped) while its child still runs: the
    # group is running through the child, and stops counting once the child is killed.
    pidfile = tmp_path / "child"
    leader = subprocess.Popen(
        ["sh", "-c", f"sleep 30 & echo $! > {pidfile}; exit 0"], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while leader.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        child = int(pidfile.read_text())
        assert procfs.running_groups({leader.pid, 1}) == {leader.pid}
        os.killpg(leader.pid, signal.SIGKILL)
        while procfs.running_groups({leader.pid}) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert procfs.running_groups({leader.pid}) == set()
        assert not procfs.process_running(child)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leader.pid, signal.SIGKILL)
    # A zombie (exited, not yet reaped by us) is listed in /proc but runs nothing.
    zombie = subprocess.Popen(["true"], start_new_session=True)
    stat = Path(f"/proc/{zombie.pid}/stat")
    try:
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child never exited"
            time.sleep(0.01)
        assert procfs.running_groups({zombie.pid}) == set()
        assert not procfs.process_running(zombie.pid)
    finally:
        zombie.wait()


def test_wait_gone_returns_once_the_killed_group_is_gone(tmp_path) -> None:
    # A step's grandchild must be gone (not merely signalled) before the gate moves on;
    # without the wait this fails about half the time (measured: 5 of 10 runs).
    pidfile = tmp_path / "grandchild"
    step = subprocess.Popen(
        ["sh", "-c", f"sleep 30 & echo $! > {pidfile}; wait"], start_new_session=True)
    with runner._ACTIVE_LOCK:
        runner._ACTIVE.add(step)
    try:
        deadline = time.monotonic() + 30
        while not (text := pidfile.read_text().strip() if pidfile.exists() else ""):
            assert time.monotonic() < deadline, "the step never started its grandchild"
            time.sleep(0.01)
        grandchild = int(text)
        assert procfs.process_running(grandchild)
        runner.wait_gone(runner.kill_active())
        assert procfs.running_groups({step.pid}) == set()
        assert not procfs.process_running(grandchild)
    finally:
        runner.reset_abort()
        with runner._ACTIVE_LOCK:
            runner._ACTIVE.discard(step)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(step.pid, signal.SIGKILL)
        step.wait()


def test_live_progress_draws_and_clears_a_board() -> None:
    stream = io.StringIO()
    board = Progress(["a"], stream=stream, live=True)
    board.start()
    board.update("a", "step 1/1")
    board.message("database: embedded")
    board.done(evidence.StageResult(name="a", title="A", status="interrupted", reason="SIGTERM"))
    board.stop()
    text = stream.getvalue()
    assert "database: embedded" in text and "INTERRUPTED" in text


def test_snapshot_patterns_negation_anchors_and_dangling_links(tmp_path) -> None:
    from aksara_release.host import snapshot

    src = tmp_path / "src"
    files = {
        "sub/build/x.txt": "anchored pattern: left out",
        "other/sub/build/y.txt": "same path deeper: kept (the pattern is anchored)",
        "deep/er/cache/z.txt": "**/cache: left out at any depth",
        "keep.log": "a later negation puts it back (the engine's rule: last match wins)",
        "ok.txt": "copied",
    }
    for rel, text in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    (src / "dangling").symlink_to(tmp_path / "nowhere")
    patterns = ["sub/build", "**/cache", "*.log", "!keep.log"]
    count = snapshot.copy_source(src, tmp_path / "dest", patterns)
    copied = sorted(p.relative_to(tmp_path / "dest").as_posix()
                    for p in (tmp_path / "dest").rglob("*") if p.is_file())
    assert copied == ["keep.log", "ok.txt", "other/sub/build/y.txt"] and count == 3


def test_tools_and_wheel_are_installed_before_the_steps(tmp_path) -> None:
    stage = Stage(name="x", title="X", proves="t", steps=(Step(("python", "-c", "pass")),),
                  tools=("pip",), wheel_extras=(), needs_source=False)
    rendered = stage.render(_ctx(tmp_path).paths())
    labels = [label for label, _ in runner._commands(rendered)]
    assert labels == ["install tools", "install wheel", "step 1/1"]


def test_database_secrets_are_the_password_raw_and_decoded() -> None:
    from aksara_release.host.database import DatabaseServer, describe_external

    assert DatabaseServer("postgresql://u@h/db", "d").secrets() == ()
    with_pw = DatabaseServer("postgresql://u" + ":p%40ss-w0rd@h:5433/db", "d")
    assert sorted(with_pw.secrets()) == ["p%40ss-w0rd", "p@ss-w0rd"]
    assert describe_external("postgresql://u" + ":x@db.example:5433/app") == (
        "external PostgreSQL from DATABASE_URL (db.example:5433)")
