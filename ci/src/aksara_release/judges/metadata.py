"""The README's declared content type must match the file (item 6 of issue 10).

Why: ``twine check`` renders the long description *as declared*. A Markdown README
declared ``text/x-rst`` that happens to parse as reStructuredText passes twine, and
PyPI shows it as plain text. The built sdist carries ``pyproject.toml`` (which names
the readme file); its ``PKG-INFO`` and the wheel's ``METADATA`` carry the declared
``Description-Content-Type``. Stdlib only (``tomllib``).
"""

from __future__ import annotations

import email.parser
import tarfile
import tomllib
import zipfile
from pathlib import PurePosixPath

from aksara_release.judges import Finding, JudgeError, Judgement

#: What a readme's suffix means (PEP 621: these are the suffixes with a known type).
CONTENT_TYPES = {".md": "text/markdown", ".markdown": "text/markdown", ".rst": "text/x-rst",
                 ".txt": "text/plain"}


def _content_type(metadata: str) -> str | None:
    message = email.parser.Parser().parsestr(metadata, headersonly=True)
    value = message.get("Description-Content-Type")
    return None if value is None else value.split(";", 1)[0].strip().lower()


def _sdist_files(sdist: str) -> tuple[str, str]:
    """(PKG-INFO, pyproject.toml) of the sdist's top directory."""
    try:
        with tarfile.open(sdist) as archive:
            members = {m.name: m for m in archive.getmembers() if m.isfile()}

            def read(name: str) -> str:
                top = [n for n in members if n.count("/") == 1 and n.endswith("/" + name)]
                if not top:
                    raise JudgeError(f"{PurePosixPath(sdist).name} has no {name}")
                handle = archive.extractfile(members[top[0]])
                assert handle is not None  # a regular file always has a handle
                return handle.read().decode("utf-8")

            return read("PKG-INFO"), read("pyproject.toml")
    except (OSError, tarfile.TarError) as exc:
        raise JudgeError(f"{sdist}: not a readable sdist ({exc.__class__.__name__})") from None


def _wheel_metadata(wheel: str) -> str:
    try:
        with zipfile.ZipFile(wheel) as archive:
            name = next(n for n in archive.namelist()
                        if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
            return archive.read(name).decode("utf-8")
    except (OSError, zipfile.BadZipFile, StopIteration):
        raise JudgeError(f"{wheel}: not a readable wheel") from None


def declared_readme(pyproject: str) -> tuple[str, str | None]:
    """(readme file, declared content type or None) from ``[project] readme``."""
    try:
        project = tomllib.loads(pyproject).get("project", {})
    except tomllib.TOMLDecodeError as exc:
        raise JudgeError(f"the sdist's pyproject.toml is invalid: {exc}") from None
    readme = project.get("readme")
    if isinstance(readme, str):
        return readme, None
    if isinstance(readme, dict) and isinstance(readme.get("file"), str):
        declared = readme.get("content-type")
        return readme["file"], None if declared is None else str(declared)
    raise JudgeError("pyproject.toml declares no readme file")


def judge_readme(wheel: str, sdist: str) -> Judgement:
    pkg_info, pyproject = _sdist_files(sdist)
    readme, _declared = declared_readme(pyproject)
    suffix = PurePosixPath(readme).suffix.lower()
    expected = CONTENT_TYPES.get(suffix)
    judgement = Judgement(examined="distributions")
    if expected is None:
        judgement.problems.append(f"readme {readme}: unknown suffix {suffix!r}")
        return judgement
    for label, metadata in (("wheel METADATA", _wheel_metadata(wheel)),
                            ("sdist PKG-INFO", pkg_info)):
        actual = _content_type(metadata)
        if actual != expected:
            judgement.findings.append(Finding(
                rule="readme-content-type", location=label,
                message=f"Description-Content-Type is {actual or 'missing'}, but the readme "
                f"{readme} is {expected}"))
    judgement.counts.update(distributions=2, findings=len(judgement.findings))
    return judgement


__all__ = ["CONTENT_TYPES", "declared_readme", "judge_readme"]
