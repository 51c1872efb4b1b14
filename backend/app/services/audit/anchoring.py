"""Anchoring the audit trail: pending events become Merkle batches, batch roots go on chain.

``sync`` is what the ``sync_audit_trail`` task runs. Every step commits before the next
talks to the chain, so a crash or a chain outage at any point leaves a state the next run
continues from:

1. anchors that left the chain (a reorganisation, or a chain that was reset) are found and
   their batches put back to ``pending``, the lost anchor kept in ``anchor_history``;
2. unbatched events are grouped, in id order, into batches of at most
   AUDIT_BATCH_MAX_EVENTS; each batch's leaf list (its manifest) goes to the IPFS store;
3. each pending batch gets one signed transaction, stored before it is sent (``submitted``),
   so a retry re-sends the same transaction under the same nonce; it is re-signed only
   when that transaction can no longer be mined (its nonce was used, or the chain reset).
   A batch is therefore never anchored twice.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.database import utcnow
from app.extensions import db
from app.models import AuditBatch, AuditEvent
from app.redis_client import get_redis_client
from app.services.audit.chain import AnchorPayload, ChainReader, ChainWriter, SignedAnchor
from app.services.audit.events import canonical_json, record_event
from app.services.audit.ipfs import blockstore_from_config
from app.services.audit.merkle import leaf_hash, root_of_leaf_hashes
from app.services.notify import notify_admins

log = logging.getLogger(__name__)

MANIFEST_FORMAT = "zero-trust-audit-manifest/1"
SYNC_LOCK_KEY = "zt:v1:lock:audit_sync"
# Batches built per run: bounds one run's work when a large backlog has built up.
MAX_BATCHES_PER_RUN = 20


class SyncBusy(RuntimeError):
    """Another process is anchoring right now."""


def chain_reader(config: Mapping[str, Any] | None = None) -> ChainReader:
    config = config or current_app.config
    return ChainReader(config["ETH_RPC_URL"], config["ETH_RPC_TIMEOUT_SECONDS"])


def chain_writer(config: Mapping[str, Any] | None = None) -> ChainWriter:
    config = config or current_app.config
    return ChainWriter(
        config["ETH_RPC_URL"],
        config["ETH_CHAIN_ID"],
        config["ETH_PRIVATE_KEY"],
        config["ETH_RPC_TIMEOUT_SECONDS"],
    )


def event_leaves(event_hashes: Sequence[str]) -> list[bytes]:
    """RFC 9162 leaves of a batch: each leaf's input is the event hash's 32 bytes."""
    return [leaf_hash(bytes.fromhex(h)) for h in event_hashes]


def batch_root(event_hashes: Sequence[str]) -> str:
    return root_of_leaf_hashes(event_leaves(event_hashes)).hex()


def manifest_document(events: Sequence[tuple[int, str]]) -> bytes:
    """The batch's leaf list, [[event id, event hash], ...], stored by CID."""
    return canonical_json(
        {"format": MANIFEST_FORMAT, "events": [[event_id, h] for event_id, h in events]}
    ).encode()


def anchor_payload(batch: AuditBatch) -> AnchorPayload:
    return AnchorPayload(batch.id, batch.first_event_id, batch.last_event_id, batch.merkle_root)


@contextlib.contextmanager
def _sync_lock(timeout: float) -> Iterator[Any]:
    lock = get_redis_client().lock(SYNC_LOCK_KEY, timeout=timeout, blocking=False)
    if not lock.acquire():
        raise SyncBusy("another sync_audit_trail run holds the anchoring lock")
    try:
        yield lock
    finally:
        with contextlib.suppress(Exception):  # expired meanwhile: nothing to release
            lock.release()


def build_batches(max_events: int, max_batches: int = MAX_BATCHES_PER_RUN) -> list[int]:
    """Group unbatched events into batches (committing each); returns the new batch ids."""
    store = blockstore_from_config(current_app.config)
    created: list[int] = []
    for _ in range(max_batches):
        rows = db.session.execute(
            sa.select(AuditEvent.id, AuditEvent.event_hash)
            .where(AuditEvent.batch_id.is_(None))
            .order_by(AuditEvent.id)
            .limit(max_events)
        ).all()
        if not rows:
            break
        events = [(int(row.id), str(row.event_hash)) for row in rows]
        batch = AuditBatch(
            first_event_id=events[0][0],
            last_event_id=events[-1][0],
            event_count=len(events),
            last_event_hash=events[-1][1],
            merkle_root=batch_root([h for _, h in events]),
            manifest_cid=store.add(manifest_document(events)),
            status="pending",
        )
        db.session.add(batch)
        try:
            db.session.flush()
        except sa.exc.IntegrityError:  # another builder claimed these events first
            db.session.rollback()
            break
        claimed = db.session.execute(
            sa.update(AuditEvent)
            .where(
                AuditEvent.id.between(batch.first_event_id, batch.last_event_id),
                AuditEvent.batch_id.is_(None),
            )
            .values(batch_id=batch.id)
        ).rowcount
        if claimed != len(events):
            db.session.rollback()
            break
        db.session.commit()
        created.append(batch.id)
    return created


def _forget_anchor(batch: AuditBatch, reason: str) -> dict[str, Any]:
    lost = {
        "chain_id": batch.chain_id,
        "tx_hash": batch.tx_hash,
        "block_number": batch.block_number,
        "block_hash": batch.block_hash,
        "anchored_at": batch.anchored_at.isoformat() if batch.anchored_at else None,
        "lost_at": utcnow().isoformat(),
        "reason": reason,
    }
    batch.anchor_history = [*(batch.anchor_history or []), lost]
    batch.status = "pending"
    for field in (
        "tx_hash",
        "raw_tx",
        "tx_nonce",
        "replaced_tx_hashes",
        "block_number",
        "block_hash",
        "anchored_at",
    ):
        setattr(batch, field, None)
    return lost


def recheck_recent_anchors(reader: ChainReader, chain_id: int) -> list[int]:
    """Put batches whose anchor is no longer on the chain back to pending.

    Walks anchored batches of this chain from the newest until one is still where it was
    recorded: a reorganisation or reset only ever removes the newest part of a chain.
    """
    moved: list[int] = []
    anchors = db.session.execute(
        sa.select(AuditBatch.id, AuditBatch.block_number, AuditBatch.block_hash, AuditBatch.tx_hash)
        .where(AuditBatch.status == "anchored", AuditBatch.chain_id == chain_id)
        .order_by(AuditBatch.id.desc())
    ).all()
    db.session.commit()  # nothing held open while the node is asked
    for batch_id, block_number, block_hash, tx_hash in anchors:
        if reader.block_hash_at(block_number) == block_hash:
            break
        inclusion = reader.inclusion(tx_hash)
        batch = _load(batch_id)
        if inclusion is not None and inclusion.succeeded:
            # Re-mined in another block of the new chain: same anchor, new place.
            batch.block_number, batch.block_hash = inclusion.block_number, inclusion.block_hash
        else:
            _forget_anchor(batch, "the anchoring block is no longer on the chain")
            moved.append(batch_id)
        db.session.commit()
    if moved:
        ephemeral = current_app.config["ETH_CHAIN_EPHEMERAL"]
        record_event(
            "audit_anchor_lost",
            subject_type="chain",
            subject_id=chain_id,
            payload={"batch_ids": moved, "ephemeral_chain": ephemeral},
        )
        if not ephemeral:
            notify_admins(
                "audit_anchor_lost",
                "Audit anchors left the chain",
                f"{len(moved)} batch anchor(s) are no longer on chain {chain_id} "
                "(reorganisation or node reset); they are being anchored again",
                {"batch_ids": moved, "chain_id": chain_id},
            )
        log.warning("anchors of batches %s left chain %s; re-anchoring", moved, chain_id)
    db.session.commit()
    return moved


@dataclass(frozen=True)
class _Submission:
    """What anchoring needs of a batch, read once so that no database transaction stays
    open while the chain is asked or waited on (up to ETH_TX_TIMEOUT_SECONDS)."""

    batch_id: int
    payload: AnchorPayload
    tx_hash: str | None
    raw_tx: str | None
    tx_nonce: int | None
    signer: str | None
    chain_id: int | None
    submitted_at: datetime | None
    replaced: tuple[str, ...]

    @classmethod
    def of(cls, batch: AuditBatch) -> _Submission:
        return cls(
            batch.id,
            anchor_payload(batch),
            batch.tx_hash,
            batch.raw_tx,
            batch.tx_nonce,
            batch.signer,
            batch.chain_id,
            batch.submitted_at,
            tuple(batch.replaced_tx_hashes or ()),
        )

    @property
    def candidates(self) -> tuple[str, ...]:
        """Every transaction of this batch that could be the one mined, newest first."""
        return (self.tx_hash, *reversed(self.replaced)) if self.tx_hash else self.replaced


def _next_step(writer: ChainWriter, sub: _Submission, tx_timeout: float) -> str:
    """What the stored transaction needs: "wait" (mined, or pending and recent), "send"
    (unknown to the node but still minable), "replace" (pending too long: outbid it under
    the same nonce), or "new" (it can never be mined: its nonce is used, the chain was
    reset, or the key or chain changed)."""
    if sub.raw_tx is None or sub.tx_hash is None or sub.signer != writer.signer:
        return "new"
    if sub.chain_id != writer.expected_chain_id:
        return "new"
    if any(writer.inclusion(tx_hash) is not None for tx_hash in sub.candidates):
        return "wait"
    if writer.transaction_known(sub.tx_hash):
        age = (utcnow() - sub.submitted_at).total_seconds() if sub.submitted_at else 0.0
        return "replace" if age >= tx_timeout else "wait"
    if any(writer.transaction_known(tx_hash) for tx_hash in sub.replaced):
        # The node kept an older one and never took the latest (refused as underpriced,
        # or lost on the way): outbid the latest again.
        return "replace"
    return "send" if writer.nonce(writer.signer) == sub.tx_nonce else "new"


def _load(batch_id: int) -> AuditBatch:
    batch = db.session.get(AuditBatch, batch_id)
    assert batch is not None
    return batch


def _store_transaction(
    writer: ChainWriter, batch_id: int, signed: SignedAnchor, replaced: str | None
) -> _Submission:
    batch = _load(batch_id)
    if replaced is not None:
        batch.replaced_tx_hashes = [*(batch.replaced_tx_hashes or []), replaced]
    else:
        batch.replaced_tx_hashes = None
    batch.tx_hash, batch.raw_tx, batch.tx_nonce = signed.tx_hash, signed.raw_tx, signed.nonce
    batch.signer, batch.chain_id = signed.signer, writer.expected_chain_id
    batch.status, batch.submitted_at = "submitted", utcnow()
    batch.attempts = (batch.attempts or 0) + 1
    sub = _Submission.of(batch)
    db.session.commit()
    return sub


def anchor_batch(writer: ChainWriter, batch: AuditBatch, tx_timeout: float) -> AuditBatch:
    """Get ``batch``'s root mined; the batch is committed at every step, and no database
    transaction is open while the chain is talked to."""
    sub = _Submission.of(batch)
    db.session.commit()
    step = _next_step(writer, sub, tx_timeout)
    if step == "new":
        sub = _store_transaction(writer, sub.batch_id, writer.sign_anchor(sub.payload), None)
    elif step == "replace":
        assert sub.raw_tx is not None and sub.tx_hash is not None
        signed = writer.sign_anchor(sub.payload, nonce=sub.tx_nonce, replacing=sub.raw_tx)
        sub = _store_transaction(writer, sub.batch_id, signed, sub.tx_hash)
        log.warning(
            "batch %s: transaction pending too long, replaced by %s", sub.batch_id, sub.tx_hash
        )
    assert sub.tx_hash is not None and sub.raw_tx is not None
    if step != "wait":
        writer.broadcast(sub.raw_tx, sub.tx_hash)
    mined_hash, inclusion = writer.wait_for_inclusion(sub.candidates, tx_timeout)
    batch = _load(sub.batch_id)
    batch.tx_hash = mined_hash
    if not inclusion.succeeded:
        batch.status, batch.last_error = "failed", f"transaction {mined_hash} reverted"
        db.session.commit()
        return batch
    batch.block_number, batch.block_hash = inclusion.block_number, inclusion.block_hash
    batch.status, batch.anchored_at, batch.last_error = "anchored", utcnow(), None
    batch.raw_tx = None  # mined: nothing left to resend
    db.session.commit()
    log.info("batch %s anchored in block %s (%s)", sub.batch_id, inclusion.block_number, mined_hash)
    return batch


def _record_failure(batch_id: int, error: Exception) -> None:
    db.session.rollback()
    batch = db.session.get(AuditBatch, batch_id)
    if batch is not None:
        batch.last_error = str(error)[:2000]
        db.session.commit()


def sync() -> dict[str, Any]:
    """Batch pending events and anchor every unanchored batch; see the module docstring.

    Raises ChainError when the chain cannot be used (after recording it on the batch it
    was working on); events recorded meanwhile stay pending for the next run.
    """
    config = current_app.config
    tx_timeout = config["ETH_TX_TIMEOUT_SECONDS"]
    with _sync_lock(timeout=tx_timeout + 120) as lock:
        created = build_batches(config["AUDIT_BATCH_MAX_EVENTS"])
        writer = chain_writer(config)
        writer.check_chain_id()
        moved = recheck_recent_anchors(writer, writer.expected_chain_id)
        anchored: list[int] = []
        unanchored = db.session.scalars(
            sa.select(AuditBatch.id)
            .where(AuditBatch.status.in_(("pending", "submitted")))
            .order_by(AuditBatch.id)
        ).all()
        for batch_id in unanchored:
            lock.reacquire()  # each batch may take up to tx_timeout
            batch = db.session.get(AuditBatch, batch_id)
            assert batch is not None
            try:
                anchor_batch(writer, batch, tx_timeout)
            except Exception as exc:
                _record_failure(batch_id, exc)
                raise
            if batch.status == "anchored":
                anchored.append(batch_id)
    return {"batches_created": created, "reanchoring": moved, "anchored": anchored}
