"""The real entry points as real processes: `python run.py --standalone`, `python run.py`
against the machine's PostgreSQL and Redis, its refusal to start without them, and the
`flask` CLI found from the repository root. Readiness is polled with a deadline."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.procs import REPO_ROOT, Process, free_port, python, wait_for
from tests.services import IN_CI, port_open

STARTUP_SECONDS = 90  # web + Celery worker + beat importing on a busy CI machine
REFUSAL_SECONDS = 60


def clean_env(**settings: str) -> dict[str, str]:
    """Only what a shell needs: no APP_MODE, DATABASE_URL, REDIS_* or other settings."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    env.update(settings)
    return env


def http(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310  (loopback URL built by the test)
        url,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def serving(process: Process, port: int) -> dict[str, Any]:
    """Wait until /api/health answers 200; fail at once if the process dies first."""

    def healthy() -> dict[str, Any] | None:
        if not process.alive():
            pytest.fail(f"process exited early:\n{process.output()}")
        status, body = http("GET", f"http://127.0.0.1:{port}/api/health")
        return body if status == 200 else None

    return wait_for(healthy, STARTUP_SECONDS, f"GET /api/health on port {port}", poll=0.2)


def chunked_login(port: int, username: str, password: str) -> int:
    """POST a login whose body is sent with Transfer-Encoding: chunked."""
    connection = HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"username": username, "password": password}).encode()
    chunks = iter([body[:10], body[10:]])
    connection.request(
        "POST",
        "/api/auth/login",
        body=chunks,
        headers={"Content-Type": "application/json"},
        encode_chunked=True,
    )
    status = connection.getresponse().status
    connection.close()
    return status


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """Every process a test starts goes here and is stopped (with its group) afterwards."""
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()


def start_standalone(tmp_path: Path, processes: list[Process], port: int) -> Process:
    env = clean_env(
        # The test's own SQLite file and beat schedule, not the developer's instance/.
        STANDALONE_DATABASE_URL=f"sqlite:///{tmp_path / 'standalone.sqlite3'}",
        CELERY_BEAT_SCHEDULE_FILE=str(tmp_path / "celerybeat-schedule"),
        STANDALONE_STATE_FILE=str(tmp_path / "standalone.json"),
    )
    log = tmp_path / f"standalone-{len(processes)}.log"
    process = Process(python("run.py", "--standalone", "--port", str(port)), env, log)
    processes.append(process)
    return process


def test_standalone_serves_health_and_prints_the_admin_password_once(
    tmp_path: Path, processes: list[Process]
) -> None:
    port = free_port()
    first = start_standalone(tmp_path, processes, port)

    health = serving(first, port)

    assert health["status"] == "ok", health
    assert health["mode"] == "standalone"
    output = first.output()
    assert "STANDALONE MODE" in output
    assert "python run.py" in output  # says how to run with real services
    found = re.search(r"created admin 'admin' with password (\S+)", output)
    assert found, output
    assert "flask change-password --username admin" in output  # says how to change it
    password = found.group(1)
    status, body = http(
        "POST",
        f"http://127.0.0.1:{port}/api/auth/login",
        {"username": "admin", "password": password},
    )
    assert status == 200, body
    status, me = http(
        "GET",
        f"http://127.0.0.1:{port}/api/auth/me",
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert status == 200 and me["user"]["role"] == "admin"
    assert chunked_login(port, "admin", password) == 200
    first.stop()

    second_port = free_port()
    second = start_standalone(tmp_path, processes, second_port)
    serving(second, second_port)

    assert "with password" not in second.output()
    status, _ = http(
        "POST",
        f"http://127.0.0.1:{second_port}/api/auth/login",
        {"username": "admin", "password": password},
    )
    assert status == 200


@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "postgresql", "postgres"])
def test_services_mode_serves_health_with_postgres_and_redis(
    tmp_path: Path, processes: list[Process], pg_schema_url: str, redis_url: str, scheme: str
) -> None:
    """DATABASE_URL as operators are handed it: PaaS and docker images say `postgres://`
    or `postgresql://`, which SQLAlchemy alone would map to the absent psycopg2."""
    port = free_port()
    database_url = make_url(pg_schema_url).set(drivername=scheme)
    env = clean_env(
        DATABASE_URL=database_url.render_as_string(hide_password=False), REDIS_URL=redis_url
    )
    process = Process(python("run.py", "--port", str(port)), env, tmp_path / "services.log")
    processes.append(process)

    health = serving(process, port)

    assert health["mode"] == "services"
    assert health["checks"]["database"]["ok"] is True, health
    assert health["checks"]["database"]["backend"] == "postgresql"
    assert health["checks"]["redis"]["ok"] is True, health
    assert "STANDALONE" not in process.output()


def refused_start(env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        python("run.py", "--port", str(free_port())),
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=REFUSAL_SECONDS,
        check=False,
    )
    return result, time.monotonic() - started


def the_one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


@pytest.fixture
def stopped_redis_url(tmp_path: Path) -> str:
    """The URL of a redis-server that was running a moment ago and is now stopped."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    server = Process(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        clean_env(),
        tmp_path / "redis.log",
    )
    try:
        wait_for(lambda: port_open("127.0.0.1", port), 10, f"redis-server on port {port}")
    finally:
        server.stop()
    assert not port_open("127.0.0.1", port)
    return f"redis://127.0.0.1:{port}/0"


def test_services_mode_exits_at_once_when_redis_is_stopped(
    pg_schema_url: str, stopped_redis_url: str
) -> None:
    result, elapsed = refused_start(
        clean_env(DATABASE_URL=pg_schema_url, REDIS_URL=stopped_redis_url)
    )

    assert result.returncode != 0
    line = the_one_line(result)
    assert line.startswith("cannot start: Redis unreachable at redis://127.0.0.1:")
    assert "redis-server" in line and "--standalone" in line
    assert elapsed < REFUSAL_SECONDS


def test_services_mode_exits_at_once_when_the_database_is_unreachable(redis_url: str) -> None:
    closed = make_url("postgresql+psycopg://zt:secret-pw@127.0.0.1/zero_trust").set(
        port=free_port()
    )
    result, _ = refused_start(
        clean_env(DATABASE_URL=closed.render_as_string(hide_password=False), REDIS_URL=redis_url)
    )

    assert result.returncode != 0
    line = the_one_line(result)
    assert line.startswith("cannot start: database unreachable")
    assert "PostgreSQL" in line
    assert "secret-pw" not in line  # the password is redacted


def test_services_mode_exits_at_once_when_the_broker_is_unreachable(
    pg_schema_url: str, redis_url: str
) -> None:
    closed = f"amqp://guest:broker-pw@127.0.0.1:{free_port()}//"
    result, elapsed = refused_start(
        clean_env(DATABASE_URL=pg_schema_url, REDIS_URL=redis_url, CELERY_BROKER_URL=closed)
    )

    assert result.returncode != 0
    line = the_one_line(result)
    assert line.startswith("cannot start: message broker (RabbitMQ) unreachable at amqp://")
    assert "rabbitmq-server" in line and "CELERY_BROKER_URL" in line
    assert "broker-pw" not in line  # the password is redacted
    assert elapsed < REFUSAL_SECONDS


@pytest.mark.parametrize(
    ("database_url", "named"),
    [
        ("mysql://root@127.0.0.1/zt", "unsupported driver 'mysql'"),
        ("postgresql+psycopg2://postgres@127.0.0.1/zt", "unsupported driver"),
        ("not a url", "is not a database URL"),
    ],
)
def test_services_mode_refuses_an_unsupported_database_url_in_one_line(
    database_url: str, named: str
) -> None:
    result, _ = refused_start(clean_env(DATABASE_URL=database_url))

    assert result.returncode == 2
    line = the_one_line(result)
    assert line.startswith("configuration error: DATABASE_URL")
    assert named in line and "postgresql://" in line


def test_flask_cli_is_found_from_the_repository_root() -> None:
    result = subprocess.run(
        python("-m", "flask", "--help"),
        cwd=REPO_ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=REFUSAL_SECONDS,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    commands = set(re.findall(r"^  (\S+)\s", result.stdout.split("Commands:", 1)[1], re.M))
    assert {"create-admin", "create-user", "seed-demo", "db"} <= commands, result.stdout
