"""Sign-in budgets: how many wrong passwords may be tried, by whom, before any is checked.

The rule (README "Security" / "Sign-in and passwords"), after Entra ID's smart lockout:
the attacker's source is locked out, not the account's owner.

* A source is **familiar** for an account when it is a device (``device_fingerprint``)
  that signed in to that account before, or an IP address with a successful sign-in of
  that account within LOGIN_FAMILIAR_IP_DAYS. Each familiar source has its own budget of
  LOGIN_MAX_FAILURES_PER_USER failures per LOGIN_FAILURE_WINDOW_SECONDS.
* Every other (unfamiliar) source shares the account's **unfamiliar** budget of the same
  size, and all unfamiliar sources of all accounts share one global budget of
  LOGIN_MAX_UNFAMILIAR_FAILURES per LOGIN_UNFAMILIAR_WINDOW_SECONDS, which bounds the
  hashing an attacker rotating addresses and usernames can cause.
* Every IP address has LOGIN_MAX_FAILURES_PER_IP failures per window, familiar or not.

A try is counted *before* its password is checked, in one atomic Redis step over all of its
budgets (a Lua script: refuse if any is spent, else increment them all), so concurrent
guesses cannot all pass one check: at most the budget's size of passwords are ever checked.
A try whose password turns out right gives its count back (the owner's familiar source is
reset); a try that could not be checked at all (no hashing slot) gives it back too.

Windows are fixed: a budget's window starts at its first counted failure, and Retry-After
is the time left of the window of the spent budget.

Redis is shared by every web process, so the budgets hold across them. When Redis cannot be
reached sign-in fails closed (503): checking passwords without a limit is what these
budgets exist to prevent, and tokens of signed-in users keep working without Redis.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import timedelta

import redis
import sqlalchemy as sa
from flask import current_app

from app.database import utcnow
from app.errors import RateLimited, ServiceUnavailable
from app.extensions import db
from app.models import Device, LoginAttempt, User
from app.redis_client import get_redis_client

log = logging.getLogger(__name__)

_PREFIX = "zt:login:v1"
# KEYS: the budgets' counters; ARGV: limit and window (ms) of each, in turn.
# Returns {0, 0} when counted, else {index of the spent budget (1-based), ms left}.
_RESERVE = """
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  if tonumber(redis.call('GET', key) or '0') >= limit then
    local left = redis.call('PTTL', key)
    if left < 0 then
      left = tonumber(ARGV[2 * i])
      redis.call('PEXPIRE', key, left)
    end
    return {i, left}
  end
end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then
    redis.call('PEXPIRE', key, ARGV[2 * i])
  end
end
return {0, 0}
"""
_RELEASE = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then
    redis.call('DECR', key)
  end
end
return 0
"""


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def familiar_source(
    username: str, user: User | None, ip_address: str, device_fingerprint: str | None
) -> str | None:
    """The source of this try as the platform knows it for ``user`` ("device:…" or
    "ip:…"), or None when it is unfamiliar (always, for a name with no account)."""
    if user is None:
        return None
    if device_fingerprint and db.session.scalar(
        sa.select(Device.id).where(
            Device.user_id == user.id, Device.fingerprint == device_fingerprint
        )
    ):
        return f"device:{_digest(device_fingerprint)}"
    days = current_app.config["LOGIN_FAMILIAR_IP_DAYS"]
    signed_in_here = db.session.scalar(
        sa.select(LoginAttempt.id)
        .where(
            LoginAttempt.username == username,
            LoginAttempt.user_id == user.id,
            LoginAttempt.ip_address == ip_address,
            LoginAttempt.success.is_(True),
            LoginAttempt.created_at >= utcnow() - timedelta(days=days),
        )
        .limit(1)
    )
    return f"ip:{ip_address}" if signed_in_here else None


@dataclass(frozen=True)
class Budget:
    """A Redis counter of failures: at most ``limit`` per fixed window."""

    scope: str
    key: str
    limit: int
    window_seconds: int


def budgets_for(username: str, ip_address: str, familiar: str | None) -> list[Budget]:
    """The budgets one try is counted against: its IP's, and its familiar source's or
    else the account's unfamiliar one and all unfamiliar sources' (module docstring)."""
    cfg = current_app.config
    window = cfg["LOGIN_FAILURE_WINDOW_SECONDS"]
    per_user = cfg["LOGIN_MAX_FAILURES_PER_USER"]
    budgets = [Budget("ip", f"{_PREFIX}:ip:{ip_address}", cfg["LOGIN_MAX_FAILURES_PER_IP"], window)]
    if familiar is not None:
        key = f"{_PREFIX}:user:{username}:familiar:{familiar}"
        budgets.append(Budget("familiar_source", key, per_user, window))
        return budgets
    budgets.append(
        Budget("user_unfamiliar", f"{_PREFIX}:user:{username}:unfamiliar", per_user, window)
    )
    budgets.append(
        Budget(
            "all_unfamiliar",
            f"{_PREFIX}:unfamiliar",
            cfg["LOGIN_MAX_UNFAMILIAR_FAILURES"],
            cfg["LOGIN_UNFAMILIAR_WINDOW_SECONDS"],
        )
    )
    return budgets


class LoginLocked(RateLimited):
    """A budget of this try is spent; ``scope`` says which (for the audit, not the client)."""

    def __init__(self, message: str, scope: str, retry_after: int) -> None:
        super().__init__(
            message,
            code="login_locked",
            details={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )
        self.scope = scope


def _unavailable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "Sign-in is unavailable right now; try again shortly.",
        code="sign_in_unavailable",
        headers={"Retry-After": "5"},
    )


@dataclass
class Reservation:
    """One counted try; give it back with ``release`` (not checked) or ``succeeded``."""

    budgets: list[Budget]

    def _give_back(self, keys: list[str]) -> None:
        try:
            get_redis_client().eval(_RELEASE, len(keys), *keys)
        except redis.RedisError:
            # Failing closed: the try stays counted, which is only stricter.
            log.warning("could not give back a sign-in try: Redis unreachable")

    def release(self) -> None:
        self._give_back([b.key for b in self.budgets])

    def succeeded(self) -> None:
        """The right password: the try was no failure, and a familiar source's count of
        earlier failures is cleared (the owner proved themselves from it)."""
        self.release()
        familiar = [b.key for b in self.budgets if b.scope == "familiar_source"]
        if familiar:
            try:
                get_redis_client().delete(*familiar)
            except redis.RedisError:
                log.warning("could not reset a familiar source's sign-in budget")


def reserve(budgets: list[Budget], message: str) -> Reservation:
    """Count a try against every budget at once, or raise LoginLocked (429 with
    Retry-After) when one is spent; ServiceUnavailable when Redis cannot be reached."""
    keys = [b.key for b in budgets]
    limits: list[int] = []
    for budget in budgets:
        limits += [budget.limit, budget.window_seconds * 1000]
    try:
        spent, left_ms = get_redis_client().eval(_RESERVE, len(keys), *keys, *limits)
    except redis.RedisError as exc:
        log.warning("sign-in refused: the sign-in budgets in Redis are unreachable (%s)", exc)
        raise _unavailable() from exc
    if spent:
        raise LoginLocked(message, budgets[int(spent) - 1].scope, max(1, math.ceil(left_ms / 1000)))
    return Reservation(budgets)
