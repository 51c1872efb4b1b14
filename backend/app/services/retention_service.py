"""Retention: expiring idle sessions and deleting old rows in small batches.

Every function is idempotent (running it twice removes nothing more) and commits per
batch, so no giant transaction holds locks.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.database import utcnow
from app.extensions import db
from app.models import BehavioralSample, Notification, ThreatPrediction, UserSession
from app.services.session_service import end_session


def expire_idle_sessions() -> int:
    """Expire active sessions unused for SESSION_IDLE_TIMEOUT_SECONDS (their tokens stop
    working; open sockets get session_terminated and are disconnected)."""
    cfg = current_app.config
    cutoff = utcnow() - timedelta(seconds=cfg["SESSION_IDLE_TIMEOUT_SECONDS"])
    expired = 0
    while True:
        batch = db.session.scalars(
            sa.select(UserSession)
            .where(UserSession.status == "active", UserSession.last_seen_at < cutoff)
            .order_by(UserSession.last_seen_at)
            .limit(cfg["CLEANUP_BATCH_SIZE"])
        ).all()
        if not batch:
            return expired
        for session in batch:
            end_session(session, status="expired", reason="idle_timeout", actor_id=None)
        db.session.commit()
        expired += len(batch)


def delete_in_batches(model: Any, *conditions: sa.ColumnElement[bool]) -> int:
    """Delete rows of ``model`` matching ``conditions``, one committed batch at a time."""
    batch_size = current_app.config["CLEANUP_BATCH_SIZE"]
    deleted = 0
    while True:
        ids = db.session.scalars(
            sa.select(model.id).where(*conditions).order_by(model.id).limit(batch_size)
        ).all()
        if not ids:
            return deleted
        db.session.execute(sa.delete(model).where(model.id.in_(ids)))
        db.session.commit()
        deleted += len(ids)


def _days_ago(setting: str) -> Any:
    return utcnow() - timedelta(days=current_app.config[setting])


def delete_old_behavioral_data() -> int:
    cutoff = _days_ago("BEHAVIOR_RETENTION_DAYS")
    return delete_in_batches(BehavioralSample, BehavioralSample.created_at < cutoff)


def delete_old_threat_predictions() -> int:
    cutoff = _days_ago("PREDICTION_RETENTION_DAYS")
    return delete_in_batches(ThreatPrediction, ThreatPrediction.valid_until < cutoff)


def delete_old_notifications() -> int:
    cutoff = _days_ago("NOTIFICATION_RETENTION_DAYS")
    return delete_in_batches(Notification, Notification.created_at < cutoff)
