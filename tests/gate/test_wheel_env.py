"""The wheel's runtime environment is resolved once and described identically (issue 14).

``package-build`` resolves the wheel's runtime dependencies with the pinned uv into
``dist/wheel-env.txt`` (hash-pinned, the package itself left out); ``dependency-audit``
and ``sbom`` build their wheel-only environment from exactly that file. These tests
resolve a tiny real wheel against the index, install from the file through the host
runner, and plant a wrong hash: the install fails naming the distribution, and both
stages run exactly the steps under test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from aksara_release import evidence, locks, stages, wheelenv
from aksara_release.host import venvs
from aksara_release.host.runner import StageContext, run_stage
from aksara_release.judges import checks
from aksara_release.judges.environment import judge_install
from aksara_release.stages import Stage

GATE = Path(stages.GATE_SRC)
#: Two small pure-Python runtime dependencies of the tiny wheel.
REQUIRES = ("typing-extensions>=4", "idna>=3")


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def tiny_wheel(directory: Path, requires: tuple[str, ...] = REQUIRES) -> Path:
    """A valid pure-Python wheel ``gate_demo`` 1.0 requiring ``requires`` (and, under an
    extra only, something no environment should get)."""
    directory.mkdir(parents=True, exist_ok=True)
    info = "gate_demo-1.0.dist-info"
    files = {
        "gate_demo/__init__.py": b"VALUE = 1\n",
        f"{info}/METADATA": (
            "Metadata-Version: 2.1\nName: gate-demo\nVersion: 1.0\n"
            + "".join(f"Requires-Dist: {r}\n" for r in requires)
            + "Provides-Extra: extra\nRequires-Dist: six; extra == 'extra'\n"
        ).encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                         b"Tag: py3-none-any\n",
    }
    record = [_record_line(name, data) for name, data in files.items()] + [f"{info}/RECORD,,"]
    path = directory / "gate_demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


@pytest.fixture()
def uv_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pinned uv on ``PATH``, as both executors provide it to every stage."""
    monkeypatch.setenv("PATH", f"{venvs.uv_binary().parent}{os.pathsep}{os.environ['PATH']}")


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dist directory with the tiny wheel and its resolved wheel-env.txt."""
    dist = tmp_path_factory.mktemp("dist")
    tiny_wheel(dist)
    env = {**os.environ,
           "PATH": f"{venvs.uv_binary().parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(GATE)}
    done = subprocess.run([sys.executable, "-m", "aksara_release.wheelenv", "--dist", str(dist),
                           "--record", str(dist.parent / "rec" / wheelenv.RECORD)],
                          capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert "2 runtime dependencies pinned with hashes: idna==" in done.stderr
    return dist


def test_the_resolution_pins_every_runtime_dependency_with_hashes(resolved: Path) -> None:
    text = (resolved / wheelenv.FILE).read_text()
    pinned = locks.pins(text)
    assert set(pinned) == {"idna", "typing-extensions"}  # not six (an extra), not the package
    assert all(count > 0 for count in locks.hashed(text).values())
    assert not [line for line in wheelenv.requirement_lines(text)
                if line.lower().startswith(("gate-demo", "gate_demo"))]
    assert str(resolved) not in text  # no path: the same bytes wherever it ran
    record = json.loads((resolved.parent / "rec" / wheelenv.RECORD).read_text())
    assert record["sha256"] == hashlib.sha256((resolved / wheelenv.FILE).read_bytes()).hexdigest()
    assert record["distributions"] == dict(sorted(pinned.items()))
    assert record["package"] == "gate-demo" and record["wheel"] == "gate_demo-1.0-py3-none-any.whl"


def test_the_resolution_is_deterministic(resolved: Path, tmp_path: Path,
                                         uv_on_path: None) -> None:
    again = tmp_path / "dist"
    again.mkdir()
    (again / "gate_demo-1.0-py3-none-any.whl").write_bytes(
        (resolved / "gate_demo-1.0-py3-none-any.whl").read_bytes())
    wheelenv.resolve(again)
    assert (again / wheelenv.FILE).read_bytes() == (resolved / wheelenv.FILE).read_bytes()


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    assert wheelenv.main(["--dist", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"aksara_release.wheelenv: error: {tmp_path}: expected one wheel, found 0\n"
    assert not (tmp_path / wheelenv.FILE).exists()


@pytest.mark.parametrize(("text", "message"), [
    ("gate-demo==1.0 \\\n    --hash=sha256:00\n", "pins the package itself (gate-demo)"),
    ("idna==3.10\n", "no hash for idna"),
    ("idna @ https://example.invalid/idna.whl \\\n    --hash=sha256:00\n",
     "not pinned with ==: idna"),
])
def test_an_unusable_resolution_is_refused(text: str, message: str) -> None:
    with pytest.raises(wheelenv.WheelEnvError, match=re.escape(message)):
        wheelenv.check_resolution(text, "gate-demo")


def test_judge_install_names_each_mismatched_distribution() -> None:
    output = ("Resolved 2 packages\nerror: Failed to download `idna==3.10`\n"
              "  cause: Hash mismatch for `idna==3.10`\n")
    judgement = judge_install(output, "/dist/wheel-env.txt")
    assert [f.text() for f in judgement.findings] == [
        "hash-mismatch idna==3.10: the download does not match the hash in wheel-env.txt"]
    clean = judge_install("Installed 2 packages in 3ms\n + idna==3.10\n + six==1.17.0\n", None)
    assert clean.findings == [] and clean.counts == {"installed": 2}


def test_a_fatal_tool_writes_the_verdict_and_stops(tmp_path: Path) -> None:
    spec = checks.ToolSpec(name="wheel-env", judge="install", out=str(tmp_path), fatal=True,
                           argv=[sys.executable, "-c", "raise SystemExit(1)"])
    assert checks.run_tool(spec) == 1
    verdict = json.loads((tmp_path / checks.VERDICT_FILE).read_text())
    assert verdict["passed"] is False and verdict["reason"] == "wheel-env exited 1"
    ok = checks.ToolSpec(name="ok", judge="exit", out=str(tmp_path / "ok"), fatal=True,
                         argv=[sys.executable, "-c", "pass"])
    assert checks.run_tool(ok) == 0 and not (tmp_path / "ok" / checks.VERDICT_FILE).exists()


# ----------------------------------------------------------------------------- real installs
def _env_stage() -> Stage:
    """The wheel-only environment exactly as dependency-audit and sbom build it, then a
    check that it holds the wheel and exactly the resolved set."""
    check = ("import importlib.metadata as m, json, sys; "
             "json.dump(sorted(d.metadata['Name'].lower() for d in m.distributions()), "
             "open(sys.argv[1], 'w'))")
    return Stage(
        name="wheel-env-check", title="t", proves="t", needs_source=False, env=stages.BASE_ENV,
        steps=stages._with_verdict(
            *stages._wheel_only_env(),
            stages._judged("installed", "exit", (stages.TARGET_PYTHON, "-c", check,
                                                  "{out}/installed.json")),
        ),
    )


def test_audit_and_sbom_build_the_same_environment_from_the_file() -> None:
    audit, sbom = (stages.get_stage(name) for name in ("dependency-audit", "sbom"))
    shared = stages._wheel_only_env()
    assert audit.steps[:len(shared)] == shared and sbom.steps[:len(shared)] == shared
    for stage in (audit, sbom):
        argv = [a for step in stage.steps for a in step.argv]
        assert stages.WHEEL_ENV in argv and "{work}/target" in argv
    (audit_argv,) = [s.argv for s in audit.steps if "--requirement" in s.argv]
    assert audit_argv[audit_argv.index("--requirement") + 1] == stages.WHEEL_ENV


def _context(tmp_path: Path, dist: Path, name: str) -> StageContext:
    return StageContext(stage=_env_stage(), root=tmp_path / name, snapshot=tmp_path,
                        out=tmp_path / f"out-{name}", dist=dist,
                        wheel=dist / "gate_demo-1.0-py3-none-any.whl",
                        pip_cache=tmp_path / "cache" / "pip", database=None)


def test_the_environment_is_the_file_and_a_wrong_hash_fails_naming_it(
    resolved: Path, tmp_path: Path
) -> None:
    good = run_stage(_context(tmp_path, resolved, "good"))
    assert good.status == "passed", good.reason
    installed = json.loads((tmp_path / "out-good" / "installed.json").read_text())
    pinned = locks.pins((resolved / wheelenv.FILE).read_text())
    # the wheel and exactly the resolved set, no installer
    assert sorted(locks.canonical(n) for n in installed) == sorted(["gate-demo", *pinned])

    bad_dist = tmp_path / "bad"
    bad_dist.mkdir()
    (bad_dist / "gate_demo-1.0-py3-none-any.whl").write_bytes(
        (resolved / "gate_demo-1.0-py3-none-any.whl").read_bytes())
    text = (resolved / wheelenv.FILE).read_text()
    version = pinned["idna"]
    head, sep, rest = text.partition(f"idna=={version} \\\n")
    entry, tail = rest.split("    # via", 1)
    # every hash of idna changed by one digit: whatever file uv picks, it differs
    tampered = re.sub(r"[0-9a-f](\n|$| )",
                      lambda m: ("0" if m.group(0)[0] != "0" else "1") + m.group(1), entry)
    assert tampered != entry
    (bad_dist / wheelenv.FILE).write_text(head + sep + tampered + "    # via" + tail)
    bad = run_stage(_context(tmp_path, bad_dist, "bad"))  # same (warm) uv cache
    assert bad.status == "failed"
    assert bad.reason == (f"step 2/5 (python) exited 1: aksara_release.tools: verdict: "
                          f"wheel-env: hash-mismatch idna=={version}: the download does not "
                          "match the hash in wheel-env.txt")
    # what both executors record (each folds verdict.json into the stage's result)
    final = evidence.apply_verdict(bad, tmp_path / "out-bad")
    assert final.status == "failed" and final.reason == (
        f"wheel-env: hash-mismatch idna=={version}: the download does not match the hash in "
        "wheel-env.txt")
    assert not (tmp_path / "out-bad" / "installed.json").exists()  # stopped there
