"""Login, token refresh, logout, the current principal and changing one's password."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from app.api.auth_guard import client_ip, current_principal, login_required, sensitive
from app.api.openapi_spec import describe
from app.api.serializers import session_json, user_json
from app.api.validation import parse_json
from app.schemas.auth import ChangePasswordRequest, LoginRequest, RefreshRequest, StepUpRequest
from app.services import auth_service, user_service
from app.services.risk import step_up

bp = Blueprint("auth", __name__, url_prefix="/api/auth")


def _user_agent() -> str | None:
    # Stored as text: drop control characters (PostgreSQL refuses NUL in text columns).
    agent = "".join(ch for ch in request.headers.get("User-Agent", "") if ch.isprintable())
    return agent[:512] or None


@bp.post("/login")
@describe(
    "Sign in; creates a login session and returns access and refresh tokens",
    tag="auth",
    request=LoginRequest,
    responses={
        200: "Signed in",
        400: "Invalid body",
        401: "Invalid credentials",
        403: "Account disabled",
        429: "This source's sign-in budget is spent (Retry-After)",
        503: "Sign-in budgets unreachable, or too many password checks at once (Retry-After)",
    },
)
def login() -> Response:
    body = parse_json(LoginRequest)
    result = auth_service.login(
        body.username,
        body.password,
        ip_address=client_ip(),
        user_agent=_user_agent(),
        device_fingerprint=body.device_fingerprint,
    )
    return jsonify(
        {
            "access_token": result.access_token,
            "refresh_token": result.refresh_token,
            "token_type": "Bearer",
            "expires_in": auth_service.access_token_lifetime(),
            "session_id": str(result.session.id),
            "user": user_json(result.user),
        }
    )


@bp.post("/refresh")
@describe(
    "Exchange a refresh token for a new access token and a new refresh token (rotation)",
    tag="auth",
    request=RefreshRequest,
    responses={200: "New tokens", 401: "Invalid, expired, revoked or reused refresh token"},
)
def refresh() -> Response:
    body = parse_json(RefreshRequest)
    access, new_refresh = auth_service.refresh(body.refresh_token, client_ip())
    return jsonify(
        {
            "access_token": access,
            "refresh_token": new_refresh,
            "token_type": "Bearer",
            "expires_in": auth_service.access_token_lifetime(),
        }
    )


@bp.post("/logout")
@login_required
@describe(
    "End the current session; all of its tokens stop working",
    tag="auth",
    responses={200: "Signed out", 401: "Not authenticated"},
)
def logout() -> Response:
    auth_service.logout(current_principal(), client_ip())
    return jsonify({"status": "logged_out"})


@bp.get("/me")
@login_required
@describe("The signed-in user and current session", tag="auth", responses={200: "OK", 401: "No"})
def me() -> Response:
    principal = current_principal()
    return jsonify({"user": user_json(principal.user), "session": session_json(principal.session)})


@bp.post("/password")
@sensitive
@describe(
    "Change your own password; every other session of yours ends",
    tag="auth",
    request=ChangePasswordRequest,
    responses={
        200: "Password changed",
        400: "Invalid body, or the new password breaks the rules or equals the current one",
        401: "Not authenticated",
        403: "Wrong current password (counts towards the login lockout), or step-up required",
        429: "This source's sign-in budget is spent (Retry-After)",
        503: "Sign-in budgets unreachable, or too many password checks at once (Retry-After)",
    },
)
def change_password() -> Response:
    body = parse_json(ChangePasswordRequest)
    principal = current_principal()
    ended = user_service.change_password(
        principal.user,
        body.current_password,
        body.new_password,
        keep_session_id=principal.session.id,
        ip_address=client_ip(),
    )
    return jsonify({"status": "password_changed", "sessions_ended": ended})


@bp.post("/step-up")
@login_required
@describe(
    "Confirm your password while this session is in step-up: clears it and lowers the "
    "session's risk; the third wrong password ends the session (typing timings are "
    "validated, not yet checked)",
    tag="auth",
    request=StepUpRequest,
    responses={
        200: "Step-up passed",
        400: "Invalid body",
        401: "Not authenticated",
        403: "Wrong password (invalid_credentials, attempts_left), or the last one "
        "(step_up_failed: the session has ended)",
        409: "This session is not in step-up (step_up_not_required)",
        429: "This source's sign-in budget is spent (Retry-After)",
        503: "Sign-in budgets unreachable, or too many password checks at once (Retry-After)",
    },
)
def confirm_step_up() -> Response:
    body = parse_json(StepUpRequest)
    passed = step_up.confirm(current_principal(), body.password, client_ip())
    return jsonify(
        {
            "status": "step_up_passed",
            "risk_score": passed.risk_score,
            "session": session_json(passed.session),
        }
    )
