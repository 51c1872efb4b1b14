"""`flask seed-demo`: demo users, devices and sessions for trying the dashboard."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.services import demo_data


@click.command("seed-demo")
@with_appcontext
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


COMMANDS = (seed_demo,)
