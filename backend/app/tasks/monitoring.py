"""Last run and outcome of every task, recorded by worker signals in Redis.

Read by GET /api/admin/jobs and the daily system health report.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis
from celery.signals import task_postrun, task_prerun

log = logging.getLogger(__name__)
LAST_RUNS = "zt:jobs:last_run"
_started: dict[str, float] = {}
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


def connect_signals() -> None:
    global _connected
    if not _connected:
        task_prerun.connect(_on_prerun, weak=False)
        task_postrun.connect(_on_postrun, weak=False)
        _connected = True


def last_runs(client: redis.Redis) -> dict[str, dict[str, Any]]:
    return {name.decode(): json.loads(value) for name, value in client.hgetall(LAST_RUNS).items()}
