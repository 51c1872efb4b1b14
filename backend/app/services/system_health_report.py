"""The daily system health report: every dependency, the job system, real-time and cache.

Stored as a SystemHealthReport and announced to the admin room (admin_notification).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.extensions import db
from app.models import SystemHealthReport
from app.services.dependency_health import dependency_status
from app.services.jobs_service import jobs_overview
from app.services.notify import notify_admins


def _problems(deps: dict[str, Any], jobs: dict[str, Any], realtime: Any, cache: Any) -> list[str]:
    problems = [f"{name} unreachable" for name, check in deps["checks"].items() if not check["ok"]]
    if not jobs.get("workers"):
        problems.append("no Celery worker answered")
    for entry in jobs.get("schedule", []):
        last = entry.get("last_run")
        if last and last.get("state") not in (None, "SUCCESS"):
            problems.append(f"{entry['task']} last ended {last['state']}")
    if realtime is None:
        problems.append("real-time statistics unavailable")
    if isinstance(cache, dict) and not cache.get("connected", True):
        problems.append("cache not connected")
    return problems


def generate(
    realtime: dict[str, Any] | None,
    cache: dict[str, Any] | None,
    beat_schedule: Mapping[str, Mapping[str, Any]],
) -> SystemHealthReport:
    """Assemble, store and announce a report. ``realtime`` and ``cache`` are the cluster
    Socket.IO statistics and the cache statistics, ``beat_schedule`` the workers' schedule,
    gathered by the caller."""
    deps = dependency_status()
    jobs = jobs_overview(beat_schedule)
    problems = _problems(deps, jobs, realtime, cache)
    database_down = not deps["checks"]["database"]["ok"]
    status = "down" if database_down else ("degraded" if problems else "ok")
    body = {
        "dependencies": deps["checks"],
        "jobs": jobs,
        "realtime": realtime,
        "cache": cache,
        "problems": problems,
    }
    report = SystemHealthReport(status=status, report=body)
    db.session.add(report)
    db.session.flush()
    summary = "all systems normal" if not problems else "; ".join(problems)
    notify_admins(
        "system_health_report",
        f"System health: {status}",
        summary,
        {"report_id": report.id, "status": status, "problems": problems},
    )
    db.session.commit()
    return report
