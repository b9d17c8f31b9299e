"""``release-identity`` on real tags in a scratch repository, signed with real SSH keys.

Why real: the check's value is in what ``git verify-tag`` and ``ssh-keygen`` decide
(a key not in the allowed-signers file, a lightweight tag, a tag object copied under
another name). Each test plants one fault in a repository that otherwise passes and
asserts the one-line reason and the exit code.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aksara_release import release_identity as ri

ROOT = Path(__file__).resolve().parents[2]
DATED = "## [0.8.0] - 2026-12-01"


@dataclass
class Repo:
    path: Path
    listed_key: Path
    unlisted_key: Path

    def git(self, *args: str, key: Path | None = None) -> str:
        config = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}"] if key else []
        proc = subprocess.run(["git", *config, "-C", str(self.path), *args],
                              capture_output=True, text=True, check=True)
        return proc.stdout.strip()

    def commit(self, changelog_heading: str = DATED, version: str = "0.8.0") -> str:
        (self.path / "pyproject.toml").write_text(
            f'[project]\nname = "demo"\nversion = "{version}"\n', encoding="utf-8"
        )
        (self.path / "CHANGELOG.md").write_text(
            f"# Changelog\n\n{changelog_heading}\n\n### Added\n\n- Things.\n\n"
            "## [0.7.0] - 2026-01-02\n\n- Older.\n", encoding="utf-8")
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", f"release {version}")
        return self.git("rev-parse", "HEAD")

    def signed_tag(self, tag: str = "v0.8.0", key: Path | None = None) -> None:
        self.git("tag", "-s", tag, "-m", f"Aksara {tag}", key=key or self.listed_key)


def _keygen(path: Path, comment: str) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f",
                    str(path)], check=True)
    return path


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repo]:
    empty = tmp_path / "gitconfig"
    empty.write_text("", encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    path = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    for item in ("user.name=Release Maintainer", "user.email=maintainer@example.invalid"):
        key, value = item.split("=", 1)
        subprocess.run(["git", "-C", str(path), "config", key, value], check=True)
    listed = _keygen(tmp_path / "maintainer", "maintainer")
    unlisted = _keygen(tmp_path / "stranger", "stranger")
    (path / ".github").mkdir()
    public = (tmp_path / "maintainer.pub").read_text(encoding="utf-8").strip()
    (path / ".github" / "allowed_signers").write_text(
        f"# who may sign release tags\nmaintainer@example.invalid namespaces=\"git\" {public}\n",
        encoding="utf-8")
    yield Repo(path, listed, unlisted)


def run(repo: Repo, *args: str, tag: str = "v0.8.0") -> tuple[int, dict[str, object] | None]:
    out = repo.path.parent / "identity.json"
    out.unlink(missing_ok=True)
    code = ri.main(["--repo", str(repo.path), "--tag", tag, "--output", str(out), *args])
    report = json.loads(out.read_text(encoding="utf-8")) if out.exists() else None
    return code, report


def failed(report: dict[str, object] | None) -> dict[str, str]:
    assert report is not None
    return {c["name"]: c["detail"] for c in report["checks"]  # type: ignore[attr-defined]
            if c["status"] == "failed"}


# --------------------------------------------------------------------------- passes


def test_a_signed_dated_matching_tag_passes(repo: Repo) -> None:
    commit = repo.commit()
    repo.signed_tag()
    code, report = run(repo, "--require-signed", "--commit", commit)
    assert code == ri.OK, report
    assert report is not None and report["verdict"] == "pass"
    assert report["schema"] == ri.SCHEMA
    assert report["commit"] == commit and report["version"] == "0.8.0"
    assert "maintainer@example.invalid" in str(report["signer"])
    assert report["changelog"]["date"] == "2026-12-01"  # type: ignore[index]
    assert "- Things." in report["changelog"]["body"]  # type: ignore[index]
    assert "Older" not in report["changelog"]["body"]  # type: ignore[index]
    assert [c["status"] for c in report["checks"]] == ["passed"] * 5  # type: ignore[attr-defined]


def test_gate_py_runs_it_without_any_environment(repo: Repo, tmp_path: Path) -> None:
    repo.commit()
    repo.signed_tag()
    out = tmp_path / "ev" / "release-identity.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "ci" / "gate.py"), "release-identity", "--tag", "v0.8.0",
         "--repo", str(repo.path), "--require-signed", "--output", str(out)],
        capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "release-identity: OK: v0.8.0" in proc.stdout
    assert json.loads(out.read_text(encoding="utf-8"))["verdict"] == "pass"


def test_unsigned_tags_pass_when_signing_is_not_required(repo: Repo) -> None:
    repo.commit()
    repo.git("tag", "-a", "v0.8.0", "-m", "unsigned")
    code, report = run(repo)
    assert code == ri.OK
    assert report is not None and report["checks"][-1]["status"] == "skipped"  # type: ignore[index]


def test_the_version_comes_from_the_wheel_when_given(repo: Repo, tmp_path: Path) -> None:
    repo.commit()
    repo.signed_tag()
    wheel = tmp_path / "demo-0.8.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("demo-0.8.0.dist-info/METADATA",
                         "Metadata-Version: 2.4\nName: demo\nVersion: 0.8.0\n")
    assert run(repo, "--wheel", str(wheel))[0] == ri.OK
    other = tmp_path / "demo-0.9.0-py3-none-any.whl"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("demo-0.9.0.dist-info/METADATA",
                         "Metadata-Version: 2.4\nName: demo\nVersion: 0.9.0\n")
    code, report = run(repo, "--wheel", str(other))
    assert code == ri.FAILED
    assert failed(report)["version"] == (
        "tag v0.8.0 names 0.8.0, but the wheel demo-0.9.0-py3-none-any.whl version is 0.9.0")


# --------------------------------------------------------------------------- planted faults


@pytest.mark.parametrize(
    ("heading", "reason"),
    [
        ("## [0.8.0] - Unreleased", "the entry for 0.8.0 is still 'Unreleased'"),
        ("### [0.8.0] - 2026-12-01", "'### [0.8.0] - 2026-12-01' is not a release heading"),
        ("## [0.8.0]", "is not of the form '## [0.8.0] - YYYY-MM-DD'"),
        ("## [0.8.0] - 2026-02-30", "'2026-02-30' in '## [0.8.0] - 2026-02-30' is not a real date"),
        ("## [0.8.1] - 2026-12-01", "CHANGELOG.md has no '## [0.8.0] - YYYY-MM-DD' entry"),
        ("## [0.8.0] - 2026-12-01\n\n## [0.8.0] - 2026-12-02", "has 2 '## [0.8.0]' entries"),
    ],
)
def test_a_bad_changelog_entry_fails_with_its_reason(repo: Repo, heading: str, reason: str) -> None:
    repo.commit(changelog_heading=heading)
    repo.signed_tag()
    code, report = run(repo, "--require-signed")
    assert code == ri.FAILED
    assert set(failed(report)) == {"changelog"}
    assert reason in failed(report)["changelog"]


def test_a_version_mismatch_fails(repo: Repo) -> None:
    repo.commit(changelog_heading="## [0.9.0] - 2026-12-01")
    repo.signed_tag("v0.9.0")
    code, report = run(repo, "--require-signed", tag="v0.9.0")
    assert code == ri.FAILED
    # The changelog is then judged against the tag's version, which it does have.
    assert failed(report) == {
        "version": "tag v0.9.0 names 0.9.0, but the project version is 0.8.0",
    }


def test_an_unsigned_tag_fails_when_signing_is_required(repo: Repo) -> None:
    repo.commit()
    repo.git("tag", "-a", "v0.8.0", "-m", "unsigned")
    code, report = run(repo, "--require-signed")
    assert code == ri.FAILED
    assert failed(report) == {"signature": "v0.8.0 is an unsigned annotated tag; sign it with "
                                           "git tag -s (gpg.format=ssh)"}


def test_a_tag_signed_by_an_unlisted_key_fails(repo: Repo) -> None:
    repo.commit()
    repo.signed_tag(key=repo.unlisted_key)
    code, report = run(repo, "--require-signed")
    assert code == ri.FAILED
    assert failed(report) == {
        "signature": "v0.8.0 is signed by a key that is not in allowed_signers"}


def test_a_lightweight_tag_fails_when_signing_is_required(repo: Repo) -> None:
    repo.commit()
    repo.git("tag", "v0.8.0")
    code, report = run(repo, "--require-signed")
    assert code == ri.FAILED
    assert failed(report)["signature"].startswith("v0.8.0 is a lightweight tag")
    assert "git fetch --force origin 'refs/tags/v0.8.0:refs/tags/v0.8.0'" in (
        failed(report)["signature"])


def test_an_empty_allowed_signers_file_fails(repo: Repo) -> None:
    repo.commit()
    repo.signed_tag()
    (repo.path / ".github" / "allowed_signers").write_text("# nobody yet\n", encoding="utf-8")
    code, report = run(repo, "--require-signed")
    assert code == ri.FAILED
    assert failed(report) == {"signature": "allowed_signers lists no key: nobody may sign "
                                           "releases yet"}


def test_a_signed_tag_object_copied_to_another_name_fails(repo: Repo) -> None:
    repo.commit(changelog_heading="## [0.8.0] - 2026-12-01")
    repo.signed_tag("v0.8.0")
    # A good signature on v0.8.0, replayed under refs/tags/v0.8.0.post1.
    (repo.path / "CHANGELOG.md").write_text(
        "# Changelog\n\n## [0.8.0.post1] - 2026-12-02\n\n## [0.8.0] - 2026-12-01\n",
        encoding="utf-8")
    (repo.path / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "0.8.0.post1"\n',
                                              encoding="utf-8")
    obj = repo.git("rev-parse", "refs/tags/v0.8.0")
    repo.git("update-ref", "refs/tags/v0.8.0.post1", obj)
    code, report = run(repo, "--require-signed", tag="v0.8.0.post1")
    assert code == ri.FAILED
    assert failed(report)["signature"].startswith(
        "the tag object under refs/tags/v0.8.0.post1 names 'v0.8.0'")


def test_a_tag_on_another_commit_fails(repo: Repo) -> None:
    first = repo.commit()
    repo.signed_tag()
    second = repo.commit()  # HEAD moves on; the tag stays
    code, report = run(repo, "--require-signed")
    assert code == ri.FAILED
    assert failed(report) == {"tag-commit": f"tag v0.8.0 points at {first[:12]}, not at the "
                                            f"commit being checked ({second[:12]})"}
    assert run(repo, "--require-signed", "--commit", first)[0] == ri.OK


def test_a_missing_tag_fails(repo: Repo) -> None:
    repo.commit()
    code, report = run(repo, "--require-signed")
    assert code == ri.FAILED
    assert failed(report)["tag-commit"] == "tag v0.8.0 does not exist in the repository"


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("tag", ["0.8.0", "v0.8.0;rm -rf ~", "v0.8.0+local", "vnext", "v"])
def test_a_malformed_tag_is_a_usage_error(
    repo: Repo, tag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    repo.commit()
    code, report = run(repo, tag=tag)
    assert (code, report) == (ri.USAGE, None)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("release-identity: error: tag ")


def test_a_missing_wheel_is_a_usage_error(repo: Repo, capsys: pytest.CaptureFixture[str]) -> None:
    repo.commit()
    assert run(repo, "--wheel", "nowhere.whl")[0] == ri.USAGE
    assert "--wheel nowhere.whl: no such file" in capsys.readouterr().err


def test_outside_a_repository_the_commit_check_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "d"\nversion = "1.0"\n',
                                             encoding="utf-8")
    (tmp_path / "CHANGELOG.md").write_text("## [1.0.0] - 2026-01-01\n", encoding="utf-8")
    code = ri.main(["--repo", str(tmp_path), "--tag", "v1.0.0"])
    assert code == ri.ERROR


@pytest.mark.parametrize(
    ("text", "normal"),
    [("0.8.0", "0.8.0"), ("1.0RC1", "1.0rc1"), ("1.0-alpha.2", "1.0a2"), ("1.0c3", "1.0rc3"),
     ("2!1.0.post", "2!1.0.post0"), ("1.0-1", "1.0.post1"), ("01.02.0dev", "1.2.0.dev0"),
     ("0!1.0", "1.0")],
)
def test_versions_are_pep440_normalised(text: str, normal: str) -> None:
    assert ri.normalize_version(text) == normal


def test_pep440_equality_ignores_trailing_zeros() -> None:
    assert ri.version_key("0.8") == ri.version_key("0.8.0.0")
    assert ri.version_key("0.8.1") != ri.version_key("0.8.0")
    with pytest.raises(ValueError):
        ri.normalize_version("0.8.0+local")
