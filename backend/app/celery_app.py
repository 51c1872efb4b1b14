"""The Celery application: broker, queues, routes, limits, the Flask app inside tasks.

Tasks are declared with ``@shared_task(base=AppTask)`` next to their feature (app/tasks/),
each module with its beat entries in ``BEAT_SCHEDULE``. The Flask app a task runs in is
built lazily in the process that runs it — after the worker has forked — so no database or
Redis connection pool is ever shared across processes.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Mapping
from typing import Any

import redis
import sqlalchemy.exc
from celery import Celery, Task
from flask import Flask, current_app, has_app_context
from kombu import Exchange, Queue

from app.config import load_config

QUEUES = ("ml_queue", "blockchain_queue", "policy_queue", "default")
ROUTES = {
    "app.tasks.ml_tasks.*": {"queue": "ml_queue"},
    "app.tasks.blockchain_tasks.*": {"queue": "blockchain_queue"},
    "app.tasks.policy_tasks.*": {"queue": "policy_queue"},
}
TASK_MODULES = ("app.tasks.cleanup_tasks", "app.tasks.blockchain_tasks")
# Errors worth retrying: the database, Redis or broker was briefly unreachable.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
)

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
    settings = load_config() if config is None else config
    celery = Celery("zero_trust", task_cls=AppTask)
    celery.conf.update(
        broker_url=settings["CELERY_BROKER_URL"],
        result_backend=settings["CELERY_RESULT_BACKEND"],
        task_serializer="json",
        result_serializer="json",
        event_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        timezone=settings["CELERY_TIMEZONE"],
        enable_utc=True,
        task_queues=[
            Queue(name, Exchange(name, type="direct"), routing_key=name, durable=True)
            for name in QUEUES
        ],
        task_default_queue="default",
        task_default_exchange="default",
        task_default_routing_key="default",
        task_routes=ROUTES,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_soft_time_limit=settings["CELERY_TASK_SOFT_TIME_LIMIT"],
        task_time_limit=settings["CELERY_TASK_TIME_LIMIT"],
        task_annotations={"*": {"max_retries": settings["CELERY_TASK_MAX_RETRIES"]}},
        task_track_started=True,
        task_send_sent_event=True,
        worker_send_task_events=True,
        worker_prefetch_multiplier=1,
        result_expires=settings["CELERY_RESULT_EXPIRES"],
        # Publishing survives a broker restart: retry the connection before giving up.
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": 10,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 3,
        },
        broker_connection_retry_on_startup=True,
        beat_schedule_filename=settings["CELERY_BEAT_SCHEDULE_FILE"],
        include=list(TASK_MODULES),
    )
    celery.set_default()
    for name in TASK_MODULES:
        importlib.import_module(name)
    celery.conf.beat_schedule = beat_schedule()
    from app.tasks import monitoring

    monitoring.connect_signals()
    return celery


def celery_for(app: Flask) -> Celery:
    """The Celery app configured from ``app``'s settings (built once per Flask app)."""
    celery = app.extensions.get("celery")
    if celery is None:
        celery = make_celery(app.config)
        app.extensions["celery"] = celery
    return celery


def current_celery() -> Celery:
    return celery_for(current_app._get_current_object())  # type: ignore[attr-defined]
