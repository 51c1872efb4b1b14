"""Refusals in the audit trail without letting whoever is refused write it at will.

A locked-out guesser or a user probing admin routes is refused over and over; an event
per refusal would let them append to the hash chain (and to its anchoring) as fast as they
can send requests. So repeated refusals of one kind, subject and source are aggregated per
window (AUDIT_REFUSAL_WINDOW_SECONDS, fixed windows):

* the first refusal of a window is recorded as usual, its payload marked
  ``aggregated: true`` with ``window_seconds``: later ones of that window are only counted
  (a Redis counter decides, atomically, which one is the first);
* when the next window of the same kind, subject and source opens, a ``<kind>_summary``
  event records how many refusals the closed window had (``count``, ``window_start``),
  if it had more than the one already recorded. Counts are kept a day for that.

A window after which no refusal of the same kind, subject and source ever comes has its
count only in Redis, not in the trail. When Redis cannot be reached every refusal is
recorded: the trail loses nothing, at the cost of the amplification during the outage.

Refused privileged REST actions (403 to a signed-in user) are recorded here too, in their
own short transaction: the refused request's own changes are rolled back first.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

import redis
from flask import current_app

from app.extensions import db
from app.redis_client import get_redis_client
from app.services.audit.events import record_event

log = logging.getLogger(__name__)

_PREFIX = "zt:audit:refusals:v1"
_COUNTS_KEPT_SECONDS = 86400
# KEYS[1] this window's counter, KEYS[2] the number of the last window seen;
# ARGV[1] this window's number, ARGV[2] seconds counts are kept, ARGV[3] the key prefix.
# Returns {count in this window, count of the previous window seen (when this is the
# first of its window and that one is still known), that window's number}.
_COUNT = """
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
if count ~= 1 then
  return {count, 0, 0}
end
local last = redis.call('GETSET', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[2])
if not last or last == ARGV[1] then
  return {count, 0, 0}
end
local previous = redis.call('GET', ARGV[3] .. ':' .. last)
return {count, tonumber(previous or '0'), tonumber(last)}
"""


def _count(kind: str, subject: str, source: str | None, window: int) -> tuple[int, int, int]:
    """(this refusal's number in its window, previous window's count, its number)."""
    digest = hashlib.sha256(f"{kind}|{subject}|{source}".encode()).hexdigest()[:32]
    prefix = f"{_PREFIX}:{digest}"
    bucket = int(time.time() // window)
    keys = [f"{prefix}:{bucket}", f"{prefix}:last"]
    result = get_redis_client().eval(_COUNT, 2, *keys, bucket, _COUNTS_KEPT_SECONDS, prefix)
    return int(result[0]), int(result[1]), int(result[2])


def record_refusal(
    kind: str,
    *,
    subject_type: str,
    subject_id: str | int,
    ip_address: str | None,
    actor_user_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> bool:
    """Record a refusal in the caller's transaction (the caller commits) unless one like it
    was recorded in this window; True when something was recorded."""
    window = current_app.config["AUDIT_REFUSAL_WINDOW_SECONDS"]
    try:
        number, previous, previous_bucket = _count(
            kind, f"{subject_type}:{subject_id}", ip_address, window
        )
    except redis.RedisError:
        log.warning("refusal counts unreachable in Redis; recording %s unaggregated", kind)
        number, previous, previous_bucket = 1, 0, 0
    if number != 1:
        return False
    common = {
        "actor_user_id": actor_user_id,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "ip_address": ip_address,
    }
    if previous > 1:
        started = datetime.fromtimestamp(previous_bucket * window, tz=UTC)
        record_event(
            f"{kind}_summary",
            **common,
            payload={
                "count": previous,
                "window_start": started.isoformat(),
                "window_seconds": window,
            },
        )
    record_event(
        kind, **common, payload={**(payload or {}), "aggregated": True, "window_seconds": window}
    )
    return True


def record_forbidden(
    user_id: int, ip_address: str | None, *, method: str, endpoint: str | None, code: str
) -> None:
    """A signed-in user was refused an action (403): recorded, aggregated, in a
    transaction of its own after the refused request's changes are rolled back."""
    db.session.rollback()
    try:
        if record_refusal(
            "access_denied",
            subject_type="user",
            subject_id=user_id,
            ip_address=ip_address,
            actor_user_id=user_id,
            payload={"method": method, "endpoint": endpoint, "code": code},
        ):
            db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("could not record a refused action of user %s", user_id)
