"""First start of standalone mode: the SQLite database migrated, an admin created."""

from __future__ import annotations

import secrets
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from app.extensions import db
from app.models import User
from app.services.user_service import create_user


def prepare(app: Flask) -> str | None:
    """Migrate the SQLite database and create the first admin if there is none.

    Returns the new admin's one-time password, or None when an admin already exists.
    """
    database = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    with app.app_context():
        upgrade()
        if db.session.scalar(sa.select(User.id).where(User.role == "admin").limit(1)):
            return None
        password = secrets.token_urlsafe(16)
        create_user(app.config["STANDALONE_ADMIN_USERNAME"], password, role="admin")
        return password
