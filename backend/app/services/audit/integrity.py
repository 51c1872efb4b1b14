"""Integrity checks of the audit trail as the platform runs them (the task, an admin's
request): verify a range, and tell the admins what failed."""

from __future__ import annotations

from typing import Any

from app.extensions import db
from app.services.audit.verify import full_range, verify_range
from app.services.notify import notify_admins

# At most this many failures travel in the admin notification; the report has them all.
NOTIFIED_FAILURES = 50


def check_and_report(
    first_event_id: int | None = None, last_event_id: int | None = None
) -> dict[str, Any]:
    """Verify events ``first_event_id..last_event_id``; a missing bound is the trail's own
    (no bounds: the whole trail). Failures are stored and sent to the admin room as an
    ``audit_integrity_failure`` notification. Returns the verification report."""
    if first_event_id is None or last_event_id is None:
        whole = full_range()
        if whole is None:
            return {"ok": True, "events_checked": 0, "failures": [], "notes": ["no events"]}
        first_event_id = first_event_id or whole[0]
        last_event_id = last_event_id or whole[1]
    report = verify_range(first_event_id, last_event_id)
    if not report["ok"]:
        reasons = sorted({failure["reason"] for failure in report["failures"]})
        notify_admins(
            "audit_integrity_failure",
            "Audit trail verification failed",
            f"{len(report['failures'])} failure(s) in events "
            f"{report['first_event_id']}..{report['last_event_id']}: {', '.join(reasons)}",
            {"failures": report["failures"][:NOTIFIED_FAILURES]},
        )
        db.session.commit()
    return report
