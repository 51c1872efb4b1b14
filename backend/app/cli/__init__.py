"""The platform's `flask` commands, one module per area (`flask db …` is Flask-Migrate's).

Each module lists its click commands in ``COMMANDS``; ``register_cli`` adds them all to the
app, so a new area is one module and one entry in ``_MODULES``.
"""

from __future__ import annotations

from flask import Flask

from app.cli import accounts, audit, behavior, demo, ipfs, risk, standalone

_MODULES = (accounts, demo, audit, ipfs, standalone, behavior, risk)


def register_cli(app: Flask) -> None:
    for module in _MODULES:
        for command in module.COMMANDS:
            app.cli.add_command(command)
