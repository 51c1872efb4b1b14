"""Celery processes for integration tests: a private RabbitMQ vhost, workers, settings.

The fixtures are registered in tests/integration/conftest.py."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from flask import Flask

from app.celery_app import QUEUES, make_celery
from tests.conftest import test_config
from tests.procs import Process, python, wait_for
from tests.services import RABBITMQ_TEST_URL, REDIS_TEST_URL, require

RESULTS_URL = "redis://127.0.0.1:6379/14"


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def broker_url() -> Iterator[str]:
    """A private RabbitMQ vhost per test module: no other consumer on this machine (another
    run, the previous module's worker) shares its queues, and a name is never reused, so
    no connection meets a vhost that was deleted and made again under it."""
    require("RabbitMQ", "127.0.0.1", 5672)
    vhost = f"zt_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield RABBITMQ_TEST_URL.rstrip("/") + "/" + vhost
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def worker_env(broker_url: str, pg_schema_url: str) -> dict[str, str]:
    """Settings shared by the test process, its workers and web processes."""
    redis.Redis.from_url(RESULTS_URL).flushdb()
    config = test_config()
    return {
        **os.environ,
        "APP_ENV": "testing",
        "DATABASE_URL": pg_schema_url,
        "REDIS_URL": REDIS_TEST_URL,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": RESULTS_URL,
        "SOCKETIO_MESSAGE_QUEUE": REDIS_TEST_URL,
        "JWT_SECRET_KEY": config["JWT_SECRET_KEY"],
        "SECRET_KEY": config["SECRET_KEY"],
    }


@pytest.fixture
def celery(app: Flask, worker_env: dict[str, str]) -> Celery:
    app.config["CELERY_BROKER_URL"] = worker_env["CELERY_BROKER_URL"]
    app.config["CELERY_RESULT_BACKEND"] = RESULTS_URL
    celery = make_celery(app.config)
    app.extensions["celery"] = celery
    return celery


class Worker(Process):
    """A worker process and the node name it announces itself with."""

    node_name: str


def start_worker(
    env: dict[str, str], tmp_path: Path, name: str = "probe", queues: tuple[str, ...] = QUEUES
) -> Worker:
    """A prefork worker (one child) that also knows the probe tasks; waits until ready."""
    node_name = f"{name}-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
    worker = Worker(
        python(
            "-m",
            "celery",
            "-A",
            "celery_config.celery_app",
            "worker",
            "-Q",
            ",".join(queues),
            "-c",
            "1",
            "-n",
            node_name,
            "-I",
            "tests.celery_probe_tasks",
            "-E",
            "-l",
            "info",
            "--without-mingle",
            "--without-gossip",
        ),
        env,
        tmp_path / f"worker-{name}.log",
    )
    worker.node_name = node_name
    wait_for(lambda: "ready." in worker.output(), 60, "the Celery worker to be ready")
    return worker


@pytest.fixture(scope="module")
def worker(
    worker_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    """One worker for the module (prefork: a killed child is replaced by the parent)."""
    process = start_worker(worker_env, tmp_path_factory.mktemp("celery"))
    yield process
    process.stop()


def wait_for_heartbeat(worker: Worker) -> None:
    """Each test starts on a flushed Redis: wait until the worker's next heartbeat (every
    2 s) has recorded it again."""
    from app.services.job_monitor import WORKERS

    client = redis.Redis.from_url(REDIS_TEST_URL)
    wait_for(lambda: client.hexists(WORKERS, worker.node_name), 10, "a heartbeat of the worker")
