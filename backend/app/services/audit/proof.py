"""Self-contained inclusion proofs of audit events, and their verifier.

A proof is a JSON document holding the event's hashed fields and hash, its Merkle audit
path to the batch root (RFC 9162), and the anchoring transaction. ``verify_proof`` checks
it with nothing but the document and a JSON-RPC node of the chain it names:

1. the event's fields hash to ``event_hash`` (SHA-256 of their canonical JSON);
2. the audit path leads from the leaf SHA-256(0x00 || event_hash) to ``merkle_root``;
3. the node is on the proof's chain, and the transaction is mined there, succeeded, was
   sent by the anchoring account, and its input anchors that root for that batch and an
   id range holding the event.
"""

from __future__ import annotations

import re
from typing import Any

from app.extensions import db
from app.models import AuditBatch, AuditEvent
from app.services.audit.anchoring import batch_root, event_leaves
from app.services.audit.chain import AnchorDataError, ChainReader, is_tx_hash
from app.services.audit.events import CONTENT_FIELDS, hash_content
from app.services.audit.merkle import MerkleError, inclusion_path, leaf_hash, root_from_inclusion
from app.services.audit.records import (
    ArchiveError,
    EventRecord,
    batch_leaf_hashes,
    batch_of_event,
    read_archive,
    read_manifest,
)

PROOF_FORMAT = "zero-trust-audit-proof/1"
_HASH = re.compile(r"^[0-9a-f]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
ALGORITHMS = {
    "event_hash": "SHA-256 of the event fields' canonical JSON (sorted keys, no spaces)",
    "leaf": "SHA-256(0x00 || event_hash bytes)",
    "node": "SHA-256(0x01 || left || right), RFC 9162 tree shape",
    "anchor": "transaction input = 'ZTAUDIT1' || batch id || first event id || last event id"
    " (uint64 big-endian each) || merkle_root",
}


class ProofUnavailable(Exception):
    """No proof can be given for this event yet (or any more); the message says why and
    ``code`` names the case:

    - ``not_anchored``: the event is not in a batch yet, or its batch is not anchored yet;
    - ``archive_unavailable``: the batch's archive (or the manifest that tells which ids
      it anchored) cannot be read;
    - ``batch_mismatch``: the batch's events no longer hash to its anchored root (evidence
      of tampering: verify the range);
    - ``event_missing``: an anchored batch anchored this id, but its event is no longer
      stored (evidence of tampering too).
    """

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class ProofFormatError(ValueError):
    """The document is not a well-formed proof; the message names the field."""


def build_proof(event_id: int) -> dict[str, Any]:
    """The event's proof. LookupError for an id that was never stored (no row has it and
    no batch anchored it); ProofUnavailable, with its ``code``, when no proof can be given."""
    batch = batch_of_event(event_id)
    row = db.session.get(AuditEvent, event_id)
    if batch is None:
        if row is None:
            raise LookupError(f"audit event {event_id} does not exist")
        raise ProofUnavailable(f"audit event {event_id} is not in a batch yet", code="not_anchored")
    if batch.status != "anchored":
        raise ProofUnavailable(
            f"audit event {event_id} is in batch {batch.id}, which is {batch.status}, "
            "not anchored yet",
            code="not_anchored",
        )
    try:
        leaves, record = _leaves_and_record(batch, event_id, row)
    except ArchiveError as exc:
        raise ProofUnavailable(str(exc), code="archive_unavailable") from exc
    index = next((i for i, (leaf_id, _) in enumerate(leaves) if leaf_id == event_id), None)
    if index is None or record is None:
        if not _anchored_in(batch, event_id):
            raise LookupError(f"audit event {event_id} does not exist")
        raise ProofUnavailable(
            f"audit event {event_id} was anchored in batch {batch.id} but is no longer "
            "stored; verify the range",
            code="event_missing",
        )
    hashes = [event_hash for _, event_hash in leaves]
    if batch_root(hashes) != batch.merkle_root:
        raise ProofUnavailable(
            f"batch {batch.id} no longer matches its anchored root; verify the range",
            code="batch_mismatch",
        )
    return proof_document(record, index, hashes, batch)


def _leaves_and_record(
    batch: AuditBatch, event_id: int, row: AuditEvent | None
) -> tuple[list[tuple[int, str]], EventRecord | None]:
    """The batch's (id, hash) leaves and the event itself: from its archive, read once,
    or from its rows (only the two columns of every row, all of the event's)."""
    if batch.archive_cid is not None:
        archived = read_archive(batch)
        leaves = [(record.id, record.stored_hash) for record in archived]
        return leaves, next((r for r in archived if r.id == event_id), None)
    return batch_leaf_hashes(batch), EventRecord.of(row) if row is not None else None


def _anchored_in(batch: AuditBatch, event_id: int) -> bool:
    """Whether the batch anchored this id of its range: every id when the range has no gaps,
    else as its manifest says (an id a rolled-back transaction took was never stored)."""
    if batch.event_count == batch.last_event_id - batch.first_event_id + 1:
        return True
    try:
        return any(anchored == event_id for anchored, _ in read_manifest(batch))
    except ArchiveError as exc:
        raise ProofUnavailable(str(exc), code="archive_unavailable") from exc


def proof_document(
    record: EventRecord, index: int, hashes: list[str], batch: AuditBatch
) -> dict[str, Any]:
    path = inclusion_path(index, event_leaves(hashes))
    return {
        "format": PROOF_FORMAT,
        "event": {"id": record.id, **record.content},
        "event_hash": record.stored_hash,
        "leaf_index": index,
        "tree_size": len(hashes),
        "audit_path": [node.hex() for node in path],
        "merkle_root": batch.merkle_root,
        "batch": {
            "id": batch.id,
            "first_event_id": batch.first_event_id,
            "last_event_id": batch.last_event_id,
        },
        "anchor": {
            "chain_id": batch.chain_id,
            "tx_hash": batch.tx_hash,
            "block_number": batch.block_number,
            "block_hash": batch.block_hash,
            "signer": batch.signer,
        },
        "algorithms": ALGORITHMS,
    }


def _field(doc: dict[str, Any], path: str, kind: type | tuple[type, ...]) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise ProofFormatError(f"the proof has no {path!r}")
        value = value[part]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ProofFormatError(f"{path!r} has the wrong type")
    return value


def _hash_field(doc: dict[str, Any], path: str) -> str:
    value = _field(doc, path, str)
    if not _HASH.match(value):
        raise ProofFormatError(f"{path!r} must be 64 lowercase hex digits")
    return value


def parse_proof(doc: Any) -> dict[str, Any]:
    """Check the document's shape; return the values the verifier needs."""
    if not isinstance(doc, dict):
        raise ProofFormatError("a proof is a JSON object")
    if doc.get("format") != PROOF_FORMAT:
        raise ProofFormatError(f"'format' must be {PROOF_FORMAT!r}")
    event = _field(doc, "event", dict)
    missing = [name for name in ("id", *CONTENT_FIELDS) if name not in event]
    if missing:
        raise ProofFormatError(f"'event' lacks {', '.join(missing)}")
    content = {name: event[name] for name in CONTENT_FIELDS}
    try:
        hash_content(content)
    except (TypeError, ValueError) as exc:
        raise ProofFormatError(f"'event' is not plain JSON: {exc}") from None
    parsed = {
        "event_id": _field(doc, "event.id", int),
        "content": content,
        "event_hash": _hash_field(doc, "event_hash"),
        "leaf_index": _field(doc, "leaf_index", int),
        "tree_size": _field(doc, "tree_size", int),
        "merkle_root": _hash_field(doc, "merkle_root"),
        "batch_id": _field(doc, "batch.id", int),
        "first_event_id": _field(doc, "batch.first_event_id", int),
        "last_event_id": _field(doc, "batch.last_event_id", int),
        "chain_id": _field(doc, "anchor.chain_id", int),
        "tx_hash": _field(doc, "anchor.tx_hash", str),
        "block_number": _field(doc, "anchor.block_number", int),
        "block_hash": _field(doc, "anchor.block_hash", str),
        "signer": _field(doc, "anchor.signer", str),
    }
    path = _field(doc, "audit_path", list)
    for i, _ in enumerate(path):
        _hash_field({"audit_path": {str(i): path[i]}}, f"audit_path.{i}")
    parsed["audit_path"] = [bytes.fromhex(node) for node in path]
    if not is_tx_hash(parsed["tx_hash"]):
        raise ProofFormatError("'anchor.tx_hash' must be 0x and 64 hex digits")
    if not _ADDRESS.match(parsed["signer"]):
        raise ProofFormatError("'anchor.signer' must be an address (0x and 40 hex digits)")
    if not 0 <= parsed["leaf_index"] < parsed["tree_size"]:
        raise ProofFormatError("'leaf_index' must be below 'tree_size'")
    return parsed


def verify_proof(
    doc: Any, reader: ChainReader, expected_signer: str | None = None
) -> dict[str, Any]:
    """Check a proof against the chain. ProofFormatError for a malformed document,
    ChainError when the node cannot be asked; otherwise a report with every check."""
    proof = parse_proof(doc)
    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"check": name, "ok": ok, "detail": detail})

    recomputed = hash_content(proof["content"])
    check(
        "event_hash",
        recomputed == proof["event_hash"],
        "the event's fields hash to event_hash"
        if recomputed == proof["event_hash"]
        else f"the event's fields hash to {recomputed}, not event_hash",
    )
    try:
        root = root_from_inclusion(
            leaf_hash(bytes.fromhex(proof["event_hash"])),
            proof["leaf_index"],
            proof["tree_size"],
            proof["audit_path"],
        ).hex()
        included = root == proof["merkle_root"]
        check(
            "inclusion",
            included,
            "the audit path leads to merkle_root"
            if included
            else f"the audit path leads to {root}, not merkle_root",
        )
    except MerkleError as exc:
        check("inclusion", False, str(exc))

    node_chain = reader.chain_id()
    check(
        "chain_id",
        node_chain == proof["chain_id"],
        f"the node is on chain {node_chain}, the proof names {proof['chain_id']}",
    )
    confirmations = None
    try:
        anchor = reader.read_anchor(proof["tx_hash"])
    except AnchorDataError as exc:
        anchor = None
        check("anchor", False, str(exc))
    else:
        if anchor is None or anchor.block_number is None:
            check("anchor", False, f"transaction {proof['tx_hash']} is not mined on this chain")
    if anchor is not None and anchor.block_number is not None:
        payload = anchor.payload
        in_range = payload.first_event_id <= proof["event_id"] <= payload.last_event_id
        matches = (
            payload.merkle_root == proof["merkle_root"]
            and payload.batch_id == proof["batch_id"]
            and (payload.first_event_id, payload.last_event_id)
            == (proof["first_event_id"], proof["last_event_id"])
            and in_range
        )
        check(
            "anchor",
            matches and bool(anchor.succeeded),
            f"the transaction anchors root {payload.merkle_root} for batch {payload.batch_id}, "
            f"events {payload.first_event_id}..{payload.last_event_id}"
            + ("" if anchor.succeeded else " (the transaction failed)"),
        )
        placed = (anchor.block_number, anchor.block_hash) == (
            proof["block_number"],
            proof["block_hash"].lower(),
        )
        check("block", placed, f"mined in block {anchor.block_number} ({anchor.block_hash})")
        signer_ok = anchor.sender.lower() == proof["signer"].lower()
        detail = f"sent by {anchor.sender}"
        if expected_signer is not None:
            signer_ok = signer_ok and anchor.sender.lower() == expected_signer.lower()
            detail += f", expected {expected_signer}"
        check("signer", signer_ok, detail)
        confirmations = anchor.confirmations
    return {
        "valid": all(c["ok"] for c in checks),
        "event_id": proof["event_id"],
        "batch_id": proof["batch_id"],
        "chain_id": proof["chain_id"],
        "tx_hash": proof["tx_hash"],
        "confirmations": confirmations,
        "checks": checks,
    }
