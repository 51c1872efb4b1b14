"""Risk assessments: a session's scored risk at one moment, with its factors."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigIntKey, CreatedAtMixin, JSONDocument, enum_check
from app.extensions import db

RISK_LEVELS = ("low", "medium", "high", "critical")


class RiskAssessment(CreatedAtMixin, db.Model):
    __tablename__ = "risk_assessments"
    __table_args__ = (
        enum_check("risk_level", RISK_LEVELS),
        sa.Index("ix_risk_assessments_session_created", "session_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("user_sessions.id", ondelete="CASCADE")
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("behavioral_models.id", ondelete="SET NULL")
    )
    behavioral_score: Mapped[float | None]
    context_score: Mapped[float | None]
    risk_score: Mapped[float]
    risk_level: Mapped[str] = mapped_column(sa.String(16))
    factors: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
