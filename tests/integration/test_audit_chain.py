"""The audit trail on PostgreSQL, anchored on a real Ethereum node (Hardhat), with real
Celery workers and the verifier as a real process. A chain outage loses nothing."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from celery import Celery
from flask import Flask

from app.extensions import db
from app.models import AuditBatch, AuditEvent, Notification
from app.services.audit.anchoring import SyncBusy, chain_reader, sync
from app.services.audit.chain import ChainError
from app.services.audit.events import record_event
from app.services.audit.proof import build_proof, verify_proof
from app.services.audit.verify import full_range, verify_range
from tests.chain import HARDHAT_CHAIN_ID, HARDHAT_SIGNER_KEY, HardhatNode
from tests.conftest import app_in_context, count
from tests.integration.celery_fixtures import Worker, start_worker
from tests.procs import REPO_ROOT, wait_for

SIGNER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # HARDHAT_SIGNER_KEY's address


def anchoring_settings(node: HardhatNode) -> dict[str, Any]:
    return {
        "ETH_RPC_URL": node.url,
        "ETH_CHAIN_ID": HARDHAT_CHAIN_ID,
        "ETH_PRIVATE_KEY": HARDHAT_SIGNER_KEY,
        "ETH_TX_TIMEOUT_SECONDS": 30,
        "ETH_MAX_BLOCK_AGE_SECONDS": 0,
        "AUDIT_BATCH_MAX_EVENTS": 50,
    }


@pytest.fixture
def chain_app(base_config: dict[str, Any], hardhat: HardhatNode) -> Iterator[Flask]:
    with app_in_context({**base_config, **anchoring_settings(hardhat)}) as app:
        yield app


def record(n: int, tag: str = "e") -> list[int]:
    ids = [
        record_event("test_event", subject_id=f"{tag}{i}", payload={"i": i}).id for i in range(n)
    ]
    db.session.commit()
    return ids


def trail_report() -> dict[str, Any]:
    first, last = full_range() or (1, 1)
    return verify_range(first, last)


def test_batches_are_anchored_on_the_node_and_proofs_verify(chain_app: Flask) -> None:
    ids = record(120)
    result = sync()
    assert len(result["anchored"]) == 3  # 50 + 50 + 20
    batches = db.session.scalars(sa.select(AuditBatch).order_by(AuditBatch.id)).all()
    assert {b.chain_id for b in batches} == {HARDHAT_CHAIN_ID}
    assert {b.signer for b in batches} == {SIGNER}
    report = trail_report()
    assert report["ok"] and report["events_checked"] == 120, report
    assert {b["anchor"] for b in report["batches"]} == {"verified"}
    for event_id in (ids[0], ids[77], ids[-1]):
        assert verify_proof(build_proof(event_id), chain_reader())["valid"]


def test_the_verifier_process_needs_only_the_proof_and_the_node(
    chain_app: Flask, hardhat: HardhatNode, tmp_path: Path
) -> None:
    ids = record(5)
    sync()
    proof_path = tmp_path / "proof.json"
    proof_path.write_text(json.dumps(build_proof(ids[3])))
    flask = Path(sys.executable).with_name("flask")
    # No database or Redis settings at all: a third party's machine.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "FLASK_APP": "app:create_app"}

    def verify(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(flask), "audit", "verify", str(proof_path), "--rpc", hardhat.url, *extra],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    done = verify("--signer", SIGNER)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("VALID: event")
    forged = json.loads(proof_path.read_text())
    forged["event"]["payload"] = {"i": 42}
    proof_path.write_text(json.dumps(forged))
    refused = verify()
    assert refused.returncode == 1 and "FAIL event_hash" in refused.stdout


def test_a_chain_outage_loses_nothing_and_anchoring_resumes(
    chain_app: Flask, hardhat: HardhatNode
) -> None:
    before = record(10, "before")
    sync()
    old_anchor = db.session.scalars(sa.select(AuditBatch)).one().tx_hash

    hardhat.stop()
    during = record(10, "during")  # recording never waits for the chain
    with pytest.raises(ChainError):
        sync()
    assert count(AuditEvent) == 20
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditBatch)
            .where(AuditBatch.status != "anchored")
        )
        == 1
    )

    hardhat.start(port=hardhat.port)  # a fresh chain: the first batch's anchor is gone too
    after = record(5, "after")
    result = sync()
    assert len(result["reanchoring"]) == 1 and len(result["anchored"]) == 3
    first = db.session.scalars(sa.select(AuditBatch).order_by(AuditBatch.id)).first()
    assert first.tx_hash != old_anchor and first.anchor_history[0]["tx_hash"] == old_anchor
    note = db.session.scalars(
        sa.select(Notification).where(Notification.kind == "audit_anchor_lost")
    ).one()
    assert note.data["batch_ids"] == [first.id]
    sync()  # anchors the audit_anchor_lost event itself
    report = trail_report()
    assert report["ok"], report
    stored = set(db.session.scalars(sa.select(AuditEvent.id)))
    assert set(before + during + after) <= stored
    for event_id in (before[0], during[5], after[-1]):
        assert verify_proof(build_proof(event_id), chain_reader())["valid"]


def test_concurrent_recording_and_syncing_anchor_each_batch_once(
    chain_app: Flask, hardhat: HardhatNode
) -> None:
    hardhat.restart()  # count this test's transactions from nonce 0
    errors: list[BaseException] = []

    def writer(tag: str) -> None:
        with chain_app.app_context():
            try:
                for i in range(40):
                    record_event("test_event", subject_id=f"{tag}{i}")
                    db.session.commit()
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    def syncer() -> None:
        with chain_app.app_context():
            try:
                for _ in range(5):
                    with contextlib.suppress(SyncBusy):
                        sync()
            except BaseException as exc:
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=writer, args=(t,)) for t in "abc"]
    threads += [threading.Thread(target=syncer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    sync()
    batches = db.session.scalars(sa.select(AuditBatch)).all()
    assert count(AuditEvent) == 120 and all(b.status == "anchored" for b in batches)
    assert sum(b.event_count for b in batches) == 120
    # Exactly one transaction per batch left the signer.
    assert chain_reader().nonce(SIGNER) == len(batches)
    assert trail_report()["ok"]


@pytest.fixture(scope="module")
def chain_worker(
    worker_env: dict[str, str],
    _hardhat_node: HardhatNode,
    ipfs_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Worker]:
    settings = {k: str(v) for k, v in anchoring_settings(_hardhat_node).items()}
    env = {**worker_env, **settings, "IPFS_BLOCKSTORE_DIR": str(ipfs_dir)}
    process = start_worker(env, tmp_path_factory.mktemp("chain-worker"), name="chain")
    yield process
    process.stop()


def test_the_sync_task_retries_through_an_outage_on_a_worker(
    chain_app: Flask, celery: Celery, chain_worker: Worker, hardhat: HardhatNode
) -> None:
    ids = record(4)
    hardhat.stop()
    result = celery.send_task("app.tasks.blockchain_tasks.sync_audit_trail")
    wait_for(lambda: result.state == "RETRY", 60, "the task to be retried")
    hardhat.start(port=hardhat.port)
    outcome = result.get(timeout=120)
    assert outcome["anchored"], outcome
    db.session.expire_all()
    event = db.session.get(AuditEvent, ids[0])
    assert db.session.get(AuditBatch, event.batch_id).status == "anchored"


def test_record_and_verify_tasks_on_a_worker(
    chain_app: Flask, celery: Celery, chain_worker: Worker
) -> None:
    big = {"blob": "z" * 10_000}
    recorded = celery.send_task(
        "app.tasks.blockchain_tasks.record_audit_event",
        args=("evidence_attached",),
        kwargs={"payload": big, "actor_user_id": 7},
    ).get(timeout=60)
    assert recorded["payload_cid"].startswith("Qm")
    refused = celery.send_task(
        "app.tasks.blockchain_tasks.batch_record_events", args=([{"nope": 1}],)
    )
    with pytest.raises(ValueError, match="unknown fields"):
        refused.get(timeout=60)
    celery.send_task("app.tasks.blockchain_tasks.sync_audit_trail").get(timeout=60)
    report = celery.send_task("app.tasks.blockchain_tasks.verify_audit_integrity").get(timeout=60)
    assert report["ok"] and report["events_checked"] == 1, report
    health = celery.send_task("app.tasks.blockchain_tasks.check_blockchain_health").get(timeout=60)
    assert health["ok"], health


def test_two_deliveries_of_one_record_task_append_once(chain_app: Flask) -> None:
    """Concurrent redeliveries (same idempotency key) on PostgreSQL: one event, one id."""
    barrier = threading.Barrier(4)
    ids: list[int] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        with chain_app.app_context():
            try:
                barrier.wait(10)
                event = record_event("policy_changed", idempotency_key="task:same")
                db.session.commit()
                ids.append(event.id)
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert len(ids) == 4 and len(set(ids)) == 1
    assert count(AuditEvent) == 1


def test_archived_batches_stay_provable_on_postgresql(chain_app: Flask) -> None:
    from datetime import timedelta

    from app.database import utcnow
    from app.services.audit.archive import archive_old_batches

    ids = record(60)  # two batches of AUDIT_BATCH_MAX_EVENTS=50 and 10
    sync()
    archived = archive_old_batches(
        now=utcnow() + timedelta(days=chain_app.config["AUDIT_RETENTION_DAYS"] + 1)
    )
    assert len(archived["archived"]) == 2 and not archived["refused"]
    assert count(AuditEvent) == 0
    assert verify_proof(build_proof(ids[42]), chain_reader())["valid"]
    later = record(3, "later")
    sync()
    report = trail_report()
    assert report["ok"] and report["events_checked"] == 63, report
    assert verify_proof(build_proof(later[0]), chain_reader())["valid"]


def test_a_transaction_stuck_in_the_mempool_is_replaced_not_duplicated(
    chain_app: Flask, hardhat: HardhatNode
) -> None:
    """A node that does not mine it (fees too low on a busy chain, say): after
    ETH_TX_TIMEOUT_SECONDS the next run outbids it under the same nonce; exactly one of the
    two can be mined, and whichever is becomes the anchor."""
    from tests.chain import rpc

    hardhat.restart()  # nonces from 0
    chain_app.config["ETH_TX_TIMEOUT_SECONDS"] = 1
    rpc(hardhat.url, "evm_setAutomine", False)
    try:
        record(3)
        with pytest.raises(ChainError, match="not mined"):
            sync()
        batch = db.session.scalars(sa.select(AuditBatch)).one()
        stuck = batch.tx_hash
        assert batch.status == "submitted"
        with pytest.raises(ChainError, match="not mined"):
            sync()
        db.session.refresh(batch)
        assert batch.tx_hash != stuck and batch.replaced_tx_hashes == [stuck]
        assert batch.tx_nonce == 0
        rpc(hardhat.url, "evm_mine")
    finally:
        rpc(hardhat.url, "evm_setAutomine", True)
    sync()
    db.session.refresh(batch)
    assert batch.status == "anchored" and batch.tx_hash != stuck
    assert chain_reader().inclusion(stuck) is None
    assert chain_reader().nonce(SIGNER) == 1  # one transaction left the signer
    assert trail_report()["ok"]


@pytest.mark.parametrize("runs_before_mining", [0, 1])
def test_a_replacement_that_never_reached_the_node(
    chain_app: Flask, hardhat: HardhatNode, monkeypatch: pytest.MonkeyPatch, runs_before_mining: int
) -> None:
    """The replacement is stored, then lost before the node got it. Mined as it is, the
    first transaction becomes the anchor; if another run comes first, it outbids again
    (rather than resending a replacement the node may refuse forever)."""
    from app.services.audit.chain import ChainWriter
    from tests.chain import rpc

    hardhat.restart()
    chain_app.config["ETH_TX_TIMEOUT_SECONDS"] = 1
    rpc(hardhat.url, "evm_setAutomine", False)
    try:
        record(2)
        with pytest.raises(ChainError):
            sync()
        batch = db.session.scalars(sa.select(AuditBatch)).one()
        first = batch.tx_hash

        def lost(self: ChainWriter, raw_tx: str, tx_hash: str) -> None:
            raise ChainError("the replacement never reached the node")

        with monkeypatch.context() as patch:
            patch.setattr(ChainWriter, "broadcast", lost)
            with pytest.raises(ChainError, match="never reached"):
                sync()
        db.session.refresh(batch)
        assert batch.replaced_tx_hashes == [first] and batch.tx_hash != first
        lost_replacement = batch.tx_hash
        for _ in range(runs_before_mining):
            with pytest.raises(ChainError, match="not mined"):
                sync()
        db.session.refresh(batch)
        rpc(hardhat.url, "evm_mine")
    finally:
        rpc(hardhat.url, "evm_setAutomine", True)
    sync()
    db.session.refresh(batch)
    assert batch.status == "anchored"
    if runs_before_mining:
        assert batch.replaced_tx_hashes == [first, lost_replacement]
        assert batch.tx_hash not in (first, lost_replacement)
    else:
        assert batch.tx_hash == first
    assert chain_reader().nonce(SIGNER) == 1
    assert trail_report()["ok"]
