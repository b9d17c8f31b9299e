"""An application role without CREATE on the database migrates into an existing schema."""

from __future__ import annotations

import secrets
import uuid
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

pytestmark = pytest.mark.db


@pytest.fixture()
def app_role(aksara, cli_class):
    """A LOGIN role owning schema ``app``, with no CREATE privilege on the database."""
    name = f"aksara_app_{uuid.uuid4().hex[:8]}"
    password = secrets.token_urlsafe(16)
    with psycopg.connect(aksara.url, autocommit=True) as conn:
        dbname = conn.info.dbname
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(password)
            )
        )
        conn.execute(
            sql.SQL("REVOKE CREATE ON DATABASE {} FROM PUBLIC").format(sql.Identifier(dbname))
        )
        conn.execute(sql.SQL("CREATE SCHEMA app AUTHORIZATION {}").format(sql.Identifier(name)))
    parts = urlsplit(aksara.url)
    netloc = f"{quote(name)}:{quote(password, safe='')}@{parts.hostname}:{parts.port}"
    yield cli_class(urlunsplit(parts._replace(netloc=netloc)), aksara.dir)
    with psycopg.connect(aksara.url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA app CASCADE")
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_role_without_database_create_privilege(app_role) -> None:
    app_role.write("1_t.sql", "CREATE TABLE app.t (id int);\n")
    result = app_role.run("migrate", "--schema", "app", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert app_role.recorded_versions("app") == [1]
    assert app_role.scalar("SELECT applied_by = current_user FROM app.aksara_migrations")
    denied = app_role.run("migrate", "--schema", "elsewhere")
    assert denied.returncode == 2
    assert "cannot create the tracking table elsewhere.aksara_migrations" in denied.stderr
    assert "permission denied" in denied.stderr
