"""``gate.py verify --expect-commit/--expect-tag/--expect-identity``: an intact, passing
bundle of *another* commit or tag must not verify for this release."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aksara_release import stages
from aksara_release.host import executor
from aksara_release.host.cli import main as cli_main
from aksara_release.host.verify import IDENTITY_FILE, expectation_problems
from aksara_release.stages import Step

COMMIT = "0123456789abcdef0123456789abcdef01234567"
TAG = "v0.8.0"
BUILD = stages.Stage(name="package-build", title="Build", proves="t", steps=(Step((
    "python", "-c", "import pathlib; d=pathlib.Path('{dist}'); "
    "(d/'aksara_framework-0.8.0-py3-none-any.whl').write_bytes(b'w'); "
    "(d/'aksara_framework-0.8.0.tar.gz').write_bytes(b's'); "
    "(d/'wheel-env.txt').write_text('')")),))


@pytest.fixture()
def bundle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "src" / "aksara").mkdir(parents=True)
    (repo / "pyproject.toml").write_text("[project]\nname='x'\n")
    (repo / "src" / "aksara" / "__init__.py").write_text('__version__ = "0.8.0"\n')
    monkeypatch.setattr(stages, "build_stages", lambda options=None, config=None: (BUILD,))
    config = executor.GateConfig(source=repo, evidence_dir=tmp_path / "ev",
                                 gate_home=tmp_path / "home", live=False,
                                 commit=COMMIT, tag=TAG)
    assert executor.run_gate(config) == 0
    return tmp_path / "ev"


def _identity(bundle: Path, **changes: object) -> None:
    report = {"schema": "aksara-release-identity/1", "verdict": "pass", "tag": TAG,
              "commit": COMMIT, **changes}
    (bundle / IDENTITY_FILE).write_text(json.dumps(report), encoding="utf-8")


def test_the_right_commit_and_tag_verify(bundle: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _identity(bundle)
    assert cli_main(["verify", str(bundle), "--expect-commit", COMMIT, "--expect-tag", TAG,
                     "--expect-identity"]) == 0
    assert "OK" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--expect-commit", "f" * 40], f"summary.json: commit is {COMMIT!r}, expected "),
        (["--expect-tag", "v0.8.1"], "summary.json: tag is 'v0.8.0', expected 'v0.8.1'"),
        (["--expect-identity"], f"{IDENTITY_FILE}: missing"),
    ],
)
def test_another_release_is_refused(
    bundle: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    assert cli_main(["verify", str(bundle), *args]) == 1
    assert expected in capsys.readouterr().err


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"verdict": "fail"}, "verdict is 'fail', not pass"),
        ({"tag": "v0.7.0"}, "tag is 'v0.7.0', the evidence's is 'v0.8.0'"),
        ({"commit": "f" * 40}, "commit is 'ffff"),
        ({"schema": "other"}, "not a release-identity report"),
    ],
)
def test_a_failed_or_foreign_identity_report_is_refused(
    bundle: Path, changes: dict[str, object], expected: str
) -> None:
    _identity(bundle, **changes)
    problems = expectation_problems(bundle, commit=COMMIT, tag=TAG, identity=True)
    assert any(expected in p for p in problems), problems


def test_without_expectations_nothing_is_compared(bundle: Path) -> None:
    assert expectation_problems(bundle) == []
