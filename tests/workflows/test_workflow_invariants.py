"""The GitHub workflows keep the promises docs/releasing.md makes about them.

Why a test and not only zizmor/actionlint: those linters know GitHub Actions, not
this project. They cannot tell that ``id-token: write`` belongs to the publish job
alone, that the matrix must stay inside the supported versions, that publishing
must be preceded by the version, changelog and evidence checks, or that a
``dagger call release-gate`` still names a function the Dagger module defines.

Every rule is a function returning the problems it finds (empty: fine), so each
one is tested twice: clean on the real workflows, and red on a copy with the fault
planted.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from aksara_release import versions
from dagger_module import (
    CONSTRUCTOR,
    DAGGER_JSON,
    MODULE_MAIN,
    DaggerCall,
    DaggerFunction,
    main_class_name,
    module_functions,
    parse_call,
    problems_dagger_calls,
)

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
RELEASE_GATE = WORKFLOWS / "release-gate.yml"
PUBLISH = WORKFLOWS / "publish.yml"

DAGGER_ACTION = "dagger/dagger-for-github"
PUBLISH_ACTION = "pypa/gh-action-pypi-publish"
CHECKOUT_ACTION = "actions/checkout"
UPLOAD_ACTION = "actions/upload-artifact"
SETUP_PYTHON_ACTION = "actions/setup-python"

#: ``owner/repo[/path]@<40 hex>  # v1.2.3`` on one line.
PINNED_USES = re.compile(
    r"^\s*(?:-\s+)?uses:\s+(?P<action>[\w.-]+/[\w./-]+)@(?P<ref>\S+)"
    r"(?:\s+#\s*(?P<comment>\S+))?\s*$"
)
SHA = re.compile(r"^[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^v\d+(\.\d+){0,2}$")


# --------------------------------------------------------------------------- loading


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path.name}: not a mapping"
    return document


def triggers(document: Mapping[str, Any]) -> Any:
    """The ``on:`` block (PyYAML reads the bare key ``on`` as the boolean True)."""
    return document.get("on", document.get(True))


def jobs(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(document.get("jobs") or {})


def steps(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def action_of(step: Mapping[str, Any]) -> str | None:
    uses = step.get("uses")
    return None if uses is None else str(uses).split("@", 1)[0]


def steps_using(job: Mapping[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in steps(job) if action_of(s) == action]


def index_of(job: Mapping[str, Any], predicate: Any) -> int:
    for i, step in enumerate(steps(job)):
        if predicate(step):
            return i
    return -1


RUN_DAGGER_CALL = re.compile(r"\bdagger\s+(?:-\S+\s+)*call\s+(?P<rest>[^\n;&|#]+)")


def dagger_calls(document: Mapping[str, Any], label: str) -> list[DaggerCall]:
    """Every ``dagger call`` in a workflow: the action's ``call``/``args`` and ``run`` lines."""
    calls = []
    for job_name, job in jobs(document).items():
        for number, step in enumerate(steps(job)):
            where = f"{label}:{job_name}:step {number}"
            with_ = step.get("with") or {}
            if action_of(step) == DAGGER_ACTION:
                if with_.get("call"):
                    calls.append(parse_call(str(with_["call"]), where))
                elif with_.get("args") and with_.get("verb", "call") == "call":
                    calls.append(parse_call(str(with_["args"]), where))
            for match in RUN_DAGGER_CALL.finditer(str(step.get("run") or "")):
                calls.append(parse_call(match.group("rest"), where))
    return calls


# --------------------------------------------------------------------------- rules


def problems_pinned_uses(text: str, label: str) -> list[str]:
    """Every ``uses:`` of a third-party action is a full commit SHA with a version comment."""
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not re.match(r"^\s*(?:-\s+)?uses:", line):
            continue
        match = PINNED_USES.match(line)
        if match is None:
            if re.search(r"uses:\s+\./", line):
                continue  # a local action: versioned with the repository
            problems.append(f"{label}:{number}: cannot read the uses: line")
            continue
        if not SHA.match(match.group("ref")):
            problems.append(f"{label}:{number}: {match.group('action')} is not pinned to a SHA")
        comment = match.group("comment")
        if comment is None or not VERSION_COMMENT.match(comment):
            problems.append(f"{label}:{number}: {match.group('action')} has no '# vX.Y.Z' comment")
    return problems


def problems_permissions(
    document: Mapping[str, Any], label: str, publisher: str | None
) -> list[str]:
    """Read-only by default; ``id-token: write`` only on ``publisher``; no other writes,
    except ``contents: write`` on a job without an OIDC token."""
    problems = []
    if document.get("permissions") != {"contents": "read"}:
        problems.append(f"{label}: top-level permissions must be exactly 'contents: read'")
    for name, job in jobs(document).items():
        perms = job.get("permissions")
        if perms is None:
            continue
        if not isinstance(perms, dict):
            problems.append(f"{label}:{name}: permissions must be an explicit mapping")
            continue
        oidc = perms.get("id-token")
        if oidc is not None and oidc != "none":
            if name != publisher:
                problems.append(f"{label}:{name}: id-token must only be granted to {publisher}")
            elif oidc != "write":
                problems.append(f"{label}:{name}: id-token must be 'write'")
        for scope, level in perms.items():
            if scope == "id-token" or level in ("read", "none"):
                continue
            if scope == "contents" and level == "write" and oidc in (None, "none"):
                continue  # attaching release assets, in a job that cannot publish
            problems.append(f"{label}:{name}: '{scope}: {level}' is more than this job needs")
    if publisher is not None:
        perms = jobs(document).get(publisher, {}).get("permissions") or {}
        if perms.get("id-token") != "write":
            problems.append(f"{label}:{publisher}: needs 'id-token: write' for Trusted Publishing")
    return problems


def problems_checkouts(document: Mapping[str, Any], label: str) -> list[str]:
    """No checkout keeps the workflow token in .git/config."""
    problems = []
    for name, job in jobs(document).items():
        for step in steps_using(job, CHECKOUT_ACTION):
            if (step.get("with") or {}).get("persist-credentials") is not False:
                problems.append(f"{label}:{name}: checkout without persist-credentials: false")
    return problems


def problems_secrets(text: str, label: str) -> list[str]:
    """Neither workflow needs a secret: the gate is public, PyPI is reached through OIDC."""
    return [f"{label}: uses a repository secret" for _ in re.findall(r"\$\{\{\s*secrets\.", text)]


def problems_injection(document: Mapping[str, Any], label: str) -> list[str]:
    """Caller-controlled values reach shell scripts through ``env``, never inline."""
    problems = []
    risky = re.compile(r"\$\{\{[^}]*\b(inputs\.|github\.event\.|github\.head_ref)")
    for name, job in jobs(document).items():
        for number, step in enumerate(steps(job)):
            if risky.search(str(step.get("run") or "")):
                problems.append(f"{label}:{name}:step {number}: expression inline in run:")
    return problems


def problems_dagger_version(document: Mapping[str, Any], label: str, engine: str) -> list[str]:
    """The CLI installed by the action is the engine version the module pins."""
    problems = []
    for name, job in jobs(document).items():
        for step in steps_using(job, DAGGER_ACTION):
            version = str((step.get("with") or {}).get("version", ""))
            if version.lstrip("v") != engine.lstrip("v"):
                problems.append(f"{label}:{name}: dagger {version!r} is not the module's {engine}")
    return problems


def problems_gate_workflow(document: Mapping[str, Any]) -> list[str]:
    """release-gate.yml: triggers, matrix, evidence upload, job summary, verify."""
    problems = []
    on = triggers(document)
    expected_on = {"pull_request", "push", "workflow_dispatch"}
    if not isinstance(on, dict) or set(on) != expected_on:
        problems.append(f"release-gate: triggers must be exactly {sorted(expected_on)}")
    elif (on.get("push") or {}).get("tags") != ["v*"] or "branches" in (on.get("push") or {}):
        problems.append("release-gate: push must trigger on tags 'v*' only")
    all_jobs = jobs(document)
    if list(all_jobs) != ["gate"]:
        problems.append("release-gate: expected one job, 'gate'")
        return problems
    job = all_jobs["gate"]
    matrix = (job.get("strategy") or {}).get("matrix") or {}
    pythons = [str(v) for v in matrix.get("python") or []]
    postgres = [str(v) for v in matrix.get("postgres") or []]
    if len(set(pythons)) < 2 or not set(pythons) <= set(versions.SUPPORTED_PYTHONS):
        problems.append(f"release-gate: matrix python {pythons} must be >= 2 supported versions")
    if len(set(postgres)) < 2 or not set(postgres) <= set(versions.POSTGRES_IMAGES):
        problems.append(f"release-gate: matrix postgres {postgres} must be >= 2 known majors")
    if (job.get("strategy") or {}).get("fail-fast") is not False:
        problems.append("release-gate: fail-fast must be false (every cell reports evidence)")
    dagger = steps_using(job, DAGGER_ACTION)
    call = str((dagger[0].get("with") or {}).get("call", "")) if dagger else ""
    for needed in (
        "release-gate",
        "--python-version ${{ matrix.python }}",
        "--postgres-version ${{ matrix.postgres }}",
        "--commit ${{ github.sha }}",
        # --wipe: export merges into an existing directory; verify rejects leftovers
        "export --path=./evidence --wipe",
    ):
        if needed not in " ".join(call.split()):
            problems.append(f"release-gate: the dagger call lacks {needed!r}")
    uploads = steps_using(job, UPLOAD_ACTION)
    if not uploads or uploads[0].get("if") != "always()":
        problems.append("release-gate: the evidence must be uploaded with if: always()")
    elif (uploads[0].get("with") or {}).get("path") not in ("evidence", "evidence/", "./evidence"):
        problems.append("release-gate: the uploaded path must be the evidence directory")
    summary = index_of(job, lambda s: "GITHUB_STEP_SUMMARY" in str(s.get("run") or ""))
    if summary < 0 or "evidence/summary.md" not in str(steps(job)[summary].get("run")):
        problems.append("release-gate: summary.md must be appended to the job summary")
    elif steps(job)[summary].get("if") != "always()":
        problems.append("release-gate: the job summary must be written with if: always()")
    verify = index_of(job, lambda s: "ci/gate.py verify ./evidence" in str(s.get("run") or ""))
    if verify < 0:
        problems.append("release-gate: 'python3 ci/gate.py verify ./evidence' must run")
    elif steps(job)[verify].get("if") or steps(job)[verify].get("continue-on-error"):
        problems.append("release-gate: the verify step must be unconditional and fatal")
    for step in steps(job):
        if step.get("continue-on-error"):
            problems.append("release-gate: no step may continue on error")
    return problems


def _run_text(job: Mapping[str, Any]) -> list[str]:
    return [str(step.get("run") or "") for step in steps(job)]


def problems_publish_workflow(document: Mapping[str, Any]) -> list[str]:
    """publish.yml: dispatch with a tag; gate -> publish (pypi, checks first) -> assets."""
    problems = []
    on = triggers(document)
    if not isinstance(on, dict) or set(on) != {"workflow_dispatch"}:
        problems.append("publish: must be triggered by workflow_dispatch only")
    else:
        tag = ((on["workflow_dispatch"] or {}).get("inputs") or {}).get("tag") or {}
        if tag.get("required") is not True:
            problems.append("publish: workflow_dispatch needs a required 'tag' input")
    all_jobs = jobs(document)
    gate, publish = all_jobs.get("gate"), all_jobs.get("publish")
    if gate is None or publish is None:
        return [*problems, "publish: jobs 'gate' and 'publish' are required"]

    checkout = steps_using(gate, CHECKOUT_ACTION)
    if not checkout or "inputs.tag" not in str((checkout[0].get("with") or {}).get("ref", "")):
        problems.append("publish: the gate job must check out the requested tag")
    dagger = steps_using(gate, DAGGER_ACTION)
    call = str((dagger[0].get("with") or {}).get("call", "")) if dagger else ""
    if "release-gate" not in call or "export --path=./evidence" not in call:
        problems.append("publish: the gate job must export the release-gate evidence")
    uploads = steps_using(gate, UPLOAD_ACTION)
    if not uploads:
        problems.append("publish: the gate job must upload the evidence")

    needs = publish.get("needs")
    if needs != "gate" and "gate" not in (needs or []):
        problems.append("publish: the publish job must need the gate job")
    environment = publish.get("environment")
    env_name = environment.get("name") if isinstance(environment, dict) else environment
    if env_name != "pypi":
        problems.append("publish: the publish job must run in the 'pypi' environment")
    publishers = steps_using(publish, PUBLISH_ACTION)
    if len(publishers) != 1:
        return [*problems, "publish: exactly one pypa/gh-action-pypi-publish step is required"]
    settings = publishers[0].get("with") or {}
    if settings.get("attestations") is not True:
        problems.append("publish: attestations must be on")
    if not settings.get("packages-dir"):
        problems.append("publish: packages-dir must name the dist directory")
    if {"password", "user", "repository-url"} & set(settings):
        problems.append("publish: Trusted Publishing takes no password, user or index URL")
    at = index_of(publish, lambda s: action_of(s) == PUBLISH_ACTION)
    before = "\n".join(_run_text({"steps": steps(publish)[:at]}))
    for needed, why in (
        ('"$TAG" != "v$version"', "the tag must equal v + the package version"),
        ("## [$version]", "CHANGELOG.md must have an entry for the version"),
        ("ci/gate.py verify evidence", "the evidence must verify"),
        ("twine check", "twine check must pass"),
        (versions.TOOLS["twine"], "twine must be the version the gate pins"),
    ):
        if needed not in before:
            problems.append(f"publish: before publishing, {why} ({needed!r} not found)")
    for step in steps(publish)[:at]:
        if step.get("if") or step.get("continue-on-error"):
            problems.append("publish: every check before publishing must be unconditional")
    for job_name, job in all_jobs.items():
        for step in steps_using(job, SETUP_PYTHON_ACTION):
            version = str((step.get("with") or {}).get("python-version"))
            if version != versions.DEFAULT_PYTHON:
                problems.append(f"publish:{job_name}: Python {version} is not the gate's default")

    assets = [n for n, j in all_jobs.items() if "gh release" in "\n".join(_run_text(j))]
    if not assets:
        problems.append("publish: a job must attach the provenance to the GitHub release")
    for name in assets:
        text = "\n".join(_run_text(all_jobs[name]))
        for needed in ("SHA256SUMS", "sbom.cdx.json", "summary.md"):
            if needed not in text:
                problems.append(f"publish:{name}: the release must carry {needed}")
        needs = all_jobs[name].get("needs") or []
        if "publish" not in ([needs] if isinstance(needs, str) else needs) and name != "publish":
            problems.append(f"publish:{name}: attach assets only after publishing")
    return problems


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def gate_text() -> str:
    return RELEASE_GATE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def publish_text() -> str:
    return PUBLISH.read_text(encoding="utf-8")


@pytest.fixture()
def gate_doc() -> dict[str, Any]:
    return load(RELEASE_GATE)


@pytest.fixture()
def publish_doc() -> dict[str, Any]:
    return load(PUBLISH)


@pytest.fixture(scope="module")
def functions() -> dict[str, DaggerFunction]:
    assert MODULE_MAIN.is_file(), "the Dagger module (ci/src/aksara_release/main.py) is missing"
    found = module_functions(MODULE_MAIN.read_text(encoding="utf-8"), main_class_name())
    assert found, f"no @function methods found on {main_class_name()} in {MODULE_MAIN}"
    return found


@pytest.fixture(scope="module")
def engine_version() -> str:
    assert DAGGER_JSON.is_file(), "dagger.json (the Dagger module's configuration) is missing"
    return str(json.loads(DAGGER_JSON.read_text(encoding="utf-8"))["engineVersion"])


def both(gate_doc: dict[str, Any], publish_doc: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    yield "release-gate.yml", gate_doc
    yield "publish.yml", publish_doc


# --------------------------------------------------------------------------- the real files


def test_release_gate_workflow_keeps_its_contract(gate_doc: dict[str, Any]) -> None:
    assert problems_gate_workflow(gate_doc) == []


def test_publish_workflow_keeps_its_contract(publish_doc: dict[str, Any]) -> None:
    assert problems_publish_workflow(publish_doc) == []


def test_permissions_are_least_privilege(
    gate_doc: dict[str, Any], publish_doc: dict[str, Any]
) -> None:
    assert problems_permissions(gate_doc, "release-gate.yml", publisher=None) == []
    assert problems_permissions(publish_doc, "publish.yml", publisher="publish") == []


def test_every_action_is_pinned_to_a_commit_with_its_version(
    gate_text: str, publish_text: str
) -> None:
    assert problems_pinned_uses(gate_text, "release-gate.yml") == []
    assert problems_pinned_uses(publish_text, "publish.yml") == []


def test_checkouts_drop_credentials_and_no_secret_is_used(
    gate_doc: dict[str, Any], publish_doc: dict[str, Any], gate_text: str, publish_text: str
) -> None:
    for label, doc in both(gate_doc, publish_doc):
        assert problems_checkouts(doc, label) == []
        assert problems_injection(doc, label) == []
    assert problems_secrets(gate_text, "release-gate.yml") == []
    assert problems_secrets(publish_text, "publish.yml") == []


def test_only_known_workflows_exist() -> None:
    """A new workflow must be added to these invariants, not slip past them."""
    names = sorted(p.name for p in WORKFLOWS.iterdir() if p.suffix in (".yml", ".yaml"))
    assert names == ["publish.yml", "release-gate.yml"]


def test_every_dagger_call_names_a_module_function(
    gate_doc: dict[str, Any], publish_doc: dict[str, Any], functions: dict[str, DaggerFunction]
) -> None:
    calls = dagger_calls(gate_doc, "release-gate.yml") + dagger_calls(publish_doc, "publish.yml")
    assert {c.function for c in calls} == {"release-gate"}
    assert problems_dagger_calls(calls, functions) == []


def test_dagger_cli_version_is_the_module_engine_version(
    gate_doc: dict[str, Any], publish_doc: dict[str, Any], engine_version: str
) -> None:
    for label, doc in both(gate_doc, publish_doc):
        assert problems_dagger_version(doc, label, engine_version) == []
    sdk = versions.TOOLS["dagger-io"].split("==", 1)[1]
    assert engine_version.lstrip("v") == sdk, "dagger.json engineVersion != pinned dagger-io SDK"


# --------------------------------------------------------------------------- planted faults


def _job(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return doc["jobs"][name]


def _step(doc: dict[str, Any], job: str, action: str) -> dict[str, Any]:
    return steps_using(_job(doc, job), action)[0]


def test_an_unpinned_or_uncommented_action_is_reported(gate_text: str) -> None:
    pinned = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"
    assert pinned in gate_text
    by_tag = gate_text.replace(pinned, "actions/checkout@v7")
    assert any("not pinned to a SHA" in p for p in problems_pinned_uses(by_tag, "x"))
    no_comment = gate_text.replace(pinned, pinned.split(" #")[0])
    assert any("no '# vX.Y.Z' comment" in p for p in problems_pinned_uses(no_comment, "x"))
    short = gate_text.replace(pinned, "actions/checkout@3d3c42e # v7.0.1")
    assert problems_pinned_uses(short, "x")


@pytest.mark.parametrize(
    ("job", "permissions", "expected"),
    [
        ("gate", {"contents": "read", "id-token": "write"}, "id-token must only be granted"),
        ("publish", {"contents": "read"}, "needs 'id-token: write'"),
        ("publish", {"contents": "write", "id-token": "write"}, "more than this job needs"),
        ("release-assets", {"contents": "write", "id-token": "write"}, "id-token must only"),
        ("gate", {"packages": "write"}, "more than this job needs"),
    ],
)
def test_excess_permissions_are_reported(
    publish_doc: dict[str, Any], job: str, permissions: dict[str, str], expected: str
) -> None:
    _job(publish_doc, job)["permissions"] = permissions
    problems = problems_permissions(publish_doc, "publish.yml", publisher="publish")
    assert any(expected in p for p in problems), problems


def test_a_write_all_default_is_reported(gate_doc: dict[str, Any]) -> None:
    gate_doc["permissions"] = "write-all"
    assert problems_permissions(gate_doc, "release-gate.yml", publisher=None)
    del gate_doc["permissions"]
    assert problems_permissions(gate_doc, "release-gate.yml", publisher=None)


def test_a_checkout_keeping_credentials_is_reported(gate_doc: dict[str, Any]) -> None:
    del _step(gate_doc, "gate", CHECKOUT_ACTION)["with"]["persist-credentials"]
    assert problems_checkouts(gate_doc, "release-gate.yml")


def test_a_secret_or_an_inline_input_is_reported(publish_doc: dict[str, Any]) -> None:
    assert problems_secrets("password: ${{ secrets.PYPI_TOKEN }}", "x")
    step = steps(_job(publish_doc, "gate"))[0]
    step["run"] = 'echo "${{ inputs.tag }}"'
    assert problems_injection(publish_doc, "publish.yml")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["on"].pop("pull_request"), "triggers must be exactly"),
        (lambda d: d["on"].update(push={"branches": ["main"]}), "tags 'v*' only"),
        (lambda d: _matrix(d).update(python=["3.12"]), "matrix python"),
        (lambda d: _matrix(d).update(python=["3.9", "3.12"]), "matrix python"),
        (lambda d: _matrix(d).update(postgres=["18"]), "matrix postgres"),
        (lambda d: _matrix(d).update(postgres=["9", "18"]), "matrix postgres"),
        (lambda d: d["jobs"]["gate"]["strategy"].update({"fail-fast": True}), "fail-fast"),
        (lambda d: _step(d, "gate", UPLOAD_ACTION).pop("if"), "if: always()"),
        (lambda d: _step(d, "gate", DAGGER_ACTION)["with"].update(call="release-gate"), "lacks"),
        (lambda d: steps(d["jobs"]["gate"])[-1].update(run="true"), "verify ./evidence"),
        (lambda d: steps(d["jobs"]["gate"])[-1].update({"continue-on-error": True}), "fatal"),
        (lambda d: steps(d["jobs"]["gate"])[2].update(run="echo hi"), "job summary"),
    ],
)
def test_a_weakened_release_gate_workflow_is_reported(
    gate_doc: dict[str, Any], mutate: Any, expected: str
) -> None:
    gate_doc = _with_on_key(gate_doc)
    mutate(gate_doc)
    problems = problems_gate_workflow(gate_doc)
    assert any(expected in p for p in problems), problems


def _matrix(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["jobs"]["gate"]["strategy"]["matrix"]


def _with_on_key(doc: dict[str, Any]) -> dict[str, Any]:
    """Move PyYAML's ``True`` key to ``"on"`` so mutations can name it."""
    doc = copy.deepcopy(doc)
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def _drop_run(doc: dict[str, Any], needle: str) -> None:
    for step in steps(doc["jobs"]["publish"]):
        if needle in str(step.get("run") or ""):
            step["run"] = str(step["run"]).replace(needle, "true")
            return
    raise AssertionError(f"{needle!r} not found in the publish job")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["on"].update(push={"tags": ["v*"]}), "workflow_dispatch only"),
        (lambda d: d["on"]["workflow_dispatch"]["inputs"]["tag"].update(required=False), "tag"),
        (lambda d: d["jobs"]["publish"].pop("environment"), "'pypi' environment"),
        (lambda d: d["jobs"]["publish"].update(environment="release"), "'pypi' environment"),
        (lambda d: d["jobs"]["publish"].pop("needs"), "need the gate job"),
        (lambda d: _step(d, "publish", PUBLISH_ACTION)["with"].pop("attestations"), "attestations"),
        (lambda d: _step(d, "publish", PUBLISH_ACTION)["with"].pop("packages-dir"), "packages-dir"),
        (lambda d: _step(d, "publish", PUBLISH_ACTION)["with"].update(password="x"), "password"),
        (lambda d: _drop_run(d, '"$TAG" != "v$version"'), "v + the package version"),
        (lambda d: _drop_run(d, "## [$version]"), "CHANGELOG.md"),
        (lambda d: _drop_run(d, "ci/gate.py verify evidence"), "evidence must verify"),
        (lambda d: _drop_run(d, "twine check"), "twine check"),
        (lambda d: _drop_run(d, versions.TOOLS["twine"]), "version the gate pins"),
        (lambda d: _step(d, "gate", CHECKOUT_ACTION)["with"].update(ref="main"), "requested tag"),
        (lambda d: d["jobs"].pop("release-assets"), "GitHub release"),
        (lambda d: d["jobs"]["release-assets"].update(needs=["gate"]), "only after publishing"),
    ],
)
def test_a_weakened_publish_workflow_is_reported(
    publish_doc: dict[str, Any], mutate: Any, expected: str
) -> None:
    publish_doc = _with_on_key(publish_doc)
    mutate(publish_doc)
    problems = problems_publish_workflow(publish_doc)
    assert any(expected in p for p in problems), problems


def test_checks_after_the_publish_step_do_not_count(publish_doc: dict[str, Any]) -> None:
    publish_doc = _with_on_key(publish_doc)
    job = publish_doc["jobs"]["publish"]
    at = index_of(job, lambda s: action_of(s) == PUBLISH_ACTION)
    job["steps"] = [job["steps"][at], *job["steps"][:at]]  # publish first, check later
    assert any("before publishing" in p for p in problems_publish_workflow(publish_doc))


SAMPLE_MODULE = """
import dagger
from dagger import function, object_type
from typing import Annotated

@object_type
class AksaraRelease:
    source: Annotated[dagger.Directory, DefaultPath("/")]
    python_version: str = "3.12"
    from_: Annotated[str, Name("from")] = ""

    @function
    async def release_gate(self, commit: str = "", *, tag: str | None = None) -> Directory: ...

    @dagger.function(cache="never")
    @dagger.check
    def unit_tests(self) -> None: ...

    @dagger.function
    def stage_env(self, name: str, from_: Annotated[str, dagger.Name("from")] = "") -> None: ...

    def helper(self) -> None: ...

@object_type
class Other:
    @function
    def elsewhere(self) -> None: ...
"""


def test_module_functions_are_read_from_the_decorators() -> None:
    found = module_functions(SAMPLE_MODULE, "AksaraRelease")
    assert set(found) == {CONSTRUCTOR, "release-gate", "unit-tests", "stage-env"}
    assert found[CONSTRUCTOR].parameters == {"source", "python-version", "from"}
    assert found["release-gate"].parameters == {"commit", "tag"}
    assert found["stage-env"].parameters == {"name", "from"}


def test_an_unknown_dagger_function_or_flag_is_reported() -> None:
    found = module_functions(SAMPLE_MODULE, "AksaraRelease")
    good = parse_call(
        "--python-version 3.12 --source=. release-gate --commit abc --tag=v1 export --path=./e", "w"
    )
    assert good.constructor_flags == ("python-version", "source")
    assert (good.function, good.flags) == ("release-gate", ("commit", "tag"))
    assert problems_dagger_calls([good], found) == []
    renamed = parse_call("release-gates export --path=./e", "w")
    assert "not a module function" in problems_dagger_calls([renamed], found)[0]
    misplaced = parse_call("release-gate --python-version 3.12 export --path=./e", "w")
    assert "no argument --python-version" in problems_dagger_calls([misplaced], found)[0]
    unknown = parse_call("--postgres-major 18 release-gate", "w")
    assert "constructor has no --postgres-major" in problems_dagger_calls([unknown], found)[0]


def test_dagger_calls_in_run_scripts_are_found_too(gate_doc: dict[str, Any]) -> None:
    steps(gate_doc["jobs"]["gate"])[-1]["run"] = "dagger -v call unit-tests --foo 1 terminal"
    calls = dagger_calls(gate_doc, "release-gate.yml")
    assert ("unit-tests", ("foo",)) in {(c.function, c.flags) for c in calls}
    from_action = [c for c in calls if c.function == "release-gate"]
    assert from_action
    assert from_action[0].constructor_flags == ("python-version", "postgres-version")


def test_a_dagger_version_other_than_the_engine_is_reported(gate_doc: dict[str, Any]) -> None:
    _step(gate_doc, "gate", DAGGER_ACTION)["with"]["version"] = "latest"
    assert problems_dagger_version(gate_doc, "release-gate.yml", "v0.21.11")
    _step(gate_doc, "gate", DAGGER_ACTION)["with"]["version"] = "0.21.11"
    assert problems_dagger_version(gate_doc, "release-gate.yml", "v0.21.11") == []
