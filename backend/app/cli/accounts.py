"""`flask create-admin`, `create-user` and `change-password`: an operator's account commands.

They apply the API's rules for accounts (the request schemas), so the CLI cannot make an
account nobody can sign in as.
"""

from __future__ import annotations

import sys
from typing import Any, TypeVar

import click
from flask.cli import with_appcontext
from pydantic import BaseModel, ValidationError

from app.errors import AppError
from app.schemas.users import CreateUserRequest, SetPasswordRequest
from app.services import user_service

M = TypeVar("M", bound=BaseModel)


def _read_password(password_stdin: bool, prompt: str = "Password") -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.UsageError("no password on standard input")
        return password
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True)


def _validated(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise click.ClickException(problems) from exc


def _create(role: str, username: str | None, password_stdin: bool, email: str | None) -> None:
    if username is None:
        if password_stdin:
            raise click.UsageError("--password-stdin needs --username")
        username = click.prompt("Username")
    password = _read_password(password_stdin)
    account = _validated(
        CreateUserRequest,
        {"username": username, "password": password, "role": role, "email": email},
    )
    try:
        user = user_service.create_user(
            account.username, account.password, role=account.role, email=account.email
        )
    except (AppError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {role} {user.username!r} (id {user.id})")


def _account_options(func):  # type: ignore[no-untyped-def]
    func = click.option("--email", default=None, help="Optional email address.")(func)
    func = click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from the first line of standard input (for scripts).",
    )(func)
    return click.option("--username", default=None, help="Prompted for when omitted.")(func)


@click.command("create-admin")
@_account_options
@with_appcontext
def create_admin(username: str | None, password_stdin: bool, email: str | None) -> None:
    """Create an administrator account."""
    _create("admin", username, password_stdin, email)


@click.command("create-user")
@_account_options
@with_appcontext
def create_user(username: str | None, password_stdin: bool, email: str | None) -> None:
    """Create a regular user account."""
    _create("user", username, password_stdin, email)


@click.command("change-password")
@click.option("--username", required=True, help="The account whose password is set.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the new password from the first line of standard input (for scripts).",
)
@with_appcontext
def change_password(username: str, password_stdin: bool) -> None:
    """Set a user's password; every session of the user ends."""
    password = _read_password(password_stdin, "New password")
    change = _validated(SetPasswordRequest, {"username": username, "password": password})
    try:
        ended = user_service.set_password(change.username, change.password)
    except AppError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"changed the password of {change.username!r}; {ended} session(s) ended")


COMMANDS = (create_admin, create_user, change_password)
