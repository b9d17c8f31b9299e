"""The reproducible-build check: real builds of a tiny hatchling project, twice.

Why real builds: what makes a build unreproducible (a timestamp, a random value, the
build path) only shows in what the backend writes. The planted fault is a hatch build
hook that puts a random value into the package; the check must go red and name the
member, and the same project without the hook must be byte-identical.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from aksara_release import reproducible as rb
from aksara_release import versions

PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.27"]
build-backend = "hatchling.build"

[project]
name = "tiny"
version = "1.0"
requires-python = ">=3.11"

[tool.hatch.build.targets.wheel]
packages = ["tiny"]
"""
HOOK = """\
import os
from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version, build_data):
        path = os.path.join(self.root, "tiny", "_stamp.py")
        with open(path, "w") as handle:
            handle.write(f"STAMP = {os.urandom(8).hex()!r}\\n")
        build_data["force_include"][path] = "tiny/_stamp.py"
"""


@pytest.fixture(scope="module")
def build_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An interpreter with the gate's pinned ``build`` (the stage's own tool)."""
    home = tmp_path_factory.mktemp("build-venv")
    venv.EnvBuilder(with_pip=True).create(home)
    python = str(home / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    versions.TOOLS["build"]], check=True)
    return python


def _project(root: Path, hook: bool = False) -> Path:
    (root / "tiny").mkdir(parents=True)
    (root / "tiny" / "__init__.py").write_text('"""Tiny."""\n')
    text = PYPROJECT + ("\n[tool.hatch.build.hooks.custom]\n" if hook else "")
    (root / "pyproject.toml").write_text(text)
    if hook:
        (root / "hatch_build.py").write_text(HOOK)
    return root


def test_a_clean_project_builds_byte_identical(tmp_path: Path, build_python: str) -> None:
    src = _project(tmp_path / "clean")
    out = tmp_path / "report.json"
    code = rb.main(["--src", str(src), "--work", str(tmp_path / "work"), "--output", str(out),
                    "--python", build_python])
    report = json.loads(out.read_text())
    assert code == rb.OK, report["differences"]
    assert report["reproducible"] is True
    assert report["epoch_source"].startswith("fixed") or "environment" in report["epoch_source"]
    one, two = report["builds"]
    assert one["wheel"] == two["wheel"] and one["sdist"] == two["sdist"]
    assert one["wheel"]["name"] == "tiny-1.0-py3-none-any.whl"
    assert len(one["wheel"]["sha256"]) == 64
    assert (one["umask"], one["TZ"]) != (two["umask"], two["TZ"])
    assert not list(src.glob("tiny/_stamp.py")), "the source tree is never built in place"


def test_a_random_value_in_the_build_is_caught(
    tmp_path: Path, build_python: str, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _project(tmp_path / "random", hook=True)
    out = tmp_path / "report.json"
    code = rb.main(["--src", str(src), "--work", str(tmp_path / "work"), "--output", str(out),
                    "--python", build_python])
    assert code == rb.NOT_REPRODUCIBLE
    report = json.loads(out.read_text())
    assert report["reproducible"] is False
    assert report["builds"][0]["wheel"]["sha256"] != report["builds"][1]["wheel"]["sha256"]
    assert "tiny-1.0-py3-none-any.whl: tiny/_stamp.py: content differ" in report["differences"]
    err = capsys.readouterr().err
    assert "reproducible-build: FAILED: the two builds differ" in err


def test_the_epoch_comes_from_the_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _project(tmp_path / "git")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "none"))
    run = {"cwd": src, "check": True, "capture_output": True}
    subprocess.run(["git", "init", "-q"], **run)  # type: ignore[call-overload]
    subprocess.run(["git", "add", "-A"], **run)  # type: ignore[call-overload]
    env = {"GIT_COMMITTER_DATE": "2026-03-04T05:06:07Z", "GIT_AUTHOR_DATE": "2026-03-04T05:06:07Z",
           "GIT_CONFIG_GLOBAL": str(tmp_path / "none"), "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit",
                    "-q", "-m", "x"], env=env, **run)  # type: ignore[call-overload]
    epoch, origin = rb.source_date_epoch(src)
    assert epoch == 1772600767 and origin.startswith("git commit ")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1234")
    assert rb.source_date_epoch(tmp_path / "git" / "tiny")[0] == 1772600767  # inside the repo
    assert rb.source_date_epoch(tmp_path) == (1234, "SOURCE_DATE_EPOCH from the environment")
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert rb.source_date_epoch(tmp_path)[0] == rb.FIXED_EPOCH


def test_archive_differences_are_named(tmp_path: Path) -> None:
    for name, stamp in (("a", (2020, 1, 1, 0, 0, 0)), ("b", (2021, 1, 1, 0, 0, 0))):
        (tmp_path / name).mkdir()
        with zipfile.ZipFile(tmp_path / name / "x-1-py3-none-any.whl", "w") as archive:
            archive.writestr(zipfile.ZipInfo("x/__init__.py", stamp), b"same")
    found = rb.differences(tmp_path / "a" / "x-1-py3-none-any.whl",
                           tmp_path / "b" / "x-1-py3-none-any.whl")
    assert found == ["x-1-py3-none-any.whl: x/__init__.py: timestamp differ"]


def test_a_build_that_fails_is_an_error_not_a_verdict(
    tmp_path: Path, build_python: str, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "broken"
    src.mkdir()
    (src / "pyproject.toml").write_text("[build-system]\nrequires = []\n"
                                        "build-backend = 'no_such_backend'\n")
    code = rb.main(["--src", str(src), "--work", str(tmp_path / "w"), "--python", build_python])
    assert code == rb.BUILD_ERROR
    assert capsys.readouterr().err.startswith("reproducible-build: error: build in ")


def test_not_a_project_is_a_usage_error(tmp_path: Path) -> None:
    assert rb.main(["--src", str(tmp_path), "--work", str(tmp_path / "w")]) == rb.USAGE
    assert rb.main(["--work"]) == rb.USAGE


def test_the_module_runs_as_a_command(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "aksara_release.reproducible", "--src",
                           str(tmp_path), "--work", str(tmp_path / "w")],
                          capture_output=True, text=True, check=False,
                          env={"PYTHONPATH": str(Path(rb.__file__).parents[1]), "PATH": "/usr/bin"})
    assert proc.returncode == rb.USAGE
    assert proc.stderr.strip().endswith("(not a Python project)")


def test_a_second_run_in_the_same_work_directory_starts_clean(
    tmp_path: Path, build_python: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The builds of an earlier run are removed first: a wheel left in dist/ would make
    two wheels, and an old one could be compared in place of the new one."""
    src = _project(tmp_path / "again")
    work = tmp_path / "work"
    argv = ["--src", str(src), "--work", str(work), "--python", build_python]
    assert rb.main(argv) == rb.OK
    (src / "tiny" / "__init__.py").write_text('"""Tiny, second edition."""\n')
    stale = work / "reproducible-1" / "dist" / "tiny-0.9-py3-none-any.whl"
    stale.write_bytes(b"an earlier build")
    assert rb.main(argv) == rb.OK, capsys.readouterr().err
    assert not stale.exists()
    copied = work / "reproducible-2" / "src" / "tiny" / "__init__.py"
    assert "second edition" in copied.read_text()
    assert "reproducible-build: OK: both builds are byte-identical" in capsys.readouterr().out
