"""Private, migrated PostgreSQL schemas of the machine's `test` database for tests."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from tests.conftest import test_config
from tests.services import POSTGRES_ADMIN_URL


@contextlib.contextmanager
def migrated_schema(prefix: str = "zt_e2e") -> Iterator[str]:
    """A freshly migrated private schema of the `test` database, dropped afterwards.

    Its user ids start at a random offset, so rooms such as ``user:<id>`` of two test
    runs sharing one Redis (whose pub/sub channels span databases) do not collide.
    """
    schema = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_ADMIN_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    try:
        app = create_app(test_config(SQLALCHEMY_DATABASE_URI=rendered))
        with app.app_context():
            upgrade()
            first_id = secrets.randbelow(10**8) + 10**6
            db.session.execute(sa.text(f"ALTER SEQUENCE users_id_seq RESTART WITH {first_id}"))
            db.session.commit()
            db.engine.dispose()
        yield rendered
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
