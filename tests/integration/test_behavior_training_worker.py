"""Behaviour model training on a real worker: RabbitMQ, Redis, PostgreSQL, no eager mode.

Two generated users with distinct typing rhythms and mouse styles: the population task
builds the background, then train_user_behavioral_model stores and caches an active
version of each kind for one of them, which tells them apart."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from celery import Celery
from flask import Flask

from app.extensions import db
from app.models import BehavioralModel
from app.services.behavior import model_store, models
from app.services.cache_service import cache_service
from tests.behavior_telemetry import batches, new_session, store
from tests.conftest import make_user
from tests.integration.celery_fixtures import Worker
from tests.procs import wait_for

TASK = "app.tasks.ml_tasks.train_user_behavioral_model"


def active_versions(user_id: int) -> dict[str, int]:
    db.session.rollback()  # see what the worker committed
    rows = db.session.execute(
        sa.select(BehavioralModel.kind, BehavioralModel.version).where(
            BehavioralModel.user_id == user_id, BehavioralModel.is_active.is_(True)
        )
    )
    return dict(rows.tuples().all())


def test_a_worker_trains_stores_and_caches_a_users_models(
    app: Flask, celery: Celery, worker: Worker
) -> None:
    genuine, other = make_user(), make_user()
    store(genuine.id, new_session(genuine.id), batches(11, 70, style=0))
    store(other.id, new_session(other.id), batches(12, 30, style=1))

    population = celery.send_task("app.tasks.ml_tasks.update_threat_models").get(timeout=120)
    assert population["status"] == "trained" and population["users"] == 2, worker.output()[-3000:]

    result = celery.send_task(TASK, args=(genuine.id,)).get(timeout=180)

    assert [m["status"] for m in result["models"]] == ["trained", "trained"], result
    assert active_versions(genuine.id) == {"keystroke": 1, "mouse": 1}
    cached = cache_service.get_behavioral_model(genuine.id)
    assert cached is not None, worker.output()[-3000:]
    assert {kind: cached[kind]["version"] for kind in ("keystroke", "mouse")} == {
        "keystroke": 1,
        "mouse": 1,
    }
    keystroke = model_store.active_model(genuine.id, "keystroke")
    mouse = model_store.active_model(genuine.id, "mouse")
    assert keystroke == cached["keystroke"] and mouse == cached["mouse"]
    own, impostor = batches(11, 1, style=0)[0], batches(12, 1, style=1)[0]
    for model in (keystroke, mouse):
        mine = models.score(model["parameters"], own)["anomaly"]
        theirs = models.score(model["parameters"], impostor)["anomaly"]
        assert mine < 0.5 < theirs, (model["algorithm"], mine, theirs)

    # Delivered again (acks late, or run twice): no second version of the same data.
    again = celery.send_task(TASK, args=(genuine.id,)).get(timeout=180)
    assert [m["status"] for m in again["models"]] == ["unchanged", "unchanged"]
    assert active_versions(genuine.id) == {"keystroke": 1, "mouse": 1}


def test_bad_arguments_fail_on_the_worker_and_change_nothing(
    app: Flask, celery: Celery, worker: Worker
) -> None:
    result = celery.send_task(TASK, args=("1; DROP TABLE users",))
    with pytest.raises(ValueError, match="positive integer"):
        result.get(timeout=60)
    assert celery.send_task(TASK, args=(987654,)).get(timeout=60) == {
        "user_id": 987654,
        "status": "unknown_user",
    }
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BehavioralModel)) == 0


def test_nightly_training_fans_out_to_the_users_due(
    app: Flask, celery: Celery, worker: Worker
) -> None:
    due = [make_user() for _ in range(3)]
    for seed, user in enumerate(due, start=20):
        store(user.id, new_session(user.id), batches(seed, 20))  # enough new batches

    result = celery.send_task("app.tasks.ml_tasks.train_behavioral_models").get(timeout=60)

    assert result == {"users": 3, "chunks": 1}
    for user in due:
        wait_for(
            lambda uid=user.id: active_versions(uid).get("keystroke") == 1,
            120,
            f"the chunk to train user {user.id}",
        )
