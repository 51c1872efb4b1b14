"""What the background-job system is doing: queue depths, live workers, last runs."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import Celery
from celery.schedules import crontab, schedule

from app.celery_app import current_celery
from app.redis_client import get_redis_client
from app.tasks.monitoring import last_runs, live_workers

log = logging.getLogger(__name__)


def queue_depths(celery: Celery) -> dict[str, int | None]:
    """Messages waiting per queue. Each queue is declared as the workers declare it
    (idempotent), so an empty queue of a Redis broker counts 0 rather than missing."""
    depths: dict[str, int | None] = {}
    with celery.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        for queue in celery.conf.task_queues:
            channel = conn.channel()
            try:
                depths[queue.name] = queue(channel).queue_declare().message_count
            except Exception:
                log.warning("could not read the depth of %s", queue.name, exc_info=True)
                depths[queue.name] = None
            finally:
                channel.close()
    return depths


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
        client = get_redis_client()
        overview["workers"] = live_workers(client)
        runs = last_runs(client)
    except Exception as exc:
        overview["workers"] = None
        runs = {}
        overview["monitoring_error"] = f"{type(exc).__name__}: {exc}"[:300]
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
