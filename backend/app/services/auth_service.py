"""Login, lockout, token refresh with rotation, logout, and request authentication.

Every password check is counted first against the sign-in budgets (app.services.login_limits:
the attacker's source is locked out, not the owner's familiar device or network). They also
cover the current password given to change one (POST /api/auth/password): a wrong one counts
like a failed login, so a stolen session is no unlimited password oracle.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.database import utcnow
from app.errors import Forbidden, ServiceUnavailable, Unauthorized
from app.extensions import db
from app.models import Device, LoginAttempt, User, UserSession
from app.services import login_limits, notify, tokens
from app.services.audit.events import record_event
from app.services.audit.refusals import record_refusal
from app.services.passwords import verify_password
from app.services.session_service import end_session, is_idle_expired

# Touch last_seen_at at most this often, so authenticated reads do not all write.
_LAST_SEEN_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class LoginResult:
    user: User
    session: UserSession
    access_token: str
    refresh_token: str


@dataclass(frozen=True)
class Principal:
    user: User
    session: UserSession


def _record_attempt(
    event_type: str,
    username: str,
    user: User | None,
    ip_address: str,
    success: bool,
    reason: str,
    *,
    actor: User | None = None,
    familiar: bool | None = None,
) -> None:
    """The attempt's row (sign-in history; familiar IPs come from its successes) and its
    audit event. The claimed name is the event's subject; its actor is the user only once
    authenticated (``actor``): a stranger's failed try is not the victim's action."""
    db.session.add(
        LoginAttempt(
            username=username,
            user_id=user.id if user else None,
            ip_address=ip_address,
            success=success,
            reason=reason,
        )
    )
    payload: dict[str, Any] = {"reason": reason}
    if familiar is not None:
        payload["familiar_source"] = familiar
    record_event(
        event_type,
        actor_user_id=actor.id if actor else None,
        subject_type="user",
        subject_id=username,
        ip_address=ip_address,
        payload=payload,
    )


def _reserve_try(
    username: str,
    user: User | None,
    ip_address: str,
    device_fingerprint: str | None,
    *,
    actor: User | None,
    event_type: str,
    message: str,
) -> tuple[login_limits.Reservation, bool]:
    """Count this try against its sign-in budgets before any password is checked; while
    one is spent, 429 (the refusal audited once per window, see audit.refusals). Returns
    the reservation and whether the source is familiar. ``actor``: the signed-in user
    making the try, if any."""
    familiar = login_limits.familiar_source(username, user, ip_address, device_fingerprint)
    budgets = login_limits.budgets_for(username, ip_address, familiar)
    try:
        return login_limits.reserve(budgets, message), familiar is not None
    except login_limits.LoginLocked as locked:
        if record_refusal(
            event_type,
            subject_type="user",
            subject_id=username,
            ip_address=ip_address,
            actor_user_id=actor.id if actor else None,
            payload={"scope": locked.scope, "familiar_source": familiar is not None},
        ):
            db.session.commit()
        raise


def _checked_password(
    reservation: login_limits.Reservation,
    password_hash: str | None,
    password: str,
    *,
    familiar: bool,
) -> bool:
    """The password check of a counted try; a try that could not be checked (no hashing
    slot free) gives its count back.

    The read transaction ends first, so no pooled database connection is held while the
    try waits for a hashing slot and hashes: a burst of sign-ins must not starve every
    other request of connections."""
    db.session.commit()
    try:
        return verify_password(password_hash, password, bounded=not familiar)
    except ServiceUnavailable:
        reservation.release()
        raise


def _device_for(user: User, fingerprint: str | None, user_agent: str | None) -> Device | None:
    if not fingerprint:
        return None
    device = db.session.scalar(
        sa.select(Device).where(Device.user_id == user.id, Device.fingerprint == fingerprint)
    )
    now = utcnow()
    if device is None:
        device = Device(user_id=user.id, fingerprint=fingerprint, user_agent=user_agent)
        db.session.add(device)
    device.last_seen_at = now
    return device


def login(
    username: str,
    password: str,
    *,
    ip_address: str,
    user_agent: str | None,
    device_fingerprint: str | None = None,
) -> LoginResult:
    user = db.session.scalar(sa.select(User).where(User.username == username))
    reservation, familiar = _reserve_try(
        username,
        user,
        ip_address,
        device_fingerprint,
        actor=None,
        event_type="login_locked",
        message="Too many failed logins. Try again later.",
    )
    password_hash = user.password_hash if user else None
    if not _checked_password(reservation, password_hash, password, familiar=familiar):
        reason = "unknown_user" if user is None else "bad_password"
        _record_attempt(
            "login_failed", username, user, ip_address, False, reason, familiar=familiar
        )
        db.session.commit()
        raise Unauthorized("Invalid username or password.", code="invalid_credentials")
    assert user is not None
    if not user.is_active:
        _record_attempt(
            "login_failed", username, user, ip_address, False, "disabled", familiar=familiar
        )
        db.session.commit()
        raise Forbidden("This account is disabled.", code="account_disabled")

    reservation.succeeded()
    device = _device_for(user, device_fingerprint, user_agent)
    session = UserSession(
        user_id=user.id,
        device=device,
        ip_address=ip_address,
        user_agent=user_agent,
        status="active",
    )
    db.session.add(session)
    db.session.flush()
    access = tokens.issue_access_token(user.id, session.id)
    refresh, refresh_jti = tokens.issue_refresh_token(user.id, session.id)
    session.refresh_jti = refresh_jti
    user.last_login_at = utcnow()
    _record_attempt(
        "login_succeeded", username, user, ip_address, True, "ok", actor=user, familiar=familiar
    )
    notify.session_changed(session)
    db.session.commit()
    return LoginResult(user=user, session=session, access_token=access, refresh_token=refresh)


def _signed_in_password_ok(
    user: User, password: str, ip_address: str, *, kind: str, failure_reason: str
) -> bool:
    """Check a signed-in user's password under the sign-in budgets, like a login: a wrong
    one is recorded as ``<kind>_failed`` (it counts towards the lockout and the recent
    failed logins risk factor); while a budget is spent, ``<kind>_locked`` and 429 even
    for the right one."""
    reservation, familiar = _reserve_try(
        user.username,
        user,
        ip_address,
        None,
        actor=user,
        event_type=f"{kind}_locked",
        message="Too many failed password attempts. Try again later.",
    )
    if not _checked_password(reservation, user.password_hash, password, familiar=familiar):
        _record_attempt(
            f"{kind}_failed",
            user.username,
            user,
            ip_address,
            False,
            failure_reason,
            actor=user,
            familiar=familiar,
        )
        return False
    reservation.succeeded()
    return True


def check_current_password(user: User, password: str, ip_address: str) -> None:
    """Check a signed-in user's password before it is changed, under the sign-in budgets.

    Forbidden (not Unauthorized: the token is fine) when wrong, counted like a failed login
    from this IP; while a budget is spent, 429 even for the right password.
    """
    if not _signed_in_password_ok(
        user, password, ip_address, kind="password_change", failure_reason="bad_current_password"
    ):
        db.session.commit()
        raise Forbidden("The current password is wrong.", code="invalid_credentials")


def check_step_up_password(user: User, password: str, ip_address: str) -> bool:
    """Check the password of a session in step-up under the sign-in budgets, like a login;
    False (recorded, not yet committed) when wrong."""
    return _signed_in_password_ok(
        user, password, ip_address, kind="step_up", failure_reason="bad_password"
    )


def _active_session(session_id: uuid.UUID, user_id: int) -> UserSession:
    """The login session if it is still usable by ``user_id``: active, not idle past the
    timeout (an idle one is expired here), its account enabled. Touches last_seen_at."""
    session = db.session.get(UserSession, session_id)
    if session is None or session.user_id != user_id:
        raise Unauthorized("Token is invalid.", code="invalid_token")
    if not session.is_active:
        raise Unauthorized("This session has ended.", code="session_ended")
    if not session.user.is_active:
        raise Unauthorized("This account is disabled.", code="account_disabled")
    now = utcnow()
    if is_idle_expired(session, current_app.config["SESSION_IDLE_TIMEOUT_SECONDS"], now):
        end_session(session, status="expired", reason="idle_timeout", actor_id=None)
        db.session.commit()
        raise Unauthorized("This session has expired.", code="session_ended")
    if now - session.last_seen_at > _LAST_SEEN_RESOLUTION:
        session.last_seen_at = now
        db.session.commit()
    return session


def authenticate(access_token: str) -> Principal:
    """The user and session behind an access token; Unauthorized if revoked or expired."""
    claims = tokens.decode_token(access_token, tokens.ACCESS)
    session = _active_session(claims.session_id, claims.user_id)
    return Principal(user=session.user, session=session)


def principal_for(user_id: int, session_id: uuid.UUID) -> Principal:
    """The user and session of an already-authenticated connection, as they are now: the
    same checks as a request's token (ended, idle-expired, disabled), and the current role."""
    session = _active_session(session_id, user_id)
    return Principal(user=session.user, session=session)


def renew_for_session(access_token: str, user_id: int, session_id: uuid.UUID) -> datetime:
    """Check a fresh access token meant to extend a connection of ``user_id``'s login
    session ``session_id``; returns its expiry. Forbidden if it belongs to another one."""
    claims = tokens.decode_token(access_token, tokens.ACCESS)
    _active_session(claims.session_id, claims.user_id)
    if claims.session_id != session_id or claims.user_id != user_id:
        raise Forbidden("the token belongs to another session")
    return claims.expires_at


def refresh(refresh_token: str, ip_address: str) -> tuple[str, str]:
    """Rotate: a new access and refresh token; a reused refresh token ends the session."""
    claims = tokens.decode_token(refresh_token, tokens.REFRESH)
    session = _active_session(claims.session_id, claims.user_id)
    if session.refresh_jti != claims.jti:
        end_session(
            session,
            status="terminated",
            reason="refresh_token_reuse",
            actor_id=None,
            ip_address=ip_address,
        )
        db.session.commit()
        raise Unauthorized("Refresh token was already used; session ended.", code="token_reused")
    access = tokens.issue_access_token(session.user_id, session.id)
    new_refresh, jti = tokens.issue_refresh_token(session.user_id, session.id)
    session.refresh_jti = jti
    record_event(
        "token_refreshed",
        actor_user_id=session.user_id,
        subject_type="session",
        subject_id=str(session.id),
        ip_address=ip_address,
    )
    db.session.commit()
    return access, new_refresh


def logout(principal: Principal, ip_address: str) -> None:
    end_session(
        principal.session,
        status="terminated",
        reason="logout",
        actor_id=principal.user.id,
        ip_address=ip_address,
    )
    db.session.commit()


def access_token_lifetime() -> int:
    return int(current_app.config["JWT_ACCESS_TOKEN_SECONDS"])
