"""Workers' heartbeats and every task's last run, recorded by worker signals in Redis.

Read by GET /api/admin/jobs and the daily system health report. Liveness comes from the
heartbeats workers send every two seconds rather than from a broadcast `inspect`, so it
works on every broker (the standalone embedded Redis included) and never makes a web
request wait for replies.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis
from celery.signals import heartbeat_sent, task_postrun, task_prerun, worker_ready

log = logging.getLogger(__name__)
LAST_RUNS = "zt:jobs:last_run"
WORKERS = "zt:jobs:workers"
# A worker whose last heartbeat is older than this is not alive (heartbeats come every 2 s).
WORKER_STALE_SECONDS = 10
FORGET_WORKER_SECONDS = 86400
_started: dict[str, float] = {}
# The queues this worker process consumes, known once it is ready; sent with each heartbeat.
_queues: list[str] = []
_connected = False


def _client() -> redis.Redis:
    from app.celery_app import worker_flask_app
    from app.redis_client import get_redis_client

    return get_redis_client(worker_flask_app())


def _on_prerun(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.time()


def _on_postrun(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    started = _started.pop(task_id or "", None)
    finished = time.time()
    record = {
        "task_id": task_id,
        "state": state,
        "started_at": started,
        "finished_at": finished,
        "runtime_seconds": round(finished - started, 3) if started else None,
    }
    try:
        _client().hset(LAST_RUNS, task.name, json.dumps(record))
    except Exception:
        log.warning("could not record the last run of %s", getattr(task, "name", task))


def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    _queues[:] = sorted(queue.name for queue in sender.task_consumer.queues)


def _on_heartbeat(sender: Any = None, **_: Any) -> None:
    record = {"heartbeat_at": time.time(), "queues": _queues}
    try:
        _client().hset(WORKERS, sender.eventer.hostname, json.dumps(record))
    except Exception:
        log.warning("could not record a heartbeat of %s", sender.eventer.hostname)


def connect_signals() -> None:
    global _connected
    if not _connected:
        task_prerun.connect(_on_prerun, weak=False)
        task_postrun.connect(_on_postrun, weak=False)
        worker_ready.connect(_on_worker_ready, weak=False)
        heartbeat_sent.connect(_on_heartbeat, weak=False)
        _connected = True


def live_workers(client: redis.Redis) -> dict[str, dict[str, Any]]:
    """Workers heard from in the last WORKER_STALE_SECONDS, with their queues."""
    now = time.time()
    alive: dict[str, dict[str, Any]] = {}
    for name, raw in client.hgetall(WORKERS).items():
        record = json.loads(raw)
        age = now - record["heartbeat_at"]
        if age > FORGET_WORKER_SECONDS:
            client.hdel(WORKERS, name)
        elif age <= WORKER_STALE_SECONDS:
            alive[name.decode()] = {
                "heartbeat_age_seconds": round(age, 1),
                "queues": record["queues"],
            }
    return alive


def last_runs(client: redis.Redis) -> dict[str, dict[str, Any]]:
    return {name.decode(): json.loads(value) for name, value in client.hgetall(LAST_RUNS).items()}
