"""More edges of the host gate's parts: the snapshot's pattern rules, the runner's uv and
venvs, a configuration that fails only when the stages are built, the run directory
kept for debugging, evidence without distributions, the Dagger bundle step's refusals,
and lock files whose hashes are not where they belong.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from aksara_release import bundle, locks, stages, versions
from aksara_release.host import executor, snapshot, venvs
from aksara_release.host.cli import main as cli_main
from aksara_release.host.verify import IDENTITY_FILE, expectation_problems, verify
from aksara_release.stages import Step

PROJECT = '[project]\nname = "demo-kit"\nversion = "1.0"\n'


# ----------------------------------------------------------------- snapshot patterns
@pytest.mark.parametrize(
    ("patterns", "path", "ignored"),
    [
        (["a/**"], "a/b/c", True),  # a trailing "**" takes everything below
        (["a/**"], "ab", False),
        (["a**c"], "a/x/c", True),  # "**" not before "/": any directories, even none
        (["a**c"], "abc", False),  # ... but "**" alone never eats a file-name part
        (["a\\*b"], "a*b", True),  # an escaped "*" is literal
        (["a\\*b"], "axb", False),
        (["", "  ", "dist"], "dist/x", True),  # blank patterns are no patterns
        (["", "  "], "dist/x", False),
    ],
)
def test_snapshot_pattern_rules_follow_the_engines_matcher(
    patterns: list[str], path: str, ignored: bool
) -> None:
    assert snapshot.is_ignored(path, patterns) is ignored


# ----------------------------------------------------------------- venvs and uv
def test_without_the_pinned_uv_the_runner_says_so(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uv", None)  # no uv distribution importable
    monkeypatch.setenv("PATH", str(tmp_path))  # and none on PATH
    with pytest.raises(RuntimeError) as info:
        venvs._find_uv()
    assert str(info.value) == (f"{versions.TOOLS['uv']} is not installed in the gate's "
                               "runner (ci/gate.py installs it)")


def test_link_uv_is_idempotent(tmp_path: Path) -> None:
    link = venvs.link_uv(tmp_path / "bin")
    assert link.is_symlink() and link.resolve() == venvs.uv_binary().resolve()
    assert venvs.link_uv(tmp_path / "bin") == link  # a second stage: the same link
    assert [p.name for p in (tmp_path / "bin").iterdir()] == ["uv"]


def test_a_venv_for_a_missing_interpreter_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as info:
        venvs.create_venv(tmp_path / "venv", python=str(tmp_path / "no-python"))
    message = str(info.value)
    assert message.startswith("uv venv failed: ") and "no-python" in message
    assert not (tmp_path / "venv" / "bin" / "python").exists()


# ----------------------------------------------------------------- the executor
def test_a_configuration_failing_when_stages_are_built_is_exit_2_with_no_evidence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        PROJECT + '[tool.aksara-release]\nimport-name = "demo"\n'
        "[tool.aksara-release.stages.static-analysis]\n")
    code = cli_main(["run", "--source", str(tmp_path), "--evidence", str(tmp_path / "ev")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(
        "gate: error: pyproject.toml: tool.aksara-release.stages.static-analysis: "
        "names no analyser"), err
    assert not (tmp_path / "ev").exists()


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pyproject.toml").write_text("[project]\nname='x'\n")
    return repo


def _only(monkeypatch: pytest.MonkeyPatch, *defs: stages.Stage) -> None:
    monkeypatch.setattr(stages, "build_stages", lambda options=None, config=None: defs)


SCAN = stages.Stage(name="secret-scan", title="Secret scan", proves="t",
                    steps=(Step(("python", "-c", "print('{}')"), stdout="{out}/r.json"),))


def test_keep_run_dir_keeps_the_stage_copies(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _only(monkeypatch, SCAN)
    runs = tmp_path / "runs"
    for keep in (False, True):
        config = executor.GateConfig(source=_repo(tmp_path) if not keep else tmp_path / "repo",
                                     evidence_dir=tmp_path / "ev", gate_home=tmp_path / "home",
                                     run_root=runs, keep_run_dir=keep, live=False)
        assert executor.run_gate(config) == 0
        kept = list(runs.iterdir()) if runs.exists() else []
        if keep:
            (run_dir,) = kept
            assert (run_dir / "snapshot" / "pyproject.toml").is_file()
        else:
            assert kept == []


def test_evidence_without_distributions_verifies(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _only(monkeypatch, SCAN)
    config = executor.GateConfig(source=_repo(tmp_path), evidence_dir=tmp_path / "ev",
                                 gate_home=tmp_path / "home", live=False)
    assert executor.run_gate(config) == 0
    (tmp_path / "ev" / "dist").rmdir()  # empty: nothing was built
    assert verify(tmp_path / "ev") == []
    (tmp_path / "ev" / IDENTITY_FILE).write_text("{")
    assert expectation_problems(tmp_path / "ev", commit=None, tag=None, identity=True) == [
        f"{IDENTITY_FILE}: not valid JSON"]


# ----------------------------------------------------------------- bundle.py
SUMMARY = {"executor": "dagger", "required": ["secret-scan"], "package": "demo-kit",
           "version": None}


def _meta(tmp_path: Path, meta: object) -> Path:
    path = tmp_path / "meta.json"
    path.write_text(json.dumps(meta))
    return path


def test_bundle_refusals_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "evidence"
    root.mkdir()
    stage = {"name": "secret-scan", "title": "Secret scan", "status": "passed"}
    cases = [
        (tmp_path / "none", {"stages": [], "summary": SUMMARY}, f"{tmp_path / 'none'}: not a "
         "directory"),
        (root, {"stages": [], "summary": {**SUMMARY, "colour": "green"}},
         "meta: unknown summary keys ['colour']"),
        (root, {"stages": [{**stage, "status": "fine"}], "summary": SUMMARY},
         "meta: stage secret-scan: "),
        (root, {"stages": [{"name": "secret-scan"}], "summary": SUMMARY},
         "meta: stage secret-scan: 'title'"),
    ]
    for directory, meta, expected in cases:
        assert bundle.main([str(directory), str(_meta(tmp_path, meta))]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"aksara_release.bundle: error: {expected}")
    assert not (root / "summary.json").exists()


def test_bundle_gives_a_stage_without_a_log_a_placeholder(tmp_path: Path) -> None:
    root = tmp_path / "evidence"
    (root / "stages" / "secret-scan").mkdir(parents=True)
    meta = {"stages": [{"name": "secret-scan", "title": "Secret scan", "status": "error",
                        "reason": "engine lost"}], "summary": SUMMARY}
    assert bundle.main([str(root), str(_meta(tmp_path, meta))]) == 0
    log = root / "stages" / "secret-scan" / "log.txt"
    assert log.read_text() == "# stage secret-scan: no log\n"
    # intact (the log is listed and hashed); only the stage's own status is reported
    assert verify(root, required=("secret-scan",)) == [
        "required stage secret-scan: error: engine lost", "verdict is fail, not pass"]


# ----------------------------------------------------------------- locks
def test_a_hash_separated_from_its_pin_does_not_count(tmp_path: Path) -> None:
    text = locks.check(versions.tools("build")).read_text()
    pin = versions.TOOLS["build"]
    assert re.search(rf"^{re.escape(pin)} \\$", text, re.M)
    # Another option between the pin and its hashes: they no longer belong to it.
    moved = re.sub(rf"^{re.escape(pin)} \\\n", f"{pin}\n--no-binary :none:\n", text, flags=re.M)
    (tmp_path / "build.txt").write_text(moved)
    with pytest.raises(locks.LockError, match=r"build\.txt: no hash for build$"):
        locks.check(versions.tools("build"), tmp_path)


def test_a_requirement_without_a_name_is_refused() -> None:
    with pytest.raises(locks.LockError, match=r"not a requirement: '==1\.0'"):
        locks.lock_file(["==1.0"])


# ----------------------------------------------------------------- the runner
def test_a_failing_step_that_removed_its_own_output_still_gets_a_reason(tmp_path: Path) -> None:
    from aksara_release.host.runner import StageContext, run_stage

    code = ("import pathlib, sys; p = pathlib.Path(sys.argv[1]); print('gone', flush=True); "
            "p.unlink(); raise SystemExit(3)")
    stage = stages.Stage(name="x", title="X", proves="t", needs_source=False,
                         steps=(Step(("python", "-c", code, "{out}/report.txt"),
                                     stdout="{out}/report.txt"),))
    ctx = StageContext(stage=stage, root=tmp_path / "r", snapshot=tmp_path / "snap",
                       out=tmp_path / "o", dist=tmp_path / "d", pip_cache=tmp_path / "c",
                       database=None)
    result = run_stage(ctx)
    assert (result.status, result.exit_code) == ("failed", 3)
    assert result.reason == "step 1/1 (python) exited 3"
    assert "# step 1/1 failed with exit code 3" in (tmp_path / "o" / "log.txt").read_text()


def test_an_interrupt_records_each_running_stage_by_what_its_future_holds() -> None:
    """Queued (cancelled) stages were not run; a stage that had already passed keeps its
    pass; any other is recorded as interrupted (killed), never as passed."""
    from concurrent.futures import Future

    from aksara_release import evidence

    def stage(name: str) -> stages.Stage:
        return stages.Stage(name=name, title=name.title(), proves="t", steps=())

    def finished(result: evidence.StageResult | None, error: Exception | None = None
                 ) -> Future[evidence.StageResult]:
        future: Future[evidence.StageResult] = Future()
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]
        return future

    queued: Future[evidence.StageResult] = Future()
    assert queued.cancel()
    passed = evidence.StageResult(name="done", title="Done", status="passed", exit_code=0)
    failed = evidence.StageResult(name="bad", title="Bad", status="failed", exit_code=1)
    running = {
        queued: stage("queued"),
        finished(passed): stage("done"),
        finished(failed): stage("bad"),
        finished(None, RuntimeError("executor bug")): stage("broken"),
    }
    recorded: dict[str, evidence.StageResult] = {}
    executor._record_interrupted(running, lambda s, r: recorded.__setitem__(s.name, r),
                                 "SIGTERM")
    assert running == {}
    assert recorded["queued"].status == "interrupted"
    assert recorded["queued"].reason == "not run: interrupted by SIGTERM"
    assert recorded["done"] == passed
    assert (recorded["bad"].status, recorded["bad"].reason) == (
        "interrupted", "interrupted by SIGTERM; stopped: killed")
    assert recorded["broken"].status == "interrupted"


def test_the_package_exports_the_module_lazily() -> None:
    import aksara_release
    from aksara_release import main

    assert aksara_release.AksaraRelease is main.AksaraRelease
    with pytest.raises(AttributeError, match="Nope"):
        aksara_release.Nope  # noqa: B018 - the attribute access is the test
