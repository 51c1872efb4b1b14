"""Real web processes for end-to-end tests: ``python run.py --port P`` in services mode.

Reusable by any test that needs a running platform:

    with migrated_schema() as database_url:  # tests.pg
        settings = web_settings(database_url, redis_url, jwt_secret, "eventlet")
        [server] = start_servers(log_dir, web=settings)
        try:
            ...  # server.url
        finally:
            server.stop()

Processes get a minimal environment (no settings leak in from the caller's shell) and
write their output to a log file whose tail is shown when one fails to start.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from sqlalchemy.engine import make_url

from tests.conftest import REPO_ROOT
from tests.procs import free_port
from tests.services import POSTGRES_ADMIN_URL, REDIS_TEST_URL, require

READY_TIMEOUT_SECONDS = 45.0
STOP_TIMEOUT_SECONDS = 10.0
# Logical Redis database of the end-to-end tests (integration tests use 15, others 14);
# TEST_E2E_REDIS_DB moves it, for two checkouts testing at once on one Redis.
E2E_REDIS_DB = int(os.environ.get("TEST_E2E_REDIS_DB", "12"))
# Pub/sub channels span databases: the message queue's is the database's own.
E2E_SOCKETIO_CHANNEL = f"zt-e2e-{E2E_REDIS_DB}"
# Variables a child process needs to run at all; everything else is set explicitly.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "VIRTUAL_ENV")


def e2e_redis_url() -> str:
    parts = urlsplit(REDIS_TEST_URL)
    return urlunsplit(parts._replace(path=f"/{E2E_REDIS_DB}"))


def require_services() -> None:
    """Skip (in CI: fail) unless PostgreSQL and Redis are reachable."""
    pg = make_url(POSTGRES_ADMIN_URL)
    require("PostgreSQL", pg.host or "127.0.0.1", pg.port or 5432)
    redis_parts = urlsplit(e2e_redis_url())
    require("Redis", redis_parts.hostname or "127.0.0.1", redis_parts.port or 6379)


def web_settings(
    database_url: str, redis_url: str, jwt_secret: str, async_mode: str, **overrides: object
) -> dict[str, str]:
    """The environment of a web process in services mode sharing Redis with its peers."""
    settings: dict[str, object] = {
        "APP_MODE": "services",
        "APP_ENV": "testing",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SOCKETIO_MESSAGE_QUEUE": redis_url,
        "SOCKETIO_ASYNC_MODE": async_mode,
        # No task is sent by these tests; the in-memory transport keeps RabbitMQ out of it.
        "CELERY_BROKER_URL": "memory://",
        "CELERY_RESULT_BACKEND": redis_url,
        "JWT_SECRET_KEY": jwt_secret,
        "SECRET_KEY": jwt_secret[::-1],
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "SOCKETIO_CHANNEL": E2E_SOCKETIO_CHANNEL,
        "WS_PRESENCE_HEARTBEAT_SECONDS": 1,
        "WS_MAINTENANCE_INTERVAL_MS": 100,
        # Every test client comes from 127.0.0.1: here one address stands for all the
        # clients of a deployment, so its budgets are those of many addresses.
        "WS_CONNECT_RATE_PER_ADDRESS": "1000/10000",
        "WS_ADDRESS_RATE_MULTIPLIER": 1000,
        **overrides,
    }
    return {name: str(value) for name, value in settings.items()}


@dataclass
class WebServer:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, deadline: float) -> None:
        """Poll /api/health until it answers 200; fail with the log if the process dies."""
        while True:
            code = self.process.poll()
            if code is not None:
                raise RuntimeError(f"{self.name} exited with {code}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/api/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready in time:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)


def _launch(name: str, settings: Mapping[str, str], log_dir: Path) -> WebServer:
    port = free_port()
    env = {key: os.environ[key] for key in _INHERITED if key in os.environ}
    env.update(settings, PYTHONUNBUFFERED="1")
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "run.py", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return WebServer(name, port, process, log_path)


def start_servers(log_dir: Path, **settings_by_name: Mapping[str, str]) -> list[WebServer]:
    """Start one web process per keyword (name=settings) at once; return them once all
    are ready, or stop them all and raise."""
    servers = [_launch(name, settings, log_dir) for name, settings in settings_by_name.items()]
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    try:
        for server in servers:
            server.wait_ready(deadline)
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers
