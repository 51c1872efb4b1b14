"""Decisions and their effects on a login session: step-up, termination, and their record.

``apply_decision`` is what the live path and session monitoring call with the engine's
assessment and decision. When it acts it commits the app context's database session (with
whatever else the caller has pending there); notifications go out after the commit.
Every enforced effect writes a ``PolicyDecision`` (policy id and version stay null until
versioned policies exist; ``reasons`` are the assessment's top factors) whose ``outcome``
is filled in later: ``step_up_passed``, ``step_up_failed`` or ``terminated``.
A decision that is not enforced (report only) is recorded with the outcome ``report_only``.

Step-up is durable: ``user_sessions.step_up_required_at``, which every authenticated
request loads with the session anyway, so the REST gate neither needs nor trusts a cache.
It is set with one conditional UPDATE, so a session already in step-up (or one that another
process is putting there at the same moment) is notified once, not on every batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.database import utcnow
from app.extensions import db
from app.models import Notification, PolicyDecision, UserSession
from app.realtime import emit
from app.services import notify
from app.services.after_commit import after_commit
from app.services.audit.events import record_event
from app.services.risk.engine import Assessment
from app.services.risk.factors import Factor
from app.services.session_service import end_session

ACTIONS = ("allow", "step_up", "terminate")
TOP_FACTORS = 3
RISK_TERMINATED = "risk_terminated"
STEP_UP_FAILED = "step_up_failed"
STEP_UP_KIND = "step_up_required"
ADMIN_KIND = "session_terminated_by_risk"


@dataclass(frozen=True)
class Enforcement:
    """What ``apply_decision`` did: ``applied`` when an effect took place now (not for
    allow, a report-only decision, a session already in that state or already ended)."""

    action: str
    applied: bool
    decision_id: int | None = None


def top_factors(factors: list[Factor], limit: int = TOP_FACTORS) -> list[dict[str, Any]]:
    """The largest contributions (the engine sorts them largest first), as JSON."""
    return [f.to_json() for f in factors if f.contribution > 0][:limit]


def apply_decision(
    session: UserSession, assessment: Assessment, decision: str, *, enforced: bool = True
) -> Enforcement:
    """Act on ``decision`` for ``session`` (``allow``, ``step_up`` or ``terminate``)."""
    if decision not in ACTIONS:
        raise ValueError(f"decision {decision!r} is not one of {ACTIONS}")
    if decision == "allow" or not session.is_active:
        return Enforcement(decision, False)
    reasons = top_factors(assessment.factors)
    if not enforced:
        row = _record_decision(session, decision, assessment.score, reasons, outcome="report_only")
        db.session.commit()
        return Enforcement(decision, False, row.id)
    if decision == "step_up":
        return _step_up(session, assessment.score, reasons)
    if not end_for_risk(session, RISK_TERMINATED, assessment.score, reasons):
        return Enforcement(decision, False)
    row = _record_decision(session, "terminate", assessment.score, reasons, outcome="terminated")
    db.session.commit()
    return Enforcement(decision, True, row.id)


def _record_decision(
    session: UserSession,
    decision: str,
    score: float,
    reasons: list[dict[str, Any]],
    *,
    outcome: str | None = None,
) -> PolicyDecision:
    row = PolicyDecision(
        session_id=session.id,
        user_id=session.user_id,
        decision=decision,
        risk_score=score,
        reasons=reasons,
        outcome=outcome,
        outcome_at=utcnow() if outcome else None,
    )
    db.session.add(row)
    db.session.flush()
    return row


def _step_up(session: UserSession, score: float, reasons: list[dict[str, Any]]) -> Enforcement:
    marked = db.session.execute(
        sa.update(UserSession)
        .where(
            UserSession.id == session.id,
            UserSession.status == "active",
            UserSession.step_up_required_at.is_(None),
        )
        .values(step_up_required_at=utcnow(), step_up_failures=0)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if not marked:
        return Enforcement("step_up", False)
    row = _record_decision(session, "step_up", score, reasons)
    record_event(
        "risk_step_up_required",
        actor_user_id=None,
        subject_type="session",
        subject_id=str(session.id),
        payload={"user_id": session.user_id, "score": score, "factors": reasons},
    )
    _notify_step_up(session, score, reasons)
    db.session.commit()
    return Enforcement("step_up", True, row.id)


def _notify_step_up(session: UserSession, score: float, reasons: list[dict[str, Any]]) -> None:
    """Stored for the user; after commit, `notification` to the session's sockets (every
    socket of a login session is in its room; the user's other sessions are not affected)."""
    title = "Confirm it is you"
    message = "Unusual activity in this session: enter your password to continue."
    data = {"session_id": str(session.id), "score": score, "factors": reasons}
    db.session.add(
        Notification(
            audience="user",
            user_id=session.user_id,
            kind=STEP_UP_KIND,
            title=title,
            body=message,
            data=data,
        )
    )
    payload = {**data, "kind": STEP_UP_KIND, "title": title, "message": message}
    session_id = session.id
    after_commit(lambda: emit.emit_to_session(session_id, "notification", payload))


def end_for_risk(
    session: UserSession, reason: str, score: float | None, reasons: list[dict[str, Any]]
) -> bool:
    """End ``session`` because of its risk (the caller commits): its tokens stop working,
    its sockets get `session_terminated` and are disconnected (the session-end path), the
    admins get `admin_notification`, the audit trail an event. False if it had ended."""
    if not end_session(session, status="terminated", reason=reason, actor_id=None):
        return False
    _label_open_step_up(session, STEP_UP_FAILED if reason == STEP_UP_FAILED else "terminated")
    user = session.user
    data = {
        "user_id": session.user_id,
        "username": user.username,
        "session_id": str(session.id),
        "reason": reason,
        "score": score,
        "factors": reasons,
    }
    record_event(
        "risk_session_terminated",
        actor_user_id=None,
        subject_type="session",
        subject_id=str(session.id),
        payload=data,
    )
    summary = f"Session of {user.username} ended: {reason.replace('_', ' ')}" + (
        f" (risk {score:g})." if score is not None else "."
    )
    notify.notify_admins(ADMIN_KIND, "Session terminated by risk", summary, data)
    return True


def label_step_up_passed(session: UserSession) -> None:
    _label_open_step_up(session, "step_up_passed")


def _label_open_step_up(session: UserSession, outcome: str) -> None:
    """Give the session's open step-up decisions their outcome (the caller commits)."""
    db.session.execute(
        sa.update(PolicyDecision)
        .where(
            PolicyDecision.session_id == session.id,
            PolicyDecision.decision == "step_up",
            PolicyDecision.outcome.is_(None),
        )
        .values(outcome=outcome, outcome_at=utcnow())
        .execution_options(synchronize_session=False)
    )
