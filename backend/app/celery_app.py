"""The workers' Celery application: broker settings, the task modules, the beat schedule,
the Flask app inside tasks, and the job-monitoring signals.

Tasks are declared with ``@shared_task(base=AppTask)`` next to their feature (app/tasks/),
each module with its beat entries in ``BEAT_SCHEDULE``. The Flask app a task runs in is
built lazily in the process that runs it — after the worker has forked — so no database or
Redis connection pool is ever shared across processes. Services never import this module:
they send tasks through ``app.services.task_sender``.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

from celery import Celery, Task
from celery.signals import heartbeat_sent, task_postrun, task_prerun, worker_ready
from flask import Flask, has_app_context

from app.celery_conf import QUEUES, ROUTES, celery_conf
from app.config import load_config, warn_if_development_secrets
from app.redis_client import get_redis_client
from app.services import job_monitor
from app.transient_errors import TRANSIENT_ERRORS

__all__ = ["QUEUES", "ROUTES", "TASK_MODULES", "AppTask", "beat_schedule", "make_celery"]

log = logging.getLogger(__name__)
TASK_MODULES = ("app.tasks.cleanup_tasks", "app.tasks.blockchain_tasks", "app.tasks.ml_tasks")

_lock = threading.Lock()
_worker_apps: dict[int, Flask] = {}


def worker_flask_app() -> Flask:
    """This process's Flask app for running tasks, built on first use after the fork."""
    pid = os.getpid()
    app = _worker_apps.get(pid)
    if app is None:
        from app import create_app

        with _lock:
            app = _worker_apps.get(pid)
            if app is None:
                app = create_app()
                _worker_apps[pid] = app
    return app


class AppTask(Task):
    """Runs inside a Flask app context (the caller's, or the worker's own), retries
    transient errors with exponential backoff and full jitter, acks late so a task whose
    worker dies is delivered again (tasks are idempotent)."""

    abstract = True
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    acks_late = True
    reject_on_worker_lost = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if has_app_context():
            return super().__call__(*args, **kwargs)
        with worker_flask_app().app_context():
            return super().__call__(*args, **kwargs)


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Every task module's BEAT_SCHEDULE, merged (each feature declares its own entries)."""
    schedule: dict[str, dict[str, Any]] = {}
    for name in TASK_MODULES:
        entries = getattr(importlib.import_module(name), "BEAT_SCHEDULE", {})
        clash = set(schedule) & set(entries)
        if clash:
            raise ValueError(f"beat entries declared twice: {sorted(clash)}")
        schedule.update(entries)
    return schedule


def make_celery(config: Mapping[str, Any] | None = None) -> Celery:
    if config is None:
        settings = load_config()
        warn_if_development_secrets(settings)  # a worker's or beat's own start
    else:
        settings = config
    celery = Celery("zero_trust", task_cls=AppTask)
    celery.conf.update(celery_conf(settings), include=list(TASK_MODULES))
    celery.set_default()
    for name in TASK_MODULES:
        importlib.import_module(name)
    celery.conf.beat_schedule = beat_schedule()
    _connect_job_monitoring()
    return celery


# --- job monitoring: worker signals recorded by app.services.job_monitor -------------------

_started: dict[str, float] = {}
# The queues this worker process consumes, known once it is ready; sent with each heartbeat.
_queues: list[str] = []
_monitoring_connected = False


def _on_prerun(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.time()


def _on_postrun(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    started = _started.pop(task_id or "", None)
    try:
        job_monitor.record_run(
            get_redis_client(worker_flask_app()),
            task.name,
            task_id=task_id,
            state=state,
            started_at=started,
            finished_at=time.time(),
        )
    except Exception:
        log.warning("could not record the last run of %s", getattr(task, "name", task))


def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    _queues[:] = sorted(queue.name for queue in sender.task_consumer.queues)


def _on_heartbeat(sender: Any = None, **_: Any) -> None:
    hostname = sender.eventer.hostname
    try:
        job_monitor.record_heartbeat(get_redis_client(worker_flask_app()), hostname, _queues)
    except Exception:
        log.warning("could not record a heartbeat of %s", hostname)


def _connect_job_monitoring() -> None:
    global _monitoring_connected
    if not _monitoring_connected:
        task_prerun.connect(_on_prerun, weak=False)
        task_postrun.connect(_on_postrun, weak=False)
        worker_ready.connect(_on_worker_ready, weak=False)
        heartbeat_sent.connect(_on_heartbeat, weak=False)
        _monitoring_connected = True
