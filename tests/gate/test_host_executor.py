"""The host executor: ordering, bounded parallelism, skips, evidence, secrets, errors.

These tests run real subprocesses in real fresh virtual environments, but with small
stand-in stage definitions (no network): the real definitions are exercised by the
self-tests in ``tests/selftest``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
from aksara_release import stages
from aksara_release.host import executor, snapshot
from aksara_release.host.cli import main as cli_main
from aksara_release.host.runner import StageContext, run_stage
from aksara_release.host.verify import verify
from aksara_release.stages import Stage, Step

PY = "python"


def _stage(name: str, *steps: Step, **kw: object) -> Stage:
    return Stage(name=name, title=name.title(), proves="test", steps=steps, **kw)  # type: ignore[arg-type]


def _py(code: str, stdout: str | None = None) -> Step:
    return Step((PY, "-c", code), stdout=stdout)


BUILD = _stage(
    "package-build",
    Step((PY, "-c", "import pathlib; d=pathlib.Path('{dist}'); d.mkdir(exist_ok=True); "
          "(d/'aksara_framework-0.8.0-py3-none-any.whl').write_bytes(b'w'); "
          "(d/'aksara_framework-0.8.0.tar.gz').write_bytes(b's'); "
          "(d/'wheel-env.txt').write_text('pglast==8.8 \\\\\\n    --hash=sha256:00\\n')")),
)


def _uses_wheel(name: str, code: str = "pass", **kw: object) -> Stage:
    return _stage(name, Step((PY, "-c", code, "{wheel}")), **kw)


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src" / "aksara").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname='x'\n")
    (root / "src" / "aksara" / "__init__.py").write_text('__version__ = "0.8.0"\n')
    (root / ".venv").mkdir()
    (root / ".venv" / "junk").write_text("never copied")
    return root


def _install(monkeypatch: pytest.MonkeyPatch, defs: tuple[Stage, ...]) -> None:
    monkeypatch.setattr(stages, "build_stages", lambda options=None, config=None: defs)


def _config(repo: Path, tmp_path: Path, **kw: object) -> executor.GateConfig:
    return executor.GateConfig(
        source=repo, evidence_dir=tmp_path / "ev", gate_home=tmp_path / "home", live=False,
        **kw,  # type: ignore[arg-type]
    )


def test_full_pass_writes_verifiable_evidence(monkeypatch, repo, tmp_path, capsys) -> None:
    _install(monkeypatch, (BUILD, _uses_wheel("twine-check"),
                           _stage("secret-scan", _py("print('{}')", stdout="{out}/r.json"),
                                  evidence=("r.json",))))
    assert executor.run_gate(_config(repo, tmp_path)) == 0
    ev = tmp_path / "ev"
    summary = json.loads((ev / "summary.json").read_text())
    assert summary["verdict"] == "pass" and summary["executor"] == "host"
    for name in ("package-build", "twine-check", "secret-scan"):
        assert (ev / "stages" / name / "log.txt").is_file()
        assert (ev / "stages" / name / "result.json").is_file()
    # the wheel, the sdist and the runtime dependency set resolved for them
    sums = (ev / "dist" / "SHA256SUMS").read_text()
    assert sums.count("\n") == 3 and "  wheel-env.txt\n" in sums
    assert [a["path"] for a in summary["dist"]] == [
        "dist/aksara_framework-0.8.0-py3-none-any.whl", "dist/aksara_framework-0.8.0.tar.gz",
        "dist/wheel-env.txt", "dist/SHA256SUMS"]
    assert verify(ev, required=[s.name for s in stages.build_stages()]) == []
    out = capsys.readouterr().out
    assert "verdict: PASS" in out and "secret-scan: PASSED" in out


def test_skip_is_recorded_and_never_passes(monkeypatch, repo, tmp_path) -> None:
    _install(monkeypatch, (BUILD, _uses_wheel("twine-check")))
    code = executor.run_gate(_config(repo, tmp_path, skip=("twine-check",)))
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert code == 3 and summary["verdict"] == "incomplete"
    stage = next(s for s in summary["stages"] if s["name"] == "twine-check")
    assert stage["status"] == "skipped" and stage["reason"] == "skipped with --skip"
    assert any("twine-check: skipped" in p for p in verify(tmp_path / "ev", ["twine-check"]))


def test_failed_build_skips_dependents_and_fails(monkeypatch, repo, tmp_path) -> None:
    broken = _stage("package-build", _py("import sys; print('boom', file=sys.stderr); sys.exit(3)"),
                    Step((PY, "-c", "open('{dist}/never','w')")))
    _install(monkeypatch, (broken, _uses_wheel("twine-check")))
    assert executor.run_gate(_config(repo, tmp_path)) == 1
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    build, twine = summary["stages"]
    assert build["status"] == "failed" and build["exit_code"] == 3
    assert build["failed_step"].startswith("step 1/2") and "boom" in build["reason"]
    assert twine["status"] == "skipped" and "package-build" in twine["reason"]


def test_first_failing_step_stops_the_stage(monkeypatch, repo, tmp_path) -> None:
    marker = tmp_path / "ran"
    _install(monkeypatch, (BUILD, _stage("secret-scan", _py("raise SystemExit(1)"),
                                         _py(f"open({str(marker)!r}, 'w')"))))
    assert executor.run_gate(_config(repo, tmp_path)) == 1
    assert not marker.exists()


def test_stages_run_in_parallel_up_to_jobs(monkeypatch, repo, tmp_path) -> None:
    # Each stage stamps its start, then waits until two stages have started: with jobs=2
    # the first two meet; with the stages run one at a time none ever does (exit 1).
    # Concurrency is shown by the meeting, not by how close the start times are. Each then
    # holds for a second, failing if it ever sees three running (jobs not honoured).
    stamp = tmp_path / "stamps"
    stamp.mkdir()
    code = (
        "import sys, time, pathlib\n"
        f"p = pathlib.Path({str(stamp)!r}); name = '{{out}}'.replace('/', '_')\n"
        "def count(ends): return sum(1 for x in p.iterdir() if x.name.startswith('end') == ends)\n"
        "(p / name).write_text(str(time.monotonic_ns()))\n"
        "deadline = time.monotonic() + 20\n"
        "while count(False) < 2:\n"
        "    if time.monotonic() > deadline: sys.exit('never ran alongside another stage')\n"
        "    time.sleep(0.02)\n"
        "hold = time.monotonic() + 1\n"
        "while time.monotonic() < hold:\n"
        "    if count(False) - count(True) > 2: sys.exit('three stages ran at once')\n"
        "    time.sleep(0.02)\n"
        "(p / ('end' + name)).write_text(str(time.monotonic_ns()))\n"
    )
    defs = (BUILD, *(_uses_wheel(f"s{i}", code) for i in range(3)))
    _install(monkeypatch, defs)
    assert executor.run_gate(_config(repo, tmp_path, jobs=2)) == 0
    starts = sorted(int(p.read_text()) for p in stamp.iterdir() if not p.name.startswith("end"))
    ends = sorted(int(p.read_text()) for p in stamp.iterdir() if p.name.startswith("end"))
    assert len(starts) == len(ends) == 3
    # two ran together; the third started only after one of them ended (jobs=2)
    assert starts[1] < ends[0]
    assert starts[2] >= ends[0]


def test_generated_secret_reaches_the_stage_but_never_the_evidence(
    monkeypatch, repo, tmp_path
) -> None:
    leak = _stage(
        "doctor",
        _py("import os,sys; v=os.environ['AKSARA_SECRET_KEY']; assert len(v) >= 60; "
            "print('key', v); print('err', v, file=sys.stderr)", stdout="{out}/doctor.json"),
        generated_secrets=("AKSARA_SECRET_KEY",),
    )
    _install(monkeypatch, (BUILD, leak))
    assert executor.run_gate(_config(repo, tmp_path)) == 1
    ev = tmp_path / "ev"
    result = json.loads((ev / "stages" / "doctor" / "result.json").read_text())
    assert result["status"] == "failed" and "leaked into doctor.json" in result["reason"]
    assert "key ***" in (ev / "stages" / "doctor" / "doctor.json").read_text()
    assert "err ***" in (ev / "stages" / "doctor" / "log.txt").read_text()


def test_stage_env_is_clean(monkeypatch, repo, tmp_path) -> None:
    monkeypatch.setenv("PIP_NO_DEPS", "1")
    monkeypatch.setenv("AKSARA_DEBUG", "true")
    check = _stage("secret-scan", _py(
        "import os,sys; assert 'PIP_NO_DEPS' not in os.environ; "
        "assert 'AKSARA_DEBUG' not in os.environ; assert os.environ['CI']=='true'; "
        "assert sys.prefix != sys.base_prefix; import pip"), env={"CI": "true"})
    _install(monkeypatch, (BUILD, check))
    assert executor.run_gate(_config(repo, tmp_path)) == 0


def test_stage_timeout_kills_and_fails(tmp_path) -> None:
    stage = _stage("slow", _py("import time; time.sleep(30)"), needs_source=False)
    ctx = StageContext(stage=stage, root=tmp_path / "r", snapshot=tmp_path, out=tmp_path / "o",
                       dist=tmp_path / "d", pip_cache=tmp_path / "c", database=None, timeout=2)
    result = run_stage(ctx)
    assert result.status == "failed" and result.exit_code == 124 and result.duration_s < 15


def test_missing_declared_evidence_fails(tmp_path) -> None:
    stage = _stage("x", _py("pass"), evidence=("report.json",), needs_source=False)
    ctx = StageContext(stage=stage, root=tmp_path / "r", snapshot=tmp_path, out=tmp_path / "o",
                       dist=tmp_path / "d", pip_cache=tmp_path / "c", database=None)
    result = run_stage(ctx)
    assert result.status == "failed" and "report.json" in (result.reason or "")


def test_unknown_stage_is_a_usage_error(monkeypatch, repo, tmp_path, capsys) -> None:
    code = cli_main(["run", "--only", "no-such-stage", "--source", str(repo),
                     "--evidence", str(tmp_path / "ev")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "unknown stage 'no-such-stage'" in err


def test_refuses_to_clear_a_foreign_directory(repo, tmp_path, capsys) -> None:
    foreign = tmp_path / "ev"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("keep me")
    code = cli_main(["run", "--source", str(repo), "--evidence", str(foreign)])
    assert code == 2 and (foreign / "precious.txt").exists()
    assert "not empty" in capsys.readouterr().err


def test_snapshot_leaves_out_environments_and_caches(repo, tmp_path) -> None:
    (repo / "src" / "aksara" / "__pycache__").mkdir()
    (repo / "src" / "aksara" / "__pycache__" / "x.pyc").write_bytes(b"")
    (repo / "evidence").mkdir()
    (repo / "evidence" / "summary.json").write_text("{}")
    dest = tmp_path / "snap"
    snapshot.copy_source(repo, dest)
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert files == ["pyproject.toml", "src/aksara/__init__.py"]


def test_real_definitions_order_and_dependencies() -> None:
    defs = stages.build_stages()
    producers = [s.name for s in defs if s.produces_dist]
    assert producers == ["package-build"]
    independent = {s.name for s in defs if not s.needs_dist}
    assert {"package-build", "docs-build", "secret-scan"} <= independent
    assert "unit-tests" not in independent
    assert set(executor.PRIORITY) == {s.name for s in defs}  # keep the long poles first


@pytest.mark.skipif(sys.platform != "linux", reason="Linux paths")
def test_render_fills_every_placeholder(tmp_path) -> None:
    for stage in stages.build_stages(stages.GateOptions(osv_url="http://127.0.0.1:1/v1/query")):
        ctx = StageContext(stage=stage, root=tmp_path / stage.name, snapshot=tmp_path,
                           out=tmp_path / "o", dist=tmp_path / "d", pip_cache=tmp_path / "c",
                           database=None, wheel=tmp_path / "d" / "x.whl",
                           sdist=tmp_path / "d" / "x.tar.gz")
        rendered = stage.render(ctx.paths())
        text = json.dumps([rendered.install_tools, rendered.install_wheel, rendered.workdir,
                           dict(rendered.env), [s.argv for s in rendered.steps]])
        assert not re.search(r"\{(src|out|work|dist|wheel|sdist)\}", text), stage.name
        assert os.sep in rendered.workdir


@pytest.mark.db
def test_db_stage_gets_its_own_scratch_database_on_database_url(
    monkeypatch, repo, tmp_path, admin_url
) -> None:
    """With DATABASE_URL set, each DB stage gets a fresh database there, dropped after."""
    from urllib.parse import urlsplit

    import psycopg

    monkeypatch.setenv("DATABASE_URL", admin_url)
    code = (
        "import os, psycopg, sys; url = os.environ['DATABASE_URL']; "
        "c = psycopg.connect(url); db = c.execute('select current_database()').fetchone()[0]; "
        "assert db.startswith('gate_'), db; print(db); print(url, file=sys.stderr)"
    )
    # the stage's python needs psycopg: use this interpreter's site-packages
    site = [p for p in sys.path if p.endswith("site-packages")][0]
    stage = _stage("doctor", Step((PY, "-c", f"import sys; sys.path.append({site!r}); " + code),
                                  stdout="{out}/db.txt"),
                   database=True, needs_source=False)
    _install(monkeypatch, (BUILD, stage))
    assert executor.run_gate(_config(repo, tmp_path)) == 0
    ev = tmp_path / "ev"
    db = (ev / "stages" / "doctor" / "db.txt").read_text().strip()
    password = urlsplit(admin_url).password
    assert password and password not in (ev / "stages" / "doctor" / "log.txt").read_text()
    summary = json.loads((ev / "summary.json").read_text())
    assert summary["database"].startswith("external PostgreSQL from DATABASE_URL")
    assert password not in (ev / "summary.json").read_text()
    with psycopg.connect(admin_url) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (db,)).fetchone()
    assert exists is None, "the scratch database was not dropped"


def _git(repo: Path, *args: str) -> None:
    import subprocess

    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid",
         *args],
        check=True, capture_output=True,
    )


def test_summary_records_the_source_commit_and_tag(monkeypatch, repo, tmp_path) -> None:
    _git(repo, "init", "-q")
    _git(repo, "add", "pyproject.toml", "src")
    _git(repo, "commit", "-qm", "release")
    _git(repo, "tag", "v0.8.0")
    commit, tag = executor.source_revision(repo)
    assert commit is not None and re.fullmatch(r"[0-9a-f]{40}", commit)
    assert tag == "v0.8.0"
    _install(monkeypatch, (BUILD,))
    executor.run_gate(_config(repo, tmp_path))
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert summary["options"]["commit"] == commit and summary["options"]["tag"] == "v0.8.0"
    assert f"commit {commit}, tag v0.8.0" in (tmp_path / "ev" / "summary.md").read_text()
    assert "build" in summary["environment"]["tools"]


def test_explicit_commit_and_tag_win_and_no_git_means_unknown(monkeypatch, repo, tmp_path) -> None:
    assert executor.source_revision(repo) == (None, None)
    _install(monkeypatch, (BUILD,))
    executor.run_gate(_config(repo, tmp_path, commit="abc123", tag="v9.9.9"))
    summary = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert (summary["options"]["commit"], summary["options"]["tag"]) == ("abc123", "v9.9.9")
