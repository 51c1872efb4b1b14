"""Hand-made sign-in histories for the risk tests (unit and integration)."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.database import utcnow
from app.extensions import db
from app.models import Device, LoginAttempt, User, UserSession
from app.services.risk.engine import Assessment, Behaviour, combine
from app.services.risk.factors import Factor

NOW = datetime(2026, 3, 10, 14, 30, tzinfo=utcnow().tzinfo)


def session_row(
    user: User,
    ip: str = "198.51.100.7",
    *,
    at: datetime = NOW,
    device: Device | None = None,
    status: str = "active",
) -> UserSession:
    session = UserSession(
        user_id=user.id,
        ip_address=ip,
        device=device,
        status=status,
        created_at=at,
        last_seen_at=at,
    )
    db.session.add(session)
    db.session.commit()
    return session


def device_row(user: User, *, trusted: bool = False, fingerprint: str = "fp-laptop-1") -> Device:
    device = Device(user_id=user.id, fingerprint=fingerprint, trusted=trusted)
    db.session.add(device)
    db.session.commit()
    return device


def attempts(
    user: User, times: list[datetime], *, success: bool = True, ip: str = "198.51.100.7"
) -> None:
    for at in times:
        db.session.add(
            LoginAttempt(
                username=user.username,
                user_id=user.id,
                ip_address=ip,
                success=success,
                reason="ok" if success else "bad_password",
                created_at=at,
            )
        )
    db.session.commit()


def daily_at(hour: int, days: int, *, before: datetime = NOW) -> list[datetime]:
    """One time a day at ``hour`` UTC for ``days`` days before ``before``."""
    day = before.replace(hour=hour, minute=5, second=0, microsecond=0)
    return [day - timedelta(days=n) for n in range(1, days + 1)]


def assessment_for(
    session: UserSession, points: float, *, at: datetime | None = None
) -> Assessment:
    """An assessment of ``session`` with one context factor worth ``points``."""
    return combine(
        str(session.id),
        session.user_id,
        Behaviour("no_model"),
        [Factor("new_network", points, "test")],
        assessed_at=at or utcnow(),
    )
