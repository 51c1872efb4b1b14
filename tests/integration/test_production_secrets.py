"""Finding 1 of the security review (issue 12) against real processes: with
APP_ENV=production, published, derived and weak secrets were accepted, and a token forged
with a published string was honoured. Now `run.py` refuses them in one line naming the
setting; a production server signs with its own secret only; a process on the published
development secrets says so at start."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
import requests
from flask import Flask

from app.config import DEV_JWT_SECRET, DEV_SECRET_KEY
from tests.conftest import TEST_PASSWORD, make_user
from tests.e2e.servers import WebServer, start_servers, web_settings
from tests.integration.test_processes import (
    REFUSAL_SECONDS,
    clean_env,
    refused_start,
    the_one_line,
)
from tests.procs import REPO_ROOT, python

REAL_SECRET = "Yh3K-pW8qLz2Vx9NbT5mRc1Gd7Fs4Ja0Eu6"
REAL_JWT_SECRET = "qN7xB2-Lm9Vd4Ks8Tz1Rw6Hc3Pf5Gy0Ja_E"
WARNING = "the published development default"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECRET_KEY", DEV_JWT_SECRET),  # the development defaults, swapped
        ("JWT_SECRET_KEY", DEV_SECRET_KEY),
        ("JWT_SECRET_KEY", DEV_JWT_SECRET.upper()),
        ("SECRET_KEY", DEV_SECRET_KEY.upper()),
        ("JWT_SECRET_KEY", "prod-" + DEV_JWT_SECRET),
        ("SECRET_KEY", "a" * 32),
        ("JWT_SECRET_KEY", "changeme" * 4),
        ("SECRET_KEY", "qwertyuiopasdfghjklzxcvbnm123456"),
        ("JWT_SECRET_KEY", REAL_SECRET),  # the same value for both
    ],
)
def test_production_refuses_a_published_or_weak_secret_in_one_line(
    pg_schema_url: str, redis_url: str, name: str, value: str
) -> None:
    secrets = {"SECRET_KEY": REAL_SECRET, "JWT_SECRET_KEY": REAL_JWT_SECRET, name: value}
    env = clean_env(
        APP_ENV="production", DATABASE_URL=pg_schema_url, REDIS_URL=redis_url, **secrets
    )

    result, elapsed = refused_start(env)

    assert result.returncode == 2, result.stdout + result.stderr
    line = the_one_line(result)
    assert line.startswith(f"configuration error: {name} "), line
    assert value not in line  # the secret is not echoed
    assert elapsed < REFUSAL_SECONDS


@pytest.fixture
def production_server(tmp_path: Path, pg_schema_url: str, redis_url: str) -> Iterator[WebServer]:
    settings = web_settings(
        pg_schema_url,
        redis_url,
        REAL_JWT_SECRET,
        "eventlet",
        APP_ENV="production",
        SECRET_KEY=REAL_SECRET,
        SOCKETIO_MESSAGE_QUEUE="none",
    )
    [server] = start_servers(tmp_path, production=settings)
    yield server
    server.stop()


def forged(claims: dict[str, object], key: str) -> str:
    return jwt.encode(claims, key, algorithm="HS256")


def test_a_token_signed_with_a_published_secret_is_refused_in_production(
    app: Flask, production_server: WebServer
) -> None:
    user = make_user("admin")
    signed = requests.post(
        f"{production_server.url}/api/auth/login",
        json={"username": user.username, "password": TEST_PASSWORD},
        timeout=10,
    ).json()
    genuine = jwt.decode(signed["access_token"], options={"verify_signature": False})
    now = datetime.now(UTC)
    claims = {**genuine, "jti": uuid.uuid4().hex, "iat": now, "nbf": now}
    claims["exp"] = now + timedelta(minutes=5)

    def me(token: str) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        return requests.get(
            f"{production_server.url}/api/auth/me", headers=headers, timeout=10
        ).status_code

    assert me(forged(claims, DEV_JWT_SECRET)) == 401
    assert me(forged(claims, DEV_SECRET_KEY)) == 401
    assert me(forged(claims, REAL_JWT_SECRET)) == 200  # the same claims, the server's key
    assert WARNING not in production_server.log_tail(200)


def test_the_web_process_and_the_worker_say_they_use_the_development_secrets(
    tmp_path: Path, pg_schema_url: str, redis_url: str
) -> None:
    settings = web_settings(
        pg_schema_url,
        redis_url,
        "",
        "eventlet",
        APP_ENV="development",
        SECRET_KEY="",
        SOCKETIO_MESSAGE_QUEUE="none",
    )
    [server] = start_servers(tmp_path, development=settings)
    try:
        web_lines = [line for line in server.log_tail(200).splitlines() if WARNING in line]
    finally:
        server.stop()
    assert len(web_lines) == 1, server.log_tail(200)
    assert "SECRET_KEY and JWT_SECRET_KEY" in web_lines[0]

    # The worker's entry (what `celery -A celery_config.celery_app worker` loads first).
    worker = subprocess.run(
        python("-m", "celery", "-A", "celery_config.celery_app", "report"),
        cwd=REPO_ROOT,
        env=clean_env(DATABASE_URL=pg_schema_url, REDIS_URL=redis_url),
        capture_output=True,
        text=True,
        timeout=REFUSAL_SECONDS,
        check=False,
    )
    worker_lines = [line for line in worker.stdout.splitlines() if WARNING in line]
    assert len(worker_lines) == 1, worker.stdout + worker.stderr
