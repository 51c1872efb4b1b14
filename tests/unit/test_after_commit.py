"""Side effects wait for the commit: sent after COMMIT, dropped on ROLLBACK."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from app.extensions import db
from app.models import Notification
from app.services import task_sender
from app.services.after_commit import after_commit


@pytest.fixture
def sent(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any, Any]]:
    calls: list[tuple[str, Any, Any]] = []

    class Sent:
        id = "sent-task-id"

    def send_task(name: str, args: Any, kwargs: Any, task_id: Any) -> Sent:
        calls.append((name, args, kwargs))
        return Sent()

    with app.app_context():
        monkeypatch.setattr(task_sender.client(), "send_task", send_task)
    return calls


def _write_row() -> None:
    db.session.add(Notification(audience="admin", kind="test", title="t"))
    db.session.flush()


def test_task_is_sent_only_once_the_transaction_commits(sent: list) -> None:
    _write_row()
    task_sender.send_after_commit("app.tasks.cleanup_tasks.cleanup_cache", 1, key="v")
    assert sent == []  # the worker could not see the row yet
    db.session.commit()
    assert sent == [("app.tasks.cleanup_tasks.cleanup_cache", (1,), {"key": "v"})]
    db.session.commit()
    assert len(sent) == 1  # once, not again on a later commit


def test_task_is_dropped_when_the_transaction_rolls_back(sent: list) -> None:
    _write_row()
    task_sender.send_after_commit("app.tasks.cleanup_tasks.cleanup_cache")
    db.session.rollback()
    db.session.commit()
    assert sent == []


def test_a_failing_callback_does_not_undo_the_commit(app: Flask) -> None:
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("emit failed")

    _write_row()
    after_commit(broken)
    after_commit(lambda: ran.append("next"))
    db.session.commit()
    assert ran == ["next"]
    assert db.session.query(Notification).count() == 1
