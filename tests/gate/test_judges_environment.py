"""The environment judges (``judges/environment.py``) in-process, against real target
environments: virtual environments built here from tiny local wheels (no network),
installed by pip, plus one holding distributions a broken installer left behind
(a nameless one, an invalid requirement, a dependency reached only through an extra
but absent).

pip-audit's reports are written by hand in its JSON format (the real tool runs against
an OSV stub in ``test_judges.py``); the CycloneDX SBOM is the real ``cyclonedx-py``'s
from the tools venv, judged in this process with the tools venv's library.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aksara_release.judges import JudgeError
from aksara_release.judges.checks import ToolSpec, record
from aksara_release.judges.environment import (
    canonical_name,
    installed_distributions,
    judge_cyclonedx,
    judge_pip_audit,
    missing_requirements,
)

Targets = dict[str, Path]

#: name -> Requires-Dist lines. demo-app needs demo-mid *with its "fast" extra*, which
#: pulls demo-fast; the other markers never apply here.
DISTS = {
    "demo-app": ["demo-mid[fast]>=1", "demo-leaf", "never-installed; extra == 'x'",
                 "demo-win; sys_platform == 'win32'"],
    "demo-mid": ["demo-leaf", "demo-fast; extra == 'fast'"],
    "demo-leaf": [],
    "demo-fast": [],
}


def _metadata(name: str, requires: list[str], version: str = "1.0") -> str:
    extras = sorted({m for r in requires for m in re.findall(r"extra == '(\w+)'", r)})
    return (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            + "".join(f"Provides-Extra: {e}\n" for e in extras)
            + "".join(f"Requires-Dist: {r}\n" for r in requires))


def _wheel(dist: Path, name: str, requires: list[str]) -> None:
    """A minimal, installable pure-Python wheel (no build backend needed)."""
    tag = f"{name.replace('-', '_')}-1.0"
    files = {
        f"{name.replace('-', '_')}.py": "VALUE = 1\n",
        f"{tag}.dist-info/METADATA": _metadata(name, requires),
        f"{tag}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record_text = "".join(f"{n},,\n" for n in files) + f"{tag}.dist-info/RECORD,,\n"
    with zipfile.ZipFile(dist / f"{tag}-py3-none-any.whl", "w") as archive:
        for n, text in files.items():
            archive.writestr(n, text)
        archive.writestr(f"{tag}.dist-info/RECORD", record_text)


def _venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"


def _site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path("
                          "'purelib'))"], capture_output=True, text=True, check=True).stdout
    return Path(out.strip())


def _install(python: Path, dist: Path, *extra: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--disable-pip-version-check", "--no-index", "--find-links", str(dist),
                    *extra, "demo-app"], check=True)


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Targets:
    """Interpreters of three target environments: ``full`` (demo-app and its closure),
    ``nodeps`` (demo-app installed ``--no-deps``: the fault the judges exist for) and
    ``broken`` (dist-info directories left behind by hand)."""
    root = tmp_path_factory.mktemp("targets")
    dist = root / "dist"
    dist.mkdir()
    for name, requires in DISTS.items():
        _wheel(dist, name, requires)
    full = _venv(root / "full")
    _install(full, dist)
    nodeps = _venv(root / "nodeps")
    _install(nodeps, dist, "--no-deps")
    broken = _venv(root / "broken")
    site = _site_packages(broken)
    for name, requires in (("demo-app", DISTS["demo-app"]), ("demo-mid", DISTS["demo-mid"]),
                           ("demo-leaf", []), ("demo-bad", ["demo-leaf >=> 1"])):
        info = site / f"{name.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(_metadata(name, requires))
    nameless = site / "nameless-0.1.dist-info"
    nameless.mkdir()
    (nameless / "METADATA").write_text("Metadata-Version: 2.1\nVersion: 0.1\n")
    return {"full": full, "nodeps": nodeps, "broken": broken, "dist": dist}


# ----------------------------------------------------------------------------- listing
def test_installed_distributions_of_the_target_not_of_this_process(targets: Targets) -> None:
    found = installed_distributions(str(targets["full"]))
    assert sorted(found) == ["demo-app", "demo-fast", "demo-leaf", "demo-mid"]
    assert found["demo-mid"].version == "1.0"
    assert found["demo-mid"].requires == ("demo-leaf", "demo-fast; extra == 'fast'")
    broken = installed_distributions(str(targets["broken"]))
    assert "nameless" not in broken and "demo-bad" in broken  # no Name: not a distribution
    assert canonical_name("Demo_App.Extra") == "demo-app-extra"


def _script(tmp_path: Path, body: str) -> str:
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_a_target_interpreter_that_cannot_answer(tmp_path: Path) -> None:
    absent = tmp_path / "no" / "python"
    with pytest.raises(JudgeError, match=rf"^cannot run the target interpreter {absent} "
                       r"\(FileNotFoundError\)$"):
        installed_distributions(str(absent))
    failing = _script(tmp_path, "echo 'ImportError: no importlib here' >&2; exit 3")
    with pytest.raises(JudgeError, match=r"^the target interpreter .* failed: ImportError: no "
                       r"importlib here$"):
        installed_distributions(failing)
    chatty = _script(tmp_path, "echo 'Python 2.7 says hello'")
    with pytest.raises(JudgeError, match=r"printed no distribution list$"):
        installed_distributions(chatty)


# ----------------------------------------------------------------------------- closure
def test_missing_requirements_follow_extras_and_markers(targets: Targets) -> None:
    assert missing_requirements(installed_distributions(str(targets["full"])), "demo-app") == []
    nodeps = installed_distributions(str(targets["nodeps"]))
    assert missing_requirements(nodeps, "Demo_App") == [
        "demo-leaf (required by demo-app)", "demo-mid (required by demo-app)"]
    assert missing_requirements(nodeps, "demo-ghost") == ["demo-ghost (the package itself)"]
    broken = installed_distributions(str(targets["broken"]))
    # demo-fast is needed only through demo-mid's "fast" extra, which demo-app asks for
    assert missing_requirements(broken, "demo-app") == ["demo-fast (required by demo-mid)"]
    with pytest.raises(JudgeError, match=r"^demo-bad: invalid requirement 'demo-leaf >=> 1'$"):
        missing_requirements(broken, "demo-bad")


# ----------------------------------------------------------------------------- pip-audit
def _audit(tmp_path: Path, deps: Any) -> str:
    path = tmp_path / "pip-audit.json"
    path.write_text(json.dumps({"dependencies": deps, "fixes": []}))
    return str(path)


def _dep(name: str, vulns: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "version": "1.0", "vulns": vulns or [], **extra}


def test_pip_audit_clean_audit_of_the_whole_closure(targets: Targets, tmp_path: Path) -> None:
    report = _audit(tmp_path, [_dep("demo-mid"), _dep("Demo_Leaf"), _dep("demo-fast")])
    judged = judge_pip_audit(report, target_python=str(targets["full"]), package="demo-app")
    assert not judged.findings and not judged.problems
    assert judged.counts == {"dependencies_installed": 3, "dependencies_audited": 3,
                             "vulnerabilities": 0}


def test_pip_audit_advisories_prefer_ghsa_then_pysec(targets: Targets, tmp_path: Path) -> None:
    vulns: list[dict[str, Any]] = [
        {"id": "CVE-2026-0001", "aliases": ["PYSEC-2026-3", "GHSA-aaaa-bbbb-cccc"],
         "fix_versions": ["1.1", "2.0"]},
        {"id": "CVE-2026-0002", "aliases": ["PYSEC-2026-4"], "fix_versions": []},
        {"id": "CVE-2026-0003", "aliases": None},
        {"id": "", "aliases": []}]
    report = _audit(tmp_path, [_dep("demo-mid"), _dep("demo-leaf", vulns), _dep("demo-fast")])
    judged = judge_pip_audit(report, target_python=str(targets["full"]), package="demo-app")
    assert [f.text() for f in judged.findings] == [
        "GHSA-aaaa-bbbb-cccc demo-leaf==1.0: known vulnerability (fixed in 1.1, 2.0)",
        "PYSEC-2026-4 demo-leaf==1.0: known vulnerability (fixed in none)",
        "CVE-2026-0003 demo-leaf==1.0: known vulnerability (fixed in none)",
        "unknown-advisory demo-leaf==1.0: known vulnerability (fixed in none)",
    ]
    assert not judged.problems and judged.counts["vulnerabilities"] == 4


def test_pip_audit_skipped_unaudited_and_foreign_dependencies(targets: Targets,
                                                              tmp_path: Path) -> None:
    report = _audit(tmp_path, [
        _dep("demo-mid"),
        _dep("demo-fast", skip_reason="Dependency not found on PyPI and could not be "
             "audited: demo-fast (1.0)\nmore"),
        _dep("requests"),  # audited, but not what the target holds
    ])
    judged = judge_pip_audit(report, target_python=str(targets["full"]), package="demo-app")
    assert judged.problems == [
        "demo-fast could not be audited: Dependency not found on PyPI and could not be "
        "audited: demo-fast (1.0)",
        "demo-fast==1.0 is installed but was not audited",
        "demo-leaf==1.0 is installed but was not audited",
        "requests was audited but is not installed in the target",
    ]
    assert judged.counts["dependencies_audited"] == 2


@pytest.mark.parametrize("document", [[], {"dependencies": {"demo-mid": "1.0"}}, {}])
def test_pip_audit_report_of_the_wrong_shape(targets: Targets, tmp_path: Path,
                                             document: Any) -> None:
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(document))
    with pytest.raises(JudgeError, match=r"^report audit\.json is not a pip-audit JSON report$"):
        judge_pip_audit(str(path), target_python=str(targets["full"]), package="demo-app")


def test_audit_of_an_install_without_dependencies_is_an_error(targets: Targets,
                                                              tmp_path: Path) -> None:
    """``--no-deps``: pip-audit audits nothing and exits 0; run-tool must not pass it."""
    rec = record(ToolSpec(name="pip-audit", judge="pip-audit", argv=["true"],
                          out=str(tmp_path / "out"), report=_audit(tmp_path, []),
                          target_python=str(targets["nodeps"]), package="demo-app"))
    assert rec["status"] == "error" and rec["counts"]["dependencies_audited"] == 0
    assert rec["reason"] == ("pip-audit: requirement demo-leaf (required by demo-app) is not "
                             "installed in the target environment, and 1 more")


# ----------------------------------------------------------------------------- CycloneDX
@pytest.fixture()
def cyclonedx_lib(tool_bin: Path) -> Iterator[Path]:
    """cyclonedx-python-lib importable here: the dev environment's own when installed,
    else the tools venv's (appended after this environment's packages; the modules it
    loads are dropped again afterwards, so later tests see the dev environment)."""
    if importlib.util.find_spec("cyclonedx") is not None:
        yield tool_bin
        return
    import jsonschema  # noqa: F401 - the dev one, its format checkers decided by the dev env

    site = next((tool_bin.parent / "lib").glob("python*/site-packages"))
    before = set(sys.modules)
    saved = list(sys.path)
    sys.path.append(str(site))
    try:
        yield tool_bin
    finally:
        sys.path[:] = saved
        for name in set(sys.modules) - before:
            origin = str(getattr(sys.modules[name], "__file__", None) or "")
            if origin.startswith(str(site)):
                del sys.modules[name]


def _sbom(tool_bin: Path, python: Path, out: Path) -> dict[str, Any]:
    subprocess.run([str(tool_bin / "cyclonedx-py"), "environment", "--output-reproducible",
                    "--output-format", "JSON", "--output-file", str(out), str(python)],
                   check=True, capture_output=True)
    document: dict[str, Any] = json.loads(out.read_text())
    return document


@pytest.mark.selftest
def test_cyclonedx_real_sbom_and_its_faults(cyclonedx_lib: Path, targets: Targets,
                                            tmp_path: Path) -> None:
    full = targets["full"]
    sbom = tmp_path / "sbom.cdx.json"
    doc = _sbom(cyclonedx_lib, full, sbom)
    ok = judge_cyclonedx(str(sbom), target_python=str(full), package="demo-app")
    assert not ok.findings and not ok.problems, ok.as_dict()
    assert ok.counts == {"components": 4, "distributions_installed": 4, "findings": 0}

    def judged(document: dict[str, Any]) -> Any:
        sbom.write_text(json.dumps(document))
        return judge_cyclonedx(str(sbom), target_python=str(full), package="demo-app")

    comps = doc["components"]
    faults = judged({**doc, "components": [{**c, "version": "9.9"} if c["name"] == "demo-leaf"
                                           else c for c in comps if c["name"] != "demo-fast"]})
    assert [f.text() for f in faults.findings] == [
        "missing-component demo-fast==1.0: installed in the target environment but not in "
        "the SBOM", "wrong-version demo-leaf==1.0: the SBOM says 9.9"]
    assert not faults.problems  # still a valid SBOM: only the comparison finds this
    # components that are not a list: schema-invalid *and* every distribution missing
    odd = judged({**doc, "components": {"demo-app": "1.0"}})
    assert odd.problems and odd.problems[0].startswith(f"not valid CycloneDX "
                                                       f"{doc['specVersion']} JSON: ")
    assert len(odd.findings) == 4 and odd.counts["components"] == 0
    junk = judged({**doc, "components": [*comps, "demo-extra"]})
    assert junk.problems and not junk.findings  # the string is no component at all


@pytest.mark.selftest
def test_cyclonedx_sbom_that_cannot_be_judged(cyclonedx_lib: Path, targets: Targets,
                                              tmp_path: Path) -> None:
    sbom = tmp_path / "sbom.json"
    sbom.write_text('{"bomFormat": "CycloneDX", "specVersion": ')
    with pytest.raises(JudgeError, match=r"^report sbom\.json is not valid JSON \(line 1\)$"):
        judge_cyclonedx(str(sbom), target_python=str(targets["full"]), package="demo-app")
    for document, shown in (({"bomFormat": "CycloneDX", "specVersion": "0.9"}, "'0.9'"),
                            ([], "''")):
        sbom.write_text(json.dumps(document))
        with pytest.raises(JudgeError, match=rf"^report sbom\.json: unsupported CycloneDX "
                           rf"specVersion {shown}$"):
            judge_cyclonedx(str(sbom), target_python=str(targets["full"]), package="demo-app")


@pytest.mark.selftest
def test_sbom_of_an_install_without_dependencies_fails(cyclonedx_lib: Path, targets: Targets,
                                                       tmp_path: Path) -> None:
    nodeps = targets["nodeps"]
    sbom = tmp_path / "sbom.cdx.json"
    _sbom(cyclonedx_lib, nodeps, sbom)
    rec = record(ToolSpec(name="cyclonedx", judge="cyclonedx", argv=["true"],
                          out=str(tmp_path / "out"), report=str(sbom),
                          target_python=str(nodeps), package="demo-app"))
    # the SBOM is complete for what is there; what is not there is the problem
    assert rec["status"] == "error" and rec["findings"] == 0
    assert rec["reason"] == ("cyclonedx: requirement demo-leaf (required by demo-app) is not "
                             "installed in the target environment, and 1 more")
