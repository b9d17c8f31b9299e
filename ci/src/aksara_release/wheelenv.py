"""The wheel's runtime environment, resolved once per gate run: ``dist/wheel-env.txt``.

Why: ``dependency-audit`` and ``sbom`` both describe "the wheel and what it pulls in".
When each stage resolves the wheel's dependencies itself, the two can describe different
sets (a release uploaded to the index between them, another interpreter, a yanked
version), and neither set is fixed anywhere a release can point to. So the stage that
builds the wheel (``package-build``) resolves its runtime dependencies once, with the
pinned uv, into a hash-pinned requirements file next to the wheel::

    uv pip compile --no-config --no-python-downloads --quiet --generate-hashes --no-header
        --python <the stage's python> --no-emit-package <package> -   # <package> @ <wheel>

The package itself is left out (it is installed from the wheel, which has no index
hash). Both stages then build their target environment from exactly this file (uv
``--require-hashes --no-deps``, then the wheel with ``--no-deps``), pip-audit audits the
file, and the SBOM describes the environment built from it: one set, hash-checked,
described twice. A download that does not match a hash fails both stages naming the
distribution (``judges.environment.judge_install``).

The file is resolved for the stage's interpreter (the Dagger image's Python, the host
runner's): every stage of one run uses that interpreter, so markers are evaluated once.
For a given index state, interpreter and platform the output is the same bytes: uv's
header (which names paths) is replaced by a fixed one naming the wheel's digest, the
interpreter and uv's version. ``wheel-env.json`` in the stage's evidence records the
file's digest and the pinned set.

Usage: ``python -m aksara_release.wheelenv --dist DIR --record FILE`` (exit 0 written,
1 the resolution failed or is unusable, 2 bad input such as no single wheel in DIR).
Stdlib only: it runs in the package-build stage, the pinned ``uv`` on ``PATH``.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aksara_release import evidence, locks

#: The file name inside ``{dist}`` (both executors pass the whole directory on).
FILE = "wheel-env.txt"
#: The record in package-build's evidence.
RECORD = "wheel-env.json"
RECORD_KIND = "aksara-release-gate-wheel-env"
PROG = "aksara_release.wheelenv"

#: The resolution, minus the interpreter and the package to leave out.
COMPILE: tuple[str, ...] = (
    "uv", "pip", "compile", "--no-config", "--no-python-downloads", "--quiet",
    "--generate-hashes", "--no-header",
)

_WHEEL_NAME = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9._]*[A-Za-z0-9])?)-([^-]+)-")


class WheelEnvError(Exception):
    """Bad input (exit 2) or an unusable resolution (exit 1), as one line."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def find_wheel(dist: Path) -> Path:
    """The one wheel in ``dist`` (WheelEnvError, exit 2, otherwise)."""
    wheels = sorted(dist.glob("*.whl")) if dist.is_dir() else []
    if len(wheels) != 1:
        raise WheelEnvError(f"{dist}: expected one wheel, found {len(wheels)}", 2)
    return wheels[0]


def wheel_project(wheel: Path) -> str:
    """The canonical project name from the wheel's file name (PEP 427)."""
    match = _WHEEL_NAME.match(wheel.name)
    if match is None:
        raise WheelEnvError(f"{wheel.name}: not a wheel file name", 2)
    return locks.canonical(match.group(1))


def compile_argv(python: str, package: str) -> list[str]:
    """The uv command resolving ``<package> @ <wheel>`` (read from stdin)."""
    return [*COMPILE, "--python", python, "--no-emit-package", package, "-"]


def requirement_lines(text: str) -> list[str]:
    """The requirement lines of a requirements file (no comments, no ``--hash``)."""
    return [line for line in text.splitlines()
            if line.strip() and not line.startswith((" ", "\t", "#", "-"))]


def check_resolution(text: str, package: str) -> dict[str, str]:
    """The pinned set (name -> version) of a resolution; WheelEnvError when it holds
    the package itself, an unpinned requirement or a distribution without a hash."""
    pinned = locks.pins(text)
    if package in pinned:
        raise WheelEnvError(f"the resolution pins the package itself ({package})")
    unpinned = [line.split()[0] for line in requirement_lines(text)
                if "==" not in line.split()[0]]
    if unpinned:
        raise WheelEnvError(f"the resolution has requirements not pinned with ==: "
                            f"{', '.join(unpinned)}")
    unhashed = sorted(name for name, count in locks.hashed(text).items() if count == 0)
    if unhashed:
        raise WheelEnvError(f"the resolution has no hash for {', '.join(unhashed)}")
    return pinned


def _uv_version() -> str:
    try:
        done = subprocess.run(["uv", "--version"], capture_output=True, text=True, check=False)
    except OSError as exc:
        raise WheelEnvError(f"cannot run uv ({exc.strerror or exc})", 2) from None
    return done.stdout.split()[1] if len(done.stdout.split()) > 1 else "unknown"


def header(wheel: Path, wheel_sha256: str, uv_version: str) -> str:
    """The file's fixed header: what it was resolved for, with no path in it."""
    interpreter = f"{platform.python_implementation()} {platform.python_version()}"
    return (
        f"# {FILE}: the runtime dependencies of {wheel.name}\n"
        f"# (sha256 {wheel_sha256}), without the package itself,\n"
        f"# resolved once by the release gate's package-build stage for {interpreter} on\n"
        f"# {sysconfig.get_platform()} with uv {uv_version} (uv pip compile --generate-hashes).\n"
        "# dependency-audit and sbom install exactly this set (--require-hashes --no-deps)\n"
        "# and describe it. Do not edit.\n"
    )


def resolve(dist: Path, record: Path | None = None) -> Path:
    """Write ``dist/wheel-env.txt`` (and the record) for this interpreter (the stage's
    ``python``); returns the file's path."""
    wheel = find_wheel(dist)
    package = wheel_project(wheel)
    try:
        done = subprocess.run(
            compile_argv(sys.executable, package),
            input=f"{package} @ {wheel.resolve().as_uri()}\n",
            capture_output=True, text=True, check=False,
        )
    except OSError as exc:
        raise WheelEnvError(f"cannot run uv ({exc.strerror or exc})", 2) from None
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
        raise WheelEnvError(f"uv pip compile exited {done.returncode}: "
                            f"{lines[-1] if lines else 'no output'}")
    pinned = check_resolution(done.stdout, package)
    wheel_sha256 = evidence.sha256_file(wheel)
    target = dist / FILE
    tmp = target.with_suffix(".tmp")
    tmp.write_text(header(wheel, wheel_sha256, _uv_version()) + done.stdout, encoding="utf-8")
    tmp.replace(target)
    if record is not None:
        data: dict[str, Any] = {
            "kind": RECORD_KIND,
            "file": FILE,
            "sha256": evidence.sha256_file(target),
            "wheel": wheel.name,
            "wheel_sha256": wheel_sha256,
            "package": package,
            "python": platform.python_version(),
            "platform": sysconfig.get_platform(),
            "distributions": dict(sorted(pinned.items())),
        }
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {PROG}", description=__doc__.split("\n")[0])
    parser.add_argument("--dist", required=True, type=Path,
                        help="the directory holding the one built wheel; the file goes there")
    parser.add_argument("--record", type=Path, help="write the JSON record here")
    args = parser.parse_args(argv)
    try:
        path = resolve(args.dist, args.record)
    except WheelEnvError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return exc.code
    except OSError as exc:
        print(f"{PROG}: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    pinned = locks.pins(path.read_text(encoding="utf-8"))
    print(f"{PROG}: {path.name}: {len(pinned)} runtime dependencies pinned with hashes: "
          + (", ".join(f"{n}=={v}" for n, v in sorted(pinned.items())) or "none"),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
