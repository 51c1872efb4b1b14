"""`flask db upgrade` builds the schema on an empty PostgreSQL database, and the models and
the migrations describe the same schema (on PostgreSQL and on standalone's SQLite)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from tests.conftest import REPO_ROOT
from tests.conftest import test_config as build_config
from tests.services import POSTGRES_ADMIN_URL, require


def head_revision() -> str:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    """A brand-new database (not a schema: nothing in it at all), dropped afterwards."""
    admin_url = make_url(POSTGRES_ADMIN_URL)
    require("PostgreSQL", admin_url.host or "127.0.0.1", admin_url.port or 5432)
    name = f"zt_migrate_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def schema_differences(connection: sa.Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return compare_metadata(context, db.metadata)


def table_names(connection: sa.Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


def model_tables() -> set[str]:
    return {table.name for table in db.metadata.sorted_tables}


def test_flask_db_upgrade_builds_the_schema_on_an_empty_database(
    empty_postgres_url: str,
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(REPO_ROOT)),
        "DATABASE_URL": empty_postgres_url,
        "LOG_LEVEL": "WARNING",
    }
    flask = Path(sys.executable).with_name("flask")
    result = subprocess.run(
        [str(flask), "db", "upgrade"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr

    engine = sa.create_engine(empty_postgres_url)
    try:
        with engine.connect() as conn:
            assert table_names(conn) == model_tables() | {"alembic_version"}
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            assert version == head_revision()
    finally:
        engine.dispose()


def test_models_and_migrations_agree_and_downgrade_round_trips(
    empty_postgres_url: str,
) -> None:
    app = create_app(build_config(SQLALCHEMY_DATABASE_URI=empty_postgres_url))
    with app.app_context():
        try:
            upgrade()
            with db.engine.connect() as conn:
                assert schema_differences(conn) == []

            downgrade(revision="base")
            with db.engine.connect() as conn:
                assert table_names(conn) <= {"alembic_version"}
                enum_types = sa.text("SELECT typname FROM pg_type WHERE typtype = 'e'")
                assert conn.execute(enum_types).all() == []

            upgrade()
            with db.engine.connect() as conn:
                assert table_names(conn) == model_tables() | {"alembic_version"}
                assert schema_differences(conn) == []
        finally:
            db.session.remove()
            db.engine.dispose()


def test_models_and_migrations_agree_on_sqlite(tmp_path: Path) -> None:
    """Standalone mode migrates SQLite with the same scripts."""
    url = f"sqlite:///{tmp_path / 'standalone.sqlite3'}"
    app = create_app(build_config(APP_MODE="standalone", SQLALCHEMY_DATABASE_URI=url))
    with app.app_context():
        try:
            upgrade()
            with db.engine.connect() as conn:
                assert table_names(conn) == model_tables() | {"alembic_version"}
                assert schema_differences(conn) == []
            downgrade(revision="base")
            upgrade()
            with db.engine.connect() as conn:
                assert schema_differences(conn) == []
        finally:
            db.engine.dispose()
