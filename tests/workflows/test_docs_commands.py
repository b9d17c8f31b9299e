"""The commands the documentation tells readers to type still exist and still work.

Why: docs rot silently. A renamed Dagger function, a new gate stage without a
section on the release-gate page, a ``--only`` example that would skip its own
stage for want of ``package-build``, or a version bump without a changelog entry
(which the publish workflow refuses) should fail the tests, not a reader or a
release. Each rule returns its problems and is also run against a planted fault.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aksara_release import stages
from dagger_module import (
    MODULE_MAIN,
    DaggerCall,
    DaggerFunction,
    main_class_name,
    module_functions,
    parse_call,
    problems_dagger_calls,
)

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
RELEASE_GATE_PAGE = DOCS / "release-gate.md"
GETTING_STARTED = DOCS / "getting-started.md"
CHANGELOG = ROOT / "CHANGELOG.md"
PACKAGE_INIT = ROOT / "src" / "aksara" / "__init__.py"

#: ``dagger [-flags] call ...`` up to the end of the command (code span, comment, pipe).
DAGGER_CALL = re.compile(r"\bdagger(?:\s+-[\w-]+)*\s+call\s+(?P<rest>[^`\n#|;&]+)")
#: ``python3 ci/gate.py run --only a,b`` (also ``--only=a,b``).
GATE_ONLY = re.compile(r"ci/gate\.py run\b[^\n`]*?--only[ =](?P<names>[\w,-]+)")


def pages() -> list[Path]:
    found = sorted(DOCS.glob("*.md"))
    readme = ROOT / "README.md"
    return [*found, readme] if readme.is_file() else found


def calls_in(text: str, label: str) -> list[DaggerCall]:
    """Every ``dagger call`` in a page; placeholders such as ``<stage>`` are skipped."""
    calls = []
    for match in DAGGER_CALL.finditer(text):
        rest = match.group("rest").strip()
        if "<" in rest or "..." in rest:
            continue
        calls.append(parse_call(rest, label))
    return calls


def problems_only_examples(text: str, label: str) -> list[str]:
    """``--only`` names real stages, and brings ``package-build`` when a stage needs it."""
    by_name = {s.name: s for s in stages.build_stages()}
    problems = []
    for match in GATE_ONLY.finditer(text):
        if "[" in match.group(0):
            continue  # a usage synopsis: ``run [--only a,b]``
        names = [n for n in match.group("names").split(",") if n]
        for name in names:
            stage = by_name.get(name)
            if stage is None:
                problems.append(f"{label}: --only names unknown stage {name!r}")
            elif stage.needs_dist and "package-build" not in names:
                problems.append(f"{label}: --only {name} is skipped without package-build")
    return problems


def section(text: str, name: str) -> str | None:
    """The body of the ``### <name>`` section (up to the next heading of level 2 or 3)."""
    match = re.search(rf"^### {re.escape(name)}\s*$(?P<body>.*?)(?=^##)", text, re.M | re.S)
    return match.group("body") if match else None


def problems_stage_sections(text: str) -> list[str]:
    """Each stage: a section saying what it proves, how to run it on the host and in Dagger."""
    problems = []
    for stage in stages.build_stages():
        body = section(text, stage.name)
        if body is None:
            problems.append(f"release-gate.md: no '### {stage.name}' section")
            continue
        if "**Proves**" not in body:
            problems.append(f"release-gate.md: {stage.name} does not say what it proves")
        if not re.search(rf"--only [\w,-]*\b{re.escape(stage.name)}\b", body):
            problems.append(f"release-gate.md: {stage.name} lacks its host command")
        if f"dagger call {stage.name}`" not in body:
            problems.append(f"release-gate.md: {stage.name} lacks 'dagger call {stage.name}'")
    return problems


def problems_changelog(changelog: str, init: str) -> list[str]:
    """The package version has a ``## [<version>]`` entry (the publish workflow's rule)."""
    match = re.search(r'^__version__ = "([^"]+)"', init, re.M)
    if match is None:
        return ["src/aksara/__init__.py: no __version__"]
    version = match.group(1)
    if not re.search(rf"^## \[{re.escape(version)}\]", changelog, re.M):
        return [f"CHANGELOG.md: no '## [{version}]' entry for the package version"]
    return []


@pytest.fixture(scope="module")
def functions() -> dict[str, DaggerFunction]:
    assert MODULE_MAIN.is_file(), "the Dagger module (ci/src/aksara_release/main.py) is missing"
    return module_functions(MODULE_MAIN.read_text(encoding="utf-8"), main_class_name())


# --------------------------------------------------------------------------- the real docs


def test_every_documented_dagger_call_exists(functions: dict[str, DaggerFunction]) -> None:
    calls = [
        call for page in pages() for call in calls_in(page.read_text(encoding="utf-8"), page.name)
    ]
    assert {c.function for c in calls} >= {"release-gate", "stage-env"}
    assert problems_dagger_calls(calls, functions) == []


def test_every_documented_only_example_runs_its_stages() -> None:
    problems = [
        p
        for page in pages()
        for p in problems_only_examples(page.read_text(encoding="utf-8"), page.name)
    ]
    assert problems == []


def test_every_stage_is_documented_with_how_to_run_it() -> None:
    assert problems_stage_sections(RELEASE_GATE_PAGE.read_text(encoding="utf-8")) == []


def test_getting_started_gives_the_readme_commands() -> None:
    text = GETTING_STARTED.read_text(encoding="utf-8")
    for command in (
        "python3 ci/gate.py run",
        "python3 ci/gate.py test",
        "dagger call release-gate export --path=./evidence --wipe"
        " && python3 ci/gate.py verify ./evidence",
    ):
        assert command in text


def test_the_package_version_has_a_changelog_entry() -> None:
    assert (
        problems_changelog(
            CHANGELOG.read_text(encoding="utf-8"), PACKAGE_INIT.read_text(encoding="utf-8")
        )
        == []
    )


# --------------------------------------------------------------------------- planted faults


def test_a_documented_call_to_a_missing_function_is_reported(
    functions: dict[str, DaggerFunction],
) -> None:
    text = "```console\n$ dagger -i call unit-test\n$ dagger call stage-env --nme x terminal\n```"
    problems = problems_dagger_calls(calls_in(text, "page.md"), functions)
    assert any("'dagger call unit-test' is not a module function" in p for p in problems)
    assert any("stage-env has no argument --nme" in p for p in problems)
    assert calls_in("run `dagger call <stage>`", "page.md") == []


def test_an_only_example_without_package_build_is_reported() -> None:
    assert problems_only_examples("`python3 ci/gate.py run --only package-build,doctor`", "p") == []
    assert (
        "skipped without package-build"
        in problems_only_examples("$ python3 ci/gate.py run --only doctor", "p")[0]
    )
    assert "unknown stage 'docs'" in problems_only_examples("ci/gate.py run --only=docs", "p")[0]
    assert problems_only_examples("`python3 ci/gate.py run [--only a,b] [--skip c]`", "p") == []


def test_a_stage_missing_from_the_page_is_reported() -> None:
    text = RELEASE_GATE_PAGE.read_text(encoding="utf-8")
    body = section(text, "sbom")
    assert body is not None
    without = text.replace("### sbom", "### software bill of materials")
    assert "no '### sbom' section" in problems_stage_sections(without)[0]
    no_dagger = text.replace(body, body.replace("dagger call sbom", "dagger call sbom-gen"))
    assert any("lacks 'dagger call sbom'" in p for p in problems_stage_sections(no_dagger))


def test_a_version_without_a_changelog_entry_is_reported() -> None:
    init = '__version__ = "9.9.9"\n'
    assert "no '## [9.9.9]' entry" in problems_changelog("## [0.8.0] - Unreleased\n", init)[0]
    assert problems_changelog("# Changelog\n\n## [9.9.9] - 2026-12-01\n", init) == []
