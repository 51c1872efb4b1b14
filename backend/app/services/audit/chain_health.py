"""check_blockchain_health: is anchoring working, and will it keep working?

Checks the node (reachable, on ETH_CHAIN_ID, blocks advancing), the signer (configured,
funded), and the backlog (unanchored events and their age, batches stuck or failed).
Problems are stored as an admin notification and sent to the admin room.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.database import utcnow
from app.extensions import db
from app.models import AuditBatch, AuditEvent
from app.services.audit.anchoring import chain_reader
from app.services.audit.chain import ChainError, signer_address
from app.services.notify import notify_admins


def _backlog() -> dict[str, Any]:
    oldest = db.session.scalar(
        sa.select(sa.func.min(AuditEvent.created_at)).where(
            sa.or_(
                AuditEvent.batch_id.is_(None),
                AuditEvent.batch_id.in_(
                    sa.select(AuditBatch.id).where(AuditBatch.status != "anchored")
                ),
            )
        )
    )
    unbatched = db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.batch_id.is_(None)))
    by_status = dict(
        db.session.execute(
            sa.select(AuditBatch.status, sa.func.count()).group_by(AuditBatch.status)
        ).all()
    )
    return {
        "unbatched_events": int(unbatched or 0),
        "batches": {status: int(n) for status, n in by_status.items()},
        "oldest_unanchored_age_seconds": (
            None if oldest is None else round((utcnow() - oldest).total_seconds(), 1)
        ),
    }


def _chain(config: Any, problems: list[str]) -> dict[str, Any]:
    reader = chain_reader(config)
    info: dict[str, Any] = {"rpc_url": config["ETH_RPC_URL"], "reachable": False}
    try:
        info["chain_id"] = reader.chain_id()
        info["reachable"] = True
        number, timestamp = reader.head()
    except ChainError as exc:
        problems.append(f"Ethereum node unreachable: {exc}")
        return info
    info["block_number"] = number
    info["block_age_seconds"] = max(0, int(time.time()) - timestamp)
    expected = config["ETH_CHAIN_ID"]
    if not expected:
        problems.append("ETH_CHAIN_ID is not set")
    elif info["chain_id"] != expected:
        problems.append(f"the node is on chain {info['chain_id']}, ETH_CHAIN_ID is {expected}")
    max_age = config["ETH_MAX_BLOCK_AGE_SECONDS"]
    if max_age and info["block_age_seconds"] > max_age:
        problems.append(
            f"no new block for {info['block_age_seconds']}s (limit {max_age}s): chain stalled?"
        )
    key = config["ETH_PRIVATE_KEY"]
    if not key:
        problems.append("ETH_PRIVATE_KEY is not set: events cannot be anchored")
        return info
    try:
        info["signer"] = signer_address(key)
    except ValueError:
        problems.append("ETH_PRIVATE_KEY is not a valid private key")
        return info
    info["signer_balance_wei"] = balance = reader.balance(info["signer"])
    if balance < config["ETH_MIN_SIGNER_BALANCE_WEI"]:
        problems.append(
            f"signer {info['signer']} holds {balance} wei, below "
            f"ETH_MIN_SIGNER_BALANCE_WEI ({config['ETH_MIN_SIGNER_BALANCE_WEI']})"
        )
    return info


def check() -> dict[str, Any]:
    config = current_app.config
    problems: list[str] = []
    try:
        chain = _chain(config, problems)
    except ChainError as exc:  # the node went away between calls
        chain = {"rpc_url": config["ETH_RPC_URL"], "reachable": False}
        problems.append(f"Ethereum node unreachable: {exc}")
    backlog = _backlog()
    age = backlog["oldest_unanchored_age_seconds"]
    if age is not None and age > config["AUDIT_BACKLOG_MAX_AGE_SECONDS"]:
        problems.append(
            f"audit events have waited {age:.0f}s to be anchored "
            f"(limit {config['AUDIT_BACKLOG_MAX_AGE_SECONDS']}s)"
        )
    if backlog["batches"].get("failed"):
        problems.append(f"{backlog['batches']['failed']} audit batch(es) failed to anchor")
    result = {"ok": not problems, "problems": problems, "chain": chain, "backlog": backlog}
    if problems:
        notify_admins(
            "blockchain_health",
            "Audit anchoring needs attention",
            "; ".join(problems),
            {"problems": problems, "chain_id": chain.get("chain_id")},
        )
        db.session.commit()
    return result
