"""Reaching the machine's real services from tests.

Outside CI a test whose service is missing is skipped with the reason; with CI=true it
fails, so a CI run can never go green by skipping.
"""

from __future__ import annotations

import os
import socket

import pytest

from app.config import database_url

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Written as operators write it; app.config's helper maps it to the installed driver.
POSTGRES_ADMIN_URL = database_url(
    os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    "TEST_POSTGRES_URL",
)
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RABBITMQ_TEST_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(name: str, host: str, port: int) -> None:
    """Skip (or, in CI, fail) when ``name`` does not listen on host:port."""
    if port_open(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{message}; CI requires it (.ci/run starts it)")
    pytest.skip(message)
