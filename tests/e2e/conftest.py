"""End-to-end fixtures: real web processes on the machine's PostgreSQL and Redis.

Per async mode (eventlet, then gevent) three processes share one database schema and one
Redis message queue: web processes ``a`` and ``b`` with the default real-time settings and
``tight`` with small limits (recovery log of 3 events, a slow rate-limit refill, a short
token warning and grace). The test process itself plays a Celery worker: an app with
REALTIME_SERVER off that emits through the same queue (write-only).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from app import create_app
from app.extensions import db
from tests.conftest import TEST_PASSWORD, SignedIn, make_user, test_config
from tests.e2e.clients import RecordingClient, login
from tests.e2e.servers import (
    E2E_SOCKETIO_CHANNEL,
    WebServer,
    e2e_redis_url,
    require_services,
    start_servers,
    web_settings,
)
from tests.pg import migrated_schema

ASYNC_MODES = ["eventlet", "gevent"]
TIGHT = {
    "WS_RECOVERY_MAX_EVENTS": 3,
    "WS_RATE_LIMITS": "behavioral_data=20/40,default=0.2/5",
    "WS_FLOOD_MAX_REJECTIONS": 5,
    "WS_TOKEN_WARNING_SECONDS": 2,
    "WS_TOKEN_GRACE_SECONDS": 1,
}


@dataclass(frozen=True)
class Platform:
    """The shared pieces every end-to-end test talks to."""

    database_url: str
    redis_url: str
    jwt_secret: str
    log_dir: Path

    def worker_app(self, **overrides: Any) -> Flask:
        """An app as a Celery worker builds it: no Socket.IO server, emits via the queue."""
        return create_app(
            test_config(
                APP_MODE="services",
                REALTIME_SERVER=False,
                SQLALCHEMY_DATABASE_URI=self.database_url,
                REDIS_URL=self.redis_url,
                SOCKETIO_MESSAGE_QUEUE=self.redis_url,
                SOCKETIO_CHANNEL=E2E_SOCKETIO_CHANNEL,
                CELERY_BROKER_URL="memory://",
                JWT_SECRET_KEY=self.jwt_secret,
                **overrides,
            )
        )


@dataclass(frozen=True)
class Servers:
    mode: str
    a: WebServer
    b: WebServer
    tight: WebServer


@pytest.fixture(scope="package")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    require_services()
    url = e2e_redis_url()
    redis.Redis.from_url(url).flushdb()
    with migrated_schema() as database_url:
        yield Platform(database_url, url, secrets.token_hex(32), tmp_path_factory.mktemp("e2e"))
    redis.Redis.from_url(url).flushdb()


@pytest.fixture(scope="package")
def worker(platform: Platform) -> Iterator[Flask]:
    app = platform.worker_app()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="package")
def tight_worker(platform: Platform) -> Iterator[Flask]:
    """A worker whose recovery log keeps as few events as the tight server's."""
    app = platform.worker_app(WS_RECOVERY_MAX_EVENTS=TIGHT["WS_RECOVERY_MAX_EVENTS"])
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="package", params=ASYNC_MODES)
def servers(request: pytest.FixtureRequest, platform: Platform) -> Iterator[Servers]:
    mode = request.param
    base = (platform.database_url, platform.redis_url, platform.jwt_secret, mode)
    a, b, tight = start_servers(
        platform.log_dir,
        **{
            f"{mode}-a": web_settings(*base),
            f"{mode}-b": web_settings(*base),
            f"{mode}-tight": web_settings(*base, **TIGHT),
        },
    )
    yield Servers(mode, a, b, tight)
    for server in (a, b, tight):
        server.stop()


class Accounts:
    """Creates users in the shared database and signs them in over REST."""

    def __init__(self, worker: Flask) -> None:
        self._worker = worker

    def create(self, role: str = "user") -> str:
        with self._worker.app_context():
            return make_user(role).username

    def login(self, server: WebServer, role: str = "user") -> SignedIn:
        return login(server, self.create(role), TEST_PASSWORD)


@pytest.fixture
def accounts(worker: Flask) -> Accounts:
    return Accounts(worker)


class Clients:
    """Opens recording Socket.IO clients for one test and closes them at its end."""

    def __init__(self) -> None:
        self._opened: list[RecordingClient] = []

    def open(self) -> RecordingClient:
        """A client not yet connected (to see its connect refused), closed at the end."""
        client = RecordingClient()
        self._opened.append(client)
        return client

    def connect(self, server: WebServer, token: str) -> RecordingClient:
        return self.open().connect(server, token)

    def close_all(self) -> None:
        # In parallel: a clean close can wait seconds for the WebSocket closing handshake.
        with ThreadPoolExecutor() as pool:
            list(pool.map(RecordingClient.close, self._opened))


@pytest.fixture
def clients() -> Iterator[Clients]:
    opened = Clients()
    yield opened
    opened.close_all()
