"""Stored risk assessments: a buffered writer, retention, and the reads REST serves.

``AssessmentWriter`` keeps assessments in memory and writes them with one multi-row INSERT
per flush, plus one executemany UPDATE of the sessions' ``risk_score``/``risk_level`` (the
latest assessment of each session), in one commit. It flushes when the buffer holds
``max_rows`` or its oldest entry is ``max_age`` seconds old (checked on ``add``); a caller
flushes what is left at its end (a task at its end, a web process on a timer or at
shutdown). It is thread-safe, so one writer can serve a web process's handlers; each process
(web or worker) has its own. Rows not yet flushed are lost if the process dies: these are
observations that the next assessment replaces, not the audit trail.

A stored row's ``factors`` document holds {factors, behaviour, decision}; ``created_at`` is
when it was assessed.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.database import utcnow
from app.extensions import db
from app.models import RiskAssessment, User, UserSession
from app.services import session_service
from app.services.retention_service import delete_in_batches
from app.services.risk.engine import Assessment
from app.services.user_service import get_user

DEFAULT_MAX_ROWS = 500
MAX_ROWS_LIMIT = 3000
DEFAULT_MAX_AGE_SECONDS = 2.0


def assessment_row(assessment: Assessment, model_id: int | None = None) -> dict[str, Any]:
    return {
        "session_id": uuid.UUID(assessment.session_id),
        "user_id": assessment.user_id,
        "model_id": model_id,
        "behavioral_score": assessment.behavioral_score,
        "context_score": assessment.context_score,
        "risk_score": assessment.score,
        "risk_level": assessment.level,
        "factors": {
            "factors": [f.to_json() for f in assessment.factors],
            "behaviour": assessment.behaviour.to_json(),
            "decision": dict(assessment.decision),
        },
        "created_at": assessment.assessed_at,
    }


class AssessmentWriter:
    def __init__(
        self,
        max_rows: int = DEFAULT_MAX_ROWS,
        max_age: float = DEFAULT_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= max_rows <= MAX_ROWS_LIMIT or max_age < 0:
            raise ValueError(f"max_rows must be 1..{MAX_ROWS_LIMIT} and max_age not negative")
        self.max_rows, self.max_age, self._clock = max_rows, max_age, clock
        self._rows: list[dict[str, Any]] = []
        self._oldest: float | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AssessmentWriter:
        """A writer with the RISK_ASSESSMENT_BATCH_* bounds of ``config``."""
        return cls(config["RISK_ASSESSMENT_BATCH_ROWS"], config["RISK_ASSESSMENT_BATCH_MAX_AGE"])

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, assessment: Assessment, model_id: int | None = None) -> int:
        """Buffer one assessment; flush if a bound is reached. Returns the rows written."""
        with self._lock:
            if self._oldest is None:
                self._oldest = self._clock()
            self._rows.append(assessment_row(assessment, model_id))
        return self.flush() if self.due() else 0

    def due(self) -> bool:
        with self._lock:
            if not self._rows:
                return False
            assert self._oldest is not None
            return len(self._rows) >= self.max_rows or self._clock() - self._oldest >= self.max_age

    def flush(self) -> int:
        """Write every buffered row (one INSERT, one UPDATE, one commit); the rows written.

        It commits the app context's database session, so call it where committing what
        else that session holds is right (a task's end, a handler after its own commit).
        On a database error the session is rolled back and the rows go back to the buffer
        for the next flush.
        """
        with self._lock:
            rows, self._rows, self._oldest = self._rows, [], None
        if not rows:
            return 0
        try:
            _write(rows)
        except Exception:
            db.session.rollback()
            with self._lock:
                self._rows[:0] = rows
                self._oldest = self._clock()
            raise
        return len(rows)


def _write(rows: list[dict[str, Any]]) -> None:
    # One statement with a VALUES tuple per row (Core, so the ORM does not turn it into
    # an executemany); 9 parameters a row keeps DEFAULT_MAX_ROWS far below the drivers'
    # parameter limits (PostgreSQL 65535, SQLite 32766).
    db.session.execute(sa.insert(RiskAssessment.__table__).values(rows))
    sessions = UserSession.__table__
    latest: dict[uuid.UUID, dict[str, Any]] = {}
    for row in rows:
        known = latest.get(row["session_id"])
        if known is None or row["created_at"] >= known["created_at"]:
            latest[row["session_id"]] = row
    db.session.execute(
        sa.update(sessions)
        .where(sessions.c.id == sa.bindparam("sid"))
        .values(risk_score=sa.bindparam("score"), risk_level=sa.bindparam("level")),
        [
            {"sid": sid, "score": row["risk_score"], "level": row["risk_level"]}
            for sid, row in latest.items()
        ],
    )
    db.session.commit()


def purge_old_assessments() -> int:
    """Delete assessments older than RISK_ASSESSMENT_RETENTION_DAYS, in committed batches."""
    cutoff = utcnow() - timedelta(days=current_app.config["RISK_ASSESSMENT_RETENTION_DAYS"])
    return delete_in_batches(RiskAssessment, RiskAssessment.created_at < cutoff)


def _newest_first(*conditions: sa.ColumnElement[bool], limit: int) -> list[RiskAssessment]:
    return list(
        db.session.scalars(
            sa.select(RiskAssessment)
            .where(*conditions)
            .order_by(RiskAssessment.created_at.desc(), RiskAssessment.id.desc())
            .limit(limit)
        )
    )


def session_history(
    actor: User, session_id: uuid.UUID, limit: int
) -> tuple[UserSession, list[RiskAssessment]]:
    """A session and its latest assessments, newest first. Another user's session is not
    found, exactly like an unknown one (its existence is not disclosed)."""
    session = session_service.get_session_for(actor, session_id)
    return session, _newest_first(RiskAssessment.session_id == session.id, limit=limit)


def user_history(actor: User, user_id: int, limit: int) -> tuple[User, list[RiskAssessment]]:
    """A user's latest assessments over all their sessions, newest first (admins)."""
    user = get_user(actor, user_id)
    return user, _newest_first(RiskAssessment.user_id == user.id, limit=limit)
