"""The status of each dependency (database, Redis, message broker), and the one-line
refusal to start when a required one is down."""

from __future__ import annotations

import threading
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


class ProbeCache:
    """The last dependency probe, reused while younger than ``max_age`` seconds; a caller
    that finds it stale probes while concurrent callers wait for that one result (single
    flight), so a burst of requests costs one database, Redis and broker round trip."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status: dict[str, Any] | None = None
        self._taken_at = 0.0

    def _fresh(self, max_age: float) -> dict[str, Any] | None:
        if self._status is not None and time.monotonic() - self._taken_at < max_age:
            return self._status
        return None

    def get(self, max_age: float, probe: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        status = self._fresh(max_age)
        if status is not None:
            return status
        with self._lock:
            status = self._fresh(max_age)
            if status is None:
                status = probe()
                self._status, self._taken_at = status, time.monotonic()
            return status


def cached_dependency_status() -> dict[str, Any]:
    """dependency_status() at most once per HEALTH_CACHE_SECONDS for this app."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cache = app.extensions.setdefault("zt_health_probe", ProbeCache())
    return cache.get(app.config["HEALTH_CACHE_SECONDS"], dependency_status)


def without_error_details(status: dict[str, Any]) -> dict[str, Any]:
    """``status`` as anyone may see it: whether each dependency is up, not why it is down
    (driver messages name hosts, users and versions)."""
    checks = {
        name: {key: value for key, value in check.items() if key != "error"}
        for name, check in status["checks"].items()
    }
    return {**status, "checks": checks}


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
