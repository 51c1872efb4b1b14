"""Audit events (a hash chain) and the Merkle batches that anchor them on a chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.database import BigIntKey, CreatedAtMixin, JSONDocument, enum_check
from app.extensions import db

# pending: built, no transaction yet; submitted: a signed transaction is stored and sent;
# anchored: mined. A batch whose anchor left the chain goes back to pending.
BATCH_STATUSES = ("pending", "submitted", "anchored", "failed")


class AuditEvent(db.Model):
    """One security-relevant event. ``event_hash`` covers its content and ``prev_hash``."""

    __tablename__ = "audit_events"
    # Ids are never reused, even on SQLite once archiving has emptied the table: an id
    # names one event for good (proofs, archives and batch ranges refer to it).
    __table_args__ = {"sqlite_autoincrement": True}

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
    # Set by callers that may run twice (tasks): a second recording returns the first.
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(128), unique=True)


class AuditBatch(CreatedAtMixin, db.Model):
    """Consecutive events under one Merkle root, and the transaction that anchors it.

    ``manifest_cid`` names the batch's leaf list (event ids and hashes) in the IPFS store,
    which lets verification say exactly which event was changed or deleted; once events
    pass retention, ``archive_cid`` names their compressed archive and their rows go.
    """

    __tablename__ = "audit_batches"
    __table_args__ = (enum_check("status", BATCH_STATUSES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique: two concurrent batch builders cannot both claim the same events.
    first_event_id: Mapped[int] = mapped_column(BigIntKey, unique=True)
    last_event_id: Mapped[int] = mapped_column(BigIntKey)
    event_count: Mapped[int]
    last_event_hash: Mapped[str] = mapped_column(sa.String(64))
    merkle_root: Mapped[str] = mapped_column(sa.String(64))
    manifest_cid: Mapped[str | None] = mapped_column(sa.String(128))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", index=True)
    chain_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    signer: Mapped[str | None] = mapped_column(sa.String(42))
    tx_hash: Mapped[str | None] = mapped_column(sa.String(66))
    tx_nonce: Mapped[int | None] = mapped_column(sa.BigInteger)
    raw_tx: Mapped[str | None] = mapped_column(sa.Text)
    # Transactions of this batch replaced (same nonce, higher fees) while pending: at most
    # one of them and tx_hash can be mined, and whichever is becomes the anchor.
    replaced_tx_hashes: Mapped[list[str] | None] = mapped_column(JSONDocument)
    submitted_at: Mapped[datetime | None]
    block_number: Mapped[int | None] = mapped_column(sa.BigInteger)
    block_hash: Mapped[str | None] = mapped_column(sa.String(66))
    anchored_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    # Earlier anchors that left their chain (a reorganisation or a chain that was reset).
    anchor_history: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONDocument)
    archive_cid: Mapped[str | None] = mapped_column(sa.String(128))
    archived_at: Mapped[datetime | None]
