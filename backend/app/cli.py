"""Flask CLI commands: accounts and demo data. (`flask db …` comes from Flask-Migrate.)"""

from __future__ import annotations

import sys

import click
from flask import Flask
from pydantic import ValidationError

from app.audit_cli import register_audit_cli
from app.errors import AppError
from app.ipfs_cli import register_ipfs_cli
from app.schemas.users import CreateUserRequest
from app.services import demo_data, user_service
from app.standalone.cli import register_standalone_cli


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.UsageError("no password on standard input")
        return password
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _create(role: str, username: str | None, password_stdin: bool, email: str | None) -> None:
    if username is None:
        if password_stdin:
            raise click.UsageError("--password-stdin needs --username")
        username = click.prompt("Username")
    password = _read_password(password_stdin)
    try:
        # The API's rules for accounts, so the CLI cannot create one nobody can sign in as.
        account = CreateUserRequest.model_validate(
            {"username": username, "password": password, "role": role, "email": email}
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise click.ClickException(problems) from exc
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


def register_cli(app: Flask) -> None:
    register_ipfs_cli(app)
    register_audit_cli(app)
    register_standalone_cli(app)

    @app.cli.command("create-admin")
    @_account_options
    def create_admin(username: str | None, password_stdin: bool, email: str | None) -> None:
        """Create an administrator account."""
        _create("admin", username, password_stdin, email)

    @app.cli.command("create-user")
    @_account_options
    def create_user(username: str | None, password_stdin: bool, email: str | None) -> None:
        """Create a regular user account."""
        _create("user", username, password_stdin, email)

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Add demo users, devices and sessions (idempotent); prints the demo password."""
        summary = demo_data.seed()
        if not summary.created:
            click.echo("demo data already present; nothing created")
            return
        click.echo(
            f"created demo users {', '.join(summary.created)} with a device and a session each; "
            f"their password: {summary.password}"
        )
