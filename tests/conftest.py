"""Shared fixtures: configuration, the app, its test client, and signed-in users.

Unit tests run on SQLite and on fakeredis's TCP server (the standalone mode's embedded
Redis); integration tests override ``base_config`` to point at the machine's PostgreSQL
and Redis (see tests/integration/conftest.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.config import load_config
from app.extensions import db
from app.models import User
from app.redis_client import get_redis_client
from app.services.passwords import hash_password
from app.standalone.children import (
    ChildProcess,
    EmbeddedChain,
    standalone_settings,
    start_embedded_chain,
    start_embedded_redis,
)

TEST_PASSWORD = "correct horse battery"
FAST_HASH = "pbkdf2:sha256:1000"
_names = itertools.count(1)


def test_config(**overrides: Any) -> dict[str, Any]:
    env = {
        "APP_ENV": "testing",
        "PASSWORD_HASH_METHOD": FAST_HASH,
        "LOG_LEVEL": "WARNING",
        # Socket.IO handlers run in-process under the test client: threads, no queue.
        "SOCKETIO_ASYNC_MODE": "threading",
        "SOCKETIO_MESSAGE_QUEUE": "none",
    }
    return load_config(env, **{"REALTIME_SERVER": True, **overrides})


test_config.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.fixture(scope="session")
def embedded_redis() -> Iterator[ChildProcess]:
    server = start_embedded_redis()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory, embedded_redis: ChildProcess) -> str:
    """One migrated SQLite database for the unit test session."""
    from flask_migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'unit.sqlite3'}"
    app = create_app(test_config(SQLALCHEMY_DATABASE_URI=url, APP_MODE="standalone"))
    with app.app_context():
        upgrade()
    return url


@pytest.fixture(scope="session")
def ipfs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The local IPFS block store of the test session (never the repository's instance/)."""
    return tmp_path_factory.mktemp("ipfs-blocks")


@pytest.fixture(scope="session")
def embedded_chain() -> Iterator[EmbeddedChain]:
    """Standalone mode's Ethereum test chain, one process for the session."""
    chain = start_embedded_chain()
    yield chain
    chain.stop()


@pytest.fixture
def base_config(sqlite_url: str, embedded_redis: ChildProcess, ipfs_dir: Path) -> dict[str, Any]:
    return test_config(
        APP_MODE="standalone",
        SQLALCHEMY_DATABASE_URI=sqlite_url,
        REDIS_URL=f"{embedded_redis.url}/0",
        CELERY_BROKER_URL="memory://",
        CELERY_RESULT_BACKEND=f"{embedded_redis.url}/1",
        IPFS_BLOCKSTORE_DIR=str(ipfs_dir),
    )


def chain_settings(chain: EmbeddedChain) -> dict[str, Any]:
    """The anchoring settings standalone mode derives from its embedded chain."""
    settings = standalone_settings("redis://unused", chain)
    return {
        "ETH_RPC_URL": settings["ETH_RPC_URL"],
        "ETH_CHAIN_ID": settings["ETH_CHAIN_ID"],
        "ETH_PRIVATE_KEY": settings["ETH_PRIVATE_KEY"],
        "ETH_CHAIN_EPHEMERAL": True,
        "ETH_MAX_BLOCK_AGE_SECONDS": 0,
        "ETH_TX_TIMEOUT_SECONDS": 30,
    }


@pytest.fixture
def audit_app(base_config: dict[str, Any], embedded_chain: EmbeddedChain) -> Iterator[Flask]:
    """The app (SQLite) anchoring on the embedded test chain."""
    with app_in_context({**base_config, **chain_settings(embedded_chain)}) as app:
        yield app


# Redis keys of the sign-in budgets, the audit's refusal counts and the real-time budgets
# and socket sets: a test's failed logins or connects (all from 127.0.0.1, user ids reused)
# must not lock the next test out.
_PER_TEST_REDIS_KEYS = ("zt:login:*", "zt:audit:refusals:*", "zt:ws:*")


def _clean_redis_counters(app: Flask) -> None:
    client = get_redis_client(app)
    try:
        for pattern in _PER_TEST_REDIS_KEYS:
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)
    except redis.ConnectionError:
        pass  # a test of the platform without Redis


def _clean_tables() -> None:
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())


@contextmanager
def app_in_context(config: dict[str, Any]) -> Iterator[Flask]:
    """An app built from ``config``, inside its app context; afterwards every table is
    emptied and the engine's connections closed."""
    app = create_app(config)
    with app.app_context():
        yield app
        db.session.remove()
        _clean_tables()
        db.engine.dispose()
    _clean_redis_counters(app)


@pytest.fixture
def app(base_config: dict[str, Any]) -> Iterator[Flask]:
    with app_in_context(base_config) as app:
        yield app


@pytest.fixture
def statements(app: Flask) -> Iterator[list[str]]:
    """Every SQL statement sent to the database while the test runs."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(db.engine, "before_cursor_execute", record)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def make_user(role: str = "user", *, password: str = TEST_PASSWORD, **fields: Any) -> User:
    username = fields.pop("username", f"{role}{next(_names)}")
    user = User(username=username, role=role, password_hash=hash_password(password), **fields)
    db.session.add(user)
    db.session.commit()
    return user


@dataclass(frozen=True)
class SignedIn:
    """A signed-in user as plain values, the one such type of the tests: unit tests, socket
    tests (whose connect handler ends the test's database session, which would detach ORM
    objects) and end-to-end tests against real processes alike."""

    user_id: int
    username: str
    session_id: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def user(self) -> User:
        """The account as it is now in the database (needs an app context)."""
        user = db.session.get(User, self.user_id)
        assert user is not None, f"user {self.user_id} is gone"
        return user

    @classmethod
    def from_login(cls, body: dict[str, Any]) -> SignedIn:
        """From the JSON of a successful POST /api/auth/login."""
        return cls(
            user_id=body["user"]["id"],
            username=body["user"]["username"],
            session_id=body["session_id"],
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
        )


def sign_in(client: FlaskClient, user: User, password: str = TEST_PASSWORD) -> SignedIn:
    response = client.post(
        "/api/auth/login", json={"username": user.username, "password": password}
    )
    assert response.status_code == 200, response.get_json()
    return SignedIn.from_login(response.get_json())


@pytest.fixture
def user_login(client: FlaskClient) -> SignedIn:
    return sign_in(client, make_user("user"))


@pytest.fixture
def admin_login(client: FlaskClient) -> SignedIn:
    return sign_in(client, make_user("admin"))


def count(model: type) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


REPO_ROOT = Path(__file__).resolve().parents[1]
