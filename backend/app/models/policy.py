"""Policies, their immutable versions, and the decisions they produced."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import BigIntKey, CreatedAtMixin, JSONDocument, enum_check, utcnow
from app.extensions import db

DECISIONS = ("allow", "step_up", "deny", "terminate")


class Policy(CreatedAtMixin, db.Model):
    __tablename__ = "policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    description: Mapped[str] = mapped_column(sa.Text, default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    current_version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )

    versions: Mapped[list[PolicyVersion]] = relationship(
        back_populates="policy", order_by="PolicyVersion.version"
    )


class PolicyVersion(CreatedAtMixin, db.Model):
    __tablename__ = "policy_versions"
    __table_args__ = (sa.UniqueConstraint("policy_id", "version", name="uq_policy_versions_pv"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(sa.ForeignKey("policies.id", ondelete="CASCADE"))
    version: Mapped[int]
    rules: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )

    policy: Mapped[Policy] = relationship(back_populates="versions")


class PolicyDecision(CreatedAtMixin, db.Model):
    __tablename__ = "policy_decisions"
    __table_args__ = (enum_check("decision", DECISIONS),)

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    policy_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("policies.id", ondelete="SET NULL"), index=True
    )
    policy_version: Mapped[int | None]
    session_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("user_sessions.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    decision: Mapped[str] = mapped_column(sa.String(16))
    risk_score: Mapped[float | None]
    reasons: Mapped[list[Any]] = mapped_column(JSONDocument, default=list)
    # Observed afterwards (e.g. confirmed threat, false positive), for effectiveness metrics.
    outcome: Mapped[str | None] = mapped_column(sa.String(32))
    outcome_at: Mapped[datetime | None]
