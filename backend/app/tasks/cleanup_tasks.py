"""Cleanup and reporting tasks (queue ``default``), and their beat entries.

Each is idempotent, works in committed batches and returns (and logs) what it did.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.schedules import crontab

from app.celery_app import beat_schedule
from app.realtime.server import get_websocket_stats
from app.services import retention_service, system_health_report
from app.services.risk import assessments as risk_assessments

log = logging.getLogger(__name__)
PREFIX = "app.tasks.cleanup_tasks"

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "cleanup_expired_sessions": {
        "task": f"{PREFIX}.cleanup_expired_sessions",
        "schedule": crontab(minute=0),
    },
    "cleanup_old_behavioral_data": {
        "task": f"{PREFIX}.cleanup_old_behavioral_data",
        "schedule": crontab(minute=0, hour=1, day_of_week="mon"),
    },
    "cleanup_old_threat_predictions": {
        "task": f"{PREFIX}.cleanup_old_threat_predictions",
        "schedule": crontab(minute=0, hour=1, day_of_week="tue"),
    },
    "cleanup_old_notifications": {
        "task": f"{PREFIX}.cleanup_old_notifications",
        "schedule": crontab(minute=0, hour=5),
    },
    "cleanup_cache": {
        "task": f"{PREFIX}.cleanup_cache",
        "schedule": timedelta(hours=6),
    },
    "generate_system_health_report": {
        "task": f"{PREFIX}.generate_system_health_report",
        "schedule": crontab(minute=0, hour=6),
    },
}


def _done(name: str, result: dict[str, Any]) -> dict[str, Any]:
    log.info("%s: %s", name, result)
    return result


@shared_task
def cleanup_expired_sessions() -> dict[str, Any]:
    """Expire idle sessions: tokens revoked, open sockets told and disconnected."""
    return _done("cleanup_expired_sessions", {"expired": retention_service.expire_idle_sessions()})


@shared_task
def cleanup_old_behavioral_data() -> dict[str, Any]:
    """Telemetry samples past BEHAVIOR_RETENTION_DAYS and risk assessments past
    RISK_ASSESSMENT_RETENTION_DAYS."""
    deleted = retention_service.delete_old_behavioral_data()
    assessments = risk_assessments.purge_old_assessments()
    return _done(
        "cleanup_old_behavioral_data",
        {"deleted": deleted, "risk_assessments_deleted": assessments},
    )


@shared_task
def cleanup_old_threat_predictions() -> dict[str, Any]:
    deleted = retention_service.delete_old_threat_predictions()
    return _done("cleanup_old_threat_predictions", {"deleted": deleted})


@shared_task
def cleanup_old_notifications() -> dict[str, Any]:
    deleted = retention_service.delete_old_notifications()
    return _done("cleanup_old_notifications", {"deleted": deleted})


@shared_task
def cleanup_cache() -> dict[str, Any]:
    """Remove cache index entries whose cached values have expired or were deleted."""
    from app.services.cache_service import cache_service

    return _done("cleanup_cache", cache_service.cleanup_indexes())


@shared_task
def generate_system_health_report() -> dict[str, Any]:
    from app.services.cache_service import cache_service

    cache = cache_service.get_cache_stats()
    realtime = get_websocket_stats().get("cluster")
    report = system_health_report.generate(
        realtime=realtime, cache=cache, beat_schedule=beat_schedule()
    )
    return _done(
        "generate_system_health_report",
        {"report_id": report.id, "status": report.status, "problems": report.report["problems"]},
    )
