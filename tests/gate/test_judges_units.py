"""Judges that need no external tool, and the verdict's way into result.json and
summary.md (one mechanism, ``evidence.apply_verdict``, used by both executors)."""

from __future__ import annotations

import io
import json
import sys
import tarfile
import zipfile
from pathlib import Path

import jsonschema
import pytest
from aksara_release import bundle, evidence
from aksara_release.judges import JudgeError
from aksara_release.judges.doctor import judge_doctor, production_check_ids
from aksara_release.judges.metadata import judge_readme
from aksara_release.judges.reports import error_line, judge_mkdocs

REPO = Path(__file__).resolve().parents[2]
DOCTOR_SCHEMA = str(REPO / "src" / "aksara" / "doctor" / "report.schema.json")
SCHEMA = json.loads(evidence.SCHEMA_FILE.read_text())


# ----------------------------------------------------------------------------- doctor
def _doctor(tmp_path: Path, statuses: dict[str, str], **over: object) -> str:
    checks = [{"id": i, "title": i, "status": s, "reason": f"{i} reason", "hint": ""}
              for i, s in statuses.items()]
    summary = {k: sum(1 for s in statuses.values() if s == k)
               for k in ("pass", "warn", "fail", "not_evaluated")}
    doc = {"schema_version": 1, "command": "doctor production-check", "aksara_version": "0.8.0",
           "status": "pass", "strict": False, "exit_code": 0, "summary": summary,
           "checks": checks, **over}
    path = tmp_path / "doctor.json"
    path.write_text(json.dumps(doc))
    return str(path)


def _all_pass() -> dict[str, str]:
    ids = production_check_ids()
    assert "database.tls" in ids and len(ids) >= 5
    return {i: ("not_evaluated" if i == "database.tls" else "pass") for i in ids}


def test_doctor_passes_only_the_full_production_suite(tmp_path: Path) -> None:
    ok = judge_doctor(_doctor(tmp_path, _all_pass()), schema=DOCTOR_SCHEMA,
                      not_evaluated=["database.tls"])
    assert not ok.findings and not ok.problems and ok.counts["checks"] == len(_all_pass())

    statuses = _all_pass()
    statuses["cookies.secure"] = "fail"
    bad = judge_doctor(_doctor(tmp_path, statuses), schema=DOCTOR_SCHEMA,
                       not_evaluated=["database.tls"])
    assert [f.text() for f in bad.findings] == ["cookies.secure fail: cookies.secure reason"]

    statuses = _all_pass()
    del statuses["log.level"]
    gone = judge_doctor(_doctor(tmp_path, statuses), schema=DOCTOR_SCHEMA,
                        not_evaluated=["database.tls"])
    assert gone.problems == ["production check log.level is missing from the report"]

    # TLS reported as passing although the stage skips it: not what the stage asked for
    statuses = {**_all_pass(), "database.tls": "pass"}
    tls = judge_doctor(_doctor(tmp_path, statuses), schema=DOCTOR_SCHEMA,
                       not_evaluated=["database.tls"])
    assert [f.rule for f in tls.findings] == ["database.tls"]


def test_doctor_report_without_summary_counts_fails(tmp_path: Path) -> None:
    path = _doctor(tmp_path, _all_pass())
    doc = json.loads(Path(path).read_text())
    del doc["summary"]
    Path(path).write_text(json.dumps(doc))
    bad = judge_doctor(path, schema=DOCTOR_SCHEMA, not_evaluated=["database.tls"])
    assert bad.problems and "'summary' is a required property" in bad.problems[0]
    wrong = _doctor(tmp_path, _all_pass(), summary={"pass": 99, "warn": 0, "fail": 0,
                                                     "not_evaluated": 0})
    bad = judge_doctor(wrong, schema=DOCTOR_SCHEMA, not_evaluated=["database.tls"])
    assert any("summary says 99 pass" in p for p in bad.problems)


def test_doctor_empty_report_cannot_be_judged(tmp_path: Path) -> None:
    empty = tmp_path / "doctor.json"
    empty.write_text("")
    with pytest.raises(JudgeError, match="report doctor.json is empty"):
        judge_doctor(str(empty), schema=DOCTOR_SCHEMA, not_evaluated=[])


# ----------------------------------------------------------------------------- readme
def _dists(tmp_path: Path, declared: str | None, readme: str = "README.md") -> tuple[str, str]:
    header = f"Description-Content-Type: {declared}\n" if declared else ""
    meta = f"Metadata-Version: 2.4\nName: demo\nVersion: 1.0\n{header}\nbody\n"
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("demo-1.0.dist-info/METADATA", meta)
    sdist = tmp_path / "demo-1.0.tar.gz"
    pyproject = f'[project]\nname = "demo"\nversion = "1.0"\nreadme = "{readme}"\n'
    with tarfile.open(sdist, "w:gz") as archive:
        for name, text in (("PKG-INFO", meta), ("pyproject.toml", pyproject)):
            data = text.encode()
            info = tarfile.TarInfo(f"demo-1.0/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return str(wheel), str(sdist)


def test_readme_content_type_must_match_the_file(tmp_path: Path) -> None:
    assert not judge_readme(*_dists(tmp_path, "text/markdown")).findings
    rst = judge_readme(*_dists(tmp_path, "text/x-rst"))
    assert [f.text() for f in rst.findings][0] == (
        "readme-content-type wheel METADATA: Description-Content-Type is text/x-rst, but the "
        "readme README.md is text/markdown")
    assert len(judge_readme(*_dists(tmp_path, None)).findings) == 2
    assert not judge_readme(*_dists(tmp_path, "text/x-rst", "README.rst")).findings


# ----------------------------------------------------------------------------- text output
def test_error_line_picks_the_exception_of_a_traceback() -> None:
    output = ("* Getting build dependencies for sdist...\nTraceback (most recent call last):\n"
              '  File "x.py", line 1, in <module>\nValueError: invalid specifier: psycopg>=>3\n'
              "\nERROR Backend subprocess exited when trying to invoke get_requires_for_build\n")
    assert error_line(output) == "ValueError: invalid specifier: psycopg>=>3"
    assert error_line("configuration error: `project.dependencies[0]` must be pep508\n"
                      "other\n") == "configuration error: `project.dependencies[0]` must be pep508"


def test_mkdocs_warnings_are_findings(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html></html>")
    out = ("INFO    -  Building documentation...\nWARNING -  Doc file 'index.md' contains a link "
           "'gone.md', but the target is not found among documentation files.\n")
    judgement = judge_mkdocs(out, str(site))
    assert judgement.counts == {"pages": 1, "findings": 1}
    assert "gone.md" in judgement.findings[0].text()


# ----------------------------------------------------------------------------- evidence
def _stage_dir(tmp_path: Path, passed: bool, reason: str | None = None) -> Path:
    out = tmp_path / "stages" / "static-analysis"
    (out / "checks").mkdir(parents=True)
    check = {"name": "zizmor", "ran": True, "exit_code": 0,
             "status": "passed" if passed else "failed",
             "counts": {"files": 3, "findings": 0 if passed else 1}, "examined": "files",
             "minimum": 1, "findings": 0 if passed else 1, "reason": reason}
    verdict = {"kind": "aksara-release-gate-verdict", "schema_version": 1, "passed": passed,
               "reason": reason, "checks": [check]}
    (out / "verdict.json").write_text(json.dumps(verdict))
    return out


def test_apply_verdict_sets_reason_and_checks(tmp_path: Path) -> None:
    reason = "zizmor: zizmor/template-injection .github/workflows/ci.yml:8: planted"
    out = _stage_dir(tmp_path, False, reason)
    raw = evidence.StageResult("static-analysis", "Static analysis", "failed", exit_code=1,
                               reason="step 5/5 (python) exited 1")
    result = evidence.apply_verdict(raw, out)
    assert result.reason == reason and result.checks[0]["name"] == "zizmor"
    summary = evidence.build_summary([result], executor="host", required=["static-analysis"],
                                     package="p", version="1")
    jsonschema.validate(summary, SCHEMA)
    md = evidence.render_summary_md(summary)
    assert "| static-analysis | zizmor | yes | files 3 | 1 | failed |" in md


def test_checks_without_verdict_fail_the_stage(tmp_path: Path) -> None:
    out = _stage_dir(tmp_path, True)
    (out / "verdict.json").unlink()
    raw = evidence.StageResult("static-analysis", "Static analysis", "passed", exit_code=0)
    result = evidence.apply_verdict(raw, out)
    assert result.status == "failed" and "no verdict step" in str(result.reason)


def test_bundle_reads_the_verdict_like_the_host(tmp_path: Path) -> None:
    reason = "zizmor: planted finding"
    _stage_dir(tmp_path, False, reason)
    meta = {"stages": [{"name": "static-analysis", "title": "Static analysis",
                        "status": "failed", "exit_code": 1, "reason": "step exited with 1"}],
            "summary": {"executor": "dagger", "required": ["static-analysis"], "package": "p",
                        "version": "1"}}
    summary = bundle.finish(tmp_path, meta)
    stage = summary["stages"][0]
    assert stage["reason"] == reason and stage["checks"][0]["counts"]["files"] == 3
    result = json.loads((tmp_path / "stages" / "static-analysis" / "result.json").read_text())
    assert result["reason"] == reason and result["checks"] == stage["checks"]


# ----------------------------------------------------------------------------- stage shape
def test_every_judged_stage_ends_with_a_verdict_over_all_its_tools() -> None:
    from aksara_release import stages

    helper = ("python", "-m", "aksara_release.tools")
    judged_stages = 0
    for stage in stages.build_stages():
        tools = [s.argv[s.argv.index("--name") + 1] for s in stage.steps
                 if s.argv[:4] == (*helper, "run-tool")]
        if not tools:
            continue
        judged_stages += 1
        last = stage.steps[-1].argv
        assert last[:5] == (*helper, "verdict", "{out}"), stage.name
        assert list(last[6::2]) == tools and len(set(tools)) == len(tools), stage.name
        assert "verdict.json" in stage.evidence, stage.name
    # every stage with a report-producing tool is judged
    assert judged_stages == 13  # all but wheel-import, migration-smoke and workflow-lint
    analysers = stages.get_stage("static-analysis").steps
    assert [s.argv[s.argv.index("--name") + 1] for s in analysers[:-1]] == [
        "ruff", "bandit", "mypy", "zizmor"]


def test_error_line_names_the_cause_of_a_bare_reraise_and_the_quoted_input() -> None:
    chained = ("Traceback (most recent call last):\n  File \"a\", line 1, in q\n"
               "requests.exceptions.HTTPError: 500 Server Error\n\nThe above exception was the "
               "direct cause of the following exception:\n\nTraceback (most recent call "
               "last):\n  File \"b\", line 2, in m\npip_audit._service.interface.ServiceError\n")
    assert error_line(chained) == ("pip_audit._service.interface.ServiceError (caused by "
                                   "requests.exceptions.HTTPError: 500 Server Error)")
    quoted = ("Traceback (most recent call last):\n  File \"c\", line 3, in d\n"
              "ValueError: Dependency #2 of field `project.dependencies` is invalid: Expected "
              "end\n    sqlparse>=>0.5.3,<1\n            ^\n\nERROR Backend subprocess exited\n")
    assert error_line(quoted) == ("ValueError: Dependency #2 of field `project.dependencies` is "
                                  "invalid: Expected end: sqlparse>=>0.5.3,<1")


# ----------------------------------------------------------------------------- readme edges
def _sdist(tmp_path: Path, files: dict[str, str]) -> str:
    sdist = tmp_path / "edge-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"edge-1.0/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return str(sdist)


def test_readme_table_form_and_unknown_suffix(tmp_path: Path) -> None:
    wheel, _ = _dists(tmp_path, "text/markdown")
    meta = "Metadata-Version: 2.4\nName: edge\nDescription-Content-Type: text/markdown\n\n"
    table = ('[project]\nname = "edge"\n'
             'readme = {file = "docs/INTRO.md", content-type = "text/markdown"}\n')
    judged = judge_readme(wheel, _sdist(tmp_path, {"PKG-INFO": meta, "pyproject.toml": table}))
    assert not judged.findings and judged.counts == {"distributions": 2, "findings": 0}
    odd = '[project]\nname = "edge"\nreadme = {file = "README.adoc"}\n'
    judged = judge_readme(wheel, _sdist(tmp_path, {"PKG-INFO": meta, "pyproject.toml": odd}))
    assert judged.problems == ["readme README.adoc: unknown suffix '.adoc'"]
    assert "distributions" not in judged.counts  # nothing examined: the gate errors


@pytest.mark.parametrize(("pyproject", "reason"), [
    ('[project]\nname = "edge"\n', "pyproject.toml declares no readme file"),
    ('[project]\nreadme = {text = "inline"}\n', "pyproject.toml declares no readme file"),
    ('[project\nname = "edge"\n', "the sdist's pyproject.toml is invalid: "),
])
def test_readme_declaration_that_cannot_be_judged(tmp_path: Path, pyproject: str,
                                                  reason: str) -> None:
    wheel, _ = _dists(tmp_path, "text/markdown")
    sdist = _sdist(tmp_path, {"PKG-INFO": "Name: edge\n", "pyproject.toml": pyproject})
    with pytest.raises(JudgeError) as caught:
        judge_readme(wheel, sdist)
    assert str(caught.value).startswith(reason)


def test_readme_of_broken_distributions(tmp_path: Path) -> None:
    wheel, sdist = _dists(tmp_path, "text/markdown")
    no_pyproject = _sdist(tmp_path, {"PKG-INFO": "Name: edge\n"})
    with pytest.raises(JudgeError, match=r"^edge-1\.0\.tar\.gz has no pyproject\.toml$"):
        judge_readme(wheel, no_pyproject)
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"this is not a tar archive")
    with pytest.raises(JudgeError, match=r"not a readable sdist \(ReadError\)$"):
        judge_readme(wheel, str(garbage))
    with pytest.raises(JudgeError, match=r"garbage\.tar\.gz: not a readable wheel$"):
        judge_readme(str(garbage), sdist)
    empty_wheel = tmp_path / "empty-1.0-py3-none-any.whl"
    with zipfile.ZipFile(empty_wheel, "w") as archive:
        archive.writestr("empty/__init__.py", "")
    with pytest.raises(JudgeError, match=r"empty-1\.0-py3-none-any\.whl: not a readable wheel$"):
        judge_readme(str(empty_wheel), sdist)


# ----------------------------------------------------------------------------- doctor edges
def test_doctor_judge_without_aksara_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aksara.doctor", None)  # as in a stage without it
    with pytest.raises(JudgeError, match=r"^aksara is not installed: cannot list the "
                       r"production checks$"):
        production_check_ids()


def test_doctor_report_that_is_not_an_object_examines_nothing(tmp_path: Path) -> None:
    """A schema that accepts anything lets a list through; the judgement then counts
    no checks, which ``run-tool`` turns into an error (nothing examined)."""
    report = tmp_path / "doctor.json"
    report.write_text("[]")
    schema = tmp_path / "any.schema.json"
    schema.write_text("{}")
    judged = judge_doctor(str(report), schema=str(schema), not_evaluated=[],
                          expected_ids=["a"])
    assert judged.counts == {} and judged.examined == "checks"
    assert not judged.findings and not judged.problems
    from aksara_release.judges.checks import ToolSpec, record

    rec = record(ToolSpec(name="doctor", judge="doctor", argv=["true"], out=str(tmp_path / "o"),
                          report=str(report), schema=str(schema)))
    assert rec["status"] == "error"
    assert rec["reason"] == "doctor: the report does not say how many checks it examined"


def test_doctor_unknown_check_is_a_problem(tmp_path: Path) -> None:
    statuses = {**_all_pass(), "made.up": "pass"}
    judged = judge_doctor(_doctor(tmp_path, statuses), schema=DOCTOR_SCHEMA,
                          not_evaluated=["database.tls"])
    assert judged.problems == ["the report has an unknown check made.up"]
