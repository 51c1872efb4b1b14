"""Tasks that only test workers import (`celery worker -I tests.celery_probe_tasks`):
they expose delivery, retry and redelivery behaviour of the real AppTask base."""

from __future__ import annotations

import time

import redis
from celery import shared_task
from flask import current_app

from app.redis_client import get_redis_client


def _redis() -> redis.Redis:
    return get_redis_client(current_app._get_current_object())


@shared_task(name="tests.probe.add")
def add(x: int, y: int) -> int:
    return x + y


@shared_task(bind=True, name="tests.probe.flaky")
def flaky(self, key: str, failures: int) -> dict:  # type: ignore[no-untyped-def]
    """Fails with a transient Redis-style error ``failures`` times, then succeeds."""
    attempt = int(_redis().incr(f"{key}:attempts"))
    _redis().rpush(f"{key}:times", time.time())
    if attempt <= failures:
        raise redis.exceptions.ConnectionError(f"simulated outage, attempt {attempt}")
    return {"attempts": attempt, "retries": self.request.retries}


@shared_task(name="tests.probe.slow_idempotent")
def slow_idempotent(key: str, seconds: float) -> int:
    """Announces its start, works for ``seconds``, then applies its effect once."""
    client = _redis()
    client.rpush(f"{key}:starts", time.time())
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    client.set(f"{key}:effect", 1, nx=True)  # the idempotent effect
    return int(client.incr(f"{key}:completions"))


@shared_task(name="tests.probe.whoami")
def whoami() -> dict:
    from celery import current_task

    info = current_task.request.delivery_info or {}
    return {"routing_key": info.get("routing_key"), "exchange": info.get("exchange")}


@shared_task(name="tests.probe.burn_cpu")
def burn_cpu(seconds: float) -> int:
    """Pure-Python CPU work for ``seconds`` (a stand-in for model training)."""
    deadline = time.monotonic() + seconds
    rounds = 0
    while time.monotonic() < deadline:
        sum(i * i for i in range(10_000))
        rounds += 1
    return rounds
