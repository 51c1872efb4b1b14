"""What the background-job system is doing: queue depths, live workers, last runs."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import Celery
from celery.schedules import crontab, schedule
from flask import current_app

from app.celery_app import QUEUES, current_celery
from app.redis_client import get_redis_client
from app.tasks.monitoring import last_runs

log = logging.getLogger(__name__)


def queue_depths(celery: Celery) -> dict[str, int | None]:
    """Messages waiting per queue (None when the broker cannot say)."""
    depths: dict[str, int | None] = {}
    with celery.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        for name in QUEUES:
            channel = conn.channel()
            try:
                depths[name] = channel.queue_declare(name, passive=True).message_count
            except Exception:
                depths[name] = None  # not declared yet: no worker has consumed it
            finally:
                try:
                    channel.close()
                except Exception:
                    log.debug("closing the inspection channel of %s failed", name)
    return depths


def live_workers(celery: Celery) -> dict[str, Any]:
    """Workers that answered within CELERY_INSPECT_TIMEOUT_MS, with the queues they consume."""
    timeout = current_app.config["CELERY_INSPECT_TIMEOUT_MS"] / 1000
    replies = celery.control.inspect(timeout=timeout).active_queues() or {}
    return {worker: sorted(q["name"] for q in queues) for worker, queues in replies.items()}


def _describe(entry_schedule: Any) -> str:
    if isinstance(entry_schedule, crontab):
        return (
            f"crontab(minute={entry_schedule._orig_minute}, hour={entry_schedule._orig_hour}, "
            f"day_of_week={entry_schedule._orig_day_of_week}, "
            f"day_of_month={entry_schedule._orig_day_of_month})"
        )
    if isinstance(entry_schedule, schedule):
        entry_schedule = entry_schedule.run_every
    if isinstance(entry_schedule, timedelta):
        return f"every {entry_schedule.total_seconds():g} s"
    return str(entry_schedule)


def jobs_overview() -> dict[str, Any]:
    celery = current_celery()
    overview: dict[str, Any] = {}
    try:
        overview["queues"] = queue_depths(celery)
    except Exception as exc:
        overview["queues"] = None
        overview["broker_error"] = f"{type(exc).__name__}: {exc}"[:300]
    try:
        overview["workers"] = live_workers(celery)
    except Exception as exc:
        overview["workers"] = None
        overview["workers_error"] = f"{type(exc).__name__}: {exc}"[:300]
    try:
        runs = last_runs(get_redis_client())
    except Exception as exc:
        runs = {}
        overview["last_runs_error"] = f"{type(exc).__name__}: {exc}"[:300]
    overview["schedule"] = [
        {
            "entry": name,
            "task": entry["task"],
            "schedule": _describe(entry["schedule"]),
            "last_run": runs.get(entry["task"]),
        }
        for name, entry in sorted(celery.conf.beat_schedule.items())
    ]
    overview["last_runs"] = runs
    return overview
