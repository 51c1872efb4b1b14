"""The status of each dependency (database, Redis, message broker), and the one-line
refusal to start when a required one is down."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import current_app
from kombu import Connection
from sqlalchemy.engine import make_url

from app.extensions import db
from app.redis_client import get_redis_client

BROKER_TIMEOUT_SECONDS = 2.0


def _timed(check: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        extra = check() or {}
        status: dict[str, Any] = {"ok": True, **extra}
    except Exception as exc:
        # One line: driver messages span several, and the start-up refusal is one line.
        message = " ".join(f"{type(exc).__name__}: {exc}".split())
        status = {"ok": False, "error": message[:300]}
    status["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return status


def _check_database() -> dict[str, Any]:
    try:
        db.session.execute(sa.text("SELECT 1"))
    finally:
        db.session.rollback()
    return {"backend": db.engine.dialect.name}


def _check_redis() -> dict[str, Any]:
    client = get_redis_client()
    client.ping()
    return {}


def _check_broker() -> dict[str, Any]:
    url = current_app.config["CELERY_BROKER_URL"]
    with Connection(url, connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
        return {"transport": conn.transport_cls}


def dependency_status() -> dict[str, Any]:
    checks = {
        "database": _timed(_check_database),
        "redis": _timed(_check_redis),
        "broker": _timed(_check_broker),
    }
    return {
        "status": "ok" if all(c["ok"] for c in checks.values()) else "degraded",
        "mode": current_app.config["APP_MODE"],
        "checks": checks,
    }


def _redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True) if "://" in url else url


def unreachable_required_service() -> str | None:
    """One line naming the first required service that is down and how to start it."""
    cfg = current_app.config
    database = _timed(_check_database)
    if not database["ok"]:
        return (
            f"database unreachable at {_redacted(cfg['SQLALCHEMY_DATABASE_URI'])} "
            f"({database['error']}). Start PostgreSQL (e.g. `pg_ctlcluster 15 main start`), "
            "set DATABASE_URL, or try `python run.py --standalone`."
        )
    redis_status = _timed(_check_redis)
    if not redis_status["ok"]:
        return (
            f"Redis unreachable at {_redacted(cfg['REDIS_URL'])} ({redis_status['error']}). "
            "Start it (e.g. `redis-server --daemonize yes`), set REDIS_HOST/REDIS_PORT or "
            "REDIS_URL, or try `python run.py --standalone`."
        )
    broker = _timed(_check_broker)
    if not broker["ok"]:
        return (
            f"message broker (RabbitMQ) unreachable at {_redacted(cfg['CELERY_BROKER_URL'])} "
            f"({broker['error']}). Start it (e.g. `rabbitmq-server -detached` or "
            "`docker compose up -d rabbitmq`), set CELERY_BROKER_URL, or try "
            "`python run.py --standalone`."
        )
    return None
