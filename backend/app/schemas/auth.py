"""Payloads of the authentication endpoints."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from app.schemas.common import Fingerprint, NewPassword, Password, StrictModel, Username


class LoginRequest(StrictModel):
    username: Username
    password: Password
    device_fingerprint: Fingerprint | None = None


class RefreshRequest(StrictModel):
    refresh_token: Annotated[str, Field(min_length=1, max_length=4096)]


class ChangePasswordRequest(StrictModel):
    current_password: Password
    new_password: NewPassword
