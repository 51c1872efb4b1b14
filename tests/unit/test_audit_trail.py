"""The audit trail on standalone's stack: SQLite, the local IPFS store, the embedded chain.

Recording, batching and anchoring, range verification naming exactly the events that were
edited, reordered or deleted, proofs checked against the chain, archives that keep proofs
verifiable, crash and retry paths of anchoring. (tests/integration repeats the chain parts
on PostgreSQL against a Hardhat node, including an outage.)
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from celery import Task
from click.testing import CliRunner
from flask import Flask

from app.database import utcnow
from app.extensions import db
from app.models import AuditBatch, AuditEvent, Notification
from app.services.audit import anchoring, archive, chain_health
from app.services.audit.anchoring import chain_reader, chain_writer, sync
from app.services.audit.chain import ChainConfigError, ChainWriter, SignedAnchor
from app.services.audit.events import GENESIS_HASH, hash_of_event, load_payload, record_event
from app.services.audit.proof import (
    ProofFormatError,
    ProofUnavailable,
    build_proof,
    verify_proof,
)
from app.services.audit.verify import full_range, verify_range
from app.tasks import blockchain_tasks
from tests.conftest import count


def record(n: int, **fields: Any) -> list[int]:
    ids = [
        record_event("test_event", subject_type="test", subject_id=i, payload={"i": i}, **fields).id
        for i in range(n)
    ]
    db.session.commit()
    return ids


def failures(report: dict[str, Any]) -> set[tuple[int | None, str]]:
    return {(f["event_id"], f["reason"]) for f in report["failures"]}


def whole_trail() -> dict[str, Any]:
    first, last = full_range() or (1, 1)
    return verify_range(first, last)


# --- recording -------------------------------------------------------------------------


def test_events_form_a_hash_chain_from_genesis(audit_app: Flask) -> None:
    ids = record(3)
    events = [db.session.get(AuditEvent, i) for i in ids]
    assert events[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in events[1:]] == [e.event_hash for e in events[:-1]]
    assert all(hash_of_event(e) == e.event_hash for e in events)


def test_an_idempotency_key_records_once(audit_app: Flask) -> None:
    first = record_event("test_event", idempotency_key="k1")
    db.session.commit()
    again = record_event("test_event", idempotency_key="k1")
    assert again.id == first.id and count(AuditEvent) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"event_type": ""}, "event_type"),
        ({"event_type": "Has Spaces"}, "event_type"),
        ({"event_type": "x", "actor_user_id": -1}, "actor_user_id"),
        ({"event_type": "x", "actor_user_id": True}, "actor_user_id"),
        ({"event_type": "x", "subject_id": "s" * 65}, "subject_id"),
        ({"event_type": "x", "payload": [1, 2]}, "payload"),
        ({"event_type": "x", "payload": {"v": float("nan")}}, "payload"),
        ({"event_type": "x", "ip_address": ""}, "ip_address"),
    ],
)
def test_bad_events_are_refused_and_nothing_is_written(
    audit_app: Flask, fields: dict[str, Any], message: str
) -> None:
    event_type = fields.pop("event_type")
    with pytest.raises(ValueError, match=message):
        record_event(event_type, **fields)
    db.session.commit()
    assert count(AuditEvent) == 0


def test_a_large_payload_is_stored_by_cid_and_hashed_by_cid(audit_app: Flask) -> None:
    big = {"blob": "x" * (audit_app.config["AUDIT_PAYLOAD_INLINE_MAX_BYTES"] + 1)}
    event = record_event("evidence_attached", payload=big)
    db.session.commit()
    assert event.payload is None and event.payload_cid.startswith("Qm")
    assert load_payload(event) == big
    assert hash_of_event(event) == event.event_hash


# --- anchoring -------------------------------------------------------------------------


def test_sync_anchors_the_root_where_anyone_can_read_it_back(audit_app: Flask) -> None:
    ids = record(5)
    result = sync()
    batch = db.session.scalars(sa.select(AuditBatch)).one()
    assert result["anchored"] == [batch.id]
    assert (batch.status, batch.first_event_id, batch.last_event_id) == (
        "anchored",
        ids[0],
        ids[-1],
    )
    assert (
        batch.raw_tx is None
        and batch.block_hash
        and batch.chain_id == audit_app.config["ETH_CHAIN_ID"]
    )
    on_chain = chain_reader().read_anchor(batch.tx_hash)
    assert on_chain is not None
    assert on_chain.payload.merkle_root == batch.merkle_root
    assert (on_chain.payload.batch_id, on_chain.block_number) == (batch.id, batch.block_number)
    assert on_chain.sender == batch.signer
    assert all(e.batch_id == batch.id for e in db.session.scalars(sa.select(AuditEvent)))


def test_a_second_sync_sends_nothing(audit_app: Flask) -> None:
    record(2)
    sync()
    head = chain_reader().head()[0]
    assert sync() == {"batches_created": [], "reanchoring": [], "anchored": []}
    assert chain_reader().head()[0] == head


def test_batches_are_capped_and_consecutive(audit_app: Flask) -> None:
    audit_app.config["AUDIT_BATCH_MAX_EVENTS"] = 3
    ids = record(7)
    sync()
    batches = db.session.scalars(sa.select(AuditBatch).order_by(AuditBatch.id)).all()
    assert [(b.first_event_id, b.last_event_id, b.event_count) for b in batches] == [
        (ids[0], ids[2], 3),
        (ids[3], ids[5], 3),
        (ids[6], ids[6], 1),
    ]
    assert all(b.status == "anchored" for b in batches)
    assert whole_trail()["ok"]


def batch_with_stored_transaction() -> tuple[AuditBatch, ChainWriter, SignedAnchor]:
    """A batch whose signed transaction was stored (submitted) but never sent, as a worker
    leaves it when it dies between the two."""
    record(2)
    anchoring.build_batches(100)
    batch = db.session.scalars(sa.select(AuditBatch)).one()
    writer = chain_writer()
    signed = writer.sign_anchor(anchoring.anchor_payload(batch))
    batch.tx_hash, batch.raw_tx, batch.tx_nonce = signed.tx_hash, signed.raw_tx, signed.nonce
    batch.signer, batch.chain_id = signed.signer, writer.expected_chain_id
    batch.status = "submitted"
    db.session.commit()
    return batch, writer, signed


def test_a_transaction_stored_but_never_sent_is_sent_as_it_is(audit_app: Flask) -> None:
    """A worker that died between storing and broadcasting: the retry sends the same tx."""
    batch, _, signed = batch_with_stored_transaction()
    sync()
    db.session.refresh(batch)
    assert (batch.status, batch.tx_hash) == ("anchored", signed.tx_hash)


def test_a_transaction_whose_nonce_was_used_is_signed_again(audit_app: Flask) -> None:
    batch, writer, stale = batch_with_stored_transaction()
    # Something else takes that nonce first (another transaction from the same account).
    other = writer.sign_anchor(anchoring.AnchorPayload(999, 1, 1, "00" * 32), nonce=stale.nonce)
    writer.broadcast(other.raw_tx, other.tx_hash)
    writer.wait_for_inclusion([other.tx_hash], 30)
    sync()
    db.session.refresh(batch)
    assert batch.status == "anchored" and batch.tx_hash != stale.tx_hash
    assert batch.tx_nonce == stale.nonce + 1
    assert whole_trail()["ok"]


def test_an_anchor_that_left_the_chain_is_anchored_again(audit_app: Flask) -> None:
    record(3)
    sync()
    batch = db.session.scalars(sa.select(AuditBatch)).one()
    lost_tx = batch.tx_hash
    # As after a restart of the ephemeral chain: the recorded block and transaction are gone.
    batch.block_number, batch.block_hash = 10**9, "0x" + "ee" * 32
    batch.tx_hash = "0x" + "dd" * 32
    db.session.commit()
    assert whole_trail()["ok"]  # ephemeral chain: a note, not tampering
    result = sync()
    db.session.refresh(batch)
    assert result["reanchoring"] == [batch.id]
    assert batch.status == "anchored" and batch.tx_hash not in (lost_tx, "0x" + "dd" * 32)
    assert [h["tx_hash"] for h in batch.anchor_history] == ["0x" + "dd" * 32]
    lost = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.event_type == "audit_anchor_lost")
    ).one()
    assert lost.payload == {"batch_ids": [batch.id], "ephemeral_chain": True}
    sync()
    assert whole_trail()["ok"]


def test_without_a_signing_key_events_wait_and_nothing_is_lost(audit_app: Flask) -> None:
    audit_app.config["ETH_PRIVATE_KEY"] = None
    record(2)
    with pytest.raises(ChainConfigError, match="ETH_PRIVATE_KEY"):
        sync()
    batch = db.session.scalars(sa.select(AuditBatch)).one()
    assert batch.status == "pending" and count(AuditEvent) == 2


# --- verification and tampering --------------------------------------------------------


@pytest.fixture
def anchored(audit_app: Flask) -> list[int]:
    audit_app.config["AUDIT_BATCH_MAX_EVENTS"] = 4
    ids = record(8)
    sync()
    report = whole_trail()
    assert report["ok"], report
    assert [b["anchor"] for b in report["batches"]] == ["verified", "verified"]
    return ids


def sql(statement: str, **params: Any) -> None:
    db.session.execute(sa.text(statement), params)
    db.session.commit()


def test_an_edited_event_is_named(anchored: list[int]) -> None:
    sql("UPDATE audit_events SET payload = :p WHERE id = :id", p='{"i": 99}', id=anchored[2])
    report = whole_trail()
    assert not report["ok"]
    assert (anchored[2], "content_modified") in failures(report)
    assert {event_id for event_id, _ in failures(report)} <= {anchored[2], None}


def test_an_edited_event_with_a_recomputed_hash_is_named(anchored: list[int]) -> None:
    event = db.session.get(AuditEvent, anchored[5])
    event.payload = {"i": 1000}
    event.event_hash = hash_of_event(event)
    db.session.commit()
    found = failures(whole_trail())
    assert (anchored[5], "hash_replaced") in found
    assert (anchored[6], "chain_broken") in found
    assert (anchored[5], "content_modified") not in found


def test_a_deleted_event_is_named(anchored: list[int]) -> None:
    sql("DELETE FROM audit_events WHERE id = :id", id=anchored[1])
    found = failures(whole_trail())
    assert (anchored[1], "deleted") in found
    assert (anchored[2], "chain_broken") in found


def test_reordered_events_are_named(anchored: list[int]) -> None:
    a, b = (db.session.get(AuditEvent, i) for i in anchored[4:6])
    fields = ("created_at", "payload", "subject_id", "prev_hash", "event_hash")
    values_a = {f: getattr(a, f) for f in fields}
    values_b = {f: getattr(b, f) for f in fields}
    # Swap the two rows' contents (hashes are unique: move one out of the way first).
    a.prev_hash, a.event_hash = "x" * 64, "y" * 64
    db.session.flush()
    for f in fields:
        setattr(b, f, values_a[f])
    db.session.flush()
    for f in fields:
        setattr(a, f, values_b[f])
    db.session.commit()
    found = failures(whole_trail())
    assert {(anchored[4], "hash_replaced"), (anchored[5], "hash_replaced")} <= found
    assert (anchored[4], "chain_broken") in found


def test_a_forged_batch_root_is_caught(anchored: list[int]) -> None:
    batch = db.session.scalars(sa.select(AuditBatch).order_by(AuditBatch.id)).first()
    batch.merkle_root = "ab" * 32
    db.session.commit()
    reasons = {f["reason"] for f in whole_trail()["failures"] if f["batch_id"] == batch.id}
    assert {"manifest_mismatch", "root_mismatch", "anchor_mismatch"} <= reasons


def test_an_anchor_pointing_at_another_transaction_is_caught(anchored: list[int]) -> None:
    first, second = db.session.scalars(sa.select(AuditBatch).order_by(AuditBatch.id)).all()
    first.tx_hash = second.tx_hash
    db.session.commit()
    assert (None, "anchor_mismatch") in failures(whole_trail())


def test_verification_of_a_sub_range_covers_whole_batches(anchored: list[int]) -> None:
    report = verify_range(anchored[1], anchored[1])
    assert report["ok"]
    assert (report["first_event_id"], report["last_event_id"]) == (anchored[0], anchored[3])
    assert report["events_checked"] == 4


# --- proofs ----------------------------------------------------------------------------


def test_a_proof_verifies_against_the_chain(anchored: list[int]) -> None:
    proof = build_proof(anchored[6])
    json.dumps(proof)  # a self-contained JSON document
    report = verify_proof(proof, chain_reader())
    assert report["valid"], report
    assert {c["check"] for c in report["checks"]} == {
        "event_hash",
        "inclusion",
        "chain_id",
        "anchor",
        "block",
        "signer",
    }
    assert report["confirmations"] >= 1


@pytest.mark.parametrize(
    ("change", "failed"),
    [
        (lambda p: p["event"].update(payload={"i": -1}), {"event_hash"}),
        (lambda p: p.update(leaf_index=(p["leaf_index"] + 1) % p["tree_size"]), {"inclusion"}),
        (lambda p: p.update(merkle_root="cd" * 32), {"inclusion", "anchor"}),
        (lambda p: p["anchor"].update(block_number=p["anchor"]["block_number"] + 1), {"block"}),
        (lambda p: p["anchor"].update(signer="0x" + "11" * 20), {"signer"}),
        (lambda p: p["anchor"].update(chain_id=1), {"chain_id"}),
    ],
)
def test_a_changed_proof_fails_the_matching_check(
    anchored: list[int], change: Any, failed: set[str]
) -> None:
    proof = copy.deepcopy(build_proof(anchored[6]))
    change(proof)
    report = verify_proof(proof, chain_reader())
    assert not report["valid"]
    assert {c["check"] for c in report["checks"] if not c["ok"]} == failed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.update(format="other/1"), "format"),
        (lambda p: p.pop("audit_path"), "audit_path"),
        (lambda p: p.update(audit_path=["zz"]), "audit_path.0"),
        (lambda p: p.update(event_hash="AB" * 32), "event_hash"),
        (lambda p: p["event"].pop("payload"), "payload"),
        (lambda p: p.update(leaf_index=-1), "leaf_index"),
        (lambda p: p.update(tree_size="8"), "tree_size"),
        (lambda p: p["anchor"].update(tx_hash="0x12"), "tx_hash"),
        (lambda p: p["anchor"].update(signer="me"), "signer"),
        (lambda p: p["batch"].update(id=True), "batch.id"),
        (lambda p: p["event"].update(payload={"v": float("nan")}), "not plain JSON"),
    ],
)
def test_a_malformed_proof_is_refused_with_its_field(
    anchored: list[int], change: Any, message: str
) -> None:
    proof = copy.deepcopy(build_proof(anchored[0]))
    change(proof)
    with pytest.raises(ProofFormatError, match=message):
        verify_proof(proof, chain_reader())


def test_no_proof_before_anchoring_or_for_unknown_events(audit_app: Flask) -> None:
    ids = record(1)
    with pytest.raises(ProofUnavailable, match="not in a batch"):
        build_proof(ids[0])
    with pytest.raises(LookupError):
        build_proof(ids[0] + 100)


# --- archive ---------------------------------------------------------------------------


def test_archived_events_stay_provable_and_the_chain_continues(
    audit_app: Flask, anchored: list[int]
) -> None:
    result = archive.archive_old_batches(now=utcnow() + timedelta(days=400))
    batches = db.session.scalars(sa.select(AuditBatch).order_by(AuditBatch.id)).all()
    assert set(result["archived"]) == {str(b.id) for b in batches}
    assert count(AuditEvent) == 0 and all(b.archive_cid for b in batches)
    assert verify_proof(build_proof(anchored[5]), chain_reader())["valid"]
    later = record(2)
    assert db.session.get(AuditEvent, later[0]).prev_hash == batches[-1].last_event_hash
    sync()
    report = whole_trail()
    assert report["ok"], report
    assert report["events_checked"] == 10


def test_a_tampered_batch_is_not_archived(audit_app: Flask, anchored: list[int]) -> None:
    sql("UPDATE audit_events SET payload = :p WHERE id = :id", p='{"i": 7}', id=anchored[0])
    result = archive.archive_old_batches(now=utcnow() + timedelta(days=400))
    assert len(result["refused"]) == 1 and len(result["archived"]) == 1
    assert db.session.get(AuditEvent, anchored[0]) is not None
    note = db.session.scalars(sa.select(Notification)).one()
    assert note.kind == "audit_archive_refused"


# --- health ----------------------------------------------------------------------------


def test_health_is_ok_on_a_working_chain(audit_app: Flask) -> None:
    result = chain_health.check()
    assert result["ok"], result
    assert result["chain"]["chain_id"] == audit_app.config["ETH_CHAIN_ID"]
    assert result["chain"]["signer_balance_wei"] > 0


def test_health_reports_each_problem_to_admins(audit_app: Flask) -> None:
    audit_app.config.update(ETH_PRIVATE_KEY=None, AUDIT_BACKLOG_MAX_AGE_SECONDS=1)
    event = record_event("test_event")
    event.created_at = utcnow() - timedelta(seconds=60)  # an old, unanchored event
    db.session.commit()
    result = chain_health.check()
    assert any("ETH_PRIVATE_KEY" in p for p in result["problems"])
    assert any("waited" in p for p in result["problems"])
    note = db.session.scalars(sa.select(Notification)).one()
    assert note.kind == "blockchain_health" and note.audience == "admin"


def test_health_reports_an_unreachable_node(audit_app: Flask) -> None:
    audit_app.config["ETH_RPC_URL"] = "http://127.0.0.1:9"
    result = chain_health.check()
    assert not result["ok"] and "unreachable" in result["problems"][0]


# --- tasks: their bodies called directly (the queue plumbing is tested with a real worker) --


def run_as_delivery(task: Task, task_id: str, *args: Any, **kwargs: Any) -> Any:
    """Run ``task``'s body as the worker would for a message with id ``task_id`` (what a
    bound task reads from ``self.request``), in the test's app context; no broker."""
    task.push_request(id=task_id, args=args, kwargs=kwargs)
    try:
        return task.run(*args, **kwargs)
    finally:
        task.pop_request()


def test_a_redelivered_record_task_records_once(audit_app: Flask) -> None:
    task = blockchain_tasks.record_audit_event
    first = run_as_delivery(task, "t-1", "policy_changed", payload={"v": 2})
    again = run_as_delivery(task, "t-1", "policy_changed", payload={"v": 2})
    assert first["event_id"] == again["event_id"] and count(AuditEvent) == 1
    other = run_as_delivery(task, "t-2", "policy_changed", payload={"v": 2})
    assert other["event_id"] != first["event_id"] and count(AuditEvent) == 2


def test_batch_record_events_is_all_or_nothing(audit_app: Flask) -> None:
    task = blockchain_tasks.batch_record_events
    bad = [{"event_type": "ok_event"}, {"event_type": "ok_event", "colour": "red"}]
    with pytest.raises(ValueError, match=r"events\[1\] has unknown fields: colour"):
        run_as_delivery(task, "t-2", bad)
    assert count(AuditEvent) == 0
    good = [{"event_type": "alert_raised", "subject_id": i} for i in range(3)]
    assert len(run_as_delivery(task, "t-3", good)["event_ids"]) == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": 5}, "data must be a string"),
        ({"data": "%%%", "encoding": "base64"}, "base64"),
        ({"data": "x", "encoding": "latin-1"}, "encoding"),
        ({"data": "x", "cid_version": 2}, "cid_version"),
    ],
)
def test_store_large_data_refuses_bad_input(
    audit_app: Flask, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        blockchain_tasks.store_large_data_ipfs(**kwargs)


def test_store_large_data_returns_the_cid(audit_app: Flask) -> None:
    # The CID `ipfs add` gives "hello world\n" (a published vector).
    result = blockchain_tasks.store_large_data_ipfs(data="hello world\n")
    assert result == {"cid": "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o", "size": 12}


def test_verify_task_alerts_admins_on_failure(audit_app: Flask, anchored: list[int]) -> None:
    sql("DELETE FROM audit_events WHERE id = :id", id=anchored[3])
    report = blockchain_tasks.verify_audit_integrity()
    assert (anchored[3], "deleted") in failures(report)
    note = db.session.scalars(sa.select(Notification)).one()
    assert note.kind == "audit_integrity_failure"


# --- the verifier's command line -------------------------------------------------------


def test_flask_audit_verify(audit_app: Flask, anchored: list[int], tmp_path: Path) -> None:
    proof = build_proof(anchored[2])
    rpc = audit_app.config["ETH_RPC_URL"]
    runner = CliRunner()
    cli = audit_app.cli

    def verify(document: Any, *extra: str) -> Any:
        path = tmp_path / "proof.json"
        path.write_text(document if isinstance(document, str) else json.dumps(document))
        return runner.invoke(cli, ["audit", "verify", str(path), *extra], catch_exceptions=False)

    ok = verify(proof, "--rpc", rpc)
    assert ok.exit_code == 0 and "VALID" in ok.output, ok.output
    forged = copy.deepcopy(proof)
    forged["event"]["event_type"] = "nothing_happened"
    bad = verify(forged, "--rpc", rpc)
    assert bad.exit_code == 1 and "FAIL event_hash" in bad.output
    assert verify("{not json", "--rpc", rpc).exit_code == 2
    assert verify({"format": "zero-trust-audit-proof/1"}, "--rpc", rpc).exit_code == 2
    assert verify(proof, "--rpc", "http://127.0.0.1:9").exit_code == 3
    wrong_signer = verify(proof, "--rpc", rpc, "--signer", "0x" + "22" * 20)
    assert wrong_signer.exit_code == 1 and "FAIL signer" in wrong_signer.output


def test_unanchored_events_are_verified_window_by_window(
    audit_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.services.audit import verify

    monkeypatch.setattr(verify, "WINDOW", 2)
    ids = record(5)
    report = whole_trail()
    assert report["ok"] and report["events_checked"] == 5
    assert "not anchored" not in " ".join(report["notes"])  # nothing batched yet
    sql("DELETE FROM audit_events WHERE id = :id", id=ids[2])
    assert failures(whole_trail()) == {(ids[3], "chain_broken")}


def test_no_database_transaction_is_open_while_the_chain_is_waited_on(
    audit_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:

    open_during: list[bool] = []
    for name in ("broadcast", "wait_for_inclusion"):
        original = getattr(ChainWriter, name)

        def spy(self: ChainWriter, *args: Any, _original: Any = original) -> Any:
            open_during.append(db.session().in_transaction())
            return _original(self, *args)

        monkeypatch.setattr(ChainWriter, name, spy)
    record(2)
    sync()
    assert open_during == [False, False]


def test_flask_audit_sync_proof_and_verify_range(audit_app: Flask) -> None:
    runner = CliRunner()
    ids = record(3)

    def run(*args: str) -> Any:
        return runner.invoke(audit_app.cli, ["audit", *args], catch_exceptions=False)

    not_yet = run("proof", str(ids[0]))
    assert not_yet.exit_code == 1 and "not in a batch yet" in not_yet.output
    synced = run("sync")
    assert synced.exit_code == 0 and len(json.loads(synced.output)["anchored"]) == 1
    proof = run("proof", str(ids[1]))
    assert proof.exit_code == 0
    assert verify_proof(json.loads(proof.output), chain_reader())["valid"]
    clean = run("verify-range")
    assert clean.exit_code == 0 and json.loads(clean.output)["ok"]
    sql("DELETE FROM audit_events WHERE id = :id", id=ids[1])
    broken = run("verify-range", "--first", str(ids[0]), "--last", str(ids[2]))
    assert broken.exit_code == 1
    assert (ids[1], "deleted") in failures(json.loads(broken.output))
    assert run("verify-range", "--first", "0").exit_code == 2  # click's usage error


def test_verification_asks_the_node_outside_any_transaction(
    anchored: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.services.audit.chain import ChainReader

    open_during: list[bool] = []
    original = ChainReader.read_anchor

    def spy(self: ChainReader, tx_hash: str) -> Any:
        open_during.append(db.session().in_transaction())
        return original(self, tx_hash)

    monkeypatch.setattr(ChainReader, "read_anchor", spy)
    batch = db.session.scalars(sa.select(AuditBatch)).first()
    assert whole_trail()["ok"]
    assert open_during == [False, False]
    db.session.refresh(batch)  # the caller's objects are untouched by verification
