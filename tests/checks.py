"""Shared assertions: the JSON error envelope, proof that a request wrote nothing, and the
audit events a request recorded."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import AuditEvent

TableRows = dict[str, list[tuple[Any, ...]]]


def table_rows() -> TableRows:
    """Every row of every table, ordered by primary key, read on a connection of its own.

    A separate connection sees only committed data: what a request left behind once its
    transaction ended, as in production.
    """
    rows: TableRows = {}
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            query = sa.select(table).order_by(*table.primary_key.columns)
            rows[table.name] = [tuple(row) for row in conn.execute(query)]
    return rows


def changed_tables(before: TableRows, after: TableRows) -> list[str]:
    return sorted(name for name in before if before[name] != after.get(name))


def assert_unchanged(before: TableRows, *, except_tables: Iterable[str] = ()) -> None:
    """Fail naming each table whose rows differ from ``before`` (inserts, updates, deletes)."""
    allowed = set(except_tables)
    changed = [name for name in changed_tables(before, table_rows()) if name not in allowed]
    assert changed == [], f"rows were written to {changed}"


def assert_error(response: TestResponse, status: int, code: str | None = None) -> dict[str, Any]:
    """``response`` is the error envelope with ``status`` (and ``code``); returns the error."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    assert "Traceback" not in response.get_data(as_text=True)
    if code is not None:
        assert error["code"] == code, error
    return error


def audit_events(event_type: str) -> list[AuditEvent]:
    """The recorded audit events of one type, oldest first, as the database has them now."""
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.event_type == event_type).order_by(AuditEvent.id)
        )
    )
