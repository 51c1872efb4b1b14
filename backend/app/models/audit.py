"""Audit events (a hash chain) and the Merkle batches that anchor them on a chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigIntKey, CreatedAtMixin, JSONDocument, enum_check
from app.extensions import db

BATCH_STATUSES = ("pending", "anchored", "failed")


class AuditEvent(db.Model):
    """One security-relevant event. ``event_hash`` covers its content and ``prev_hash``."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    event_type: Mapped[str] = mapped_column(sa.String(64), index=True)
    actor_user_id: Mapped[int | None] = mapped_column(index=True)
    subject_type: Mapped[str | None] = mapped_column(sa.String(32))
    subject_id: Mapped[str | None] = mapped_column(sa.String(64))
    ip_address: Mapped[str | None] = mapped_column(sa.String(45))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    payload_cid: Mapped[str | None] = mapped_column(sa.String(128))
    prev_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    event_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    batch_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("audit_batches.id", ondelete="SET NULL"), index=True
    )


class AuditBatch(CreatedAtMixin, db.Model):
    __tablename__ = "audit_batches"
    __table_args__ = (enum_check("status", BATCH_STATUSES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    first_event_id: Mapped[int] = mapped_column(BigIntKey)
    last_event_id: Mapped[int] = mapped_column(BigIntKey)
    event_count: Mapped[int]
    merkle_root: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", index=True)
    chain_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    tx_hash: Mapped[str | None] = mapped_column(sa.String(66))
    block_number: Mapped[int | None] = mapped_column(sa.BigInteger)
    anchored_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
