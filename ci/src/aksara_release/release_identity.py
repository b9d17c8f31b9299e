"""Release identity: is ``vX.Y.Z`` really the release it claims to be?

One definition, three callers: ``python3 ci/gate.py release-identity --tag vX.Y.Z``
(a maintainer, before pushing the tag), the publish workflow (before anything is
built for PyPI) and the Dagger function ``release-identity``. Why a module and not
workflow shell: a check that lives only in YAML cannot be run before pushing, and
cannot be tested with planted faults.

The checks, each reported as passed / failed / error / skipped with a one-line
reason:

``tag-format``  the tag is ``v`` + a PEP 440 public version;
``version``     that version equals (PEP 440 normalised) the built wheel's
                ``Version:`` (``--wheel``) or the project's version;
``changelog``   ``CHANGELOG.md`` has exactly one anchored ``## [X.Y.Z] - YYYY-MM-DD``
                heading with a real calendar date (``Unreleased`` fails,
                ``### [X.Y.Z]`` fails);
``tag-commit``  the tag points at the commit being checked (``--commit``, default HEAD);
``signature``   when required (``--require-signed``): the tag is an annotated tag
                object named ``vX.Y.Z``, carrying an SSH signature that verifies
                against the allowed-signers file (``.github/allowed_signers``) through
                ``git verify-tag`` with ``gpg.format=ssh`` and
                ``gpg.ssh.allowedSignersFile``.

Exit codes: 0 every check passed; 1 a check failed; 2 bad usage (malformed tag,
missing wheel file); 3 a check could not be carried out (no git, not a repository,
unreadable file) and none failed. ``--output FILE`` writes the JSON report (schema
``aksara-release-identity/1``), which the publish workflow puts in the evidence.

Stdlib only (plus the ``git`` and ``ssh-keygen`` programs): it runs on a bare CI
runner before any environment exists.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import email.parser
import json
import re
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

PROG = "release-identity"
SCHEMA = "aksara-release-identity/1"
OK, FAILED, USAGE, ERROR = 0, 1, 2, 3
DEFAULT_ALLOWED_SIGNERS = ".github/allowed_signers"

CheckStatus = Literal["passed", "failed", "error", "skipped"]

#: A PEP 440 public version (no local part: PyPI refuses those), spelled loosely.
_VERSION = re.compile(
    r"""^
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?:[-_.]?(?P<pre_l>a|b|c|rc|alpha|beta|pre|preview)[-_.]?(?P<pre_n>[0-9]+)?)?
    (?:-(?P<post_n1>[0-9]+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?)?
    (?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
    $""",
    re.VERBOSE | re.IGNORECASE,
)
_PRE = {"a": "a", "alpha": "a", "b": "b", "beta": "b", "c": "rc", "rc": "rc", "pre": "rc",
        "preview": "rc"}
_SIGNATURE_MARKERS = {
    "-----BEGIN SSH SIGNATURE-----": "ssh",
    "-----BEGIN PGP SIGNATURE-----": "openpgp",
    "-----BEGIN SIGNED MESSAGE-----": "x509",
}


class UsageError(Exception):
    """Bad input: one line, exit 2."""


class CheckError(Exception):
    """A check that could not be carried out (exit 3 unless another check failed)."""


class CheckFailed(Exception):
    """A check that found a problem (exit 1)."""


def normalize_version(text: str) -> str:
    """The PEP 440 normal form of ``text`` (ValueError when it is not a public version)."""
    match = _VERSION.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a PEP 440 public version")
    parts = []
    if match["epoch"] and int(match["epoch"]):
        parts.append(f"{int(match['epoch'])}!")
    parts.append(".".join(str(int(n)) for n in match["release"].split(".")))
    if match["pre_l"]:
        parts.append(f"{_PRE[match['pre_l'].lower()]}{int(match['pre_n'] or 0)}")
    if match["post_n1"] or match["post_l"]:
        parts.append(f".post{int(match['post_n1'] or match['post_n2'] or 0)}")
    if match["dev_l"]:
        parts.append(f".dev{int(match['dev_n'] or 0)}")
    return "".join(parts)


def version_key(text: str) -> str:
    """Normal form with trailing zero release components dropped: PEP 440 equality
    (``1.0`` == ``1.0.0``)."""
    normal = normalize_version(text)
    match = re.match(r"^((?:\d+!)?)([\d.]+)(.*)$", normal)
    assert match is not None  # a normal form always starts with the release
    release = match.group(2).split(".")
    while len(release) > 1 and release[-1] == "0":
        release.pop()
    return f"{match.group(1)}{'.'.join(release)}{match.group(3)}"


def tag_version(tag: str) -> str:
    """The version a ``v<version>`` tag names (UsageError otherwise)."""
    if not tag.startswith("v") or len(tag) > 100:
        raise UsageError(f"tag {tag[:100]!r} is not of the form v<version> (e.g. v0.8.0)")
    try:
        return normalize_version(tag[1:])
    except ValueError:
        raise UsageError(
            f"tag {tag[:100]!r} is not v + a PEP 440 public version (e.g. v0.8.0)"
        ) from None


# --------------------------------------------------------------------------- the version


def wheel_version(wheel: Path) -> str:
    """``Version:`` from the wheel's ``*.dist-info/METADATA`` (what PyPI will show)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = [n for n in archive.namelist()
                     if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            if len(names) != 1:
                raise CheckError(f"{wheel.name}: expected one *.dist-info/METADATA, "
                                 f"found {len(names)}")
            metadata = archive.read(names[0]).decode("utf-8")
    except (OSError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        what = exc.__class__.__name__
        raise CheckError(f"{wheel.name}: cannot read the wheel ({what})") from None
    version = email.parser.HeaderParser().parsestr(metadata).get("Version")
    if not version:
        raise CheckError(f"{wheel.name}: METADATA has no Version")
    return str(version)


def _table(document: dict[str, Any], key: str) -> dict[str, Any]:
    """``document[key]`` when it is a table, else empty (a malformed pyproject.toml
    then reads as "no version declared", an error, not a crash)."""
    value = document.get(key)
    return value if isinstance(value, dict) else {}


def project_version(root: Path) -> str:
    """The version declared by the project: ``[project].version``, or the file that
    ``[tool.hatch.version].path`` names (``__version__ = "..."``)."""
    try:
        pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CheckError(f"pyproject.toml: cannot read ({exc.__class__.__name__})") from None
    project = _table(pyproject, "project")
    if isinstance(project.get("version"), str):
        return str(project["version"])
    path = _table(_table(_table(pyproject, "tool"), "hatch"), "version").get("path")
    if not isinstance(path, str):
        raise CheckError("pyproject.toml: no [project].version and no [tool.hatch.version].path")
    try:
        text = (root / path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckError(f"{path}: cannot read ({exc.__class__.__name__})") from None
    match = re.search(r"""^__version__\s*=\s*["']([^"']+)["']""", text, re.MULTILINE)
    if match is None:
        raise CheckError(f"{path}: no __version__ = \"...\" line")
    return match.group(1)


# --------------------------------------------------------------------------- the changelog

_ANY_HEADING = re.compile(r"^(?P<hashes>#+)\s*\[(?P<version>[^\]]+)\](?P<rest>.*)$")
_RELEASE_HEADING = re.compile(r"^## \[(?P<version>[^\]]+)\] - (?P<date>\d{4}-\d{2}-\d{2})\s*$")


@dataclass(frozen=True)
class ChangelogEntry:
    heading: str
    date: str
    body: str


def _same_version(label: str, version: str) -> bool:
    try:
        return version_key(label) == version_key(version)
    except ValueError:
        return False


def changelog_entry(text: str, version: str) -> ChangelogEntry:
    """The release entry for ``version``: exactly one anchored, dated ``## [v] - date``
    heading (CheckFailed with the reason otherwise)."""
    lines = text.splitlines()
    matching = [
        (i, m) for i, line in enumerate(lines)
        if (m := _ANY_HEADING.match(line)) and _same_version(m["version"], version)
    ]
    if not matching:
        raise CheckFailed(f"CHANGELOG.md has no '## [{version}] - YYYY-MM-DD' entry")
    releases = [(i, m) for i, m in matching if m["hashes"] == "##"]
    if not releases:
        found = lines[matching[0][0]].strip()
        raise CheckFailed(f"CHANGELOG.md: {found!r} is not a release heading; "
                          f"expected '## [{version}] - YYYY-MM-DD'")
    if len(releases) > 1:
        raise CheckFailed(f"CHANGELOG.md has {len(releases)} '## [{version}]' entries")
    index, heading = releases[0]
    line = lines[index].strip()
    if "unreleased" in heading["rest"].lower():
        raise CheckFailed(f"CHANGELOG.md: the entry for {version} is still 'Unreleased' "
                          f"({line!r}); give it the release date")
    dated = _RELEASE_HEADING.match(lines[index])
    if dated is None:
        raise CheckFailed(f"CHANGELOG.md: {line!r} is not of the form "
                          f"'## [{version}] - YYYY-MM-DD'")
    try:
        _dt.date.fromisoformat(dated["date"])
    except ValueError:
        raise CheckFailed(
            f"CHANGELOG.md: {dated['date']!r} in {line!r} is not a real date"
        ) from None
    body = []
    for later in lines[index + 1:]:
        if later.startswith("## ") or re.match(r"^\[[^\]]+\]: ", later):
            break
        body.append(later)
    return ChangelogEntry(heading=line, date=dated["date"], body="\n".join(body).strip() + "\n")


# --------------------------------------------------------------------------- git


def _git(repo: Path, *args: str, config: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
    argv = ["git"]
    for item in config:
        argv += ["-c", item]
    try:
        return subprocess.run(
            [*argv, "-C", str(repo), *args], capture_output=True, text=True, timeout=60,
            check=False,
        )
    except FileNotFoundError:
        raise CheckError("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise CheckError(f"git {args[0]} timed out") from None


def _rev(repo: Path, spec: str) -> str | None:
    proc = _git(repo, "rev-parse", "--verify", "--quiet", spec)
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def _read(path: Path, missing: str) -> str:
    """``path``'s text: a missing file fails the check with ``missing``; an unreadable
    one means the check could not be made (CheckError)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CheckFailed(missing) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckError(f"{path}: cannot read ({exc.__class__.__name__})") from None


def allowed_signer_entries(path: Path) -> list[str]:
    """Non-comment lines of an allowed-signers file (CheckError when unreadable)."""
    text = _read(path, f"{path.name}: no allowed-signers file at {path}")
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def verify_signature(repo: Path, tag: str, allowed_signers: Path) -> str:
    """The signer line of a good SSH signature on annotated tag ``tag`` (CheckFailed
    with the reason otherwise)."""
    kind = _git(repo, "cat-file", "-t", f"refs/tags/{tag}")
    if kind.returncode != 0:
        raise CheckFailed(f"tag {tag} does not exist in the repository")
    if kind.stdout.strip() != "tag":
        raise CheckFailed(
            f"{tag} is a lightweight tag (no tag object, so no signature); if it came from "
            f"actions/checkout, fetch it: git fetch --force origin "
            f"'refs/tags/{tag}:refs/tags/{tag}'; otherwise re-create it with git tag -s"
        )
    raw = _git(repo, "cat-file", "tag", f"refs/tags/{tag}")
    if raw.returncode != 0:
        raise CheckError(f"cannot read the tag object of {tag}")
    header = re.search(r"^tag (.+)$", raw.stdout, re.MULTILINE)
    if header is None or header.group(1) != tag:
        named = header.group(1) if header else "nothing"
        raise CheckFailed(f"the tag object under refs/tags/{tag} names {named!r}: "
                          "a tag object copied from another release")
    kinds = [name for marker, name in _SIGNATURE_MARKERS.items() if marker in raw.stdout]
    if not kinds:
        raise CheckFailed(f"{tag} is an unsigned annotated tag; sign it with git tag -s "
                          "(gpg.format=ssh)")
    if kinds != ["ssh"]:
        raise CheckFailed(f"{tag} carries a {kinds[0]} signature; releases are verified "
                          f"against SSH keys in {allowed_signers.name} (gpg.format=ssh)")
    if not allowed_signer_entries(allowed_signers):
        raise CheckFailed(f"{allowed_signers.name} lists no key: nobody may sign releases yet")
    proc = _git(
        repo, "verify-tag", "--raw", f"refs/tags/{tag}",
        config=("gpg.format=ssh", f"gpg.ssh.allowedSignersFile={allowed_signers.resolve()}"),
    )
    output = f"{proc.stdout}\n{proc.stderr}"
    good = re.search(r'^Good "git" signature for (?P<who>\S+) with (?P<key>.+)$', output, re.M)
    if proc.returncode == 0 and good:
        return f"{good['who']} ({good['key'].strip()})"
    if "No principal matched" in output or re.search(r'^Good "git" signature with', output, re.M):
        raise CheckFailed(f"{tag} is signed by a key that is not in {allowed_signers.name}")
    if "ssh-keygen" in output and ("not found" in output or "No such file" in output):
        raise CheckError("ssh-keygen is not installed (needed to verify SSH signatures)")
    last = next((line for line in reversed(output.strip().splitlines()) if line.strip()), "")
    raise CheckFailed(f"the signature of {tag} does not verify: {last.strip()[:200]}")


# --------------------------------------------------------------------------- the report


@dataclass
class Check:
    name: str
    status: CheckStatus
    detail: str


@dataclass
class Report:
    tag: str
    commit: str | None = None
    version: str | None = None
    version_source: str | None = None
    changelog: dict[str, str] | None = None
    signature_required: bool = False
    signer: str | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def verdict(self) -> Literal["pass", "fail", "error"]:
        statuses = {c.status for c in self.checks}
        if "failed" in statuses:
            return "fail"
        return "error" if "error" in statuses else "pass"

    @property
    def exit_code(self) -> int:
        return {"pass": OK, "fail": FAILED, "error": ERROR}[self.verdict]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["checks"] = [asdict(c) for c in self.checks]
        return {"schema": SCHEMA, "verdict": self.verdict, **data}

    def run(self, name: str, check: Any) -> Any:
        """Run one check; record passed / failed / error; return its value or None."""
        try:
            value, detail = check()
        except CheckFailed as exc:
            self.checks.append(Check(name, "failed", str(exc)))
            return None
        except CheckError as exc:
            self.checks.append(Check(name, "error", str(exc)))
            return None
        self.checks.append(Check(name, "passed", detail))
        return value


def check_release(
    repo: Path,
    tag: str,
    *,
    commit: str | None = None,
    wheel: Path | None = None,
    require_signed: bool = False,
    allowed_signers: Path | None = None,
    changelog: Path | None = None,
) -> Report:
    """Every release-identity check of ``tag`` in ``repo`` (UsageError on bad input)."""
    wanted = tag_version(tag)
    if wheel is not None and not wheel.is_file():
        raise UsageError(f"--wheel {wheel}: no such file")
    repo = repo.resolve()
    report = Report(tag=tag, signature_required=require_signed)
    report.checks.append(Check("tag-format", "passed", f"{tag} names version {wanted}"))

    def version() -> tuple[str, str]:
        found = wheel_version(wheel) if wheel is not None else project_version(repo)
        report.version_source = f"wheel {wheel.name}" if wheel is not None else "project"
        report.version = found
        try:
            same = version_key(found) == version_key(wanted)
        except ValueError:
            raise CheckFailed(f"the package version {found!r} is not a PEP 440 version") from None
        if not same:
            raise CheckFailed(f"tag {tag} names {wanted}, but the {report.version_source} "
                              f"version is {found}")
        return found, f"{report.version_source} version {found} matches {tag}"

    package = report.run("version", version)

    def entry() -> tuple[ChangelogEntry, str]:
        path = changelog or repo / "CHANGELOG.md"
        text = _read(path, f"{path.name}: missing")
        found = changelog_entry(text, package or wanted)
        report.changelog = {"heading": found.heading, "date": found.date, "body": found.body}
        return found, f"{found.heading!r}"

    report.run("changelog", entry)

    def points_at() -> tuple[str, str]:
        if _rev(repo, "HEAD") is None and _git(repo, "rev-parse", "--git-dir").returncode != 0:
            raise CheckError(f"{repo} is not a git repository")
        target = _rev(repo, f"refs/tags/{tag}^{{commit}}")
        if target is None:
            raise CheckFailed(f"tag {tag} does not exist in the repository")
        expected = _rev(repo, f"{commit}^{{commit}}") if commit else _rev(repo, "HEAD")
        if expected is None:
            raise CheckFailed(f"commit {commit or 'HEAD'} does not exist in the repository")
        report.commit = expected
        if target != expected:
            raise CheckFailed(f"tag {tag} points at {target[:12]}, not at the commit being "
                              f"checked ({expected[:12]})")
        return target, f"{tag} points at {target}"

    report.run("tag-commit", points_at)

    if require_signed:
        signers = allowed_signers or repo / DEFAULT_ALLOWED_SIGNERS

        def signature() -> tuple[str, str]:
            signer = verify_signature(repo, tag, signers)
            report.signer = signer
            return signer, f"good SSH signature by {signer} (listed in {signers.name})"

        report.run("signature", signature)
    else:
        report.checks.append(Check("signature", "skipped",
                                   "signing not required (--require-signed not given)"))
    return report


# --------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options, shared by ``ci/gate.py release-identity`` and ``python -m``."""
    parser.add_argument("--tag", required=True, help="the release tag, vX.Y.Z")
    parser.add_argument("--repo", type=Path, default=Path.cwd(),
                        help="the git repository (default: the current directory)")
    parser.add_argument("--commit", default=None,
                        help="the commit the tag must point at (default: HEAD)")
    parser.add_argument("--wheel", type=Path, default=None,
                        help="the built wheel whose version the tag must name "
                             "(default: the project's declared version)")
    parser.add_argument("--require-signed", action="store_true",
                        help="the tag must carry an SSH signature by a key in the "
                             "allowed-signers file")
    parser.add_argument("--allowed-signers", type=Path, default=None,
                        help=f"allowed-signers file (default: <repo>/{DEFAULT_ALLOWED_SIGNERS})")
    parser.add_argument("--output", type=Path, default=None,
                        help="write the JSON report here (for the evidence bundle)")


def run(args: argparse.Namespace) -> int:
    """Run the checks, print one line per check, write the report; the exit code."""
    try:
        report = check_release(
            args.repo, args.tag, commit=args.commit, wheel=args.wheel,
            require_signed=args.require_signed, allowed_signers=args.allowed_signers,
        )
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return USAGE
    for check in report.checks:
        stream = sys.stdout if check.status in ("passed", "skipped") else sys.stderr
        print(f"{PROG}: {check.name}: {check.status}: {check.detail}", file=stream)
    if args.output is not None:
        try:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"{PROG}: error: cannot write {args.output} ({exc.__class__.__name__})",
                  file=sys.stderr)
            return ERROR
    word = {"pass": "OK", "fail": "FAILED", "error": "ERROR (could not check)"}[report.verdict]
    stream = sys.stdout if report.verdict == "pass" else sys.stderr
    print(f"{PROG}: {word}: {args.tag}", file=stream)
    return report.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description="Check a release tag's identity")
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return USAGE if exc.code else OK
    try:
        return run(args)
    except Exception as exc:  # noqa: BLE001 - the boundary: one line, no traceback
        print(f"{PROG}: internal error: {exc.__class__.__name__}: {exc}"[:300], file=sys.stderr)
        return 70


if __name__ == "__main__":
    raise SystemExit(main())
