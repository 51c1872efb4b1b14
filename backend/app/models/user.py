"""Accounts, their devices and login attempts."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import BigIntKey, CreatedAtMixin, enum_check, utcnow
from app.extensions import db

ROLES = ("user", "admin")


class User(CreatedAtMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (enum_check("role", ROLES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16), default="user")
    is_active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]

    devices: Mapped[list[Device]] = relationship(back_populates="user")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class Device(db.Model):
    """A browser/device a user signed in from, identified by a client fingerprint."""

    __tablename__ = "devices"
    __table_args__ = (sa.UniqueConstraint("user_id", "fingerprint", name="uq_devices_user_fp"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(128))
    user_agent: Mapped[str | None] = mapped_column(sa.String(512))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    trusted: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship(back_populates="devices")


class LoginAttempt(CreatedAtMixin, db.Model):
    """Every checked login try (and every current password given to change one): the
    sign-in history, whose successes make an IP familiar. The lockout itself counts in
    Redis (app.services.login_limits); tries refused unchecked are not rows."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        sa.Index("ix_login_attempts_username_created", "username", "created_at"),
        sa.Index("ix_login_attempts_ip_created", "ip_address", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    ip_address: Mapped[str] = mapped_column(sa.String(45))
    success: Mapped[bool]
    reason: Mapped[str] = mapped_column(sa.String(32))
