"""The login session: what gets risk-scored and can be terminated."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import CreatedAtMixin, enum_check, utcnow
from app.extensions import db
from app.models.user import Device, User

SESSION_STATUSES = ("active", "terminated", "expired")


class UserSession(CreatedAtMixin, db.Model):
    __tablename__ = "user_sessions"
    __table_args__ = (
        enum_check("status", SESSION_STATUSES),
        sa.Index("ix_user_sessions_user_status", "user_id", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    device_id: Mapped[int | None] = mapped_column(sa.ForeignKey("devices.id", ondelete="SET NULL"))
    ip_address: Mapped[str] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))
    status: Mapped[str] = mapped_column(sa.String(16), default="active", index=True)
    risk_score: Mapped[float | None]
    risk_level: Mapped[str | None] = mapped_column(sa.String(16))
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    termination_reason: Mapped[str | None] = mapped_column(sa.String(255))
    terminated_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    # jti of the one refresh token that may still be used (rotation; reuse is detected).
    refresh_jti: Mapped[str | None] = mapped_column(sa.String(64))
    # Set while the session must confirm its owner (POST /api/auth/step-up) before sensitive
    # actions; the failures are the wrong passwords given since (counted before checking).
    step_up_required_at: Mapped[datetime | None]
    step_up_failures: Mapped[int] = mapped_column(default=0, server_default="0")

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    device: Mapped[Device | None] = relationship()

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    @property
    def needs_step_up(self) -> bool:
        return self.step_up_required_at is not None
