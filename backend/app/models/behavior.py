"""Behavioural telemetry samples and the per-user model versions trained on them."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigIntKey, CreatedAtMixin, JSONDocument, enum_check
from app.extensions import db

MODEL_KINDS = ("keystroke", "mouse")


class BehavioralSample(CreatedAtMixin, db.Model):
    """One validated `behavioral_data` batch (timings only, never typed characters)."""

    __tablename__ = "behavioral_samples"
    __table_args__ = (sa.Index("ix_behavioral_samples_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    session_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("user_sessions.id", ondelete="CASCADE"), index=True
    )
    keystroke_count: Mapped[int] = mapped_column(default=0)
    mouse_count: Mapped[int] = mapped_column(default=0)
    click_count: Mapped[int] = mapped_column(default=0)
    events: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    features: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)


class BehavioralModel(CreatedAtMixin, db.Model):
    """A trained version of one user's behavioural model of one kind (keystroke, mouse).

    Versions count per user and kind; at most one per user and kind is active (a partial
    unique index). A row with no user_id is the population model of its kind
    (``update_threat_models``): the reference used while users are still enrolling."""

    __tablename__ = "behavioral_models"
    __table_args__ = (
        enum_check("kind", MODEL_KINDS),
        sa.UniqueConstraint("user_id", "kind", "version", name="uq_behavioral_models_ukv"),
        sa.Index(
            "uq_behavioral_models_one_active",
            "user_id",
            "kind",
            unique=True,
            postgresql_where=sa.text("is_active"),
            sqlite_where=sa.text("is_active"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(16))
    version: Mapped[int]
    algorithm: Mapped[str] = mapped_column(sa.String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    training_samples: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=False)
