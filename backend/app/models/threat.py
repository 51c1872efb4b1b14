"""Threat detections (what happened) and threat predictions (what may happen)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.database import CreatedAtMixin, JSONDocument, enum_check
from app.extensions import db

SEVERITIES = ("low", "medium", "high", "critical")
DETECTION_STATUSES = ("open", "acknowledged", "resolved", "false_positive")


class ThreatDetection(CreatedAtMixin, db.Model):
    __tablename__ = "threat_detections"
    __table_args__ = (enum_check("severity", SEVERITIES), enum_check("status", DETECTION_STATUSES))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("user_sessions.id", ondelete="SET NULL")
    )
    threat_type: Mapped[str] = mapped_column(sa.String(64))
    severity: Mapped[str] = mapped_column(sa.String(16))
    score: Mapped[float]
    description: Mapped[str] = mapped_column(sa.Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="open", index=True)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )


class ThreatPrediction(CreatedAtMixin, db.Model):
    __tablename__ = "threat_predictions"

    id: Mapped[int] = mapped_column(primary_key=True)
    prediction_key: Mapped[str] = mapped_column(sa.String(128), index=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    threat_type: Mapped[str] = mapped_column(sa.String(64))
    probability: Mapped[float]
    horizon_hours: Mapped[int]
    valid_until: Mapped[datetime]
    features: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    # Filled once the horizon has passed: did the predicted threat happen?
    outcome: Mapped[bool | None]
    evaluated_at: Mapped[datetime | None]
