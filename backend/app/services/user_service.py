"""Accounts: creation, listing, role changes, disabling. Admin checks happen here."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.database import utcnow
from app.errors import Conflict, Forbidden, NotFound
from app.extensions import db
from app.models import User
from app.models.user import ROLES
from app.services.audit.events import record_event
from app.services.passwords import MIN_PASSWORD_LENGTH, hash_password
from app.services.session_service import terminate_user_sessions


def require_admin(actor: User) -> None:
    """The one role check for admin-only operations."""
    if not actor.is_admin:
        raise Forbidden("Administrator role required.")


def create_user(
    username: str,
    password: str,
    *,
    role: str = "user",
    email: str | None = None,
    actor: User | None = None,
) -> User:
    """Create an account. ``actor`` None means the CLI (an operator on the machine)."""
    if actor is not None:
        require_admin(actor)
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if db.session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"Username {username!r} is taken.", code="username_taken")
    if email and db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise Conflict("That email address is already registered.", code="email_taken")
    user = User(username=username, email=email, role=role, password_hash=hash_password(password))
    db.session.add(user)
    db.session.flush()
    record_event(
        "user_created",
        actor_user_id=actor.id if actor else None,
        subject_type="user",
        subject_id=user.id,
        payload={"username": username, "role": role},
    )
    db.session.commit()
    return user


@dataclass(frozen=True)
class UserFilter:
    role: str | None = None
    is_active: bool | None = None
    limit: int = 50
    offset: int = 0


def list_users(actor: User, filters: UserFilter) -> tuple[list[User], int]:
    require_admin(actor)
    query = sa.select(User)
    if filters.role is not None:
        query = query.where(User.role == filters.role)
    if filters.is_active is not None:
        query = query.where(User.is_active.is_(filters.is_active))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(query.order_by(User.id).limit(filters.limit).offset(filters.offset))
    return list(rows), total


def get_user(actor: User, user_id: int) -> User:
    require_admin(actor)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("User not found.")
    return user


def update_user(
    actor: User,
    user_id: int,
    *,
    role: str | None = None,
    is_active: bool | None = None,
    ip_address: str | None = None,
) -> User:
    """Change role and/or enabled state. Disabling ends every session of the user."""
    user = get_user(actor, user_id)
    if user.id == actor.id and (role == "user" or is_active is False):
        raise Conflict("Administrators cannot demote or disable themselves.", code="self_change")
    if role is not None and role != user.role:
        record_event(
            "role_changed",
            actor_user_id=actor.id,
            subject_type="user",
            subject_id=user.id,
            ip_address=ip_address,
            payload={"from": user.role, "to": role},
        )
        user.role = role
    if is_active is not None and is_active != user.is_active:
        user.is_active = is_active
        user.disabled_at = None if is_active else utcnow()
        record_event(
            "user_enabled" if is_active else "user_disabled",
            actor_user_id=actor.id,
            subject_type="user",
            subject_id=user.id,
            ip_address=ip_address,
        )
        if not is_active:
            terminate_user_sessions(user.id, reason="account_disabled", actor_id=actor.id)
    db.session.commit()
    return user
