"""The password never appears in any output: unreachable servers, bad passwords, SQL errors.

(Every other test in this directory checks the same rule on each CLI call through the
``Aksara`` helper; these scenarios aim at the paths most likely to leak.)
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from importlib import resources
from urllib.parse import urlsplit, urlunsplit

import jsonschema
import pytest

from aksara.dburl import MASK

pytestmark = pytest.mark.db

WRONG = "Wr0ng-Pa55word-Never-Printed"


def _with_password(url: str, password: str, port: int | None = None) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{password}@{parts.hostname}:{port or parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture()
def closed_port() -> Iterator[int]:
    """A port nothing listens on, for as long as the test runs.

    The socket stays bound (but never listens), so a connection is refused and no other
    process can take the port meanwhile: no bind-and-release race under parallel runs.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture()
def one(aksara):
    aksara.write("1_t.sql", "CREATE TABLE t (id int);\n")
    aksara.secrets.append(WRONG)
    return aksara


@pytest.mark.parametrize("command", ["migrate", "status"])
def test_unreachable_server_exit_3_without_password(one, command, closed_port) -> None:
    url = _with_password(one.url, WRONG, port=closed_port)
    result = one.run(command, url=url)
    assert result.returncode == 3
    assert result.stderr.startswith("aksara: error: cannot connect to postgresql://")
    assert f":{MASK}@" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    doc = one.run(command, "--format", "json", url=url).json()
    assert doc["status"] == "error" and doc["exit_code"] == 3
    schema = resources.files("aksara.migrations").joinpath("schemas/migrate.schema.json")
    jsonschema.validate(doc, json.loads(schema.read_text()))


def test_wrong_password_exit_3_without_either_password(one) -> None:
    result = one.run_process("migrate", url=_with_password(one.url, WRONG))
    if result.returncode == 0:
        pytest.skip("this server does not check passwords (trust authentication)")
    assert result.returncode == 3
    assert "password authentication failed" in result.stderr


def test_password_in_query_parameter_is_redacted(one, closed_port) -> None:
    parts = urlsplit(one.url)
    url = urlunsplit(
        parts._replace(
            netloc=f"{parts.hostname}:{closed_port}",
            query=f"user={parts.username}&password={WRONG}",
        )
    )
    result = one.run("status", url=url)
    assert result.returncode == 3
    assert f"password={MASK}" in result.stderr


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://user:{WRONG}@localhost:notaport/db",
        f"mysql://user:{WRONG}@localhost/db",
        f"postgresql://user:{WRONG}@localhost/db#frag",
    ],
)
def test_malformed_url_exit_2_without_password(one, url) -> None:
    result = one.run("migrate", url=url)
    assert result.returncode == 2
    assert "database URL" in result.stderr


def test_sql_error_echoing_the_password_is_scrubbed(one) -> None:
    if one.secrets[0] == WRONG:
        pytest.skip("the test database URL carries no password")
    password = one.secrets[0]
    one.write("2_echo.sql", f"SELECT '{password}'::int;\n")
    for fmt in ("text", "json"):
        result = one.run("migrate", "--format", fmt)
        assert result.returncode == 6
        assert "invalid input syntax for type integer" in result.stderr
        assert MASK in result.stderr


def test_no_database_url_is_a_usage_error(one) -> None:
    result = one.run("status", extra_env={"AKSARA_DATABASE_URL": ""})
    assert result.returncode == 2
    assert "no database URL" in result.stderr
