"""Each context factor of a session against hand-made sign-in histories."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask

from app.extensions import db
from app.models import BehavioralSample
from app.services.risk import context
from app.services.risk.factors import network_of
from tests.conftest import make_user
from tests.risk_support import NOW, attempts, daily_at, device_row, session_row


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("198.51.100.7", "198.51.100.0/24"),
        ("::ffff:198.51.100.7", "198.51.100.0/24"),
        ("2001:db8:1:aaaa::1", "2001:db8:1::/48"),
        ("unknown", None),
        ("", None),
    ],
)
def test_network_is_the_ipv4_24_or_the_ipv6_48(address: str, network: str | None) -> None:
    assert network_of(address) == network


def test_device_factors(app: Flask) -> None:
    user = make_user()
    assert context.device_factor(session_row(user)).name == "unidentified_device"
    assert context.device_factor(session_row(user)).contribution == 10.0

    laptop = device_row(user)
    first = session_row(user, device=laptop, at=NOW - timedelta(days=2))
    assert (context.device_factor(first).name, context.device_factor(first).contribution) == (
        "new_device",
        15.0,
    )
    again = session_row(user, device=laptop)
    factor = context.device_factor(again)
    assert (factor.name, factor.contribution) == ("untrusted_device", 8.0)

    laptop.trusted = True
    db.session.commit()
    assert context.device_factor(again).contribution == 0.0


def test_network_never_seen_for_this_user(app: Flask) -> None:
    user, other = make_user(), make_user()
    first = session_row(user, "198.51.100.7")
    assert context.network_factor(first).contribution == 20.0
    assert "First sign-in on record" in context.network_factor(first).detail

    attempts(other, [NOW - timedelta(days=3)], ip="198.51.100.9")  # someone else's network
    attempts(user, [NOW - timedelta(days=3)], ip="198.51.100.9", success=False)  # failed only
    attempts(user, [NOW - timedelta(days=2)], ip="203.0.113.5")
    assert context.network_factor(first).contribution == 20.0
    assert "No earlier sign-in came from 198.51.100.0/24" in context.network_factor(first).detail

    attempts(user, [NOW - timedelta(days=1)], ip="198.51.100.200")  # same /24
    assert context.network_factor(first).contribution == 0.0
    # A sign-in after this session does not make its network familiar in hindsight.
    later_user = make_user()
    attempts(later_user, [NOW + timedelta(minutes=5)], ip="198.51.100.1")
    assert context.network_factor(session_row(later_user)).contribution == 20.0


def test_network_ipv6_site_prefix_and_unknown_address(app: Flask) -> None:
    user = make_user()
    session_row(user, "2001:db8:1:aaaa::1", at=NOW - timedelta(days=1))
    assert context.network_factor(session_row(user, "2001:db8:1:bbbb::2")).contribution == 0.0
    assert context.network_factor(session_row(user, "2001:db8:2::1")).contribution == 20.0
    unknown = context.network_factor(session_row(user, "unknown"))
    assert unknown.contribution == 20.0 and "unknown" in unknown.detail


def test_unusual_hour_is_neutral_with_too_little_history(app: Flask) -> None:
    user = make_user()
    attempts(user, daily_at(3, context.HOUR_HISTORY_MIN - 1))
    factor = context.hour_factor(session_row(user), NOW)
    assert factor.contribution == 0.0
    assert factor.detail.startswith("Neutral: 9 earlier sign-ins, 10 needed")


def test_unusual_hour_from_the_users_own_hours(app: Flask) -> None:
    mornings, afternoons, late = make_user(), make_user(), make_user()
    attempts(mornings, daily_at(9, 20))
    attempts(afternoons, daily_at(13, 20))
    attempts(late, daily_at(23, 20))

    unusual = context.hour_factor(session_row(mornings), NOW)  # 14:30 UTC
    assert unusual.contribution == 10.0
    assert unusual.detail == "0 of 20 earlier sign-ins were near 14:00 UTC."
    assert context.hour_factor(session_row(afternoons), NOW).contribution == 0.0
    after_midnight = NOW.replace(hour=0)
    night = context.hour_factor(session_row(late, at=after_midnight), after_midnight)
    assert night.contribution == 0.0  # 23:05 is an hour from 00:30 across midnight


def test_recent_failed_logins(app: Flask) -> None:
    user, other = make_user(), make_user()
    session = session_row(user)
    attempts(other, [NOW - timedelta(minutes=5)] * 4, success=False)
    attempts(user, [NOW - timedelta(hours=2)] * 4, success=False)
    assert context.failed_logins_factor(session, NOW).contribution == 0.0

    attempts(user, [NOW - timedelta(minutes=10)] * 3, success=False)
    factor = context.failed_logins_factor(session, NOW)
    assert (factor.contribution, factor.detail) == (
        15.0,
        "3 failed logins in the last 30 minutes.",
    )
    attempts(user, [NOW - timedelta(minutes=1)] * 3, success=False)
    assert context.failed_logins_factor(session, NOW).contribution == 20.0  # capped


def _samples(session_id: object, user_id: int, count: int, age: timedelta) -> None:
    db.session.add_all(
        BehavioralSample(user_id=user_id, session_id=session_id, events={}, created_at=NOW - age)
        for _ in range(count)
    )
    db.session.commit()


@pytest.mark.parametrize(("batches", "points"), [(60, 0.0), (61, 0.1), (120, 7.5), (240, 15.0)])
def test_request_velocity_beyond_the_bound(app: Flask, batches: int, points: float) -> None:
    user = make_user()
    session = session_row(user)
    _samples(session.id, user.id, 500, timedelta(minutes=2))  # older than a minute
    _samples(session.id, user.id, batches, timedelta(seconds=30))
    factor = context.velocity_factor(session, NOW)
    assert factor.contribution == points
    assert factor.detail.startswith(f"{batches} telemetry batches in the last minute")


def test_concurrent_sessions_from_other_networks(app: Flask) -> None:
    user = make_user()
    session = session_row(user, "198.51.100.7")
    session_row(user, "198.51.100.99")  # same network
    session_row(user, "203.0.113.1", status="terminated")  # not active
    assert context.concurrent_sessions_factor(session).contribution == 0.0

    session_row(user, "203.0.113.2")
    assert context.concurrent_sessions_factor(session).contribution == 10.0
    session_row(user, "2001:db8:9::1")
    session_row(user, "192.0.2.1")
    factor = context.concurrent_sessions_factor(session)
    assert factor.contribution == 20.0  # capped
    assert factor.detail == "4 other active sessions, from 3 other networks."
