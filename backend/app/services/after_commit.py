"""Run side effects (task sends, Socket.IO emits) only once the transaction commits.

A request that changes data and notifies someone must not notify about a change that is
later rolled back. ``after_commit(fn)`` queues ``fn`` on the current SQLAlchemy session;
the queue runs after COMMIT and is dropped on ROLLBACK. (Tasks are sent this way by
``app.services.task_sender.send_after_commit``.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db

log = logging.getLogger(__name__)
_KEY = "zt_after_commit"


def after_commit(callback: Callable[[], object]) -> None:
    db.session().info.setdefault(_KEY, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_callbacks(session: Session) -> None:
    callbacks = session.info.pop(_KEY, [])
    for callback in callbacks:
        try:
            callback()
        except Exception:
            # The data is committed; a failed notification must not turn it into an error.
            log.exception("after-commit callback %r failed", callback)


@event.listens_for(Session, "after_rollback")
def _drop_callbacks(session: Session) -> None:
    session.info.pop(_KEY, None)
