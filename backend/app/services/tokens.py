"""JWT access and refresh tokens. Both carry the login session id (``sid``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from flask import current_app

from app.database import utcnow
from app.errors import Unauthorized

ACCESS = "access"
REFRESH = "refresh"


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    session_id: uuid.UUID
    token_type: str
    jti: str
    expires_at: datetime


def _encode(user_id: int, session_id: uuid.UUID, token_type: str, lifetime: int) -> tuple[str, str]:
    cfg = current_app.config
    now = utcnow()
    jti = uuid.uuid4().hex
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "sid": str(session_id),
        "typ": token_type,
        "jti": jti,
        "iss": cfg["JWT_ISSUER"],
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(seconds=lifetime),
    }
    token = jwt.encode(claims, cfg["JWT_SECRET_KEY"], algorithm=cfg["JWT_ALGORITHM"])
    return token, jti


def issue_access_token(user_id: int, session_id: uuid.UUID) -> str:
    lifetime = current_app.config["JWT_ACCESS_TOKEN_SECONDS"]
    return _encode(user_id, session_id, ACCESS, lifetime)[0]


def issue_refresh_token(user_id: int, session_id: uuid.UUID) -> tuple[str, str]:
    """A refresh token and its jti (stored on the session: only the latest one is valid)."""
    lifetime = current_app.config["JWT_REFRESH_TOKEN_SECONDS"]
    return _encode(user_id, session_id, REFRESH, lifetime)


def decode_token(token: str, expected_type: str) -> TokenClaims:
    """Verify signature, issuer, expiry and type; raise Unauthorized otherwise."""
    cfg = current_app.config
    try:
        claims = jwt.decode(
            token,
            cfg["JWT_SECRET_KEY"],
            algorithms=[cfg["JWT_ALGORITHM"]],
            issuer=cfg["JWT_ISSUER"],
            options={"require": ["sub", "sid", "typ", "jti", "exp", "iat", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("Token has expired.", code="token_expired") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("Token is invalid.", code="invalid_token") from exc
    if claims.get("typ") != expected_type:
        raise Unauthorized(f"An {expected_type} token is required.", code="invalid_token")
    try:
        return TokenClaims(
            user_id=int(claims["sub"]),
            session_id=uuid.UUID(claims["sid"]),
            token_type=claims["typ"],
            jti=str(claims["jti"]),
            expires_at=datetime.fromtimestamp(claims["exp"], tz=utcnow().tzinfo),
        )
    except (TypeError, ValueError) as exc:
        raise Unauthorized("Token is invalid.", code="invalid_token") from exc
