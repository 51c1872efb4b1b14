"""Demo users, devices and sessions so a fresh dashboard has something to show."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from app.database import utcnow
from app.extensions import db
from app.models import Device, User, UserSession
from app.services.passwords import hash_password

DEMO_USERS = (
    ("alice", "user", "198.51.100.10", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"),
    ("bob", "user", "203.0.113.25", "Mozilla/5.0 (Macintosh) Safari/17.0"),
    ("carol", "user", "192.0.2.77", "Mozilla/5.0 (Windows NT 10.0) Chrome/126.0"),
    ("dave", "admin", "198.51.100.200", "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0"),
)


@dataclass(frozen=True)
class SeedSummary:
    created: list[str]
    password: str


def seed() -> SeedSummary:
    """Create the demo accounts that do not exist yet, each with a device and a session.

    The accounts created by this run share one fresh random password; existing ones keep theirs.
    """
    password = secrets.token_urlsafe(12)
    created: list[str] = []
    now = utcnow()
    for index, (username, role, ip, agent) in enumerate(DEMO_USERS):
        if db.session.scalar(sa.select(User.id).where(User.username == username)):
            continue
        user = User(username=username, role=role, password_hash=hash_password(password))
        db.session.add(user)
        db.session.flush()
        fingerprint = hashlib.sha256(f"demo-device-{username}".encode()).hexdigest()[:32]
        device = Device(
            user_id=user.id,
            fingerprint=fingerprint,
            user_agent=agent,
            trusted=index % 2 == 0,
            first_seen_at=now - timedelta(days=30 - index),
            last_seen_at=now,
        )
        db.session.add(device)
        db.session.flush()
        db.session.add(
            UserSession(
                user_id=user.id,
                device_id=device.id,
                ip_address=ip,
                user_agent=agent,
                created_at=now - timedelta(minutes=10 * (index + 1)),
                last_seen_at=now,
            )
        )
        created.append(username)
    db.session.commit()
    return SeedSummary(created, password)
