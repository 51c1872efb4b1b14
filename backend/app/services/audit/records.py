"""Audit events as verification sees them, wherever they live: database rows or archives.

Events past retention leave the database for a compressed, content-addressed archive (one
per batch, its CID on the batch); verification, proofs and archiving read events as
``EventRecord``s from here (``read_archive`` for an archived batch, rows otherwise), and so
work the same on both.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import AuditBatch, AuditEvent
from app.services.audit.anchoring import MANIFEST_FORMAT
from app.services.audit.events import CONTENT_FIELDS, content_of, hash_content
from app.services.audit.ipfs import blockstore_from_config

ARCHIVE_FORMAT = "zero-trust-audit-archive/1"


class ArchiveError(RuntimeError):
    """An archive or manifest that cannot be read back or is not what its batch says."""


@dataclass(frozen=True)
class EventRecord:
    id: int
    content: dict[str, Any]  # exactly what the event hash covers
    stored_hash: str  # the hash stored with the event

    @property
    def recomputed_hash(self) -> str:
        return hash_content(self.content)

    @classmethod
    def of(cls, event: AuditEvent) -> EventRecord:
        return cls(id=event.id, content=content_of(event), stored_hash=event.event_hash)

    def document(self) -> dict[str, Any]:
        return {"id": self.id, "event_hash": self.stored_hash, **self.content}


def record_from_document(doc: dict[str, Any]) -> EventRecord:
    content = {name: doc[name] for name in CONTENT_FIELDS}
    return EventRecord(id=int(doc["id"]), content=content, stored_hash=str(doc["event_hash"]))


def _cat_json(cid: str, what: str) -> Any:
    try:
        data = blockstore_from_config(current_app.config).cat(cid)
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        return json.loads(data)
    except Exception as exc:
        raise ArchiveError(f"{what} {cid} could not be read: {exc}") from exc


def read_manifest(batch: AuditBatch) -> list[tuple[int, str]]:
    if batch.manifest_cid is None:
        raise ArchiveError(f"batch {batch.id} has no manifest")
    doc = _cat_json(batch.manifest_cid, "manifest")
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
        raise ArchiveError(f"manifest {batch.manifest_cid} is not an audit manifest")
    return [(int(event_id), str(event_hash)) for event_id, event_hash in doc["events"]]


def archive_document(batch: AuditBatch, events: list[EventRecord]) -> dict[str, Any]:
    return {
        "format": ARCHIVE_FORMAT,
        "batch": {
            name: getattr(batch, name)
            for name in (
                "id",
                "first_event_id",
                "last_event_id",
                "event_count",
                "merkle_root",
                "last_event_hash",
                "manifest_cid",
                "chain_id",
                "signer",
                "tx_hash",
                "block_number",
                "block_hash",
            )
        },
        "events": [event.document() for event in events],
    }


def read_archive(batch: AuditBatch) -> list[EventRecord]:
    assert batch.archive_cid is not None
    doc = _cat_json(batch.archive_cid, "archive")
    if not isinstance(doc, dict) or doc.get("format") != ARCHIVE_FORMAT:
        raise ArchiveError(f"archive {batch.archive_cid} is not an audit archive")
    if doc["batch"].get("id") != batch.id:
        raise ArchiveError(f"archive {batch.archive_cid} belongs to batch {doc['batch'].get('id')}")
    try:
        return [record_from_document(item) for item in doc["events"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ArchiveError(f"archive {batch.archive_cid} has a malformed event: {exc}") from exc


def batch_events(batch: AuditBatch) -> list[EventRecord]:
    """The batch's events in id order, from its archive once it has one, else its rows."""
    if batch.archive_cid is not None:
        return read_archive(batch)
    rows = db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.id.between(batch.first_event_id, batch.last_event_id))
        .order_by(AuditEvent.id)
    )
    return [EventRecord.of(row) for row in rows]


def batch_leaf_hashes(batch: AuditBatch) -> list[tuple[int, str]]:
    """(id, stored event hash) of the rows of the batch's events in id order: only the two
    columns, so building a proof does not load every event of a large batch."""
    rows = db.session.execute(
        sa.select(AuditEvent.id, AuditEvent.event_hash)
        .where(AuditEvent.id.between(batch.first_event_id, batch.last_event_id))
        .order_by(AuditEvent.id)
    )
    return [(int(row.id), str(row.event_hash)) for row in rows]


def batch_of_event(event_id: int) -> AuditBatch | None:
    """The batch whose id range holds ``event_id`` (rows or archive)."""
    return db.session.scalar(
        sa.select(AuditBatch).where(
            AuditBatch.first_event_id <= event_id, AuditBatch.last_event_id >= event_id
        )
    )
