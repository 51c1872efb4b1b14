"""How every Celery client of the platform talks to the broker: queues, routes, JSON only,
the reliability settings.

Both the workers' app (``app.celery_app``: this plus the task modules, beat schedule and
signals) and the sender services use (``app.services.task_sender``: this alone) are built
from here, so a task sent from anywhere lands on the queue its module is routed to.
Imports nothing of the app.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kombu import Exchange, Queue

QUEUES = ("ml_queue", "blockchain_queue", "policy_queue", "default")
ROUTES = {
    "app.tasks.ml_tasks.*": {"queue": "ml_queue"},
    "app.tasks.blockchain_tasks.*": {"queue": "blockchain_queue"},
    "app.tasks.policy_tasks.*": {"queue": "policy_queue"},
}


def celery_conf(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Celery settings from the platform's (``app.config``) settings."""
    return {
        "broker_url": settings["CELERY_BROKER_URL"],
        "result_backend": settings["CELERY_RESULT_BACKEND"],
        "task_serializer": "json",
        "result_serializer": "json",
        "event_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "timezone": settings["CELERY_TIMEZONE"],
        "enable_utc": True,
        "task_queues": [
            Queue(name, Exchange(name, type="direct"), routing_key=name, durable=True)
            for name in QUEUES
        ],
        "task_default_queue": "default",
        "task_default_exchange": "default",
        "task_default_routing_key": "default",
        "task_routes": ROUTES,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_soft_time_limit": settings["CELERY_TASK_SOFT_TIME_LIMIT"],
        "task_time_limit": settings["CELERY_TASK_TIME_LIMIT"],
        "task_annotations": {"*": {"max_retries": settings["CELERY_TASK_MAX_RETRIES"]}},
        "task_track_started": True,
        "task_send_sent_event": True,
        "worker_send_task_events": True,
        "worker_prefetch_multiplier": 1,
        "result_expires": settings["CELERY_RESULT_EXPIRES"],
        # Publishing survives a broker restart: retry the connection before giving up.
        "task_publish_retry": True,
        "task_publish_retry_policy": {
            "max_retries": 10,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 3,
        },
        "broker_connection_retry_on_startup": True,
        "beat_schedule_filename": settings["CELERY_BEAT_SCHEDULE_FILE"],
    }
