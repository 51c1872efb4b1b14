"""Celery entry point: `celery -A celery_config.celery_app worker|beat|events|inspect|flower`.

Broker RabbitMQ, results in Redis db 1, JSON only, the four queues of ARCHITECTURE
section 6 with routes by task module. Task modules and their beat entries are added by the
issues that build them (app/tasks/*), declared next to their feature.
"""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from app.config import load_config

QUEUES = ("ml_queue", "blockchain_queue", "policy_queue", "default")
ROUTES = {
    "app.tasks.ml_tasks.*": {"queue": "ml_queue"},
    "app.tasks.blockchain_tasks.*": {"queue": "blockchain_queue"},
    "app.tasks.policy_tasks.*": {"queue": "policy_queue"},
}


def make_celery(config: dict | None = None) -> Celery:
    settings = config or load_config()
    app = Celery("zero_trust")
    app.conf.update(
        broker_url=settings["CELERY_BROKER_URL"],
        result_backend=settings["CELERY_RESULT_BACKEND"],
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        timezone=settings["CELERY_TIMEZONE"],
        enable_utc=True,
        task_queues=[
            Queue(name, Exchange(name), routing_key=name, durable=True) for name in QUEUES
        ],
        task_default_queue="default",
        task_default_exchange="default",
        task_default_routing_key="default",
        task_routes=ROUTES,
        broker_connection_retry_on_startup=True,
    )
    return app


celery_app = make_celery()
