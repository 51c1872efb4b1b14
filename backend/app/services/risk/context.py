"""Context factors of a login session, from what the platform stores about its user.

Each factor says how much it adds to the risk score (points on the 0-100 scale) and why.
The factors read from the sign-in history (device, network, hour, failed logins,
concurrent sessions) are cached per session for the context TTL (300 s) under the
``context`` cache type; request velocity changes by the second, so it is counted afresh on
every assessment (one indexed count). A cache miss, a malformed cached value or Redis
being unreachable all mean: compute from the database.

Weights: there is no labelled data of attacks on this platform yet, so the points below
are set by hand to rank the signals the way the zero-trust literature and common
risk-based-authentication practice rank them (an unseen network and a burst of failed
logins weigh most, then an unknown device, then hour and velocity). Each factor's maximum
is below the step-up threshold (60), so no single context signal steps a session up on its
own; two strong ones together, or one with an anomalous behaviour, do. The policy work is
to tune these from decision outcomes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.database import utcnow
from app.extensions import db
from app.models import BehavioralSample, LoginAttempt, UserSession
from app.services.cache_service import CacheService, cache_service
from app.services.risk.factors import Factor, network_of

# Device: a fingerprint this user never signed in with before, one known but not marked
# trusted, or none given at all (the client sent no fingerprint).
NEW_DEVICE_POINTS = 15.0
UNTRUSTED_DEVICE_POINTS = 8.0
UNIDENTIFIED_DEVICE_POINTS = 10.0
# A network (see factors.network_of) none of the user's earlier sign-ins came from.
NEW_NETWORK_POINTS = 20.0
# Unusual hour: fewer than UNUSUAL_HOUR_SHARE of the user's earlier successful sign-ins
# (last HOUR_HISTORY_DAYS) fell within HOUR_WINDOW hours of this one's UTC hour. Below
# HOUR_HISTORY_MIN earlier sign-ins the factor is neutral: a habit needs a history.
UNUSUAL_HOUR_POINTS = 10.0
UNUSUAL_HOUR_SHARE = 0.05
HOUR_WINDOW = 1
HOUR_HISTORY_MIN = 10
HOUR_HISTORY_DAYS = 90
# Failed logins of the user within FAILED_LOGIN_WINDOW before the assessment.
FAILED_LOGIN_WINDOW = timedelta(minutes=30)
FAILED_LOGIN_POINTS_EACH = 5.0
FAILED_LOGIN_MAX_POINTS = 20.0
# Request velocity: stored `behavioral_data` batches of the session in the last minute. A
# dashboard sends one every 2 s (30 a minute); beyond VELOCITY_BOUND_PER_MINUTE the points
# grow linearly and reach VELOCITY_MAX_POINTS at three times the bound.
VELOCITY_BOUND_PER_MINUTE = 60
VELOCITY_MAX_POINTS = 15.0
# Other active sessions of the user, each distinct other network adding points.
CONCURRENT_NETWORK_POINTS_EACH = 10.0
CONCURRENT_MAX_POINTS = 20.0
# At most this many history rows are read per query (the newest).
HISTORY_LIMIT = 500

CACHE_FORMAT = 1


def _is_first_use_of_device(session: UserSession) -> bool:
    earlier = sa.select(UserSession.id).where(
        UserSession.user_id == session.user_id,
        UserSession.device_id == session.device_id,
        UserSession.id != session.id,
        UserSession.created_at < session.created_at,
    )
    return not db.session.scalar(sa.select(earlier.exists()))


def device_factor(session: UserSession) -> Factor:
    device = session.device
    if device is None:
        return Factor(
            "unidentified_device",
            UNIDENTIFIED_DEVICE_POINTS,
            "The sign-in sent no device fingerprint.",
        )
    if device.trusted:
        return Factor("new_device", 0.0, "A device marked trusted.")
    if _is_first_use_of_device(session):
        return Factor("new_device", NEW_DEVICE_POINTS, "First sign-in from this device.")
    return Factor(
        "untrusted_device",
        UNTRUSTED_DEVICE_POINTS,
        "A device used before but not marked trusted.",
    )


def _earlier_addresses(session: UserSession) -> list[str]:
    attempts = db.session.scalars(
        sa.select(LoginAttempt.ip_address)
        .where(
            LoginAttempt.user_id == session.user_id,
            LoginAttempt.success.is_(True),
            LoginAttempt.created_at < session.created_at,
        )
        .order_by(LoginAttempt.created_at.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    sessions = db.session.scalars(
        sa.select(UserSession.ip_address)
        .where(
            UserSession.user_id == session.user_id,
            UserSession.id != session.id,
            UserSession.created_at < session.created_at,
        )
        .order_by(UserSession.created_at.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    return [*attempts, *sessions]


def network_factor(session: UserSession) -> Factor:
    network = network_of(session.ip_address)
    if network is None:
        return Factor(
            "new_network", NEW_NETWORK_POINTS, "The client address is unknown (not an IP)."
        )
    earlier = _earlier_addresses(session)
    if not earlier:
        return Factor(
            "new_network", NEW_NETWORK_POINTS, f"First sign-in on record, from {network}."
        )
    if network in {network_of(address) for address in earlier}:
        return Factor("new_network", 0.0, f"{network} was used by earlier sign-ins.")
    return Factor("new_network", NEW_NETWORK_POINTS, f"No earlier sign-in came from {network}.")


def _hour_distance(a: int, b: int) -> int:
    apart = abs(a - b) % 24
    return min(apart, 24 - apart)


def hour_factor(session: UserSession, now: datetime) -> Factor:
    hour = session.created_at.hour
    earlier = db.session.scalars(
        sa.select(LoginAttempt.created_at)
        .where(
            LoginAttempt.user_id == session.user_id,
            LoginAttempt.success.is_(True),
            LoginAttempt.created_at < session.created_at,
            LoginAttempt.created_at >= now - timedelta(days=HOUR_HISTORY_DAYS),
        )
        .order_by(LoginAttempt.created_at.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    if len(earlier) < HOUR_HISTORY_MIN:
        return Factor(
            "unusual_hour",
            0.0,
            f"Neutral: {len(earlier)} earlier sign-ins, {HOUR_HISTORY_MIN} needed to know "
            "this user's hours.",
        )
    near = sum(1 for at in earlier if _hour_distance(at.hour, hour) <= HOUR_WINDOW)
    share = near / len(earlier)
    return Factor(
        "unusual_hour",
        UNUSUAL_HOUR_POINTS if share < UNUSUAL_HOUR_SHARE else 0.0,
        f"{near} of {len(earlier)} earlier sign-ins were near {hour:02d}:00 UTC.",
    )


def _count(model: type, *conditions: Any) -> int:
    return int(
        db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*conditions)) or 0
    )


def failed_logins_factor(session: UserSession, now: datetime) -> Factor:
    failures = _count(
        LoginAttempt,
        LoginAttempt.user_id == session.user_id,
        LoginAttempt.success.is_(False),
        LoginAttempt.created_at >= now - FAILED_LOGIN_WINDOW,
        LoginAttempt.created_at <= now,
    )
    minutes = int(FAILED_LOGIN_WINDOW.total_seconds() // 60)
    points = min(FAILED_LOGIN_MAX_POINTS, failures * FAILED_LOGIN_POINTS_EACH)
    return Factor(
        "failed_logins", points, f"{failures} failed logins in the last {minutes} minutes."
    )


def concurrent_sessions_factor(session: UserSession) -> Factor:
    own = network_of(session.ip_address) or "unknown"
    addresses = db.session.scalars(
        sa.select(UserSession.ip_address)
        .where(
            UserSession.user_id == session.user_id,
            UserSession.status == "active",
            UserSession.id != session.id,
        )
        .limit(HISTORY_LIMIT)
    ).all()
    others = {network_of(address) or "unknown" for address in addresses} - {own}
    points = min(CONCURRENT_MAX_POINTS, len(others) * CONCURRENT_NETWORK_POINTS_EACH)
    return Factor(
        "concurrent_sessions",
        points,
        f"{len(addresses)} other active sessions, from {len(others)} other networks.",
    )


def velocity_factor(session: UserSession, now: datetime) -> Factor:
    batches = _count(
        BehavioralSample,
        BehavioralSample.session_id == session.id,
        BehavioralSample.created_at > now - timedelta(minutes=1),
        BehavioralSample.created_at <= now,
    )
    excess = max(0, batches - VELOCITY_BOUND_PER_MINUTE)
    points = VELOCITY_MAX_POINTS * min(1.0, excess / (2 * VELOCITY_BOUND_PER_MINUTE))
    return Factor(
        "request_velocity",
        round(points, 1),
        f"{batches} telemetry batches in the last minute (bound {VELOCITY_BOUND_PER_MINUTE}).",
    )


def history_factors(session: UserSession, now: datetime) -> list[Factor]:
    """The factors read from the stored sign-in history (the cached part)."""
    return [
        device_factor(session),
        network_factor(session),
        hour_factor(session, now),
        failed_logins_factor(session, now),
        concurrent_sessions_factor(session),
    ]


def _from_cache(value: Any) -> list[Factor] | None:
    if not isinstance(value, dict) or value.get("format") != CACHE_FORMAT:
        return None
    try:
        return [Factor.from_json(item) for item in value["factors"]]
    except (KeyError, TypeError, ValueError):
        return None


def session_context(
    session: UserSession, *, now: datetime | None = None, cache: CacheService = cache_service
) -> list[Factor]:
    """Every context factor of ``session`` (unsorted), the history part from the cache
    when it holds a valid entry for this session."""
    now = now or utcnow()
    session_key = str(session.id)
    factors = _from_cache(cache.get_contextual_score(session_key))
    if factors is None:
        factors = history_factors(session, now)
        cache.cache_contextual_score(
            session_key,
            {"format": CACHE_FORMAT, "factors": [f.to_json() for f in factors]},
            user_id=session.user_id,
        )
    return [*factors, velocity_factor(session, now)]
