"""database.tls judged on the connection that was made, against real servers.

Every reproduction of issue 16 item 1 runs twice: against the embedded PostgreSQL 18
(built without OpenSSL: TLS off) and against Debian's PostgreSQL with a throwaway
certificate (TLS on, see tlsserver.py). Each once passed ``database.tls`` because the
check read the URL's first ``sslmode`` and host; libpq reads the last, plus
``PGSSLMODE``, ``PGHOST``, service files, ``hostaddr`` and host lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

pytestmark = pytest.mark.db


@dataclass(frozen=True)
class Server:
    """One server under test and how to spell URLs for it."""

    tls: bool
    user: str
    password: str
    host: str
    port: int

    @property
    def auth(self) -> str:
        return f"{self.user}:{quote(self.password, safe='')}" if self.password else self.user

    def url(self, query: str = "") -> str:
        return f"postgresql://{self.auth}@{self.host}:{self.port}/postgres{query}"

    def hostless(self, query: str = "") -> str:
        """A URL without a host (libpq then reads host/hostaddr from elsewhere)."""
        return f"postgresql://{self.auth}@:{self.port}/postgres{query}"

    def no_host_no_port(self, query: str) -> str:
        return f"postgresql://{self.auth}@/postgres{query}"


@pytest.fixture(params=["tls-off", "tls-on"])
def server(request: pytest.FixtureRequest) -> Server:
    if request.param == "tls-off":
        admin_url = request.getfixturevalue("admin_url")
        with psycopg.connect(admin_url, sslmode="prefer") as conn:
            if conn.pgconn.ssl_in_use:  # a DATABASE_URL server with TLS: not this half
                pytest.skip("TLS-OFF HALF NOT RUN: the DATABASE_URL server negotiates TLS")
        info = psycopg.conninfo.conninfo_to_dict(admin_url)
        return Server(False, str(info["user"]), str(info.get("password", "")),
                      str(info.get("host", "127.0.0.1")), int(info.get("port", 5432)))
    tls = request.getfixturevalue("tls_server")
    return Server(True, "aksara", "", tls.host, tls.port)


def tls_check(run_cli: Any, env: dict[str, str], url: str,
              **extra: str) -> tuple[dict[str, Any], int]:
    result = run_cli("doctor", "production-check", "--format", "json", "--strict",
                     "--connect-timeout", "5", env={**env, "DATABASE_URL": url, **extra})
    assert result.err == ""
    return result.check("database.tls"), result.code


def service_file(tmp_path: Path, server: Server, sslmode: str) -> str:
    path = tmp_path / "pg_service.conf"
    path.write_text(f"[aksara_svc]\nhost={server.host}\nport={server.port}\n"
                    f"user={server.user}\ndbname=postgres\nsslmode={sslmode}\n")
    return str(path)


def _repro_urls(server: Server, tmp_path: Path,
                required: bool) -> dict[str, tuple[str, dict[str, str]]]:
    """Each reproduction: (URL, extra environment); ``required`` adds sslmode=require."""
    req = "&sslmode=require" if required else ""
    svc = service_file(tmp_path, server, "require" if required else "disable")
    password = {"PGPASSWORD": server.password} if server.password else {}
    return {
        "repeated sslmode, the last wins": (
            server.url("?sslmode=require&sslmode=disable" if not required
                       else "?sslmode=disable&sslmode=require"), {}),
        "service file under PGSSLMODE": (
            "postgresql:///postgres?service=aksara_svc",
            {"PGSERVICEFILE": svc, "PGSSLMODE": "disable" if required else "require",
             **password}),
        "hostaddr without host is TCP": (
            server.no_host_no_port(f"?hostaddr=127.0.0.1&port={server.port}{req}"), {}),
        "PGHOST with a host-less URL": (
            server.hostless("?sslmode=require" if required else ""),
            {"PGHOST": "127.0.0.1"}),
        "host list, the last host wins": (
            server.hostless(f"?host=/nonexistent&host=127.0.0.1{req}"), {}),
    }


REPRODUCTIONS = ["repeated sslmode, the last wins", "service file under PGSSLMODE",
                 "hostaddr without host is TCP", "PGHOST with a host-less URL",
                 "host list, the last host wins"]


@pytest.mark.parametrize("case", REPRODUCTIONS)
def test_reproductions_without_required_tls_fail(case: str, server: Server, run_cli: Any,
                                                 production_env: dict[str, str],
                                                 tmp_path: Path) -> None:
    url, extra = _repro_urls(server, tmp_path, required=False)[case]
    check, code = tls_check(run_cli, production_env, url, **extra)
    assert code == 1
    assert check["status"] == "fail", check  # never pass, never the Unix-socket warning
    assert f"127.0.0.1:{server.port}" in check["reason"]  # libpq's effective target
    if server.tls:
        # TLS happened to be negotiated (sslmode prefer) or was refused (disable):
        # either way TLS is not *required*, so an attacker could strip it.
        assert "sslmode is" in check["reason"]
        assert ("is not encrypted" in check["reason"]) == ("disable" in check["reason"])
    else:
        assert "is not encrypted" in check["reason"]


@pytest.mark.parametrize("case", REPRODUCTIONS)
def test_reproductions_with_required_tls_pass_only_when_tls_is_in_use(
    case: str, server: Server, run_cli: Any, production_env: dict[str, str], tmp_path: Path
) -> None:
    url, extra = _repro_urls(server, tmp_path, required=True)[case]
    check, code = tls_check(run_cli, production_env, url, **extra)
    assert code == 1  # PG 15 is below the supported minimum / PG 18 refuses TLS
    if server.tls:
        assert check["status"] == "pass", check
        assert f"127.0.0.1:{server.port}" in check["reason"]
        assert "uses TLS (TLSv1." in check["reason"] and "sslmode is require" in check["reason"]
    else:
        # The server has no TLS: libpq refuses to connect, so nothing can be observed.
        assert check["status"] == "not_evaluated", check


def test_verify_full_with_the_fixture_certificate_passes_as_verified(
    tls_server: Any, run_cli: Any, production_env: dict[str, str]
) -> None:
    url = (f"postgresql://aksara@localhost:{tls_server.port}/postgres"
           f"?sslmode=verify-full&sslrootcert={tls_server.root_cert}")
    check, _ = tls_check(run_cli, production_env, url)
    assert check["status"] == "pass", check
    assert "certificate is verified" in check["reason"]
    assert f"localhost:{tls_server.port} (address 127.0.0.1)" in check["reason"]


def test_unix_socket_warns_even_with_sslmode_require(
    tls_server: Any, run_cli: Any, production_env: dict[str, str]
) -> None:
    url = (f"postgresql://aksara@/postgres?host={quote(str(tls_server.socket_dir), safe='/')}"
           f"&port={tls_server.port}&sslmode=require")
    check, _ = tls_check(run_cli, production_env, url)
    assert check["status"] == "warn", check
    assert "Unix-domain socket" in check["reason"]


def test_text_output_names_the_effective_target(
    server: Server, run_cli: Any, production_env: dict[str, str]
) -> None:
    result = run_cli("doctor", "production-check", "--connect-timeout", "5",
                     env={**production_env,
                          "DATABASE_URL": server.url("?sslmode=verify-full&sslmode=prefer")})
    line = next(x for x in result.out.splitlines() if x.startswith("[FAIL] database.tls: "))
    assert f"127.0.0.1:{server.port}" in line and "sslmode is prefer" in line


def test_a_missing_tls_server_fails_where_required_and_skips_loudly_elsewhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import tlsserver

    monkeypatch.setattr(tlsserver, "DEBIAN_ROOT", tmp_path)  # no PostgreSQL installed here
    with pytest.raises(tlsserver.TLSServerUnavailable) as excinfo:
        tlsserver.find_bindir()
    assert "apt-get install -y postgresql" in str(excinfo.value)
    verdict, message = tlsserver.on_unavailable(str(excinfo.value), {tlsserver.REQUIRE_VAR: "1"})
    assert verdict == "fail" and "TLS-ON SERVER UNAVAILABLE" in message
    verdict, message = tlsserver.on_unavailable(str(excinfo.value), {"CI": "true"})
    assert verdict == "skip" and "TLS-ON SERVER UNAVAILABLE" in message
