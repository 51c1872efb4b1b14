"""Notifications to users and admins, and stored system health reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.database import CreatedAtMixin, JSONDocument, enum_check
from app.extensions import db

AUDIENCES = ("user", "admin")
HEALTH_STATUSES = ("ok", "degraded", "down")


class Notification(CreatedAtMixin, db.Model):
    __tablename__ = "notifications"
    __table_args__ = (enum_check("audience", AUDIENCES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audience: Mapped[str] = mapped_column(sa.String(16))
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(64))
    title: Mapped[str] = mapped_column(sa.String(255))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    read_at: Mapped[datetime | None]


class SystemHealthReport(CreatedAtMixin, db.Model):
    __tablename__ = "system_health_reports"
    __table_args__ = (enum_check("status", HEALTH_STATUSES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16))
    report: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
