"""`flask standalone-info`: how to reach the parts of the standalone platform running here."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.standalone.banner import reach_lines
from app.standalone.state import process_alive, read_state


@click.command("standalone-info")
@click.option("--json", "as_json", is_flag=True, help="Print the state file's JSON.")
@with_appcontext
def standalone_info(as_json: bool) -> None:
    """Where the running standalone platform's Redis, broker and chain are.

    Exits 1 when no standalone platform is running (none started, or its state file
    is left over from one that has exited).
    """
    path = Path(current_app.config["STANDALONE_STATE_FILE"])
    state = read_state(path)
    if state is None:
        raise click.ClickException(
            f"no standalone platform is running (no state file at {path}); "
            "start one with `make run`"
        )
    pid = state.get("pid")
    if not isinstance(pid, int) or not process_alive(pid):
        raise click.ClickException(
            f"no standalone platform is running: {path} is left over from process {pid}, "
            "which has exited"
        )
    if as_json:
        click.echo(json.dumps(state, indent=2, sort_keys=True))
        return
    click.echo(f"Standalone platform running: pid {pid}, since {state.get('started_at')}")
    click.echo(f" Web:      {state.get('web_url')}")
    click.echo(f" Database: {state.get('database')}")
    for line in reach_lines(state):
        click.echo(line)
    children = ", ".join(f"{name} {child}" for name, child in state["children"].items())
    click.echo(f" Pids:     {children}")


COMMANDS = (standalone_info,)
