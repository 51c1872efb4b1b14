"""Password hashing (scrypt through Werkzeug) with constant-time behaviour for unknown users."""

from __future__ import annotations

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from app.errors import ValidationFailed

# The same bounds as the request schemas' NewPassword (app/schemas/common.py).
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
# Compared against when the user does not exist, so both paths cost one hash check.
_DUMMY_HASH = generate_password_hash("not-a-real-password-only-for-timing")


def check_new_password(password: str) -> None:
    """Refuse a new password that breaks the account rules (ValidationFailed)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters", code="invalid_password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"password must be at most {MAX_PASSWORD_LENGTH} characters", code="invalid_password"
        )


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def verify_password(password_hash: str | None, password: str) -> bool:
    if password_hash is None:
        check_password_hash(_DUMMY_HASH, password)
        return False
    return check_password_hash(password_hash, password)
