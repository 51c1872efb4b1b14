"""Integration fixtures: the machine's real PostgreSQL (database `test`) and Redis.

Each test session migrates a private schema of the `test` database (so parallel runs and
other users of that database are left alone) and drops it at the end; every test's rows
are deleted after it. Redis tests use logical database 15, flushed around each test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from app import create_app
from tests.conftest import test_config
from tests.integration.celery_fixtures import (  # noqa: F401  (fixtures for every module here)
    broker_url,
    celery,
    worker,
    worker_env,
)
from tests.services import POSTGRES_ADMIN_URL, REDIS_TEST_URL, require

pytestmark = pytest.mark.integration


def _pg_host_port() -> tuple[str, int]:
    url = make_url(POSTGRES_ADMIN_URL)
    return url.host or "127.0.0.1", url.port or 5432


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    """A freshly migrated schema in the `test` database; its URL pins the search_path."""
    from flask_migrate import upgrade

    require("PostgreSQL", *_pg_host_port())
    schema = f"zt_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_ADMIN_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    app = create_app(test_config(SQLALCHEMY_DATABASE_URI=rendered))
    with app.app_context():
        upgrade()
        from app.extensions import db

        db.engine.dispose()
    try:
        yield rendered
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def redis_url() -> Iterator[str]:
    url = make_url(REDIS_TEST_URL.replace("redis://", "postgresql://"))
    require("Redis", url.host or "127.0.0.1", url.port or 6379)
    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    yield REDIS_TEST_URL
    client.flushdb()
    client.close()


@pytest.fixture
def base_config(pg_schema_url: str, redis_url: str) -> dict[str, Any]:
    """Overrides the unit config: real PostgreSQL and Redis, services mode."""
    return test_config(
        APP_MODE="services",
        SQLALCHEMY_DATABASE_URI=pg_schema_url,
        REDIS_URL=redis_url,
        CELERY_BROKER_URL="memory://",
    )
