"""Tamper-evident audit trail: recording rate, batch anchoring, proofs and verification.

    .venv/bin/python bench/audit_bench.py [--events 2000] [--proofs 200] [--batch 10000]
    .venv/bin/python bench/audit_bench.py --quick      # smoke run: 200 events, batch of 500

1. **Recording**: ``record_event`` + commit, one event per transaction as the platform
   records them, on a private migrated PostgreSQL schema (and on SQLite, standalone's
   database). Baseline in the same run, same table, same rows: a plain SQLAlchemy Core
   INSERT + commit per event without the hash chain (no advisory lock, no head lookup, no
   hashing; ``prev_hash`` / ``event_hash`` are random 64-hex values from two uuid4s each, to
   satisfy the unique constraints). Short rounds, chain and plain back to back in
   alternating order, so load from elsewhere on the machine hits both alike; rates are of
   the median round, the ratio is the median of the rounds' (chain rate / plain rate).
2. **Anchoring** a batch of ``--batch`` events (10,000): the events are recorded, then
   ``anchoring.sync()`` is timed, split (by wrapping its functions in this process) into the
   build (select, Merkle root, manifest into the local IPFS store, claim, commit) and the
   anchoring transaction (sign, send, mined), against (a) a Hardhat node started here
   (automine) and (b) standalone's embedded EthereumTesterProvider chain. Baseline for the
   Merkle root: one SHA-256 per leaf over the same event hashes (the raw hashing floor).
   The anchoring transaction alone is also repeated ``--anchors`` times through ChainWriter.
3. **Proofs**: ``build_proof`` for ``--proofs`` random events of the batch (a fresh session
   each, as per request), ``verify_proof`` against the chain, and its offline part (event
   hash + Merkle inclusion) separately; ``verify_range`` over the whole batch once.

Cleans up the schema, the chains, and the temporary block stores and SQLite files, also on
error. Uses Redis db 14 (the anchoring lock). Writes bench/out/audit_bench.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # for tests.* (app is installed in the venv)

import hashlib  # noqa: E402

import sqlalchemy as sa  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from web3.providers.rpc import HTTPProvider  # noqa: E402

from app import create_app  # noqa: E402
from app.database import utcnow  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import AuditEvent  # noqa: E402
from app.services.audit import anchoring  # noqa: E402
from app.services.audit.chain import AnchorPayload, ChainWriter  # noqa: E402
from app.services.audit.events import hash_content, record_event  # noqa: E402
from app.services.audit.ipfs.local import LocalBlockStore  # noqa: E402
from app.services.audit.merkle import leaf_hash, root_from_inclusion  # noqa: E402
from app.services.audit.proof import build_proof, parse_proof, verify_proof  # noqa: E402
from app.services.audit.verify import verify_range  # noqa: E402
from app.standalone.children import start_embedded_chain  # noqa: E402
from tests.chain import HARDHAT_CHAIN_ID, HARDHAT_SIGNER_KEY, HardhatNode  # noqa: E402
from tests.conftest import test_config  # noqa: E402
from tests.pg import migrated_schema  # noqa: E402

OUT = REPO / "bench" / "out" / "audit_bench.json"
REDIS_URL = "redis://127.0.0.1:6379/14"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131"


# --- helpers ----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "mean_ms": round(statistics.fmean(ms), 3),
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "max_ms": round(max(ms), 3),
    }


def event_fields(seq: int, rng: random.Random) -> dict[str, Any]:
    """A login event as the platform records them (a few hundred bytes, inline payload)."""
    return {
        "event_type": "auth.login_succeeded",
        "actor_user_id": 1_000 + seq % 50,
        "subject_type": "session",
        "subject_id": uuid.UUID(int=rng.getrandbits(128)).hex,
        "ip_address": f"203.0.113.{seq % 250 + 1}",
        "payload": {
            "method": "password",
            "mfa": seq % 3 == 0,
            "risk_score": round(rng.random(), 4),
            "user_agent": USER_AGENT,
            "seq": seq,
        },
    }


class Probes:
    """Wall time and call counts of functions wrapped for the duration of a block."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextlib.contextmanager
    def wrap(
        self, owner: Any, name: str, label: str | Callable[[tuple[Any, ...]], str]
    ) -> Iterator[None]:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            key = label(args) if callable(label) else label
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[key] += time.perf_counter() - started
                self.calls[key] += 1

        setattr(owner, name, timed)
        try:
            yield
        finally:
            setattr(owner, name, original)

    def ms(self, key: str) -> float:
        return round(self.seconds.get(key, 0.0) * 1000, 2)

    def rpc_summary(self) -> dict[str, dict[str, float]]:
        return {
            key.removeprefix("rpc:"): {"calls": self.calls[key], "ms": self.ms(key)}
            for key in sorted(self.seconds)
            if key.startswith("rpc:")
        }


def app_config(db_url: str, ipfs_dir: Path, chain: dict[str, Any] | None, **extra: Any) -> Any:
    chain = chain or {"url": "http://127.0.0.1:9", "chain_id": 0, "key": None}
    return test_config(
        SQLALCHEMY_DATABASE_URI=db_url,
        REDIS_URL=REDIS_URL,
        IPFS_BLOCKSTORE_DIR=str(ipfs_dir),
        ETH_RPC_URL=chain["url"],
        ETH_CHAIN_ID=chain["chain_id"],
        ETH_PRIVATE_KEY=chain["key"],
        ETH_TX_TIMEOUT_SECONDS=60,
        AUDIT_BATCH_MAX_EVENTS=10_000,
        **extra,
    )


@contextlib.contextmanager
def app_context(config: Any) -> Iterator[Any]:
    app = create_app(config)
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()  # no idle connection left to block DROP SCHEMA


# --- 1. recording rate ------------------------------------------------------------------


def recording_rate(events: int, round_size: int, seed: int) -> dict[str, Any]:
    """record_event + commit against a plain INSERT + commit, in alternating short rounds.

    Runs inside an app context on a migrated database; leaves its rows in audit_events.
    """
    rng = random.Random(seed)  # noqa: S311 (reproducible fake events)
    seq = 0

    def chained() -> None:
        nonlocal seq
        seq += 1
        record_event(**event_fields(seq, rng))
        db.session.commit()

    def plain() -> None:
        nonlocal seq
        seq += 1
        fields = event_fields(seq, rng)
        db.session.execute(
            sa.insert(AuditEvent).values(
                created_at=utcnow(),
                prev_hash=uuid.uuid4().hex + uuid.uuid4().hex,
                event_hash=uuid.uuid4().hex + uuid.uuid4().hex,
                payload_cid=None,
                **fields,
            )
        )
        db.session.commit()

    def timed_round(operation: Callable[[], None]) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(round_size):
            operation()
        return time.perf_counter() - wall, time.process_time() - cpu

    for _ in range(20):  # warm connections, statement caches, the JSON and hashing paths
        chained(), plain()
    rounds = max(1, events // round_size)
    chain: list[tuple[float, float]] = []
    base: list[tuple[float, float]] = []
    for round_no in range(rounds):
        if round_no % 2:
            base.append(timed_round(plain))
            chain.append(timed_round(chained))
        else:
            chain.append(timed_round(chained))
            base.append(timed_round(plain))
    chain_wall = statistics.median(w for w, _ in chain)
    base_wall = statistics.median(w for w, _ in base)
    pairs = list(zip(chain, base, strict=True))
    return {
        "events_each": rounds * round_size,
        "round_size": round_size,
        "rounds": rounds,
        "chain_events_per_s": round(round_size / chain_wall, 1),
        "plain_events_per_s": round(round_size / base_wall, 1),
        "chain_ms_per_event": round(chain_wall / round_size * 1000, 3),
        "plain_ms_per_event": round(base_wall / round_size * 1000, 3),
        "chain_cpu_ms_per_event": round(
            statistics.median(c for _, c in chain) / round_size * 1000, 3
        ),
        "plain_cpu_ms_per_event": round(
            statistics.median(c for _, c in base) / round_size * 1000, 3
        ),
        # rate ratio: 0.5 = the chain records at half the plain insert rate
        "ratio": round(statistics.median(b[0] / c[0] for c, b in pairs), 3),
        "overall_chain_events_per_s": round(len(chain) * round_size / sum(w for w, _ in chain), 1),
        "overall_plain_events_per_s": round(len(base) * round_size / sum(w for w, _ in base), 1),
    }


def print_recording(name: str, r: dict[str, Any]) -> None:
    print(
        f"record {name:<10} chain {r['chain_events_per_s']:>8.1f} ev/s "
        f"({r['chain_ms_per_event']:.2f} ms, CPU {r['chain_cpu_ms_per_event']:.2f})   "
        f"plain INSERT {r['plain_events_per_s']:>8.1f} ev/s "
        f"({r['plain_ms_per_event']:.2f} ms, CPU {r['plain_cpu_ms_per_event']:.2f})   "
        f"ratio {r['ratio']:.3f}"
    )


# --- 2. anchoring -----------------------------------------------------------------------


def record_batch(count: int, seed: int) -> list[int]:
    """``count`` chained events, committed 100 at a time (setup, not measured)."""
    rng = random.Random(seed)  # noqa: S311
    ids: list[int] = []
    for seq in range(1, count + 1):
        ids.append(record_event(**event_fields(seq, rng)).id)
        if seq % 100 == 0 or seq == count:
            db.session.commit()
    return ids


def merkle_floor(event_hashes: list[str], repeat: int) -> dict[str, Any]:
    """batch_root over the batch against one SHA-256 per leaf (median of ``repeat`` runs)."""
    leaves = [bytes.fromhex(h) for h in event_hashes]

    def floor() -> None:
        for leaf in leaves:
            hashlib.sha256(leaf).digest()

    def merkle() -> None:
        anchoring.batch_root(event_hashes)

    def median_of(operation: Callable[[], None]) -> float:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            operation()
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    floor(), merkle()
    floor_s, merkle_s = median_of(floor), median_of(merkle)
    return {
        "leaves": len(leaves),
        "batch_root_ms": round(merkle_s * 1000, 3),
        "sha256_per_leaf_floor_ms": round(floor_s * 1000, 3),
        "ratio": round(merkle_s / floor_s, 2),
    }


def timed_sync() -> tuple[dict[str, Any], dict[str, Any]]:
    """anchoring.sync() with its parts timed by wrappers installed in this process only."""
    probes = Probes()
    with contextlib.ExitStack() as stack:
        for owner, name, label in (
            (anchoring, "build_batches", "build"),
            (anchoring, "batch_root", "build.merkle_root"),
            (anchoring, "manifest_document", "build.manifest_json"),
            (LocalBlockStore, "add", "build.manifest_store"),
            (anchoring, "recheck_recent_anchors", "recheck"),
            (anchoring, "anchor_batch", "anchor"),
            (ChainWriter, "sign_anchor", "anchor.sign"),
            (ChainWriter, "broadcast", "anchor.send"),
            (ChainWriter, "wait_for_inclusion", "anchor.mined"),
        ):
            stack.enter_context(probes.wrap(owner, name, label))
        stack.enter_context(probes.wrap(HTTPProvider, "make_request", lambda a: f"rpc:{a[1]}"))
        started = time.perf_counter()
        result = anchoring.sync()
        total = time.perf_counter() - started
    build = probes.ms("build")
    anchor = probes.ms("anchor")
    parts = {
        "total_ms": round(total * 1000, 2),
        "build_ms": build,
        "build_merkle_root_ms": probes.ms("build.merkle_root"),
        "build_manifest_json_ms": probes.ms("build.manifest_json"),
        "build_manifest_store_ms": probes.ms("build.manifest_store"),
        "build_database_ms": round(
            build
            - probes.ms("build.merkle_root")
            - probes.ms("build.manifest_json")
            - probes.ms("build.manifest_store"),
            2,
        ),
        "anchor_ms": anchor,
        "anchor_sign_ms": probes.ms("anchor.sign"),
        "anchor_send_ms": probes.ms("anchor.send"),
        "anchor_mined_ms": probes.ms("anchor.mined"),
        "anchor_other_ms": round(
            anchor
            - probes.ms("anchor.sign")
            - probes.ms("anchor.send")
            - probes.ms("anchor.mined"),
            2,
        ),
        "other_ms": round(total * 1000 - build - anchor, 2),  # lock, chain id, recheck
        "rpc": probes.rpc_summary(),
        "rpc_calls": sum(v for k, v in probes.calls.items() if k.startswith("rpc:")),
        "rpc_ms": round(
            sum(v for k, v in probes.seconds.items() if k.startswith("rpc:")) * 1000, 2
        ),
    }
    return result, parts


def repeated_anchors(config: Any, count: int) -> dict[str, Any]:
    """The anchoring transaction alone (sign, send, mined) ``count`` times via ChainWriter."""
    writer = anchoring.chain_writer(config)
    times: dict[str, list[float]] = {"sign": [], "send": [], "mined": [], "total": []}
    for i in range(count):
        payload = AnchorPayload(1_000_000 + i, 1, 10_000, os.urandom(32).hex())
        t0 = time.perf_counter()
        signed = writer.sign_anchor(payload)
        t1 = time.perf_counter()
        writer.broadcast(signed.raw_tx, signed.tx_hash)
        t2 = time.perf_counter()
        assert writer.wait_for_inclusion([signed.tx_hash], 60)[1].succeeded
        t3 = time.perf_counter()
        for key, value in (("sign", t1 - t0), ("send", t2 - t1), ("mined", t3 - t2)):
            times[key].append(value)
        times["total"].append(t3 - t0)
    return {key: summary_ms(values) for key, values in times.items()}


# --- 3. proofs and verification ---------------------------------------------------------


def verify_offline(doc: Any) -> bool:
    """verify_proof's checks 1 and 2 (event hash, Merkle inclusion), without the chain."""
    proof = parse_proof(doc)
    if hash_content(proof["content"]) != proof["event_hash"]:
        return False
    root = root_from_inclusion(
        leaf_hash(bytes.fromhex(proof["event_hash"])),
        proof["leaf_index"],
        proof["tree_size"],
        proof["audit_path"],
    )
    return bool(root.hex() == proof["merkle_root"])


def proofs_and_verification(config: Any, ids: list[int], proofs: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)  # noqa: S311
    sample = rng.sample(ids, min(proofs, len(ids)))
    build_times, docs = [], []
    build_proof(sample[0])  # warm-up (first ORM load of the batch, statement caches)
    for event_id in sample:
        db.session.remove()  # a fresh session per proof, as per API request
        started = time.perf_counter()
        doc = build_proof(event_id)
        build_times.append(time.perf_counter() - started)
        docs.append(json.loads(json.dumps(doc)))  # what a verifier receives
    db.session.remove()
    reader = anchoring.chain_reader(config)
    reader.chain_id()  # warm the HTTP connection
    online, offline = [], []
    for doc in docs:
        started = time.perf_counter()
        report = verify_proof(doc, reader)
        online.append(time.perf_counter() - started)
        assert report["valid"], report
        started = time.perf_counter()
        assert verify_offline(doc)
        offline.append(time.perf_counter() - started)
    db.session.remove()
    started = time.perf_counter()
    ranged = verify_range(min(ids), max(ids), reader)
    range_s = time.perf_counter() - started
    assert ranged["ok"] and ranged["events_checked"] == len(ids), ranged
    return {
        "build_proof": summary_ms(build_times),
        "verify_proof": summary_ms(online),
        "verify_offline": summary_ms(offline),
        "verify_range": {
            "events": ranged["events_checked"],
            "batches": ranged["batches_checked"],
            "ms": round(range_s * 1000, 2),
            "anchors": [b["anchor"] for b in ranged["batches"]],
        },
        "proof_bytes": round(statistics.fmean(len(json.dumps(d)) for d in docs)),
        "audit_path_length": round(statistics.fmean(len(d["audit_path"]) for d in docs), 1),
    }


def anchoring_run(
    name: str, chain: dict[str, Any], db_url: str, ipfs_dir: Path, args: argparse.Namespace
) -> dict[str, Any]:
    config = app_config(db_url, ipfs_dir, chain)
    with app_context(config) as app:
        started = time.perf_counter()
        ids = record_batch(args.batch, seed=args.seed)
        recording_s = time.perf_counter() - started
        print(f"[{name}] recorded {len(ids)} events in {recording_s:.1f} s (setup)")
        result, parts = timed_sync()
        assert result["anchored"] == result["batches_created"] == [1], result
        hashes = list(
            db.session.scalars(
                sa.select(AuditEvent.event_hash)
                .where(AuditEvent.id.in_(ids))
                .order_by(AuditEvent.id)
            )
        )
        floor = merkle_floor(hashes, repeat=21)
        parts["build_merkle_root_vs_floor"] = round(
            parts["build_merkle_root_ms"] / floor["sha256_per_leaf_floor_ms"], 2
        )
        db.session.remove()
        proofs = proofs_and_verification(app.config, ids, args.proofs, seed=args.seed + 1)
        anchors = repeated_anchors(app.config, args.anchors)
    return {
        "chain": name,
        "rpc_url": chain["url"],
        "chain_id": chain["chain_id"],
        "batch_events": len(ids),
        "setup_recording_s": round(recording_s, 1),
        "sync": parts,
        "merkle": floor,
        "anchor_transaction_repeated": anchors,
        **proofs,
    }


def print_anchoring(r: dict[str, Any]) -> None:
    s, m = r["sync"], r["merkle"]
    name = f"[{r['chain']}]"
    print(
        f"{name} sync() of {r['batch_events']} events: {s['total_ms']:.0f} ms = "
        f"build {s['build_ms']:.0f} (Merkle {s['build_merkle_root_ms']:.1f}, manifest json "
        f"{s['build_manifest_json_ms']:.1f} + store {s['build_manifest_store_ms']:.1f}, "
        f"database {s['build_database_ms']:.0f}) + anchor tx {s['anchor_ms']:.0f} "
        f"(sign {s['anchor_sign_ms']:.0f}, send {s['anchor_send_ms']:.0f}, mined "
        f"{s['anchor_mined_ms']:.0f}, other {s['anchor_other_ms']:.0f}) + other "
        f"{s['other_ms']:.0f}; {s['rpc_calls']} RPCs, {s['rpc_ms']:.0f} ms"
    )
    print(
        f"{name} Merkle root {m['batch_root_ms']:.2f} ms vs SHA-256 per leaf "
        f"{m['sha256_per_leaf_floor_ms']:.2f} ms: ratio {m['ratio']:.2f} "
        f"(inside sync: {s['build_merkle_root_ms']:.2f} ms, {s['build_merkle_root_vs_floor']:.2f}x)"
    )
    a = r["anchor_transaction_repeated"]
    print(
        f"{name} anchor tx x{a['total']['n']}: total p50 {a['total']['p50_ms']:.1f} / p95 "
        f"{a['total']['p95_ms']:.1f} ms (sign p50 {a['sign']['p50_ms']:.1f}, send "
        f"{a['send']['p50_ms']:.1f}, mined {a['mined']['p50_ms']:.1f})"
    )
    for key in ("build_proof", "verify_proof", "verify_offline"):
        t = r[key]
        print(
            f"{name} {key:<15} n={t['n']:<4} mean {t['mean_ms']:>8.3f}  p50 {t['p50_ms']:>8.3f}"
            f"  p95 {t['p95_ms']:>8.3f} ms"
        )
    v = r["verify_range"]
    print(f"{name} verify_range over {v['events']} events: {v['ms']:.0f} ms ({v['anchors']})")


def print_table(report: dict[str, Any]) -> None:
    """The summary: every measure with its baseline and ratio where it has one."""
    rows: list[tuple[str, str, str, str]] = []
    for key, name in (("recording_postgresql", "PostgreSQL"), ("recording_sqlite", "SQLite")):
        if key in report:
            r = report[key]
            rows.append(
                (
                    f"events/s, record_event + commit, {name}",
                    f"{r['chain_events_per_s']:,.0f}",
                    f"{r['plain_events_per_s']:,.0f} (plain INSERT)",
                    f"{r['ratio']:.2f}",
                )
            )
    for a in report.get("anchoring", []):
        s, m, c = a["sync"], a["merkle"], a["chain"]
        n = f"{a['batch_events']:,}"
        rows += [
            (f"[{c}] sync() of {n} events (ms)", f"{s['total_ms']:,.0f}", "", ""),
            (f"[{c}]   build: batch + manifest (ms)", f"{s['build_ms']:,.0f}", "", ""),
            (
                f"[{c}]     Merkle root in sync (ms)",
                f"{s['build_merkle_root_ms']:.1f}",
                f"{m['sha256_per_leaf_floor_ms']:.1f} (SHA-256/leaf)",
                f"{s['build_merkle_root_vs_floor']:.2f}",
            ),
            (
                f"[{c}]     Merkle root, median of 21 (ms)",
                f"{m['batch_root_ms']:.1f}",
                f"{m['sha256_per_leaf_floor_ms']:.1f} (SHA-256/leaf)",
                f"{m['ratio']:.2f}",
            ),
            (
                f"[{c}]     manifest JSON + store / database (ms)",
                f"{s['build_manifest_json_ms'] + s['build_manifest_store_ms']:.1f} / "
                f"{s['build_database_ms']:.0f}",
                "",
                "",
            ),
            (
                f"[{c}]   anchor tx: sign / send / mined (ms)",
                f"{s['anchor_ms']:.0f}: {s['anchor_sign_ms']:.0f} / {s['anchor_send_ms']:.0f}"
                f" / {s['anchor_mined_ms']:.0f}",
                "",
                "",
            ),
        ]
        t = a["anchor_transaction_repeated"]["total"]
        rows.append(
            (
                f"[{c}] anchor tx alone x{t['n']} p50 / p95 (ms)",
                f"{t['p50_ms']:.1f} / {t['p95_ms']:.1f}",
                "",
                "",
            )
        )
        for key, label in (
            ("build_proof", "build_proof"),
            ("verify_proof", "verify_proof (chain)"),
            ("verify_offline", "verify offline part"),
        ):
            t = a[key]
            rows.append(
                (
                    f"[{c}] {label} mean / p50 / p95 (ms)",
                    f"{t['mean_ms']:.2f} / {t['p50_ms']:.2f} / {t['p95_ms']:.2f}",
                    "",
                    "",
                )
            )
        v = a["verify_range"]
        rows.append((f"[{c}] verify_range, {v['events']:,} events (ms)", f"{v['ms']:,.0f}", "", ""))
    header = ("measure", "value", "baseline", "ratio")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(
            f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}"
            f"  {row[3]:>{widths[3]}}"
        )


# --- main -------------------------------------------------------------------------------


def _terminate(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwind, so every context below cleans up


def run(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {
        "benchmark": "audit_bench",
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_start": [round(x, 2) for x in os.getloadavg()],
        },
        "args": {k: v for k, v in vars(args).items() if k != "out"},
    }
    round_size = max(10, args.events // 20)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="audit_bench_")))

        # 1. recording rate
        with (
            migrated_schema("zt_bench_audit") as pg_url,
            app_context(app_config(pg_url, tmp / "ipfs-record-pg", None)),
        ):
            report["machine"]["postgresql"] = db.session.scalar(sa.text("SHOW server_version"))
            report["recording_postgresql"] = recording_rate(args.events, round_size, args.seed)
        print_recording("PostgreSQL", report["recording_postgresql"])
        if not args.no_sqlite:
            sqlite_url = f"sqlite:///{tmp / 'standalone.sqlite3'}"
            config = app_config(sqlite_url, tmp / "ipfs-record-sqlite", None, APP_MODE="standalone")
            with app_context(config):
                upgrade()
                report["recording_sqlite"] = recording_rate(args.events, round_size, args.seed)
            print_recording("SQLite", report["recording_sqlite"])

        # 2 + 3. anchoring, proofs, verification on each chain (fresh schema each)
        report["anchoring"] = []
        for name in args.chains:
            if name == "hardhat":
                workdir = tmp / "hardhat"
                workdir.mkdir()
                node = stack.enter_context(HardhatNode(workdir))
                chain = {"url": node.url, "chain_id": HARDHAT_CHAIN_ID, "key": HARDHAT_SIGNER_KEY}
            else:
                embedded = start_embedded_chain()
                stack.callback(embedded.stop)
                chain = {
                    "url": embedded.url,
                    "chain_id": embedded.chain_id,
                    "key": embedded.private_key,
                }
            with migrated_schema("zt_bench_audit") as pg_url:
                result = anchoring_run(name, chain, pg_url, tmp / f"ipfs-{name}", args)
            report["anchoring"].append(result)
            print_anchoring(result)
    report["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events per recording side")
    parser.add_argument("--batch", type=int, default=10_000, help="events in the anchored batch")
    parser.add_argument("--proofs", type=int, default=200)
    parser.add_argument("--anchors", type=int, default=20, help="repeated anchor transactions")
    parser.add_argument(
        "--chains", default="hardhat,embedded", type=lambda s: [c for c in s.split(",") if c]
    )
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--quick", action="store_true", help="200 events, batch 500, 20 proofs")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.batch, args.proofs, args.anchors = 200, 500, 20, 5
    if not 1 <= args.batch <= 10_000:
        parser.error("--batch must be 1..10000 (AUDIT_BATCH_MAX_EVENTS: one batch)")
    unknown = set(args.chains) - {"hardhat", "embedded"}
    if unknown:
        parser.error(f"unknown chains {sorted(unknown)}; use hardhat,embedded")
    signal.signal(signal.SIGTERM, _terminate)
    report = run(args)
    print()
    print_table(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
