"""Tasks only the benchmark's worker imports (`celery worker -I bench.celery_bench_tasks`)."""

from __future__ import annotations

from celery import shared_task
from flask import current_app

from app.realtime.emit import emit_to_user
from app.redis_client import get_redis_client


@shared_task(name="bench.noop", ignore_result=True)
def noop(counter_key: str) -> None:
    """The trivial task: count itself, nothing else."""
    get_redis_client(current_app._get_current_object()).incr(counter_key)


@shared_task(name="bench.emit_stamp", ignore_result=True)
def emit_stamp(user_id: int, seq: int, sent_at: float) -> None:
    """Emit to a user's room from the worker, carrying the time the task was sent."""
    emit_to_user(user_id, "notification", {"seq": seq, "sent_at": sent_at, "via": "task"})
