"""Judges that compare a report with the environment it describes: pip-audit's JSON
and the CycloneDX SBOM against the wheel-only environment (``{work}/target``).

Why ask the target interpreter: "0 dependencies audited" and an SBOM of direct
dependencies only both look clean. The truth is what is installed there, so the
judge lists ``importlib.metadata.distributions()`` *in that interpreter* and demands
(1) the package's requirements are installed, transitively (a ``--no-deps`` in the
install step leaves them out), (2) every installed distribution was audited and is an
SBOM component with its version.

``packaging`` evaluates markers (pip-audit and cyclonedx-python-lib depend on it, so
the stages that run these judges have it).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aksara_release import locks
from aksara_release.judges import Finding, JudgeError, Judgement, one_line
from aksara_release.judges.reports import read_json, read_text

#: A venv's own installer, not a dependency of the wheel: never expected in the audit.
#: (The gate's wheel-only environment is made ``--without-pip``; an SBOM lists whatever
#: is installed.)
BOOTSTRAP = frozenset({"pip", "setuptools", "wheel", "distribute"})

_LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m, json; "
    "print(json.dumps([{'name': d.metadata['Name'], 'version': d.version, "
    "'requires': list(d.requires or [])} for d in m.distributions()]))"
)


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Distribution:
    name: str  # canonical
    version: str
    requires: tuple[str, ...]


#: uv's line for each distribution it installed: `` + name==version``.
_INSTALLED = re.compile(r"^ \+ (\S+)==\S+", re.MULTILINE)


def judge_install(output: str, requirements: str | None) -> Judgement:
    """An install from a hash-pinned file (``dist/wheel-env.txt``): a download whose
    hash is not the file's is a finding naming the distribution (the exit code alone
    cannot say which); ``installed`` counts what uv installed."""
    judgement = Judgement()
    where = Path(requirements).name if requirements else "the requirements"
    for item in locks.hash_mismatches(output):
        judgement.findings.append(Finding(
            rule="hash-mismatch", location=item,
            message=f"the download does not match the hash in {where}"))
    judgement.counts["installed"] = len(_INSTALLED.findall(output))
    return judgement


def installed_distributions(python: str) -> dict[str, Distribution]:
    """Every distribution installed for interpreter ``python`` (canonical name -> it)."""
    try:
        proc = subprocess.run([python, "-I", "-c", _LIST_DISTRIBUTIONS], capture_output=True,
                              text=True, check=False, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        raise JudgeError(f"cannot run the target interpreter {python} "
                         f"({exc.__class__.__name__})") from None
    if proc.returncode != 0:
        raise JudgeError(f"the target interpreter {python} failed: {one_line(proc.stderr)}")
    try:
        items = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise JudgeError(f"the target interpreter {python} printed no distribution list"
                         ) from None
    found: dict[str, Distribution] = {}
    for item in items:
        if item.get("name"):
            name = canonical_name(str(item["name"]))
            found[name] = Distribution(name, str(item["version"]), tuple(item["requires"]))
    return found


def missing_requirements(installed: Mapping[str, Distribution], package: str) -> list[str]:
    """Requirements of ``package`` (transitively, extras followed) not installed.

    Each entry reads ``<name> (required by <dist>)``; empty when the closure holds.
    """
    from packaging.requirements import (  # type: ignore[import-not-found,unused-ignore]
        InvalidRequirement,
        Requirement,
    )

    root = canonical_name(package)
    if root not in installed:
        return [f"{root} (the package itself)"]
    missing: list[str] = []
    seen: set[tuple[str, frozenset[str]]] = set()
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        dist = installed[name]
        for line in dist.requires:
            try:
                req = Requirement(line)
            except InvalidRequirement:
                raise JudgeError(f"{dist.name}: invalid requirement {line!r}") from None
            applies = req.marker is None or any(
                req.marker.evaluate({"extra": extra}) for extra in (*sorted(extras), "")
            )
            if not applies:
                continue
            dep = canonical_name(req.name)
            if dep not in installed:
                missing.append(f"{dep} (required by {dist.name})")
                continue
            todo.append((dep, frozenset(req.extras)))
    return sorted(set(missing))


def _advisory(vuln: Mapping[str, Any]) -> str:
    """The advisory id as reported, GHSA or PYSEC preferred over a bare CVE."""
    ids = [str(vuln.get("id", ""))] + [str(a) for a in vuln.get("aliases", []) or []]
    for prefix in ("GHSA-", "PYSEC-"):
        for value in ids:
            if value.startswith(prefix):
                return value
    return ids[0] or "unknown-advisory"


def judge_pip_audit(path: str, *, target_python: str, package: str) -> Judgement:
    """Vulnerabilities are findings (package, version, advisory id, fix versions); a
    skipped dependency, one missing from the report, or a requirement missing from the
    environment is a problem; ``dependencies_audited`` must equal the installed
    distributions minus the package and :data:`BOOTSTRAP`."""
    installed = installed_distributions(target_python)
    judgement = Judgement(examined="dependencies_audited")
    # First what the environment lacks: it explains an empty audit better than the audit.
    for item in missing_requirements(installed, package):
        judgement.problems.append(f"requirement {item} is not installed in the target "
                                  "environment")
    report = read_json(path)
    deps = report.get("dependencies") if isinstance(report, dict) else None
    if not isinstance(deps, list):
        raise JudgeError(f"report {Path(path).name} is not a pip-audit JSON report")
    expected = {n: d for n, d in installed.items()
                if n != canonical_name(package) and n not in BOOTSTRAP}
    audited: set[str] = set()
    for dep in deps:
        name = canonical_name(str(dep.get("name", "")))
        version = str(dep.get("version", "?"))
        if dep.get("skip_reason"):
            judgement.problems.append(f"{name} could not be audited: "
                                      f"{one_line(dep['skip_reason'], 160)}")
            continue
        audited.add(name)
        for vuln in dep.get("vulns", []) or []:
            fixes = ", ".join(vuln.get("fix_versions", []) or []) or "none"
            judgement.findings.append(Finding(
                rule=_advisory(vuln), location=f"{name}=={version}",
                message=f"known vulnerability (fixed in {fixes})"))
    for name in sorted(set(expected) - audited):
        judgement.problems.append(f"{name}=={expected[name].version} is installed but was "
                                  "not audited")
    for name in sorted(audited - set(expected)):
        judgement.problems.append(f"{name} was audited but is not installed in the target")
    judgement.counts.update(
        dependencies_installed=len(expected),
        dependencies_audited=len(audited),
        vulnerabilities=len(judgement.findings),
    )
    return judgement


def judge_cyclonedx(path: str, *, target_python: str, package: str) -> Judgement:
    """Schema-valid for its own spec version; every installed distribution of the
    target (transitive ones and the installer too) is a component with its version."""
    from cyclonedx.schema import SchemaVersion  # type: ignore[import-not-found,unused-ignore]
    from cyclonedx.validation.json import (  # type: ignore[import-not-found,unused-ignore]
        JsonStrictValidator,
    )

    text = read_text(path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JudgeError(f"report {Path(path).name} is not valid JSON (line {exc.lineno})"
                         ) from None
    spec = str(document.get("specVersion", "")) if isinstance(document, dict) else ""
    try:
        version = SchemaVersion.from_version(spec)
    except ValueError:
        raise JudgeError(f"report {Path(path).name}: unsupported CycloneDX specVersion "
                         f"{spec!r}") from None
    judgement = Judgement(examined="components")
    error = JsonStrictValidator(version).validate_str(text)
    if error is not None:
        judgement.problems.append(f"not valid CycloneDX {spec} JSON: "
                                  f"{one_line(str(error), 240)}")
    raw = document.get("components", [])
    components: dict[str, set[str]] = {}
    for comp in raw if isinstance(raw, list) else []:
        if isinstance(comp, dict):
            components.setdefault(canonical_name(str(comp.get("name", ""))), set()).add(
                str(comp.get("version", "")))
    installed = installed_distributions(target_python)
    for name, dist in sorted(installed.items()):
        if name not in components:
            judgement.findings.append(Finding(
                rule="missing-component", location=f"{name}=={dist.version}",
                message="installed in the target environment but not in the SBOM"))
        elif dist.version not in components[name]:
            judgement.findings.append(Finding(
                rule="wrong-version", location=f"{name}=={dist.version}",
                message=f"the SBOM says {', '.join(sorted(components[name]))}"))
    for item in missing_requirements(installed, package):
        judgement.problems.append(f"requirement {item} is not installed in the target "
                                  "environment")
    judgement.counts.update(components=sum(len(v) for v in components.values()),
                            distributions_installed=len(installed),
                            findings=len(judgement.findings))
    return judgement


__all__ = [
    "BOOTSTRAP",
    "canonical_name",
    "installed_distributions",
    "judge_cyclonedx",
    "judge_install",
    "judge_pip_audit",
    "missing_requirements",
]
