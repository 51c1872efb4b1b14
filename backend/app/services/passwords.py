"""Password hashing (scrypt through Werkzeug) with constant-time behaviour for unknown users."""

from __future__ import annotations

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

MIN_PASSWORD_LENGTH = 8
# Compared against when the user does not exist, so both paths cost one hash check.
_DUMMY_HASH = generate_password_hash("not-a-real-password-only-for-timing")


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def verify_password(password_hash: str | None, password: str) -> bool:
    if password_hash is None:
        check_password_hash(_DUMMY_HASH, password)
        return False
    return check_password_hash(password_hash, password)
