"""``release-identity`` where it cannot look or must refuse: broken wheels, versions
declared elsewhere, missing files, a tag signed with the wrong kind of key, a signature
that does not verify, no ssh-keygen, no git, bad arguments.

The same scratch repository and real SSH keys as ``test_release_identity.py``; each
test plants one fault and asserts the status (failed vs error), the reason and the
exit code. "failed" is a problem found; "error" is a check that could not be made.
"""

# ruff: noqa: F811 - the tests take the imported `repo` fixture as their parameter
from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from aksara_release import release_identity as ri
from test_release_identity import Repo, failed, repo, run  # noqa: F401 - `repo`: the fixture

SSH_SIG = re.compile(r"-----BEGIN SSH SIGNATURE-----.*-----END SSH SIGNATURE-----\n", re.S)


def errors(report: dict[str, object] | None) -> dict[str, str]:
    assert report is not None
    return {c["name"]: c["detail"] for c in report["checks"]  # type: ignore[attr-defined]
            if c["status"] == "error"}


def _wheel(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


# --------------------------------------------------------------------------- the version
@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"demo/__init__.py": ""}, "demo.whl: expected one *.dist-info/METADATA, found 0"),
        ({"a-1.dist-info/METADATA": "Version: 0.8.0\n", "b-1.dist-info/METADATA": "Version: 1\n"},
         "demo.whl: expected one *.dist-info/METADATA, found 2"),
        ({"demo-1.dist-info/METADATA": "Metadata-Version: 2.4\nName: demo\n"},
         "demo.whl: METADATA has no Version"),
        (None, "demo.whl: cannot read the wheel (BadZipFile)"),
    ],
)
def test_a_wheel_without_a_readable_version_is_an_error(
    repo: Repo, tmp_path: Path, files: dict[str, str] | None, reason: str
) -> None:
    repo.commit()
    repo.signed_tag()
    wheel = tmp_path / "demo.whl"
    if files is None:
        wheel.write_bytes(b"PK\x03\x04 truncated")
    else:
        _wheel(wheel, files)
    code, report = run(repo, "--wheel", str(wheel))
    assert code == ri.ERROR
    assert errors(report) == {"version": reason}
    assert failed(report) == {}  # the other checks still ran and passed


def test_a_wheel_version_that_is_not_pep440_fails(repo: Repo, tmp_path: Path) -> None:
    repo.commit()
    repo.signed_tag()
    wheel = _wheel(tmp_path / "demo.whl",
                   {"demo-1.dist-info/METADATA": "Name: demo\nVersion: banana\n"})
    code, report = run(repo, "--wheel", str(wheel))
    assert code == ri.FAILED
    assert failed(report)["version"] == "the package version 'banana' is not a PEP 440 version"


def _hatch_project(repo: Repo, version_file: str | None, text: str | None) -> None:
    repo.commit()
    body = '[project]\nname = "demo"\ndynamic = ["version"]\n'
    if version_file is not None:
        body += f'[tool.hatch.version]\npath = "{version_file}"\n'
    (repo.path / "pyproject.toml").write_text(body, encoding="utf-8")
    if text is not None:
        target = repo.path / "src" / "demo" / "__init__.py"
        target.parent.mkdir(parents=True)
        target.write_text(text, encoding="utf-8")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "dynamic version")
    repo.signed_tag()


def test_a_hatch_version_file_declares_the_version(repo: Repo) -> None:
    _hatch_project(repo, "src/demo/__init__.py", '"""Demo."""\n__version__ = "0.8.0"\n')
    code, report = run(repo, "--require-signed")
    assert code == ri.OK, report
    assert report is not None and report["version"] == "0.8.0"
    assert report["version_source"] == "project"


@pytest.mark.parametrize(
    ("version_file", "text", "reason"),
    [
        (None, None, "pyproject.toml: no [project].version and no [tool.hatch.version].path"),
        ("src/demo/__init__.py", None, "src/demo/__init__.py: cannot read (FileNotFoundError)"),
        ("src/demo/__init__.py", "VERSION = '0.8.0'\n",
         'src/demo/__init__.py: no __version__ = "..." line'),
    ],
)
def test_a_version_that_cannot_be_found_is_an_error(
    repo: Repo, version_file: str | None, text: str | None, reason: str
) -> None:
    _hatch_project(repo, version_file, text)
    code, report = run(repo)
    assert code == ri.ERROR
    assert errors(report) == {"version": reason}


@pytest.mark.parametrize("body", ['[project\nversion = "0.8.0"\n', "[tool]\nhatch = 3\n",
                                  'project = "demo"\n', '[tool.hatch]\nversion = "0.8.0"\n'])
def test_a_malformed_pyproject_is_an_error_not_a_crash(repo: Repo, body: str) -> None:
    repo.commit()
    (repo.path / "pyproject.toml").write_text(body, encoding="utf-8")
    repo.git("commit", "-q", "-am", "broken pyproject")
    repo.signed_tag()
    code, report = run(repo)
    assert code == ri.ERROR, report
    reason = errors(report)["version"]
    assert reason.startswith("pyproject.toml: "), reason


# --------------------------------------------------------------------------- the changelog
def test_a_missing_changelog_fails_and_an_unreadable_one_is_an_error(repo: Repo) -> None:
    repo.commit()
    repo.git("rm", "-q", "CHANGELOG.md")
    repo.git("commit", "-q", "-m", "no changelog")
    repo.signed_tag()
    code, report = run(repo)
    assert code == ri.FAILED
    assert failed(report) == {"changelog": "CHANGELOG.md: missing"}
    (repo.path / "CHANGELOG.md").mkdir()
    code, report = run(repo)
    assert code == ri.ERROR
    assert errors(report) == {
        "changelog": f"{repo.path / 'CHANGELOG.md'}: cannot read (IsADirectoryError)"}


def test_headings_that_are_not_versions_are_passed_over(repo: Repo) -> None:
    repo.commit(changelog_heading="## [Unreleased]\n\n- Next.\n\n## [0.8.0] - 2026-12-01")
    repo.signed_tag()
    code, report = run(repo)
    assert code == ri.OK, report
    assert report is not None and report["changelog"]["heading"] == "## [0.8.0] - 2026-12-01"  # type: ignore[index]


# --------------------------------------------------------------------------- the commit
def test_a_commit_that_does_not_exist_fails(repo: Repo) -> None:
    repo.commit()
    repo.signed_tag()
    code, report = run(repo, "--commit", "0" * 40)
    assert code == ri.FAILED
    assert failed(report) == {"tag-commit": f"commit {'0' * 40} does not exist in the repository"}


# --------------------------------------------------------------------------- the signature
def _replace_tag(repo: Repo, tag: str, text: str) -> None:
    """Point refs/tags/<tag> at a tag object made from ``text`` (git hash-object)."""
    proc = subprocess.run(["git", "-C", str(repo.path), "hash-object", "-t", "tag", "-w",
                           "--stdin"], input=text, capture_output=True, text=True, check=True)
    repo.git("update-ref", f"refs/tags/{tag}", proc.stdout.strip())


def test_a_tag_with_an_openpgp_signature_fails(repo: Repo) -> None:
    commit = repo.commit()
    text = (f"object {commit}\ntype commit\ntag v0.8.0\n"
            "tagger Release Maintainer <maintainer@example.invalid> 1764547200 +0000\n\n"
            "Aksara v0.8.0\n-----BEGIN PGP SIGNATURE-----\n\niQEz\n-----END PGP SIGNATURE-----\n")
    _replace_tag(repo, "v0.8.0", text)
    code, report = run(repo, "--require-signed")
    assert code == ri.FAILED
    assert failed(report) == {"signature": "v0.8.0 carries a openpgp signature; releases are "
                              "verified against SSH keys in allowed_signers (gpg.format=ssh)"}


def test_a_signature_over_other_content_does_not_verify(repo: Repo) -> None:
    repo.commit()
    repo.signed_tag()
    raw = repo.git("cat-file", "tag", "refs/tags/v0.8.0") + "\n"
    assert SSH_SIG.search(raw)
    _replace_tag(repo, "v0.8.0", raw.replace("Aksara v0.8.0", "Aksara v0.8.0 (edited)"))
    code, report = run(repo, "--require-signed")
    assert code == ri.FAILED
    reason = failed(report)["signature"]
    assert reason.startswith("the signature of v0.8.0 does not verify: "), reason


def _path_with(tmp_path: Path, *programs: str) -> str:
    """A PATH directory holding only ``programs`` (links to the real ones)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in programs:
        real = subprocess.run(["sh", "-c", f"command -v {name}"], capture_output=True, text=True,
                              check=True).stdout.strip()
        (bin_dir / name).symlink_to(real)
    return str(bin_dir)


def test_without_ssh_keygen_the_signature_cannot_be_checked(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.commit()
    repo.signed_tag()
    monkeypatch.setenv("PATH", _path_with(tmp_path, "git"))
    code, report = run(repo, "--require-signed")
    assert code == ri.ERROR, report
    assert errors(report) == {
        "signature": "ssh-keygen is not installed (needed to verify SSH signatures)"}


def test_without_git_every_git_check_is_an_error(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.commit()
    repo.signed_tag()
    monkeypatch.setenv("PATH", _path_with(tmp_path))
    code, report = run(repo, "--require-signed")
    assert code == ri.ERROR
    assert errors(report) == {"tag-commit": "git is not installed",
                              "signature": "git is not installed"}


# --------------------------------------------------------------------------- the command line
def test_an_unwritable_report_is_an_error(repo: Repo, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    repo.commit()
    repo.signed_tag()
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = ri.main(["--repo", str(repo.path), "--tag", "v0.8.0", "--output",
                    str(blocker / "identity.json")])
    assert code == ri.ERROR
    err = capsys.readouterr().err.splitlines()
    assert err == [f"release-identity: error: cannot write {blocker / 'identity.json'} "
                   "(FileExistsError)"]


def test_bad_arguments_exit_2_and_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert ri.main(["--tag"]) == ri.USAGE
    assert ri.main([]) == ri.USAGE
    assert "--tag" in capsys.readouterr().err
    assert ri.main(["--help"]) == ri.OK
    assert "--require-signed" in capsys.readouterr().out


def test_an_unexpected_exception_is_one_line(repo: Repo,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A NUL byte cannot reach argv from a shell, only from a caller in Python: the
    boundary still answers in one line, exit 70."""
    repo.commit()
    repo.signed_tag()
    code = ri.main(["--repo", str(repo.path), "--tag", "v0.8.0", "--commit", "HEAD\x00"])
    err = capsys.readouterr().err
    assert code == 70
    assert err.count("\n") == 1 and err.startswith("release-identity: internal error: ")
    assert "Traceback" not in err


def test_python_m_runs_the_same_checks(repo: Repo) -> None:
    repo.commit()
    env = {**os.environ, "PYTHONPATH": str(Path(ri.__file__).parents[1])}
    proc = subprocess.run([sys.executable, "-m", "aksara_release.release_identity", "--repo",
                           str(repo.path), "--tag", "v0.8.0"], capture_output=True, text=True,
                          env=env, check=False)
    assert proc.returncode == ri.FAILED
    assert "release-identity: tag-commit: failed: tag v0.8.0 does not exist" in proc.stderr
