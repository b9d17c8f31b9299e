"""Applying migrations: apply, re-run, --target, --dry-run, the tracking rows, JSON output."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import psycopg
import pytest

from aksara import __version__
from aksara.migrations.checksum import checksum_bytes

pytestmark = pytest.mark.db

THREE = {
    "0001_create_users.sql": "CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL);\n",
    "0002_seed_users.sql": (
        "INSERT INTO users VALUES (1, 'ada');\nINSERT INTO users VALUES (2, 'bob');\n"
    ),
    "0003_create_posts.sql": (
        "CREATE TABLE posts (\n  id int PRIMARY KEY,\n  user_id int REFERENCES users (id)\n);\n"
    ),
}


def _schema(name: str) -> dict:
    text = resources.files("aksara.migrations").joinpath(f"schemas/{name}").read_text()
    return json.loads(text)


@pytest.fixture()
def three(aksara):
    for name, text in THREE.items():
        aksara.write(name, text)
    return aksara


def test_apply_creates_objects_and_tracking_rows(three) -> None:
    result = three.run_process("migrate")  # the real `python -m aksara` process
    assert result.returncode == 0, result.stderr
    assert three.scalar("SELECT count(*) FROM users") == 2
    assert three.table_exists("posts")
    rows = three.query(
        "SELECT version, description, checksum, applied_at, execution_ms, applied_by,"
        " aksara_version, transactional, current_user FROM aksara_migrations ORDER BY version"
    )
    assert [r[0] for r in rows] == [1, 2, 3]
    for row, (name, text) in zip(rows, THREE.items(), strict=True):
        version, description, checksum, applied_at, ms, applied_by, version_str, tx, me = row
        assert name == f"000{version}_{description}.sql"
        assert checksum == checksum_bytes(text.encode())
        assert applied_at is not None and ms >= 0
        assert applied_by == me
        assert version_str == __version__
        assert tx is True


def test_rerun_is_a_no_op(three) -> None:
    assert three.run("migrate").returncode == 0
    before = three.query("SELECT version, applied_at FROM aksara_migrations ORDER BY version")
    again = three.run("migrate", "--format", "json")
    assert again.returncode == 0
    doc = again.json()
    assert doc["status"] == "up_to_date"
    assert doc["summary"]["applied"] == 0 and doc["summary"]["previously_applied"] == 3
    assert (
        three.query("SELECT version, applied_at FROM aksara_migrations ORDER BY version") == before
    )
    assert three.scalar("SELECT count(*) FROM users") == 2


def test_target_stops_at_that_version(three) -> None:
    result = three.run("migrate", "--target", "2", "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = result.json()
    assert [m["version"] for m in doc["migrations"]] == [1, 2]
    assert doc["summary"]["pending"] == 1
    assert three.recorded_versions() == [1, 2]
    assert not three.table_exists("posts")
    status = three.run("status")
    assert status.returncode == 4
    assert three.run("migrate").returncode == 0
    assert three.recorded_versions() == [1, 2, 3]


def test_target_that_is_no_migration_is_a_usage_error(three) -> None:
    result = three.run("migrate", "--target", "7")
    assert result.returncode == 2
    assert "--target 7" in result.stderr
    assert three.recorded_versions() == []


def test_dry_run_changes_nothing(three) -> None:
    result = three.run("migrate", "--dry-run", "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = result.json()
    jsonschema.validate(doc, _schema("migrate.schema.json"))
    assert doc["status"] == "planned" and doc["dry_run"] is True
    assert [m["action"] for m in doc["migrations"]] == ["planned"] * 3
    assert not three.table_exists("aksara_migrations")
    assert not three.table_exists("users")
    text = three.run("migrate", "--dry-run")
    assert "0001_create_users.sql" in text.stdout and "nothing was changed" in text.stdout
    assert not three.table_exists("aksara_migrations")


def test_dry_run_after_partial_apply_plans_only_pending(three) -> None:
    three.run("migrate", "--target", "1")
    doc = three.run("migrate", "--dry-run", "--format", "json").json()
    assert [m["version"] for m in doc["migrations"]] == [2, 3]
    assert three.recorded_versions() == [1]


def test_status_json_matches_schema_and_tracking(three) -> None:
    pending = three.run("status", "--format", "json")
    assert pending.returncode == 4
    doc = pending.json()
    jsonschema.validate(doc, _schema("status.schema.json"))
    assert doc["status"] == "pending" and doc["exit_code"] == 4
    assert doc["summary"] == {"total": 3, "applied": 0, "pending": 3, "drifted": 0, "missing": 0}
    migrate = three.run("migrate", "--format", "json")
    jsonschema.validate(migrate.json(), _schema("migrate.schema.json"))
    clean = three.run("status", "--format", "json")
    assert clean.returncode == 0
    doc = clean.json()
    jsonschema.validate(doc, _schema("status.schema.json"))
    assert doc["status"] == "clean"
    assert doc["tracking_table"] == "public.aksara_migrations"
    first = doc["migrations"][0]
    assert first["state"] == "applied"
    assert first["checksum"] == first["recorded_checksum"]
    assert first["file"] == "0001_create_users.sql"
    assert first["transactional"] is True
    text = three.run("status")
    assert text.returncode == 0 and "status: clean" in text.stdout


def test_empty_directory_is_clean(aksara) -> None:
    assert aksara.run("migrate").returncode == 0
    assert aksara.run("status").returncode == 0


def test_schemas_are_independent_and_quoted(three) -> None:
    odd = 'Odd "Schema"; DROP TABLE x'
    result = three.run("migrate", "--schema", odd, "--target", "1", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.json()["tracking_table"] == '"Odd ""Schema""; DROP TABLE x".aksara_migrations'
    assert three.recorded_versions(odd) == [1]
    assert three.recorded_versions("public") == []
    assert three.run("status", "--schema", odd).returncode == 4


def test_configuration_from_environment(three, tmp_path) -> None:
    bogus = "postgresql://nobody:not-the-password@127.0.0.1:1/nowhere"  # pragma: allowlist secret
    env = {
        "AKSARA_MIGRATIONS_DIR": str(three.dir),
        "AKSARA_SCHEMA": "from_env",
        # AKSARA_DATABASE_URL (set by the fixture) wins over DATABASE_URL.
        "DATABASE_URL": bogus,
    }
    result = three.run("migrate", "--format", "json", extra_env=env, add_dir=False)
    assert result.returncode == 0, result.stderr
    assert result.json()["tracking_table"] == "from_env.aksara_migrations"
    assert three.recorded_versions("from_env") == [1, 2, 3]
    # The flag wins over the environment.
    flag = three.run("status", "--schema", "public", extra_env=env, add_dir=False)
    assert flag.returncode == 4


def test_foreign_table_with_the_tracking_name_is_refused(three) -> None:
    with psycopg.connect(three.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE aksara_migrations (id int, name text)")
    for command in ("migrate", "status"):
        result = three.run(command)
        assert result.returncode == 2
        assert "is not an aksara tracking table (missing columns: version," in result.stderr
    assert not three.table_exists("users")


def test_late_lower_version_is_applied_in_order(aksara) -> None:
    aksara.write("1_a.sql", "CREATE TABLE a (id int);\n")
    aksara.write("3_c.sql", "CREATE TABLE c (id int);\n")
    assert aksara.run("migrate").returncode == 0
    aksara.write("2_b.sql", "CREATE TABLE b (id int);\n")  # e.g. from a merged branch
    status = aksara.run("status", "--format", "json").json()
    assert [(m["version"], m["state"]) for m in status["migrations"]] == [
        (1, "applied"),
        (2, "pending"),
        (3, "applied"),
    ]
    assert aksara.run("migrate").returncode == 0
    assert aksara.recorded_versions() == [1, 2, 3]
