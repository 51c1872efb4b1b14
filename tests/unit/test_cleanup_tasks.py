"""Cleanup task bodies, called directly (no eager mode, no broker)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.database import utcnow
from app.extensions import db
from app.models import (
    AuditEvent,
    BehavioralSample,
    Notification,
    ThreatPrediction,
    UserSession,
)
from app.tasks import cleanup_tasks
from tests.conftest import count, make_user, sign_in


def _age_session(session_id: str, seconds: int) -> None:
    session = db.session.get(UserSession, uuid.UUID(session_id))
    session.last_seen_at = utcnow() - timedelta(seconds=seconds)
    db.session.commit()


def test_cleanup_expired_sessions_expires_idle_ones_only(app: Flask, client: FlaskClient) -> None:
    idle = sign_in(client, make_user())
    fresh = sign_in(client, make_user())
    _age_session(idle.session_id, app.config["SESSION_IDLE_TIMEOUT_SECONDS"] + 5)

    assert cleanup_tasks.cleanup_expired_sessions() == {"expired": 1}

    expired = db.session.get(UserSession, uuid.UUID(idle.session_id))
    assert expired.status == "expired" and expired.termination_reason == "idle_timeout"
    assert client.get("/api/auth/me", headers=idle.headers).status_code == 401
    assert client.get("/api/auth/me", headers=fresh.headers).status_code == 200
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": idle.refresh_token})
    assert refreshed.status_code == 401
    events = db.session.scalars(
        sa.select(AuditEvent.event_type).where(AuditEvent.subject_id == idle.session_id)
    ).all()
    assert events == ["session_expired"]
    # Idempotent: a second run finds nothing more to do.
    assert cleanup_tasks.cleanup_expired_sessions() == {"expired": 0}


def test_cleanup_expired_sessions_works_in_batches(app: Flask, client: FlaskClient) -> None:
    app.config["CLEANUP_BATCH_SIZE"] = 2
    signed = [sign_in(client, make_user()) for _ in range(5)]
    for s in signed:
        _age_session(s.session_id, app.config["SESSION_IDLE_TIMEOUT_SECONDS"] + 5)
    assert cleanup_tasks.cleanup_expired_sessions() == {"expired": 5}
    assert count(UserSession) == 5
    assert db.session.scalar(sa.select(sa.func.count()).where(UserSession.status == "active")) == 0


@pytest.fixture
def session_row(client: FlaskClient) -> UserSession:
    signed = sign_in(client, make_user())
    return db.session.get(UserSession, uuid.UUID(signed.session_id))


def test_cleanup_old_behavioral_data(app: Flask, session_row: UserSession) -> None:
    app.config["CLEANUP_BATCH_SIZE"] = 3
    now = utcnow()
    old = now - timedelta(days=app.config["BEHAVIOR_RETENTION_DAYS"] + 1)
    for created in [old] * 7 + [now] * 2:
        db.session.add(
            BehavioralSample(
                user_id=session_row.user_id,
                session_id=session_row.id,
                events={"keystrokes": []},
                created_at=created,
            )
        )
    db.session.commit()
    first = cleanup_tasks.cleanup_old_behavioral_data()
    assert first == {"deleted": 7, "risk_assessments_deleted": 0}
    assert count(BehavioralSample) == 2
    second = cleanup_tasks.cleanup_old_behavioral_data()
    assert second == {"deleted": 0, "risk_assessments_deleted": 0}


def test_cleanup_old_threat_predictions(app: Flask) -> None:
    now = utcnow()
    expired_long_ago = now - timedelta(days=app.config["PREDICTION_RETENTION_DAYS"] + 1)
    for valid_until in (expired_long_ago, expired_long_ago, now + timedelta(hours=1)):
        db.session.add(
            ThreatPrediction(
                prediction_key="global:brute_force",
                threat_type="brute_force",
                probability=0.4,
                horizon_hours=6,
                valid_until=valid_until,
            )
        )
    db.session.commit()
    assert cleanup_tasks.cleanup_old_threat_predictions() == {"deleted": 2}
    assert count(ThreatPrediction) == 1


def test_cleanup_old_notifications(app: Flask) -> None:
    user = make_user()
    now = utcnow()
    old = now - timedelta(days=app.config["NOTIFICATION_RETENTION_DAYS"] + 1)
    for created in (old, now):
        db.session.add(
            Notification(
                audience="user", user_id=user.id, kind="info", title="t", created_at=created
            )
        )
    db.session.commit()
    assert cleanup_tasks.cleanup_old_notifications() == {"deleted": 1}
    assert count(Notification) == 1
