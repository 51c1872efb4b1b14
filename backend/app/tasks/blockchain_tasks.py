"""The audit trail's tasks (queue ``blockchain_queue``) and their beat entries.

Thin by design: validate the arguments, call one audit service, return what happened.
Invalid arguments raise ``ValueError`` at once (never retried, nothing written). Chain
outages raise ``ChainError``, which is retried with backoff; events stay recorded and
pending meanwhile, and the next run (or beat's next minute) carries on.
"""

from __future__ import annotations

import base64
import binascii
import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.schedules import crontab
from flask import current_app

from app.extensions import db
from app.services.audit import anchoring, archive, chain_health, integrity
from app.services.audit.chain import ChainConfigError, ChainError
from app.services.audit.events import record_event, validate_event_fields
from app.services.audit.ipfs import IPFSUnavailable, blockstore_from_config
from app.transient_errors import TRANSIENT_ERRORS

log = logging.getLogger(__name__)
PREFIX = "app.tasks.blockchain_tasks"
MAX_BATCH_EVENTS = 1000
EVENT_FIELDS = {
    "event_type",
    "actor_user_id",
    "subject_type",
    "subject_id",
    "ip_address",
    "payload",
}
RETRYING = {
    "bind": True,
    "autoretry_for": (ChainError, IPFSUnavailable, *TRANSIENT_ERRORS),
    "dont_autoretry_for": (ChainConfigError,),
}

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "sync_audit_trail": {
        "task": f"{PREFIX}.sync_audit_trail",
        "schedule": timedelta(minutes=1),
        # A run that could not start within the minute is superseded by the next one.
        "options": {"expires": 55},
    },
    "check_blockchain_health": {
        "task": f"{PREFIX}.check_blockchain_health",
        "schedule": crontab(minute=0),
    },
    "cleanup_old_blockchain_records": {
        "task": f"{PREFIX}.cleanup_old_blockchain_records",
        "schedule": crontab(minute=0, hour=2, day_of_month=1),
    },
}


def _event_kwargs(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ValueError(f"{where} must be an object")
    unknown = set(item) - EVENT_FIELDS
    if unknown:
        raise ValueError(f"{where} has unknown fields: {', '.join(sorted(unknown))}")
    if "event_type" not in item:
        raise ValueError(f"{where} needs an event_type")
    validate_event_fields(**item)
    return dict(item)


@shared_task(**RETRYING)
def record_audit_event(self: Any, event_type: str, **fields: Any) -> dict[str, Any]:
    """Record one event (large payloads go to IPFS); a redelivered task records it once."""
    kwargs = _event_kwargs({"event_type": event_type, **fields}, "the event")
    event = record_event(**kwargs, idempotency_key=f"task:{self.request.id}")
    db.session.commit()
    return {"event_id": event.id, "event_hash": event.event_hash, "payload_cid": event.payload_cid}


@shared_task(**RETRYING)
def batch_record_events(self: Any, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Record up to MAX_BATCH_EVENTS events in one transaction: all of them or none."""
    if not isinstance(events, list) or not events:
        raise ValueError("events must be a non-empty list")
    if len(events) > MAX_BATCH_EVENTS:
        raise ValueError(f"at most {MAX_BATCH_EVENTS} events per call, got {len(events)}")
    checked = [_event_kwargs(item, f"events[{i}]") for i, item in enumerate(events)]
    recorded = [
        record_event(**kwargs, idempotency_key=f"task:{self.request.id}:{i}")
        for i, kwargs in enumerate(checked)
    ]
    db.session.commit()
    return {"event_ids": [event.id for event in recorded]}


@shared_task(**RETRYING)
def sync_audit_trail(self: Any) -> dict[str, Any]:
    """Batch pending events and anchor the batches' Merkle roots on the chain."""
    try:
        result = anchoring.sync()
    except anchoring.SyncBusy as exc:
        return {"skipped": str(exc)}
    log.info("sync_audit_trail: %s", result)
    return result


@shared_task(**RETRYING)
def verify_audit_integrity(
    self: Any, first_event_id: int | None = None, last_event_id: int | None = None
) -> dict[str, Any]:
    """Verify a range of events (default: the whole trail); failures alert the admins."""
    for name, value in (("first_event_id", first_event_id), ("last_event_id", last_event_id)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{name} must be an integer")
    return integrity.check_and_report(first_event_id, last_event_id)


@shared_task(**RETRYING)
def store_large_data_ipfs(
    self: Any, data: str, encoding: str = "utf-8", cid_version: int = 0
) -> dict[str, Any]:
    """Store ``data`` (text, or bytes as base64) content-addressed; returns its CID."""
    if not isinstance(data, str):
        raise ValueError("data must be a string (text, or base64 with encoding='base64')")
    if encoding == "utf-8":
        raw = data.encode()
    elif encoding == "base64":
        try:
            raw = base64.b64decode(data, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"data is not valid base64: {exc}") from None
    else:
        raise ValueError("encoding must be 'utf-8' or 'base64'")
    if cid_version not in (0, 1):
        raise ValueError("cid_version must be 0 or 1")
    cid = blockstore_from_config(current_app.config).add(raw, cid_version=cid_version)
    return {"cid": cid, "size": len(raw)}


@shared_task(**RETRYING)
def check_blockchain_health(self: Any) -> dict[str, Any]:
    return chain_health.check()


@shared_task(**RETRYING)
def cleanup_old_blockchain_records(self: Any) -> dict[str, Any]:
    """Move anchored events past AUDIT_RETENTION_DAYS to content-addressed archives."""
    result = archive.archive_old_batches()
    log.info("cleanup_old_blockchain_records: %s", result)
    return result
