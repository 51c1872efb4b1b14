"""Payloads of the authentication endpoints."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from app.schemas.common import Fingerprint, NewPassword, Password, StrictModel, Username
from app.schemas.events import Keystroke

# A password field's entry, with corrections: far more keys than any password has.
MAX_TYPING_KEYSTROKES = 512


class LoginRequest(StrictModel):
    username: Username
    password: Password
    device_fingerprint: Fingerprint | None = None


class RefreshRequest(StrictModel):
    refresh_token: Annotated[str, Field(min_length=1, max_length=4096)]


class ChangePasswordRequest(StrictModel):
    current_password: Password
    new_password: NewPassword


class PasswordTyping(StrictModel):
    """Timings of the password field's keys (the telemetry schema: no characters)."""

    keystrokes: Annotated[list[Keystroke], Field(min_length=1, max_length=MAX_TYPING_KEYSTROKES)]


class StepUpRequest(StrictModel):
    password: Password
    typing: PasswordTyping | None = None
