"""Payloads of the admin user-management endpoints."""

from __future__ import annotations

from pydantic import ConfigDict, model_validator

from app.schemas.common import Email, NewPassword, Page, Role, StrictModel, Username


class CreateUserRequest(StrictModel):
    username: Username
    password: NewPassword
    role: Role = "user"
    email: Email | None = None


class UpdateUserRequest(StrictModel):
    role: Role | None = None
    is_active: bool | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateUserRequest:
        if self.role is None and self.is_active is None:
            raise ValueError("give role and/or is_active")
        return self


class UserListQuery(Page):
    model_config = ConfigDict(extra="forbid", strict=False)

    role: Role | None = None
    is_active: bool | None = None


class SetPasswordRequest(StrictModel):
    """What `flask change-password` takes: an operator sets a user's password."""

    username: Username
    password: NewPassword
