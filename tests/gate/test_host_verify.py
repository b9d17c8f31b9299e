"""``gate.py verify``: an intact passing bundle verifies; every kind of tampering does not."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from aksara_release import stages
from aksara_release.host import executor
from aksara_release.host.cli import main as cli_main
from aksara_release.host.progress import Progress
from aksara_release.host.verify import verify
from aksara_release.stages import Step


def _stage(name: str, *steps: Step, **kw: object) -> stages.Stage:
    return stages.Stage(name=name, title=name.title(), proves="t", steps=steps, **kw)  # type: ignore[arg-type]


BUILD = _stage("package-build", Step((
    "python", "-c", "import pathlib; d=pathlib.Path('{dist}'); "
    "(d/'aksara_framework-0.8.0-py3-none-any.whl').write_bytes(b'w'); "
    "(d/'aksara_framework-0.8.0.tar.gz').write_bytes(b's'); "
    "(d/'wheel-env.txt').write_text('pglast==8.8 \\\\\\n    --hash=sha256:00\\n')")))


def _install(monkeypatch: pytest.MonkeyPatch, defs: tuple[stages.Stage, ...]) -> None:
    monkeypatch.setattr(stages, "build_stages", lambda options=None, config=None: defs)


@pytest.fixture()
def bundle(monkeypatch, tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "src" / "aksara").mkdir(parents=True)
    (repo / "pyproject.toml").write_text("[project]\nname='x'\n")
    (repo / "src" / "aksara" / "__init__.py").write_text('__version__ = "0.8.0"\n')
    scan = _stage("secret-scan", Step(("python", "-c", "print('{}')"), stdout="{out}/r.json"))
    twine = _stage("twine-check", Step(("python", "-c", "pass", "{wheel}")))
    _install(monkeypatch, (BUILD, twine, scan))
    config = executor.GateConfig(source=repo, evidence_dir=tmp_path / "ev",
                                 gate_home=tmp_path / "home", live=False)
    assert executor.run_gate(config) == 0
    ev = tmp_path / "ev"
    assert verify(ev) == []
    return ev


def test_verify_cli_accepts_an_intact_bundle(bundle: Path, capsys) -> None:
    assert cli_main(["verify", str(bundle)]) == 0
    assert "OK" in capsys.readouterr().out


def test_modified_artifact_is_caught(bundle: Path) -> None:
    wheel = next((bundle / "dist").glob("*.whl"))
    wheel.write_bytes(b"swapped")
    assert any("SHA-256 mismatch" in p and wheel.name in p for p in verify(bundle))


def test_modified_wheel_env_is_caught(bundle: Path) -> None:
    """wheel-env.txt is part of what the release is traceable to (summary and SHA256SUMS)."""
    env = bundle / "dist" / "wheel-env.txt"
    assert "  wheel-env.txt\n" in (bundle / "dist" / "SHA256SUMS").read_text()
    env.write_text(env.read_text().replace("sha256:00", "sha256:01"))
    assert "dist/wheel-env.txt: SHA-256 mismatch (modified after the run)" in verify(bundle)


def test_modified_stage_evidence_is_caught(bundle: Path) -> None:
    (bundle / "stages" / "secret-scan" / "r.json").write_text('{"results": {}}\n')
    assert any("stages/secret-scan/r.json" in p for p in verify(bundle))


def test_unlisted_file_is_caught(bundle: Path) -> None:
    (bundle / "dist" / "extra-1.0-py3-none-any.whl").write_bytes(b"x")
    assert any("not listed" in p for p in verify(bundle))


def test_sha256sums_disagreeing_is_caught(bundle: Path) -> None:
    sums = bundle / "dist" / "SHA256SUMS"
    sums.write_text(sums.read_text().replace("a", "b", 1))
    problems = verify(bundle)
    assert any("SHA256SUMS" in p for p in problems)


def test_summary_md_out_of_sync_is_caught(bundle: Path) -> None:
    (bundle / "summary.md").write_text("# all good, trust me\n")
    assert "summary.md: does not match summary.json" in verify(bundle)


def test_schema_violation_is_caught(bundle: Path) -> None:
    path = bundle / "summary.json"
    data = json.loads(path.read_text())
    data["verdict"] = "great"
    path.write_text(json.dumps(data))
    assert any(p.startswith("summary.json schema: verdict") for p in verify(bundle))


def test_forged_pass_over_a_failed_stage_is_caught(bundle: Path) -> None:
    path = bundle / "summary.json"
    data = json.loads(path.read_text())
    data["stages"][1]["status"] = "failed"
    path.write_text(json.dumps(data, indent=2) + "\n")
    problems = verify(bundle)
    assert any("required stage twine-check: failed" in p for p in problems)


def test_deleted_artifact_is_caught(bundle: Path) -> None:
    wheel = next((bundle / "dist").glob("*.whl"))
    wheel.unlink()
    (bundle / "stages" / "secret-scan" / "log.txt").unlink()
    problems = verify(bundle)
    assert f"dist/{wheel.name}: missing" in problems
    assert "stages/secret-scan/log.txt: missing" in problems


def test_artifact_replaced_by_a_directory_is_caught(bundle: Path) -> None:
    log = bundle / "stages" / "secret-scan" / "log.txt"
    log.unlink()
    log.mkdir()  # unreadable even for root (CI runs as root: chmod 000 would not do)
    assert "stages/secret-scan/log.txt: not a regular file" in verify(bundle)


def test_deleted_summary_md_is_caught(bundle: Path, capsys) -> None:
    (bundle / "summary.md").unlink()
    assert "summary.md: missing" in verify(bundle)
    assert cli_main(["verify", str(bundle)]) == 1
    assert "summary.md: missing" in capsys.readouterr().err


def test_unreadable_summary_md_is_caught(bundle: Path) -> None:
    (bundle / "summary.md").write_bytes(b"\xff\xfe not utf-8")
    assert "summary.md: unreadable (UnicodeDecodeError)" in verify(bundle)


def test_deleted_sha256sums_is_caught(bundle: Path) -> None:
    (bundle / "dist" / "SHA256SUMS").unlink()
    problems = verify(bundle)
    assert "dist/SHA256SUMS: missing" in problems  # from the listing and from the check


@pytest.mark.parametrize("kind", ["directory", "binary"])
def test_unreadable_sha256sums_is_caught(bundle: Path, kind: str) -> None:
    sums = bundle / "dist" / "SHA256SUMS"
    sums.unlink()
    if kind == "directory":
        sums.mkdir()
    else:
        sums.write_bytes(b"\xff" * 70 + b"  x.whl\n")
    problems = verify(bundle)
    assert any(p.startswith("dist/SHA256SUMS: unreadable") for p in problems), problems


def test_sha256sums_listing_an_extra_file_is_caught(bundle: Path) -> None:
    sums = bundle / "dist" / "SHA256SUMS"
    sums.write_text(sums.read_text() + "0" * 64 + "  planted-1.0-py3-none-any.whl\n")
    problems = verify(bundle)
    assert ("dist/SHA256SUMS: lists planted-1.0-py3-none-any.whl, which summary.json does not"
            in problems)


def test_required_stage_without_result_is_caught(bundle: Path) -> None:
    path = bundle / "summary.json"
    data = json.loads(path.read_text())
    data["stages"] = [s for s in data["stages"] if s["name"] != "twine-check"]
    path.write_text(json.dumps(data, indent=2) + "\n")
    assert "required stage twine-check: no result" in verify(bundle)


def test_required_stage_only_the_current_definitions_know_is_caught(bundle: Path) -> None:
    problems = verify(bundle, required=("package-build", "twine-check", "secret-scan", "docs"))
    assert "required stage docs: no result" in problems


def test_unreadable_summary_json_is_one_line(bundle: Path) -> None:
    (bundle / "summary.json").unlink()
    (bundle / "summary.json").mkdir()
    problems = verify(bundle)
    assert len(problems) == 1 and "summary.json" in problems[0]


def test_summary_json_not_json(bundle: Path) -> None:
    (bundle / "summary.json").write_text("{")
    assert verify(bundle) == ["summary.json: not valid JSON (JSONDecodeError)"]


def test_not_an_evidence_directory(tmp_path: Path, capsys) -> None:
    assert cli_main(["verify", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "summary.json: missing" in err and "Traceback" not in err


def test_live_progress_redraws_in_place_and_plain_mode_prints_lines() -> None:
    live = io.StringIO()
    board = Progress(["a", "b"], stream=live, live=True)
    board.update("a", "installing")
    board._draw()
    board._draw()
    text = live.getvalue()
    assert "\x1b[3F" in text and "installing" in text and "waiting" in text
    plain = io.StringIO()
    board = Progress(["a"], stream=plain, live=False)
    board.update("a", "step 1/2")
    assert "a: step 1/2" in plain.getvalue() and "\x1b" not in plain.getvalue()
