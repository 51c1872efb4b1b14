"""Access tokens signed by the tests themselves, for lifetimes the API never issues."""

from __future__ import annotations

import time
import uuid

import jwt

DEFAULT_ISSUER = "zero-trust-platform"


def forge_access_token(
    secret: str,
    user_id: int,
    session_id: uuid.UUID | str,
    expires_in: float,
    *,
    issuer: str = DEFAULT_ISSUER,
) -> str:
    """An access token as the server signs it, expiring ``expires_in`` seconds from now
    (negative: already expired)."""
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "sid": str(session_id),
        "typ": "access",
        "jti": uuid.uuid4().hex,
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": int(now + expires_in),
    }
    return jwt.encode(claims, secret, algorithm="HS256")
