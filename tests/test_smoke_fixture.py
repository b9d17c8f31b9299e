"""The DB fixtures give a real, isolated PostgreSQL database."""

import psycopg
import pytest


@pytest.mark.db
def test_database_url_is_a_real_isolated_database(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE only_here (id int)")
        version = conn.execute("SHOW server_version_num").fetchone()
    assert version is not None and int(version[0]) >= 140000
