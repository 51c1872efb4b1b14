"""Errors worth retrying: the database, Redis or the broker was briefly unreachable.

Imports nothing of the app, so the Celery task base class, the task modules and any
service can share the one list without importing each other.
"""

from __future__ import annotations

import redis
import sqlalchemy.exc

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
)
