"""Passing or failing a step-up: the signed-in user confirms their password.

Each try is counted on the session row before the password is checked (one conditional
UPDATE, atomic on every backend: on PostgreSQL the row lock orders concurrent tries), so
however many wrong guesses arrive at once, at most STEP_UP_MAX_FAILURES are checked. A try
whose password could not be checked (a sign-in budget spent, no hashing slot free) gives
its count back. The check itself is the login's: the same budgets and the same bounded
hashing off the event loop (``auth_service.check_step_up_password``).

The optional typing timings are validated (the telemetry schema) but not yet compared with
the user's password-typing model.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from app.database import utcnow
from app.errors import AppError, Conflict, Forbidden, Unauthorized
from app.extensions import db
from app.models import RiskAssessment, UserSession
from app.realtime import emit
from app.services import auth_service
from app.services.after_commit import after_commit
from app.services.audit.events import record_event
from app.services.auth_service import Principal
from app.services.risk.enforcement import STEP_UP_FAILED, end_for_risk, label_step_up_passed
from app.services.risk.engine import level_of

STEP_UP_FACTOR = "step_up_passed"
PASSED_KIND = "step_up_passed"


@dataclass(frozen=True)
class StepUpPassed:
    session: UserSession
    previous_score: float | None
    risk_score: float


def confirm(principal: Principal, password: str, ip_address: str) -> StepUpPassed:
    """Clear the session's step-up if ``password`` is the user's. Conflict when the session
    is not in step-up; Forbidden ``invalid_credentials`` for a wrong password (the last
    allowed one ends the session: Forbidden ``step_up_failed``)."""
    session, user = principal.session, principal.user
    if not session.needs_step_up:
        raise Conflict("This session does not need a step-up.", code="step_up_not_required")
    limit = current_app.config["STEP_UP_MAX_FAILURES"]
    tries = _count_try(session, limit)
    db.session.commit()
    if tries is None:
        db.session.refresh(session)
        if not session.needs_step_up:
            raise Conflict("This session does not need a step-up.", code="step_up_not_required")
        raise Forbidden("No step-up attempts are left.", code=STEP_UP_FAILED)
    try:
        right = auth_service.check_step_up_password(user, password, ip_address)
    except AppError:
        _give_back_try(session)
        db.session.commit()
        raise
    if right:
        return _passed(principal, ip_address)
    if tries >= limit:
        db.session.refresh(session)
        end_for_risk(session, STEP_UP_FAILED, session.risk_score, [])
        db.session.commit()
        raise Forbidden(
            "The password was wrong too many times; this session has ended.", code=STEP_UP_FAILED
        )
    db.session.commit()
    raise Forbidden(
        "The password is wrong.",
        code="invalid_credentials",
        details={"attempts_left": limit - tries},
    )


def _count_try(session: UserSession, limit: int) -> int | None:
    """This try's number, or None when no try is left (or the step-up has cleared)."""
    sessions = UserSession.__table__
    return db.session.execute(
        sa.update(sessions)
        .where(
            sessions.c.id == session.id,
            sessions.c.status == "active",
            sessions.c.step_up_required_at.is_not(None),
            sessions.c.step_up_failures < limit,
        )
        .values(step_up_failures=sessions.c.step_up_failures + 1)
        .returning(sessions.c.step_up_failures)
    ).scalar_one_or_none()


def _give_back_try(session: UserSession) -> None:
    sessions = UserSession.__table__
    db.session.execute(
        sa.update(sessions)
        .where(sessions.c.id == session.id, sessions.c.step_up_failures > 0)
        .values(step_up_failures=sessions.c.step_up_failures - 1)
    )


def _passed(principal: Principal, ip_address: str) -> StepUpPassed:
    """Clear the step-up, lower the session's risk below the step-up threshold and store
    an assessment that says why, label the decision, audit it (one commit); then tell the
    session's sockets (`notification` kind ``step_up_passed``: other tabs drop the prompt)."""
    session = principal.session
    sessions = UserSession.__table__
    cleared = db.session.execute(
        sa.update(sessions)
        .where(
            sessions.c.id == session.id,
            sessions.c.status == "active",
            sessions.c.step_up_required_at.is_not(None),
        )
        .values(step_up_required_at=None, step_up_failures=0)
    ).rowcount
    db.session.refresh(session)
    if not cleared:
        db.session.commit()
        if not session.is_active:
            raise Unauthorized("This session has ended.", code="session_ended")
        raise Conflict("This session does not need a step-up.", code="step_up_not_required")
    previous = session.risk_score
    lowered = float(current_app.config["STEP_UP_PASSED_RISK_SCORE"])
    if previous is not None:
        lowered = min(previous, lowered)
    session.risk_score, session.risk_level = lowered, level_of(lowered)
    db.session.add(
        RiskAssessment(
            session_id=session.id,
            user_id=session.user_id,
            behavioral_score=None,
            context_score=None,
            risk_score=lowered,
            risk_level=session.risk_level,
            factors={
                "factors": [
                    {
                        "name": STEP_UP_FACTOR,
                        "contribution": lowered,
                        "detail": "The user confirmed their password (step-up); "
                        f"risk lowered from {previous}.",
                    }
                ],
                "behaviour": None,
                "decision": {
                    "action": "allow",
                    "policy_id": None,
                    "policy_version": None,
                    "enforced": True,
                },
            },
            created_at=utcnow(),
        )
    )
    label_step_up_passed(session)
    record_event(
        "step_up_passed",
        actor_user_id=principal.user.id,
        subject_type="session",
        subject_id=str(session.id),
        ip_address=ip_address,
        payload={"previous_score": previous, "risk_score": lowered},
    )
    passed = {
        "kind": PASSED_KIND,
        "title": "Thanks, it is you",
        "message": "Your password was confirmed; you can continue.",
        "session_id": str(session.id),
        "risk_score": lowered,
    }
    session_id = session.id
    after_commit(lambda: emit.emit_to_session(session_id, "notification", passed))
    db.session.commit()
    return StepUpPassed(session=session, previous_score=previous, risk_score=lowered)
