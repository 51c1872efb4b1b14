"""The record of what the background-job system did: workers' heartbeats and every task's
last run, kept in Redis (``zt:jobs:workers``, ``zt:jobs:last_run``).

Plain functions over a Redis client. Worker signals write here (wired where the Celery
app is built, app.celery_app); GET /api/admin/jobs and the system health report read.
Liveness comes from the heartbeats workers send every two seconds rather than from a
broadcast ``inspect``, so it works on every broker (the standalone embedded Redis
included) and never makes a web request wait for replies.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

LAST_RUNS = "zt:jobs:last_run"
WORKERS = "zt:jobs:workers"
# A worker whose last heartbeat is older than this is not alive (heartbeats come every 2 s).
WORKER_STALE_SECONDS = 10
FORGET_WORKER_SECONDS = 86400


def record_run(
    client: redis.Redis,
    task_name: str,
    *,
    task_id: str | None,
    state: str | None,
    started_at: float | None,
    finished_at: float,
) -> None:
    """Remember the latest run of ``task_name``."""
    record = {
        "task_id": task_id,
        "state": state,
        "started_at": started_at,
        "finished_at": finished_at,
        "runtime_seconds": round(finished_at - started_at, 3) if started_at else None,
    }
    client.hset(LAST_RUNS, task_name, json.dumps(record))


def record_heartbeat(
    client: redis.Redis, hostname: str, queues: list[str], at: float | None = None
) -> None:
    """Note that worker ``hostname``, consuming ``queues``, is alive."""
    record = {"heartbeat_at": time.time() if at is None else at, "queues": queues}
    client.hset(WORKERS, hostname, json.dumps(record))


def live_workers(client: redis.Redis) -> dict[str, dict[str, Any]]:
    """Workers heard from in the last WORKER_STALE_SECONDS, with their queues; workers
    silent for a day are forgotten."""
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
