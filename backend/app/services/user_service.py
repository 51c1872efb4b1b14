"""Accounts: creation, listing, role changes, disabling, passwords. Admin checks happen here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from app.database import utcnow
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.models import User
from app.models.user import ROLES
from app.services import notify
from app.services.audit.events import record_event
from app.services.auth_service import check_current_password
from app.services.passwords import check_new_password, hash_password, verify_password
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
    check_new_password(password, username=username, email=email)
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
    """Change role and/or enabled state. Disabling ends every session of the user; either
    change disconnects the user's open sockets in every process (they reconnect with the
    rights the user has now)."""
    user = get_user(actor, user_id)
    changed = (role is not None and role != user.role) or (
        is_active is not None and is_active != user.is_active
    )
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
    if changed:
        notify.user_access_changed(user.id)
    db.session.commit()
    return user


def change_password(
    user: User,
    current_password: str,
    new_password: str,
    *,
    keep_session_id: uuid.UUID,
    ip_address: str,
) -> int:
    """The signed-in ``user`` changes their own password; returns how many sessions ended.

    The current password is checked under the login lockout (a wrong one is a failed
    attempt), and every session of the user but ``keep_session_id`` (the caller's) ends, so
    a stolen session does not outlive the change.
    """
    check_new_password(new_password, username=user.username, email=user.email)
    check_current_password(user, current_password, ip_address)
    if new_password == current_password:
        raise _unchanged()
    return _replace_password(
        user, new_password, actor_id=user.id, keep_session_id=keep_session_id, ip_address=ip_address
    )


def set_password(username: str, new_password: str) -> int:
    """An operator on the machine (the CLI) sets a user's password; every session of the
    user ends. Returns how many did."""
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    check_new_password(new_password, username=user.username, email=user.email)
    if verify_password(user.password_hash, new_password):
        raise _unchanged()
    return _replace_password(
        user, new_password, actor_id=None, keep_session_id=None, ip_address=None
    )


def _unchanged() -> ValidationFailed:
    return ValidationFailed(
        "The new password must differ from the current one.", code="password_unchanged"
    )


def _replace_password(
    user: User,
    new_password: str,
    *,
    actor_id: int | None,
    keep_session_id: uuid.UUID | None,
    ip_address: str | None,
) -> int:
    user.password_hash = hash_password(new_password)
    ended = terminate_user_sessions(
        user.id, reason="password_changed", actor_id=actor_id, keep_session_id=keep_session_id
    )
    record_event(
        "password_changed",
        actor_user_id=actor_id,
        subject_type="user",
        subject_id=user.id,
        ip_address=ip_address,
        payload={"sessions_ended": ended},
    )
    db.session.commit()
    return ended
