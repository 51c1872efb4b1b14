"""The one interface services use to start background work, from any process.

Tasks are sent by name (``app.tasks.<module>.<task>``) through a sender-only Celery client
built from the same broker settings as the workers (``app.celery_conf``), so no service
imports a task module or the workers' Celery app, and the routes still put each task on
its module's queue. Results are read back through the same client.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.result import AsyncResult
from flask import current_app
from kombu.exceptions import OperationalError as BrokerError

from app.celery_conf import celery_conf
from app.errors import ServiceUnavailable
from app.services.after_commit import after_commit

_EXTENSION = "zt_task_sender"


def client() -> Celery:
    """This Flask app's sender (built once per app; never the process's default app)."""
    app = current_app
    sender = app.extensions.get(_EXTENSION)
    if sender is None:
        sender = Celery("zero_trust", set_as_current=False)
        sender.conf.update(celery_conf(app.config))
        app.extensions[_EXTENSION] = sender
    return sender


def send(
    name: str,
    *,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    task_id: str | None = None,
) -> str:
    """Queue task ``name`` now; returns its id. ServiceUnavailable if the broker is down."""
    try:
        result = client().send_task(name, args=args, kwargs=kwargs or {}, task_id=task_id)
    except (BrokerError, OSError) as exc:
        raise ServiceUnavailable("The task broker is unavailable; try again shortly.") from exc
    return str(result.id)


def send_after_commit(name: str, *args: Any, **kwargs: Any) -> None:
    """Queue task ``name`` once the current transaction commits (never before, so the
    worker finds the rows the caller wrote; never after a rollback)."""
    after_commit(lambda: send(name, args=args, kwargs=kwargs))


def result_of(task_id: str) -> AsyncResult:
    """The state and result of a task, as its result backend keeps them."""
    return AsyncResult(task_id, app=client())
