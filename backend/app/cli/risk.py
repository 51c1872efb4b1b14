"""`flask risk step-up SESSION_ID`: an operator puts a login session into step-up.

The session is assessed now on its context (no behaviour part) and the step-up decision is
applied exactly as the live path applies it: the user is notified, sensitive routes answer
403 ``step_up_required`` until the password is confirmed.
"""

from __future__ import annotations

import uuid

import click
from flask.cli import with_appcontext

from app.extensions import db
from app.models import UserSession
from app.services.risk import engine
from app.services.risk.enforcement import apply_decision


@click.group("risk")
def risk_group() -> None:
    """Risk decisions on login sessions."""


@risk_group.command("step-up")
@click.argument("session_id", type=click.UUID)
@with_appcontext
def step_up_command(session_id: uuid.UUID) -> None:
    """Require SESSION_ID to confirm its owner's password before sensitive actions."""
    session = db.session.get(UserSession, session_id)
    if session is None or not session.is_active:
        raise click.ClickException(f"no active session {session_id}")
    assessment = engine.assess(session, engine.Behaviour("no_model"))
    done = apply_decision(session, assessment, "step_up")
    if done.applied:
        click.echo(f"session {session_id} is now in step-up (risk {assessment.score:g})")
    else:
        click.echo(f"session {session_id} was already in step-up")


COMMANDS = (risk_group,)
