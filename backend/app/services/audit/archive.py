"""Retention of the audit trail: old anchored batches move to content-addressed archives.

A batch whose newest event is past AUDIT_RETENTION_DAYS is written, with its anchor, as one
gzip-compressed JSON document to the IPFS store; the archive is read back and checked
against the batch root before the batch records its CID and the event rows are deleted.
Proofs and verification read archived events from there (app.services.audit.records), so
they stay verifiable. A batch whose rows no longer match its root is never archived: that
would bury the evidence; it is reported instead.
"""

from __future__ import annotations

import gzip
import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.database import utcnow
from app.extensions import db
from app.models import AuditBatch, AuditEvent
from app.services.audit.anchoring import batch_root
from app.services.audit.events import canonical_json
from app.services.audit.ipfs import blockstore_from_config
from app.services.audit.records import archive_document, batch_events, read_archive
from app.services.notify import notify_admins

log = logging.getLogger(__name__)


def _due_batches(cutoff: datetime, limit: int) -> list[AuditBatch]:
    newest_event = (
        sa.select(sa.func.max(AuditEvent.created_at))
        .where(AuditEvent.id.between(AuditBatch.first_event_id, AuditBatch.last_event_id))
        .correlate(AuditBatch)
        .scalar_subquery()
    )
    return list(
        db.session.scalars(
            sa.select(AuditBatch)
            .where(
                AuditBatch.status == "anchored",
                AuditBatch.archive_cid.is_(None),
                newest_event < cutoff,
            )
            .order_by(AuditBatch.id)
            .limit(limit)
        )
    )


def archive_batch(batch: AuditBatch) -> str:
    """Archive one anchored batch and delete its rows; returns the archive's CID."""
    records = batch_events(batch)
    intact = all(r.recomputed_hash == r.stored_hash for r in records) and (
        batch_root([r.stored_hash for r in records]) == batch.merkle_root
    )
    if not intact or len(records) != batch.event_count:
        raise ValueError(f"batch {batch.id} does not match its anchored root; not archived")
    data = gzip.compress(canonical_json(archive_document(batch, records)).encode(), mtime=0)
    cid = blockstore_from_config(current_app.config).add(data)
    batch.archive_cid = cid
    if [r.document() for r in read_archive(batch)] != [r.document() for r in records]:
        batch.archive_cid = None
        raise ValueError(f"archive {cid} of batch {batch.id} did not read back intact")
    batch.archived_at = utcnow()
    db.session.execute(
        sa.delete(AuditEvent).where(
            AuditEvent.id.between(batch.first_event_id, batch.last_event_id)
        )
    )
    db.session.commit()
    log.info("batch %s archived as %s (%s events)", batch.id, cid, len(records))
    return cid


def archive_old_batches(now: datetime | None = None) -> dict[str, Any]:
    config = current_app.config
    cutoff = (now or utcnow()) - timedelta(days=config["AUDIT_RETENTION_DAYS"])
    archived: dict[int, str] = {}
    refused: dict[int, str] = {}
    while True:
        due = [b for b in _due_batches(cutoff, config["CLEANUP_BATCH_SIZE"]) if b.id not in refused]
        if not due:
            break
        for batch in due:
            try:
                archived[batch.id] = archive_batch(batch)
            except ValueError as exc:
                db.session.rollback()
                refused[batch.id] = str(exc)
    if refused:
        notify_admins(
            "audit_archive_refused",
            "Audit batches not archived",
            "; ".join(refused.values()),
            {"batch_ids": sorted(refused)},
        )
        db.session.commit()
    return {"archived": {str(k): v for k, v in archived.items()}, "refused": refused}
