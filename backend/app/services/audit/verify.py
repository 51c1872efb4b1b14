"""Verifying the audit trail: a range of events against their hashes, batches and anchors.

Checks, for every event of the range (widened to whole batches):

* its stored fields still hash to its ``event_hash``            → ``content_modified``
* its ``prev_hash`` is the preceding event's hash               → ``chain_broken``
* its hash is the one its batch's manifest anchored             → ``hash_replaced``
* every event the manifest anchored is still there              → ``deleted``
* nothing sits in an anchored range that was not anchored in it → ``inserted``

and for every batch: the manifest hashes to the batch root (``manifest_mismatch``), the
events hash to it (``root_mismatch``), and the chain holds that root, for that batch and
range, sent by the batch's signer (``anchor_mismatch``, ``anchor_missing``,
``anchor_signer_mismatch``). Failures name the event (or batch) and why; conditions that are
not tampering (a batch not anchored yet, a chain unreachable, an ephemeral chain that was
reset) are listed as notes and leave ``ok`` alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import AuditBatch, AuditEvent
from app.services.audit.anchoring import batch_root, chain_reader
from app.services.audit.chain import AnchorDataError, ChainError, ChainReader
from app.services.audit.events import GENESIS_HASH
from app.services.audit.records import (
    ArchiveError,
    EventRecord,
    read_archive,
    read_manifest,
)


@dataclass(frozen=True)
class Failure:
    reason: str
    detail: str
    event_id: int | None = None
    batch_id: int | None = None


@dataclass
class BatchReport:
    id: int
    status: str
    anchor: str  # verified | unanchored | unverified | missing | mismatch | reanchor_pending
    tx_hash: str | None = None
    confirmations: int | None = None


class RangeError(ValueError):
    """A range that cannot be verified as asked (the message says why)."""


def _overlapping_batches(lo: int, hi: int) -> list[AuditBatch]:
    """Copies outside the session: verification commits between batches (so it never holds
    one snapshot throughout), which must neither expire nor touch the caller's objects."""
    rows = db.session.scalars(
        sa.select(AuditBatch)
        .where(AuditBatch.first_event_id <= hi, AuditBatch.last_event_id >= lo)
        .order_by(AuditBatch.first_event_id)
    )
    columns = [column.key for column in sa.inspect(AuditBatch).column_attrs]
    return [AuditBatch(**{key: getattr(row, key) for key in columns}) for row in rows]


def _expected_prev_hash(start: int) -> tuple[str, str]:
    """The hash the event at ``start`` must link to, and where it comes from."""
    row = db.session.execute(
        sa.select(AuditEvent.id, AuditEvent.event_hash)
        .where(AuditEvent.id < start)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).first()
    if row is not None:
        return row.event_hash, f"event {row.id}"
    earlier = db.session.scalar(
        sa.select(AuditBatch)
        .where(AuditBatch.last_event_id < start)
        .order_by(AuditBatch.last_event_id.desc())
        .limit(1)
    )
    if earlier is not None:
        return earlier.last_event_hash, f"the last event of batch {earlier.id}"
    return GENESIS_HASH, "the start of the chain"


# Unbatched stretches (the not yet anchored tail) are read this many ids at a time.
WINDOW = 10_000


def _rows(lo: int, hi: int) -> list[EventRecord]:
    rows = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.id.between(lo, hi)).order_by(AuditEvent.id)
    )
    return [EventRecord.of(row) for row in rows]


def _segments(
    lo: int, hi: int, batches: list[AuditBatch]
) -> Iterator[tuple[AuditBatch | None, list[EventRecord]]]:
    """The range's events a batch (or an unbatched window) at a time, in id order, so a
    whole trail is verified in bounded memory."""
    cursor = lo
    for batch in [*batches, None]:
        gap_end = hi if batch is None else batch.first_event_id - 1
        while cursor <= gap_end:
            window_end = min(gap_end, cursor + WINDOW - 1)
            yield None, _rows(cursor, window_end)
            cursor = window_end + 1
        if batch is None:
            return
        if batch.archive_cid is not None:
            yield batch, read_archive(batch) + _rows(batch.first_event_id, batch.last_event_id)
        else:
            yield batch, _rows(batch.first_event_id, batch.last_event_id)
        cursor = batch.last_event_id + 1


def _check_batch_contents(
    batch: AuditBatch, records: list[EventRecord], failures: list[Failure], notes: list[str]
) -> None:
    try:
        manifest = read_manifest(batch)
    except ArchiveError as exc:
        manifest = None
        notes.append(f"batch {batch.id}: {exc}; events checked against the root only")
    if manifest is not None and batch_root([h for _, h in manifest]) != batch.merkle_root:
        failures.append(
            Failure(
                "manifest_mismatch",
                "the manifest does not hash to the batch root",
                batch_id=batch.id,
            )
        )
        manifest = None
    if manifest is not None:
        anchored = dict(manifest)
        present = {record.id: record for record in records}
        for event_id, anchored_hash in manifest:
            record = present.get(event_id)
            if record is None:
                failures.append(
                    Failure(
                        "deleted",
                        f"anchored in batch {batch.id} but no longer stored",
                        event_id=event_id,
                        batch_id=batch.id,
                    )
                )
            elif record.stored_hash != anchored_hash:
                failures.append(
                    Failure(
                        "hash_replaced",
                        f"its hash is not the one anchored in batch {batch.id}",
                        event_id=event_id,
                        batch_id=batch.id,
                    )
                )
        for record in records:
            if record.id not in anchored:
                failures.append(
                    Failure(
                        "inserted",
                        f"inside batch {batch.id}'s range but not anchored in it",
                        event_id=record.id,
                        batch_id=batch.id,
                    )
                )
    if batch_root([record.recomputed_hash for record in records]) != batch.merkle_root:
        failures.append(
            Failure(
                "root_mismatch",
                "the batch's events no longer hash to its Merkle root",
                batch_id=batch.id,
            )
        )


def _check_anchor(
    batch: AuditBatch,
    reader: ChainReader | None,
    node_chain_id: int | None,
    failures: list[Failure],
    notes: list[str],
) -> BatchReport:
    report = BatchReport(
        id=batch.id, status=batch.status, anchor="unanchored", tx_hash=batch.tx_hash
    )
    if batch.status != "anchored":
        notes.append(f"batch {batch.id} is {batch.status}: not anchored yet")
        return report
    if reader is None or node_chain_id is None:
        report.anchor = "unverified"
        return report
    if node_chain_id != batch.chain_id:
        report.anchor = "unverified"
        notes.append(
            f"batch {batch.id} is anchored on chain {batch.chain_id}, "
            f"the node is on chain {node_chain_id}"
        )
        return report
    assert batch.tx_hash is not None
    try:
        anchor = reader.read_anchor(batch.tx_hash)
    except AnchorDataError as exc:
        report.anchor = "mismatch"
        failures.append(Failure("anchor_mismatch", str(exc), batch_id=batch.id))
        return report
    if anchor is None or anchor.block_number is None:
        if current_app.config["ETH_CHAIN_EPHEMERAL"]:
            report.anchor = "reanchor_pending"
            notes.append(f"batch {batch.id}: its ephemeral chain was reset; it will be re-anchored")
        else:
            report.anchor = "missing"
            failures.append(
                Failure(
                    "anchor_missing",
                    f"transaction {batch.tx_hash} is not on chain {batch.chain_id}",
                    batch_id=batch.id,
                )
            )
        return report
    expected = (batch.id, batch.first_event_id, batch.last_event_id, batch.merkle_root)
    payload = anchor.payload
    if (
        payload.batch_id,
        payload.first_event_id,
        payload.last_event_id,
        payload.merkle_root,
    ) != expected or not anchor.succeeded:
        report.anchor = "mismatch"
        failures.append(
            Failure(
                "anchor_mismatch",
                f"the chain anchors root {payload.merkle_root} for batch "
                f"{payload.batch_id}, the batch records {batch.merkle_root}",
                batch_id=batch.id,
            )
        )
        return report
    if (batch.signer or "").lower() != anchor.sender.lower():
        report.anchor = "mismatch"
        failures.append(
            Failure(
                "anchor_signer_mismatch",
                f"sent by {anchor.sender}, the batch records {batch.signer}",
                batch_id=batch.id,
            )
        )
        return report
    report.anchor, report.confirmations = "verified", anchor.confirmations
    return report


def verify_range(first_id: int, last_id: int, reader: ChainReader | None = None) -> dict[str, Any]:
    """Verify events ``first_id``..``last_id`` (widened to whole batches); see module doc."""
    if first_id < 1 or last_id < first_id:
        raise RangeError("the range must satisfy 1 <= first_event_id <= last_event_id")
    batches = _overlapping_batches(first_id, last_id)
    lo = min([first_id, *(b.first_event_id for b in batches)])
    hi = max([last_id, *(b.last_event_id for b in batches)])
    failures: list[Failure] = []
    notes: list[str] = []
    node_chain_id: int | None = None
    if any(batch.status == "anchored" for batch in batches):
        reader = reader or chain_reader()
        try:
            node_chain_id = reader.chain_id()
        except ChainError as exc:
            notes.append(f"anchors not checked: {exc}")

    prev_hash, prev_source = _expected_prev_hash(lo)
    checked = 0
    reports = []
    try:
        for batch, records in _segments(lo, hi, batches):
            records.sort(key=lambda r: r.id)
            checked += len(records)
            for record in records:
                if record.recomputed_hash != record.stored_hash:
                    failures.append(
                        Failure(
                            "content_modified",
                            "its stored fields no longer hash to its event_hash",
                            event_id=record.id,
                        )
                    )
                if record.content["prev_hash"] != prev_hash:
                    failures.append(
                        Failure(
                            "chain_broken",
                            f"prev_hash does not match {prev_source}: an event between "
                            "them was deleted or the order changed",
                            event_id=record.id,
                        )
                    )
                prev_hash, prev_source = record.stored_hash, f"event {record.id}"
            # Read-only: end the transaction before the node is asked, so a long
            # verification never holds one snapshot open throughout.
            db.session.commit()
            if batch is None:
                continue
            _check_batch_contents(batch, records, failures, notes)
            try:
                reports.append(_check_anchor(batch, reader, node_chain_id, failures, notes))
            except ChainError as exc:
                notes.append(f"batch {batch.id}: anchor not checked: {exc}")
                reports.append(BatchReport(batch.id, batch.status, "unverified", batch.tx_hash))
    except ArchiveError as exc:
        raise RangeError(str(exc)) from exc
    return {
        "ok": not failures,
        "first_event_id": lo,
        "last_event_id": hi,
        "events_checked": checked,
        "batches_checked": len(batches),
        "failures": [asdict(f) for f in failures],
        "batches": [asdict(r) for r in reports],
        "notes": notes,
    }


def full_range() -> tuple[int, int] | None:
    """The ids of the first and last event ever recorded (rows or archives)."""
    lows = [
        db.session.scalar(sa.select(sa.func.min(AuditEvent.id))),
        db.session.scalar(sa.select(sa.func.min(AuditBatch.first_event_id))),
    ]
    highs = [
        db.session.scalar(sa.select(sa.func.max(AuditEvent.id))),
        db.session.scalar(sa.select(sa.func.max(AuditBatch.last_event_id))),
    ]
    lows = [v for v in lows if v is not None]
    highs = [v for v in highs if v is not None]
    if not lows:
        return None
    return min(lows), max(highs)
