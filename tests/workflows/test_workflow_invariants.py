"""The GitHub workflows keep the promises docs/releasing.md makes about them.

Why a test and not only zizmor/actionlint: those linters know GitHub Actions, not
this project. They cannot tell that ``id-token: write`` belongs to the publish job
alone, that the matrix must stay inside the supported versions, that publishing
must be preceded by the version, changelog and evidence checks, or that a
``dagger call release-gate`` still names a function the Dagger module defines.

Every rule is a function returning the problems it finds (empty: fine), so each
one is tested twice: clean on the real workflows, and red on a copy with the fault
planted. The publish workflow's guards (issue 12) each have such a planted removal:
the tag-format check first, a ``pypi`` job that installs and runs nothing, the digest
comparison, an attestation job that cannot reach the ``pypi`` environment, and
``permissions: {}`` at the top.
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
SCHEDULED_AUDIT = WORKFLOWS / "scheduled-audit.yml"

DAGGER_ACTION = "dagger/dagger-for-github"
PUBLISH_ACTION = "pypa/gh-action-pypi-publish"
CHECKOUT_ACTION = "actions/checkout"
UPLOAD_ACTION = "actions/upload-artifact"
SETUP_PYTHON_ACTION = "actions/setup-python"
DOWNLOAD_ACTION = "actions/download-artifact"
ATTEST_ACTION = "actions/attest-build-provenance"

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
    document: Mapping[str, Any],
    label: str,
    publisher: str | None,
    *,
    top: Mapping[str, str] | None = None,
    signer: str | None = None,
) -> list[str]:
    """Least privilege: the top level grants exactly ``top`` (``{}`` unless told);
    ``id-token: write`` only on ``publisher`` (PyPI) and ``signer`` (attestations);
    ``attestations: write`` only on ``signer``; ``contents: write`` only on a job without
    an OIDC token; nothing else above read."""
    problems = []
    wanted_top = {} if top is None else dict(top)
    if document.get("permissions") != wanted_top:
        problems.append(f"{label}: top-level permissions must be exactly {wanted_top}")
    for name, job in jobs(document).items():
        perms = job.get("permissions")
        if perms is None:
            if not wanted_top:
                problems.append(f"{label}:{name}: permissions must be granted per job")
            continue
        if not isinstance(perms, dict):
            problems.append(f"{label}:{name}: permissions must be an explicit mapping")
            continue
        oidc = perms.get("id-token")
        if oidc is not None and oidc != "none":
            if name not in (publisher, signer):
                problems.append(f"{label}:{name}: id-token must only be granted to {publisher}")
            elif oidc != "write":
                problems.append(f"{label}:{name}: id-token must be 'write'")
        for scope, level in perms.items():
            if scope == "id-token" or level in ("read", "none"):
                continue
            if scope == "contents" and level == "write" and oidc in (None, "none"):
                continue  # attaching release assets, in a job that cannot publish
            if scope == "attestations" and level == "write" and name == signer:
                continue
            problems.append(f"{label}:{name}: '{scope}: {level}' is more than this job needs")
    for needed in (publisher, signer):
        if needed is not None:
            perms = jobs(document).get(needed, {}).get("permissions") or {}
            if perms.get("id-token") != "write":
                problems.append(f"{label}:{needed}: needs 'id-token: write' (OIDC)")
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


TAG_INPUT = re.compile(r"\b(?:github\.event\.)?inputs\.tag\b")
#: The tag-format check: a ``[[ ! "$TAG" =~ <regex> ]]`` test that exits non-zero.
TAG_CHECK = re.compile(r'\[\[\s*!\s*"\$TAG"\s*=~\s*(?P<regex>\S+)\s*\]\]')
#: Tags the format check must refuse (shell metacharacters, spaces, newlines, options).
HOSTILE_TAGS = ("v1.0;id", "v1.0$(id)", "v1.0 --wipe", "v1.0\nid", "v1.0`id`", "-v1", "main",
                "v1.0+local", "v1.0/../x", "v")
GOOD_TAGS = ("v0.8.0", "v1.0rc1", "v2.1.post1", "v10.20.30")
#: Commands a ``pypi`` job's script may run: coreutils only, nothing that installs or
#: executes repository code.
PYPI_COMMANDS = frozenset({"set", "printf", "sha256sum", "mkdir", "cp", "ls", "echo", "test"})
SHELL_KEYWORDS = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "while", "until",
                            "!", "{", "}", "esac"})
PUBLISH_JOBS = ("gate", "verify", "pypi", "attest", "release", "post-publish")


def _uses_tag_input(value: Any) -> bool:
    return bool(TAG_INPUT.search(json.dumps(value, default=str)))


def _needs(job: Mapping[str, Any]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def commands(script: str) -> list[str]:
    """The first word of every simple command in a shell script (a rough lexer: enough
    to see ``pip``, ``python`` or ``./x`` in a short script)."""
    words = []
    joined = script.replace("\\\n", " ")
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for part in re.split(r"\|\||&&|;|\||\$\(|`", line):
            tokens = part.strip().split()
            while tokens and (tokens[0] in SHELL_KEYWORDS
                              or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", tokens[0])):
                tokens.pop(0)  # `then cmd`, `! cmd`, a VAR=value prefix
            if tokens:
                words.append(tokens[0].strip('"()'))
    return [w for w in words if w]


def problems_tag_guard(document: Mapping[str, Any]) -> list[str]:
    """The tag-format check is the gate job's first step, refuses hostile tags, and
    comes before any use of the input; every other job using it runs after the gate."""
    problems = []
    all_jobs = jobs(document)
    gate = all_jobs.get("gate") or {}
    first = steps(gate)[0] if steps(gate) else {}
    match = TAG_CHECK.search(str(first.get("run") or ""))
    env_tag = str((first.get("env") or {}).get("TAG", ""))
    if match is None or "exit 1" not in str(first.get("run")) or not TAG_INPUT.search(env_tag):
        problems.append("publish: the gate job's first step must check the tag's form "
                        "([[ ! \"$TAG\" =~ ... ]] with TAG from the input, then exit 1)")
    else:
        pattern = re.compile(match.group("regex"))
        for tag in HOSTILE_TAGS:
            if pattern.search(tag):
                problems.append(f"publish: the tag-format check accepts {tag!r}")
        for tag in GOOD_TAGS:
            if not pattern.search(tag):
                problems.append(f"publish: the tag-format check refuses {tag!r}")
    outside = {str(k): v for k, v in document.items() if k not in ("on", True, "jobs")}
    if _uses_tag_input(outside):
        problems.append("publish: the tag input is used at the workflow level, before its check")
    if _uses_tag_input({k: v for k, v in gate.items() if k != "steps"}):
        problems.append("publish:gate: the tag input is used outside the steps, before its check")
    for name, job in all_jobs.items():
        if name != "gate" and _uses_tag_input(job) and "gate" not in _needs(job):
            problems.append(f"publish:{name}: uses the tag input without needing the gate job")
    return problems


def problems_pypi_job(document: Mapping[str, Any]) -> list[str]:
    """``pypi``: the protected environment, OIDC only, downloads by artifact id, compares
    both digests with the verify job's outputs, and installs or executes nothing."""
    problems = []
    job = jobs(document).get("pypi")
    if job is None:
        return ["publish: a 'pypi' job is required"]
    environment = job.get("environment")
    env_name = environment.get("name") if isinstance(environment, dict) else environment
    if env_name != "pypi":
        problems.append("publish:pypi: must run in the 'pypi' environment")
    if job.get("permissions") != {"id-token": "write"}:
        problems.append("publish:pypi: permissions must be exactly 'id-token: write'")
    if not {"gate", "verify"} <= set(_needs(job)):
        problems.append("publish:pypi: must need the gate and verify jobs")
    allowed = {DOWNLOAD_ACTION, PUBLISH_ACTION}
    for step in steps(job):
        action = action_of(step)
        if action is not None and action not in allowed:
            problems.append(f"publish:pypi: uses {action} (only download + publish allowed)")
        for word in commands(str(step.get("run") or "")):
            if word not in PYPI_COMMANDS:
                problems.append(f"publish:pypi: runs {word!r}: the job holding the OIDC token "
                                "must not install or execute anything")
        if step.get("if") or step.get("continue-on-error"):
            problems.append("publish:pypi: every step must be unconditional and fatal")
    downloads = steps_using(job, DOWNLOAD_ACTION)
    if len(downloads) != 1 or "needs.gate.outputs.artifact-id" not in str(
        (downloads[0].get("with") or {}).get("artifact-ids", "")
    ):
        problems.append("publish:pypi: must download the evidence by the gate's artifact id")
    publish_at = index_of(job, lambda s: action_of(s) == PUBLISH_ACTION)
    if publish_at < 0 or len(steps_using(job, PUBLISH_ACTION)) != 1:
        return [*problems, "publish:pypi: exactly one pypa/gh-action-pypi-publish step"]
    problems += problems_digest_check(job, "pypi", before=publish_at)
    settings = steps(job)[publish_at].get("with") or {}
    if settings.get("attestations") is not True:
        problems.append("publish:pypi: attestations must be on")
    if not settings.get("packages-dir"):
        problems.append("publish:pypi: packages-dir must name the dist directory")
    else:
        problems += problems_pypi_uploads(job, str(settings["packages-dir"]))
    if {"password", "user", "repository-url"} & set(settings):
        problems.append("publish:pypi: Trusted Publishing takes no password, user or index URL")
    return problems


#: What the pypi job copies into its packages-dir: the two compared files, by name.
PYPI_FILES = ["evidence/dist/$WHEEL", "evidence/dist/$SDIST"]


def problems_pypi_uploads(job: Mapping[str, Any], packages_dir: str) -> list[str]:
    """PyPI gets the wheel and the sdist only: the evidence's ``dist/`` also holds
    ``SHA256SUMS`` and ``wheel-env.txt`` (the resolved runtime dependencies, a release
    asset), so the upload directory is a fresh one filled by ``cp`` of exactly the two
    files whose digests the job compared."""
    target = packages_dir.rstrip("/")
    why = ("publish:pypi: packages-dir must hold only the wheel and the sdist, copied by name "
           "(the evidence's dist/ also holds SHA256SUMS and wheel-env.txt)")
    if target.startswith("evidence") or not target:
        return [why]
    copies = []
    for text in _run_text(job):
        for line in text.replace("\\\n", " ").splitlines():
            words = line.split()
            if words[:1] == ["cp"] and words[-1].rstrip("/") == target:
                copies.append([w.strip('"') for w in words[1:-1] if w != "--"])
    return [] if copies == [PYPI_FILES] else [why]


def problems_digest_check(
    job: Mapping[str, Any], name: str, before: int, extra: tuple[str, ...] = ()
) -> list[str]:
    """A step before ``before`` runs ``sha256sum --check --strict`` on the verify job's
    wheel and sdist digests (and ``extra`` ones), passed through ``env``."""
    wanted = ("wheel-sha256", "sdist-sha256", *extra)
    for step in steps(job)[:before]:
        env = {str(k): str(v) for k, v in (step.get("env") or {}).items()}
        names = {o: [k for k, v in env.items() if f"needs.verify.outputs.{o}" in v]
                 for o in wanted}
        for line in str(step.get("run") or "").replace("\\\n", " ").splitlines():
            # printf '%s  %s\n' "$WHEEL_SHA256" "<file>" ... | sha256sum --check --strict
            if (
                re.match(r"^\s*printf\b", line)
                and re.search(r"\|\s*sha256sum --check --strict\s*$", line)
                and all(any(f'"${k}"' in line for k in keys) for keys in names.values())
            ):
                return []
    return [f"publish:{name}: no step compares the files with the verify job's digests "
            f"({', '.join(wanted)}) before they are used"]


def problems_publish_workflow(document: Mapping[str, Any]) -> list[str]:
    """publish.yml: dispatch with a tag; the jobs (a)-(f) of issue 12 and their guards."""
    problems = []
    on = triggers(document)
    if not isinstance(on, dict) or set(on) != {"workflow_dispatch"}:
        problems.append("publish: must be triggered by workflow_dispatch only")
    else:
        tag = ((on["workflow_dispatch"] or {}).get("inputs") or {}).get("tag") or {}
        if tag.get("required") is not True:
            problems.append("publish: workflow_dispatch needs a required 'tag' input")
    all_jobs = jobs(document)
    missing = [name for name in PUBLISH_JOBS if name not in all_jobs]
    if missing:
        return [*problems, f"publish: jobs {missing} are required"]
    problems += problems_tag_guard(document)
    problems += problems_pypi_job(document)
    for name, job in all_jobs.items():
        if name != "pypi" and steps_using(job, PUBLISH_ACTION):
            problems.append(f"publish:{name}: only the pypi job may publish")
        environment = job.get("environment")
        if name != "pypi" and environment is not None:
            problems.append(f"publish:{name}: only the pypi job may use an environment")

    gate = all_jobs["gate"]
    gate_runs = "\n".join(_run_text(gate))
    for needed, why in (
        ("git fetch --no-tags --force origin \"refs/tags/${TAG}:refs/tags/${TAG}\"",
         "fetch the annotated tag object (checkout leaves it lightweight)"),
        ("ci/gate.py release-identity", "check the release identity"),
        ("--require-signed", "require a signed tag when the repository asks for it"),
        ("--wheel", "check the identity against the built wheel"),
        ("--output evidence/release-identity.json", "put the identity report in the evidence"),
        ("aksara_release.matrix_proof", "prove the full release-gate matrix passed"),
        ("--expect-identity", "verify the evidence names this release"),
    ):
        if needed not in gate_runs:
            problems.append(f"publish:gate: must {why} ({needed!r} not found)")
    if "vars.AKSARA_REQUIRE_SIGNED_TAGS" not in json.dumps(gate):
        problems.append("publish:gate: the signing requirement must follow "
                        "vars.AKSARA_REQUIRE_SIGNED_TAGS")
    upload = steps_using(gate, UPLOAD_ACTION)
    if not upload or "steps.upload.outputs.artifact-id" not in str(
        (gate.get("outputs") or {}).get("artifact-id")
    ) or upload[0].get("id") != "upload":
        problems.append("publish:gate: must upload the evidence and output its artifact id")
    gate_calls = [c for c in dagger_calls({"jobs": {"gate": gate}}, "publish")
                  if c.function == "release-gate"]
    if not gate_calls or not {"commit", "tag"} <= set(gate_calls[0].flags):
        problems.append("publish:gate: must run dagger call release-gate --commit --tag")

    verify = all_jobs["verify"]
    if verify.get("permissions") not in ({"contents": "read"}, {}):
        problems.append("publish:verify: needs no permission beyond contents: read")
    verify_runs = "\n".join(_run_text(verify))
    for needed in ("ci/gate.py verify", "--expect-commit", "--expect-tag", "sha256sum"):
        if needed not in verify_runs:
            problems.append(f"publish:verify: {needed!r} not found")
    for output in ("wheel-sha256", "sdist-sha256", "sbom-sha256", "wheel", "sdist", "version"):
        if output not in (verify.get("outputs") or {}):
            problems.append(f"publish:verify: must output {output}")

    attest = all_jobs["attest"]
    if "environment" in attest:
        problems.append("publish:attest: must not run in an environment (it could reach pypi)")
    at = index_of(attest, lambda s: action_of(s) == ATTEST_ACTION)
    if at < 0:
        problems.append("publish:attest: must use actions/attest-build-provenance")
    else:
        problems += problems_digest_check(attest, "attest", before=at, extra=("sbom-sha256",))
        if "sbom.cdx.json" not in "\n".join(_run_text(attest)):
            problems.append("publish:attest: the SBOM must be attested too")
    if "pypi" in _needs(attest):
        problems.append("publish:attest: must not depend on the pypi job's environment")

    release = all_jobs["release"]
    release_runs = "\n".join(_run_text(release))
    if not {"pypi", "attest", "verify"} <= set(_needs(release)):
        problems.append("publish:release: must need pypi, attest and verify")
    problems += problems_digest_check(release, "release", before=len(steps(release)),
                                      extra=("sbom-sha256",))
    for needed in ("SHA256SUMS", "evidence/dist/wheel-env.txt", "sbom.cdx.json", "summary.md",
                   ".changelog.body", "gh release"):
        if needed not in release_runs:
            problems.append(f"publish:release: the release must carry {needed}")

    post = all_jobs["post-publish"]
    post_runs = "\n".join(_run_text(post))
    if "pypi" not in _needs(post):
        problems.append("publish:post-publish: must run after the pypi job")
    for needed in ("https://pypi.org/pypi/aksara-framework/", "sha256sum", "$WHEEL_SHA256",
                   "$SDIST_SHA256"):
        if needed not in post_runs:
            problems.append(f"publish:post-publish: {needed!r} not found")
    for job_name, job in all_jobs.items():
        for step in steps_using(job, SETUP_PYTHON_ACTION):
            version = str((step.get("with") or {}).get("python-version"))
            if version != versions.DEFAULT_PYTHON:
                problems.append(f"publish:{job_name}: Python {version} is not the gate's default")
    return problems


def problems_export_wipe(document: Mapping[str, Any], label: str) -> list[str]:
    """Every ``dagger ... export`` replaces the directory (``--wipe``): Directory.export
    merges into an existing one, so stale files could join the evidence."""
    problems = []
    for name, job in jobs(document).items():
        for step in steps(job):
            texts = [str(step.get("run") or "")]
            if action_of(step) == DAGGER_ACTION:
                texts.append(str((step.get("with") or {}).get("call") or ""))
            for text in texts:
                for match in re.finditer(r"\bexport\b[^\n]*", " ".join(text.split("\\\n"))):
                    if "--path" in match.group(0) and "--wipe" not in match.group(0):
                        problems.append(f"{label}:{name}: dagger export without --wipe")
    return problems


def problems_scheduled_audit(document: Mapping[str, Any]) -> list[str]:
    """scheduled-audit.yml: weekly, read-only, dependency-audit on main and the latest tag."""
    problems = []
    on = triggers(document)
    if not isinstance(on, dict) or set(on) != {"schedule", "workflow_dispatch"}:
        problems.append("scheduled-audit: triggers must be schedule and workflow_dispatch")
    else:
        crons = [str(c.get("cron", "")) for c in on.get("schedule") or []]
        if len(crons) != 1 or len(crons[0].split()) != 5 or crons[0].split()[4] == "*":
            problems.append("scheduled-audit: must run once a week (cron with a weekday)")
    audit = jobs(document).get("audit") or {}
    calls = [c for c in dagger_calls({"jobs": {"audit": audit}}, "audit")
             if c.function == "dependency-audit"]
    if not calls:
        problems.append("scheduled-audit: the audit job must run the dependency-audit stage")
    matrix = str(((audit.get("strategy") or {}).get("matrix") or {}).get("ref"))
    refs = jobs(document).get("refs") or {}
    refs_runs = "\n".join(_run_text(refs))
    if "needs.refs.outputs.refs" not in matrix or '"main"' not in refs_runs or (
        "sort -V" not in refs_runs
    ):
        problems.append("scheduled-audit: must audit main and the latest release tag")
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
def audit_text() -> str:
    return SCHEDULED_AUDIT.read_text(encoding="utf-8")


@pytest.fixture()
def audit_doc() -> dict[str, Any]:
    return load(SCHEDULED_AUDIT)


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


def every(
    gate_doc: dict[str, Any], publish_doc: dict[str, Any], audit_doc: dict[str, Any]
) -> Iterator[tuple[str, Any]]:
    yield "release-gate.yml", gate_doc
    yield "publish.yml", publish_doc
    yield "scheduled-audit.yml", audit_doc


# --------------------------------------------------------------------------- the real files


def test_release_gate_workflow_keeps_its_contract(gate_doc: dict[str, Any]) -> None:
    assert problems_gate_workflow(gate_doc) == []


def test_publish_workflow_keeps_its_contract(publish_doc: dict[str, Any]) -> None:
    assert problems_publish_workflow(publish_doc) == []


def test_scheduled_audit_keeps_its_contract(audit_doc: dict[str, Any]) -> None:
    assert problems_scheduled_audit(audit_doc) == []


def test_permissions_are_least_privilege(
    gate_doc: dict[str, Any], publish_doc: dict[str, Any], audit_doc: dict[str, Any]
) -> None:
    assert problems_permissions(
        gate_doc, "release-gate.yml", publisher=None, top={"contents": "read"}
    ) == []
    assert problems_permissions(publish_doc, "publish.yml", publisher="pypi", signer="attest") == []
    assert problems_permissions(audit_doc, "scheduled-audit.yml", publisher=None) == []


def test_every_action_is_pinned_to_a_commit_with_its_version(
    gate_text: str, publish_text: str, audit_text: str
) -> None:
    assert problems_pinned_uses(gate_text, "release-gate.yml") == []
    assert problems_pinned_uses(publish_text, "publish.yml") == []
    assert problems_pinned_uses(audit_text, "scheduled-audit.yml") == []


def test_checkouts_drop_credentials_and_no_secret_is_used(
    gate_doc: dict[str, Any], publish_doc: dict[str, Any], audit_doc: dict[str, Any],
    gate_text: str, publish_text: str, audit_text: str,
) -> None:
    for label, doc in every(gate_doc, publish_doc, audit_doc):
        assert problems_checkouts(doc, label) == []
        assert problems_injection(doc, label) == []
        assert problems_export_wipe(doc, label) == []
    for label, text in (("release-gate.yml", gate_text), ("publish.yml", publish_text),
                        ("scheduled-audit.yml", audit_text)):
        assert problems_secrets(text, label) == []


def test_only_known_workflows_exist() -> None:
    """A new workflow must be added to these invariants, not slip past them."""
    names = sorted(p.name for p in WORKFLOWS.iterdir() if p.suffix in (".yml", ".yaml"))
    assert names == ["publish.yml", "release-gate.yml", "scheduled-audit.yml"]


def test_every_dagger_call_names_a_module_function(
    gate_doc: dict[str, Any], publish_doc: dict[str, Any], audit_doc: dict[str, Any],
    functions: dict[str, DaggerFunction],
) -> None:
    calls = [c for label, doc in every(gate_doc, publish_doc, audit_doc)
             for c in dagger_calls(doc, label)]
    assert {c.function for c in calls} == {"release-gate", "dependency-audit"}
    assert problems_dagger_calls(calls, functions) == []


def test_dagger_cli_version_is_the_module_engine_version(
    gate_doc: dict[str, Any], publish_doc: dict[str, Any], audit_doc: dict[str, Any],
    engine_version: str,
) -> None:
    for label, doc in every(gate_doc, publish_doc, audit_doc):
        assert problems_dagger_version(doc, label, engine_version) == []
    sdk = versions.TOOLS["dagger-io"].split("==", 1)[1]
    assert engine_version.lstrip("v") == sdk, "dagger.json engineVersion != pinned dagger-io SDK"


def test_the_matrix_proof_expects_release_gate_yml_cells(gate_doc: dict[str, Any]) -> None:
    """matrix_proof's cells and job names are release-gate.yml's, so the proof covers
    every cell the workflow runs (and only those)."""
    from aksara_release import matrix_proof

    job = gate_doc["jobs"]["gate"]
    matrix = job["strategy"]["matrix"]
    assert tuple(str(v) for v in matrix["python"]) == matrix_proof.PYTHONS
    assert tuple(str(v) for v in matrix["postgres"]) == matrix_proof.POSTGRES
    assert job["name"] == matrix_proof.JOB_NAME.replace("{python}", "${{ matrix.python }}").replace(
        "{postgres}", "${{ matrix.postgres }}")


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
        ("verify", {"contents": "read", "id-token": "write"}, "id-token must only be granted"),
        ("release", {"contents": "write", "id-token": "write"}, "id-token must only be granted"),
        ("pypi", {"contents": "read"}, "pypi: needs 'id-token: write'"),
        ("attest", {"attestations": "write"}, "attest: needs 'id-token: write'"),
        ("pypi", {"contents": "write", "id-token": "write"}, "more than this job needs"),
        ("pypi", {"id-token": "write", "attestations": "write"}, "more than this job needs"),
        ("gate", {"packages": "write"}, "more than this job needs"),
        ("post-publish", {"actions": "write"}, "more than this job needs"),
    ],
)
def test_excess_permissions_are_reported(
    publish_doc: dict[str, Any], job: str, permissions: dict[str, str], expected: str
) -> None:
    _job(publish_doc, job)["permissions"] = permissions
    problems = problems_permissions(publish_doc, "publish.yml", publisher="pypi", signer="attest")
    assert any(expected in p for p in problems), problems


def test_top_level_permissions_other_than_empty_are_reported(publish_doc: dict[str, Any]) -> None:
    """Planted: ``permissions: {}`` at the top replaced (or removed)."""
    for value in ({"contents": "read"}, "read-all", None):
        doc = copy.deepcopy(publish_doc)
        if value is None:
            del doc["permissions"]
        else:
            doc["permissions"] = value
        problems = problems_permissions(doc, "publish.yml", publisher="pypi", signer="attest")
        assert any("top-level permissions must be exactly {}" in p for p in problems), problems
    del publish_doc["jobs"]["verify"]["permissions"]
    problems = problems_permissions(publish_doc, "publish.yml", publisher="pypi", signer="attest")
    assert "publish.yml:verify: permissions must be granted per job" in problems


def test_a_write_all_default_is_reported(gate_doc: dict[str, Any]) -> None:
    gate_doc["permissions"] = "write-all"
    assert problems_permissions(gate_doc, "release-gate.yml", publisher=None,
                                top={"contents": "read"})
    del gate_doc["permissions"]
    assert problems_permissions(gate_doc, "release-gate.yml", publisher=None,
                                top={"contents": "read"})


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


def _drop_run(doc: dict[str, Any], job: str, needle: str, replacement: str = "true") -> None:
    for step in steps(doc["jobs"][job]):
        if needle in str(step.get("run") or ""):
            step["run"] = str(step["run"]).replace(needle, replacement)
            return
    raise AssertionError(f"{needle!r} not found in the {job} job")


def _drop_step(doc: dict[str, Any], job: str, needle: str) -> None:
    """Remove the step whose ``run`` contains ``needle``."""
    all_steps = doc["jobs"][job]["steps"]
    at = next(i for i, s in enumerate(all_steps) if needle in str(s.get("run") or ""))
    del all_steps[at]


def _move_tag_check_down(doc: dict[str, Any]) -> None:
    all_steps = doc["jobs"]["gate"]["steps"]
    all_steps.insert(3, all_steps.pop(0))


def _add_pypi_run(doc: dict[str, Any], script: str) -> None:
    pypi_steps = doc["jobs"]["pypi"]["steps"]
    pypi_steps.insert(1, {"name": "extra", "run": script})


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["on"].update(push={"tags": ["v*"]}), "workflow_dispatch only"),
        (lambda d: d["on"]["workflow_dispatch"]["inputs"]["tag"].update(required=False), "tag"),
        # The tag-format guard: removed, moved below a use of the input, or weakened.
        (lambda d: _drop_step(d, "gate", '=~ ^v[0-9]'), "first step must check the tag's form"),
        (_move_tag_check_down, "first step must check the tag's form"),
        (lambda d: _drop_run(d, "gate", "exit 1", "true"), "first step must check"),
        (lambda d: _drop_run(d, "gate", r"^v[0-9]+(\.[0-9]+)*", "^v.+"), "accepts 'v1.0;id'"),
        (lambda d: _drop_run(d, "gate", "$TAG\" =~ ^v[0-9]+", "$TAG\" =~ v[0-9]+"),
         "accepts '-v1'"),
        (lambda d: d["jobs"]["gate"].update(env={"T": "${{ inputs.tag }}"}), "outside the steps"),
        (lambda d: d.update(env={"T": "${{ github.event.inputs.tag }}"}), "workflow level"),
        (lambda d: d["jobs"]["post-publish"].update(env={"T": "${{ inputs.tag }}"}),
         "post-publish: uses the tag input without needing the gate job"),
        # The pypi job: environment, permissions, nothing installed or executed.
        (lambda d: d["jobs"]["pypi"].pop("environment"), "'pypi' environment"),
        (lambda d: d["jobs"]["pypi"].update(environment="release"), "'pypi' environment"),
        (lambda d: _add_pypi_run(d, "python -m pip install twine==7.0.0"), "runs 'python'"),
        (lambda d: _add_pypi_run(d, "pip install twine"), "runs 'pip'"),
        (lambda d: _add_pypi_run(d, "set -e; ./ci/check.sh"), "runs './ci/check.sh'"),
        (lambda d: _add_pypi_run(d, "echo ok && bash scripts/x"), "runs 'bash'"),
        (lambda d: _add_pypi_run(d, "x=$(python3 ci/gate.py verify e)"), "runs 'python3'"),
        (lambda d: _add_pypi_run(d, "FOO=1 uv run thing"), "runs 'uv'"),
        (lambda d: d["jobs"]["pypi"]["steps"].insert(0, {
            "uses": "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1"}),
         "uses actions/checkout"),
        (lambda d: d["jobs"]["pypi"]["steps"].insert(0, {
            "uses": "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97"}),
         "uses actions/setup-python"),
        (lambda d: _step(d, "pypi", DOWNLOAD_ACTION)["with"].update(
            {"name": "release-evidence", "artifact-ids": ""}), "by the gate's artifact id"),
        # The digest comparison: removed, or comparing only one file.
        (lambda d: _drop_step(d, "pypi", "sha256sum --check --strict"),
         "pypi: no step compares the files with the verify job's digests"),
        (lambda d: _drop_run(d, "pypi", "sha256sum --check --strict", "cat"),
         "pypi: no step compares"),
        (lambda d: steps(d["jobs"]["pypi"])[1]["env"].pop("SDIST_SHA256"),
         "pypi: no step compares"),
        (lambda d: _drop_step(d, "attest", "sha256sum --check --strict"),
         "attest: no step compares"),
        (lambda d: _drop_run(d, "release", "sbom.cdx.json | sha256sum --check --strict",
                             "sbom.cdx.json | cat"), "release: no step compares"),
        (lambda d: _step(d, "pypi", PUBLISH_ACTION)["with"].pop("attestations"), "attestations"),
        (lambda d: _step(d, "pypi", PUBLISH_ACTION)["with"].pop("packages-dir"), "packages-dir"),
        (lambda d: _step(d, "pypi", PUBLISH_ACTION)["with"].update(password="x"), "password"),
        # PyPI gets the wheel and the sdist only, never the rest of the evidence's dist/.
        (lambda d: _step(d, "pypi", PUBLISH_ACTION)["with"].update(
            {"packages-dir": "evidence/dist/"}), "packages-dir must hold only the wheel"),
        (lambda d: _drop_run(d, "pypi", '"evidence/dist/$SDIST" dist/',
                             '"evidence/dist/$SDIST" evidence/dist/wheel-env.txt dist/'),
         "packages-dir must hold only the wheel"),
        (lambda d: _drop_run(d, "pypi", 'cp -- "evidence/dist/$WHEEL" "evidence/dist/$SDIST"',
                             "cp -- evidence/dist/*"), "packages-dir must hold only the wheel"),
        (lambda d: _drop_run(d, "release", "evidence/dist/wheel-env.txt", "x"),
         "the release must carry evidence/dist/wheel-env.txt"),
        # The attestation job must not reach the pypi environment, nor publish.
        (lambda d: d["jobs"]["attest"].update(environment="pypi"), "attest: must not run in an"),
        (lambda d: d["jobs"]["attest"].update(environment={"name": "pypi"}), "attest: must not"),
        (lambda d: d["jobs"]["attest"]["steps"].append(
            copy.deepcopy(_step(d, "pypi", PUBLISH_ACTION))), "attest: only the pypi job"),
        (lambda d: d["jobs"]["attest"].update(needs=["gate", "verify", "pypi"]),
         "must not depend on the pypi"),
        # The gate job: identity, signing, matrix proof, evidence.
        (lambda d: _drop_step(d, "gate", "git fetch --no-tags --force"), "annotated tag object"),
        (lambda d: [_drop_run(d, "gate", "ci/gate.py release-identity", "echo")
                    for _ in range(2)], "check the release identity"),
        (lambda d: _drop_run(d, "gate", "--output evidence/release-identity.json", ""),
         "identity report in the evidence"),
        (lambda d: _drop_step(d, "gate", "aksara_release.matrix_proof"), "matrix"),
        (lambda d: _drop_run(d, "gate", "--expect-identity", ""), "names this release"),
        (lambda d: [s.get("env", {}).pop("REQUIRE_SIGNED_TAGS", None)
                    for s in steps(d["jobs"]["gate"])], "AKSARA_REQUIRE_SIGNED_TAGS"),
        (lambda d: d["jobs"]["gate"]["outputs"].pop("artifact-id"), "artifact id"),
        (lambda d: _drop_run(d, "verify", "--expect-commit", ""), "'--expect-commit'"),
        (lambda d: d["jobs"]["verify"]["outputs"].pop("sdist-sha256"), "output sdist-sha256"),
        (lambda d: d["jobs"]["verify"].update(permissions={"contents": "write"}),
         "verify: needs no permission"),
        # The release and the post-publish check.
        (lambda d: d["jobs"].pop("release"), "jobs ['release'] are required"),
        (lambda d: d["jobs"]["release"].update(needs=["gate", "verify"]), "need pypi, attest"),
        (lambda d: _drop_run(d, "release", ".changelog.body", "'.x'"), ".changelog.body"),
        (lambda d: d["jobs"].pop("post-publish"), "['post-publish'] are required"),
        (lambda d: _drop_run(d, "post-publish", "$WHEEL_SHA256", "$X"), "'$WHEEL_SHA256'"),
        (lambda d: d["jobs"]["post-publish"].update(needs=["verify"]), "after the pypi job"),
    ],
)
def test_a_weakened_publish_workflow_is_reported(
    publish_doc: dict[str, Any], mutate: Any, expected: str
) -> None:
    publish_doc = _with_on_key(publish_doc)
    assert problems_publish_workflow(publish_doc) == []
    mutate(publish_doc)
    problems = problems_publish_workflow(publish_doc)
    assert any(expected in p for p in problems), problems


def test_a_digest_check_after_the_publish_step_does_not_count(publish_doc: dict[str, Any]) -> None:
    publish_doc = _with_on_key(publish_doc)
    job = publish_doc["jobs"]["pypi"]
    at = index_of(job, lambda s: action_of(s) == PUBLISH_ACTION)
    job["steps"] = [job["steps"][0], job["steps"][at], *job["steps"][1:at]]  # publish, then check
    assert any("pypi: no step compares" in p for p in problems_publish_workflow(publish_doc))


def test_commands_sees_every_simple_command() -> None:
    script = "set -eu\nA=1 printf '%s' x \\\n  y | sha256sum -c\nif [ -f x ]; then cp a b; fi\n"
    assert commands(script) == ["set", "printf", "sha256sum", "[", "cp"]
    assert commands("echo $(./run.sh) `id`") == ["echo", "./run.sh", "id"]
    assert commands("if ! python -c 1; then exit; fi") == ["python", "exit"]


def test_a_dagger_export_without_wipe_is_reported(publish_doc: dict[str, Any]) -> None:
    _drop_run(publish_doc, "gate", "--path=./evidence --wipe", "--path=./evidence")
    assert problems_export_wipe(publish_doc, "publish.yml") == [
        "publish.yml:gate: dagger export without --wipe"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["on"].pop("schedule"), "triggers must be schedule"),
        (lambda d: d["on"].update(schedule=[{"cron": "0 5 * * *"}]), "once a week"),
        (lambda d: d["jobs"]["audit"]["steps"][-1].update(run="dagger call unit-tests"),
         "dependency-audit stage"),
        (lambda d: d["jobs"]["audit"]["strategy"]["matrix"].update(ref=["main"]),
         "main and the latest release tag"),
    ],
)
def test_a_weakened_scheduled_audit_is_reported(
    audit_doc: dict[str, Any], mutate: Any, expected: str
) -> None:
    audit_doc = _with_on_key(audit_doc)
    mutate(audit_doc)
    problems = problems_scheduled_audit(audit_doc)
    assert any(expected in p for p in problems), problems


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
