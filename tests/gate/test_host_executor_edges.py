"""The host executor's edges: bad options, odd evidence directories, a build that
produces the wrong files, an executor bug inside one stage, no git, ``--list``.

Small stand-in stages as in ``test_host_executor.py``; every case runs the real
scheduler and writes real evidence.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aksara_release import stages
from aksara_release.host import cli, executor
from aksara_release.stages import Stage, Step

PY = "python"


def _stage(name: str, *steps: Step, **kw: object) -> Stage:
    return Stage(name=name, title=name.title(), proves="t", steps=steps, **kw)  # type: ignore[arg-type]


def _build(*names: str) -> Stage:
    writes = "; ".join(f"(d/{n!r}).write_bytes(b'x')" for n in names)
    return _stage("package-build", Step((PY, "-c", f"import pathlib; d=pathlib.Path('{{dist}}'); "
                                          f"d.mkdir(exist_ok=True); {writes}")))


WHEEL, SDIST = "aksara_framework-0.8.0-py3-none-any.whl", "aksara_framework-0.8.0.tar.gz"
WHEEL_ENV = "wheel-env.txt"


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src" / "aksara").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname='x'\n")
    (root / "src" / "aksara" / "__init__.py").write_text('__version__ = "0.8.0"\n')
    return root


def _install(monkeypatch: pytest.MonkeyPatch, defs: tuple[Stage, ...]) -> None:
    monkeypatch.setattr(stages, "build_stages", lambda options=None, config=None: defs)


def _config(repo: Path, tmp_path: Path, **kw: object) -> executor.GateConfig:
    return executor.GateConfig(source=repo, evidence_dir=tmp_path / "ev",
                               gate_home=tmp_path / "home", live=False, **kw)  # type: ignore[arg-type]


def _summary(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "ev" / "summary.json").read_text())


def test_two_wheels_fail_the_build_and_skip_its_dependents(monkeypatch, repo, tmp_path) -> None:
    twine = _stage("twine-check", Step((PY, "-c", "pass", "{wheel}")))
    _install(monkeypatch, (_build(WHEEL, SDIST, WHEEL_ENV, "other-1.0-py3-none-any.whl"), twine))
    assert executor.run_gate(_config(repo, tmp_path)) == 1
    by_name = {s["name"]: s for s in _summary(tmp_path)["stages"]}
    assert by_name["package-build"]["status"] == "failed"
    assert by_name["package-build"]["reason"] == (
        "expected one wheel and one sdist in dist/, found 2 and 1")
    assert by_name["twine-check"]["reason"] == "needs package-build, which failed"


def test_a_build_without_its_wheel_env_fails(monkeypatch, repo, tmp_path) -> None:
    """dependency-audit and sbom install the set package-build resolved: a build that
    left no wheel-env.txt beside the wheel fails, and nothing reads the dist."""
    twine = _stage("twine-check", Step((PY, "-c", "pass", "{wheel}")))
    _install(monkeypatch, (_build(WHEEL, SDIST), twine))
    assert executor.run_gate(_config(repo, tmp_path)) == 1
    by_name = {s["name"]: s for s in _summary(tmp_path)["stages"]}
    assert by_name["package-build"]["status"] == "failed"
    assert by_name["package-build"]["reason"] == "package-build left no wheel-env.txt in dist/"
    assert by_name["twine-check"]["reason"] == "needs package-build, which failed"


def test_dependents_without_a_build_stage_are_skipped(monkeypatch, repo, tmp_path) -> None:
    twine = _stage("twine-check", Step((PY, "-c", "pass", "{wheel}")))
    _install(monkeypatch, (_build(WHEEL, SDIST, WHEEL_ENV), twine))
    assert executor.run_gate(_config(repo, tmp_path, only=("twine-check",))) == 3
    twine_result = next(s for s in _summary(tmp_path)["stages"] if s["name"] == "twine-check")
    assert twine_result["reason"] == "needs package-build, which was not run"


def test_an_executor_bug_in_one_stage_is_an_error_not_a_crash(monkeypatch, repo, tmp_path) -> None:
    _install(monkeypatch, (_stage("secret-scan", Step((PY, "-c", "pass"))),))

    def broken(ctx, keep):  # planted: the worker itself raises (not the stage's command)
        raise RuntimeError("planted executor bug")

    monkeypatch.setattr(executor, "_run_and_clean", broken)
    assert executor.run_gate(_config(repo, tmp_path)) == 1
    result = _summary(tmp_path)["stages"][0]
    assert (result["status"], result["reason"]) == ("error", "executor error: RuntimeError")


def test_jobs_below_one_is_a_usage_error(monkeypatch, repo, tmp_path, capsys) -> None:
    _install(monkeypatch, (_build(WHEEL, SDIST),))
    args = ["run", "--source", str(repo), "--evidence", str(tmp_path / "ev"), "--jobs", "0"]
    assert cli.main(args) == cli.USAGE
    assert capsys.readouterr().err == "gate: error: --jobs must be at least 1\n"


def test_evidence_path_that_is_a_file_is_a_usage_error(monkeypatch, repo, tmp_path) -> None:
    _install(monkeypatch, (_build(WHEEL, SDIST),))
    (tmp_path / "ev").write_text("not a directory")
    with pytest.raises(executor.GateUsageError, match="exists and is not a directory"):
        executor.run_gate(_config(repo, tmp_path))
    assert (tmp_path / "ev").read_text() == "not a directory"


def test_earlier_evidence_is_cleared_links_and_all(tmp_path) -> None:
    ev = tmp_path / "ev"
    (ev / "stages" / "old").mkdir(parents=True)
    (ev / "stages" / "old" / "log.txt").write_text("old")
    outside = tmp_path / "keep"
    outside.mkdir()
    (outside / "precious").write_text("x")
    (ev / "link").symlink_to(outside)
    executor.prepare_evidence_dir(ev)
    assert list(ev.iterdir()) == []
    assert (outside / "precious").read_text() == "x"  # the link went, not its target


def test_version_comes_from_the_wheel_name_or_is_unknown(tmp_path) -> None:
    """summary.json's version is the built wheel's (PEP 427 name), never the source's."""
    assert executor.wheel_version(None) is None
    assert executor.wheel_version(tmp_path / "not-a-wheel.whl") is None
    wheel = tmp_path / "aksara_framework-0.8.0-py3-none-any.whl"
    assert executor.wheel_version(wheel) == "0.8.0"


def test_no_git_means_unknown_revision(monkeypatch, repo) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert executor.source_revision(repo) == (None, None)


def test_run_root_override_and_default(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("AKSARA_GATE_RUN_ROOT", str(tmp_path / "runs"))
    assert executor.default_run_root(tmp_path / "home") == tmp_path / "runs"
    monkeypatch.delenv("AKSARA_GATE_RUN_ROOT")
    assert executor.default_run_root(tmp_path / "home") in (
        Path("/dev/shm"), tmp_path / "home" / "runs")


def test_list_prints_every_stage(monkeypatch, capsys) -> None:
    _install(monkeypatch, (_build(WHEEL, SDIST), _stage("secret-scan", Step((PY, "-c", "")))))
    assert cli.main(["run", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == ["package-build", "secret-scan"]


def test_redact_survives_an_unparsable_database_url(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://[broken")
    assert cli.redact("x://u" + ":pw@h") == "x://u:***@h"
