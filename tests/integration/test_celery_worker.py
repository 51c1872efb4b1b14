"""Celery against the machine's RabbitMQ with real worker processes (no eager mode)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from celery import Celery
from flask import Flask

from app.celery_app import QUEUES, make_celery
from app.database import utcnow
from app.extensions import db
from app.models import UserSession
from tests.conftest import make_user, test_config
from tests.integration.celery_fixtures import (
    RESULTS_URL,
    Worker,
    rabbitmqctl,
    wait_for_heartbeat,
)
from tests.procs import Process, free_port, python, wait_for
from tests.services import REDIS_TEST_URL


def test_tasks_are_routed_to_their_module_queue(celery: Celery) -> None:
    expected = {
        "app.tasks.ml_tasks.train_behavioral_models": "ml_queue",
        "app.tasks.blockchain_tasks.sync_audit_trail": "blockchain_queue",
        "app.tasks.policy_tasks.optimize_policies": "policy_queue",
        "app.tasks.cleanup_tasks.cleanup_cache": "default",
    }
    with celery.connection_for_write() as conn:
        for queue in celery.conf.task_queues:
            queue(conn.default_channel).declare()
        for name, queue_name in expected.items():
            celery.send_task(name, connection=conn)

            def depth(queue_name: str = queue_name) -> int:
                return conn.default_channel.queue_declare(queue_name, passive=True).message_count

            wait_for(depth, 10, f"{name} to wait in {queue_name}")
            assert {q: depth(q) for q in QUEUES if q != queue_name} == dict.fromkeys(
                set(QUEUES) - {queue_name}, 0
            )
            conn.default_channel.queue_purge(queue_name)


def test_worker_consumes_every_queue_and_runs_tasks(celery: Celery, worker: Worker) -> None:
    active = celery.control.inspect(timeout=5).active_queues()
    assert active, worker.output()[-2000:]
    assert len(active) == 1, list(active)
    (queues,) = active.values()
    assert {q["name"] for q in queues} == set(QUEUES)
    result = celery.send_task("tests.probe.add", args=(20, 22))
    assert result.get(timeout=30) == 42
    routed = celery.send_task("tests.probe.whoami").get(timeout=30)
    assert routed["routing_key"] == "default"


def test_transient_errors_retry_with_backoff(celery: Celery, worker: Worker) -> None:
    key = f"flaky:{uuid.uuid4().hex}"
    outcome = celery.send_task("tests.probe.flaky", args=(key, 2)).get(timeout=60)
    assert outcome == {"attempts": 3, "retries": 2}
    client = redis.Redis.from_url(REDIS_TEST_URL)
    times = [float(t) for t in client.lrange(f"{key}:times", 0, -1)]
    assert len(times) == 3 and times == sorted(times)


def test_unknown_ids_and_bad_arguments_fail_without_retrying(
    celery: Celery, worker: Worker
) -> None:
    result = celery.send_task("tests.probe.add", args=("x",))
    with pytest.raises(TypeError):
        result.get(timeout=30)
    assert result.state == "FAILURE"


def test_killed_worker_child_task_is_redelivered_and_completes_once(
    celery: Celery, worker: Worker
) -> None:
    key = f"slow:{uuid.uuid4().hex}"
    client = redis.Redis.from_url(REDIS_TEST_URL)
    result = celery.send_task("tests.probe.slow_idempotent", args=(key, 3.0))
    wait_for(lambda: client.llen(f"{key}:starts") >= 1, 30, "the task to start")
    children = subprocess.run(
        ["pgrep", "-P", str(worker.popen.pid)], capture_output=True, text=True
    ).stdout.split()
    assert children, "the prefork worker should have a child process"
    for child in children:
        os.kill(int(child), signal.SIGKILL)
    assert result.get(timeout=60) == 1
    assert client.llen(f"{key}:starts") == 2  # ran again after the kill
    assert client.get(f"{key}:effect") == b"1"


def test_cleanup_task_emits_to_a_real_socketio_client(
    app: Flask, celery: Celery, worker: Worker, worker_env: dict[str, str], tmp_path: Path
) -> None:
    import socketio

    port = free_port()
    web = Process(python("run.py", "--port", str(port)), worker_env, tmp_path / "web.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: requests.get(f"{base}/api/health", timeout=2).ok, 60, "the web process")
        user = make_user()
        login = requests.post(
            f"{base}/api/auth/login",
            json={"username": user.username, "password": "correct horse battery"},
            timeout=10,
        ).json()
        received: list[dict[str, Any]] = []
        client = socketio.Client()
        client.on("session_terminated", received.append)
        client.connect(base, auth={"token": login["access_token"]}, wait_timeout=10)
        session = db.session.get(UserSession, uuid.UUID(login["session_id"]))
        session.last_seen_at = utcnow() - timedelta(
            seconds=app.config["SESSION_IDLE_TIMEOUT_SECONDS"] + 5
        )
        db.session.commit()

        result = celery.send_task("app.tasks.cleanup_tasks.cleanup_expired_sessions")
        assert result.get(timeout=60) == {"expired": 1}
        wait_for(lambda: received, 10, "session_terminated from the worker")
        assert received[0]["session_id"] == login["session_id"]
        assert received[0]["reason"] == "idle_timeout"
        wait_for(lambda: not client.connected, 10, "the socket to be disconnected")
    finally:
        web.stop()


def test_publish_survives_a_rabbitmq_restart(celery: Celery, worker: Worker) -> None:
    rabbitmqctl("stop_app")
    try:
        publisher = subprocess.Popen(
            python(
                "-c",
                "import json, sys; from app.celery_app import make_celery; "
                "from tests.conftest import test_config; "
                f"c = make_celery(test_config(CELERY_BROKER_URL={celery.conf.broker_url!r}, "
                f"CELERY_RESULT_BACKEND={RESULTS_URL!r})); "
                "r = c.send_task('tests.probe.add', args=(1, 2)); print(r.id, flush=True)",
            ),
            stdout=subprocess.PIPE,
            text=True,
        )
    finally:
        rabbitmqctl("start_app")
    out, _ = publisher.communicate(timeout=120)
    assert publisher.returncode == 0, out
    task_id = out.strip().splitlines()[-1]
    assert celery.AsyncResult(task_id).get(timeout=120) == 3


def test_flower_api_lists_the_running_worker(
    worker_env: dict[str, str], worker: Worker, tmp_path: Path
) -> None:
    port = free_port()
    flower = Process(
        python(
            "-m",
            "celery",
            "-A",
            "celery_config.celery_app",
            "flower",
            f"--port={port}",
            "--address=127.0.0.1",
        ),
        {**worker_env, "FLOWER_UNAUTHENTICATED_API": "true"},
        tmp_path / "flower.log",
    )
    try:

        def workers() -> dict[str, Any] | None:
            reply = requests.get(f"http://127.0.0.1:{port}/api/workers?refresh=1", timeout=5)
            return reply.json() if reply.ok and reply.json() else None

        listed = wait_for(workers, 60, "Flower to list the worker")
        assert any(name.startswith("probe-") for name in listed), json.dumps(listed)[:500]
    finally:
        flower.stop()


def test_jobs_overview_shows_queues_workers_and_last_runs(
    app: Flask, celery: Celery, worker: Worker
) -> None:
    from tests.conftest import sign_in

    celery.send_task("app.tasks.cleanup_tasks.cleanup_old_notifications").get(timeout=30)
    client = app.test_client()
    admin = sign_in(client, make_user("admin"))
    wait_for_heartbeat(worker)
    body = client.get("/api/admin/jobs", headers=admin.headers).get_json()
    assert set(body["queues"]) == set(QUEUES)
    assert all(isinstance(depth, int) for depth in body["queues"].values())
    # Workers of other test runs on this machine may share the Redis; ours must be there.
    assert set(body["workers"][worker.node_name]["queues"]) == set(QUEUES), body["workers"]
    last = body["last_runs"]["app.tasks.cleanup_tasks.cleanup_old_notifications"]
    assert last["state"] == "SUCCESS" and last["runtime_seconds"] >= 0


def test_config_is_json_only() -> None:
    conf = make_celery(test_config(CELERY_BROKER_URL="memory://")).conf
    assert conf.accept_content == ["json"] and conf.result_accept_content == ["json"]
    assert conf.task_serializer == conf.result_serializer == conf.event_serializer == "json"
