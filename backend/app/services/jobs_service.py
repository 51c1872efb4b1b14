"""What the background-job system is doing: queue depths, live workers, last runs.

The beat schedule is declared by the task modules; callers above the services (the admin
API, the health-report task) hand it in, so this service imports neither tasks nor the
workers' Celery app.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from celery.schedules import crontab, schedule

from app.redis_client import get_redis_client
from app.services import task_sender
from app.services.job_monitor import last_runs, live_workers

log = logging.getLogger(__name__)


def queue_depths() -> dict[str, int | None]:
    """Messages waiting per queue. Each queue is declared as the workers declare it
    (idempotent), so an empty queue of a Redis broker counts 0 rather than missing."""
    celery = task_sender.client()
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


def jobs_overview(beat_schedule: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Queue depths, live workers, and each entry of ``beat_schedule`` with its last run."""
    overview: dict[str, Any] = {}
    try:
        overview["queues"] = queue_depths()
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
        for name, entry in sorted(beat_schedule.items())
    ]
    overview["last_runs"] = runs
    return overview
