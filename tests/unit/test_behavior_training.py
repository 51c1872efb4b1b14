"""Training, versioning, the poisoning guard, serving through the cache, pruning, and the
ml_tasks bodies (called directly; the queue plumbing is tested with a real worker)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from celery import Celery
from flask import Flask

from app.celery_app import make_celery
from app.database import utcnow
from app.extensions import db
from app.models import BehavioralModel, PolicyDecision, RiskAssessment
from app.services import task_sender
from app.services.behavior import model_store, models, training
from app.services.cache_service import cache_service
from app.tasks import ml_tasks
from tests.behavior_telemetry import batches, new_session, store
from tests.checks import assert_unchanged, table_rows
from tests.conftest import make_user, test_config

# 20 batches of 5 typings: exactly the 100 typings the keystroke cold-start rule needs.
ENROLLED = 20


def versions(user_id: int | None, kind: str) -> list[tuple[int, bool]]:
    owner = (
        BehavioralModel.user_id.is_(None) if user_id is None else BehavioralModel.user_id == user_id
    )
    rows = db.session.execute(
        sa.select(BehavioralModel.version, BehavioralModel.is_active)
        .where(owner, BehavioralModel.kind == kind)
        .order_by(BehavioralModel.version)
    )
    return [tuple(row) for row in rows]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple]]:
    calls: list[tuple[str, tuple]] = []
    monkeypatch.setattr(
        task_sender, "send", lambda name, *, args=(), **_: calls.append((name, args)) or "id"
    )
    return calls


@pytest.fixture
def celery(app: Flask) -> Iterator[Celery]:
    yield make_celery(test_config(CELERY_BROKER_URL="memory://"))


def enrolled_user(seed: int = 1, count: int = ENROLLED, style: int | None = None) -> int:
    user = make_user()
    store(user.id, new_session(user.id), batches(seed, count, style=style))
    return user.id


def test_training_stores_an_active_version_with_metrics_and_caches_it(app: Flask) -> None:
    uid = enrolled_user()

    result = ml_tasks.train_user_behavioral_model(uid)

    keystroke, mouse = result["models"]
    assert keystroke["status"] == "trained" and keystroke["version"] == 1
    assert mouse["status"] == "insufficient_data" and mouse["samples"] == 0
    row = db.session.get(BehavioralModel, keystroke["model_id"])
    assert row.is_active and row.kind == "keystroke" and row.training_samples == 100
    assert row.metrics["samples"] == 100 and row.metrics["needed"] == 100
    assert row.metrics["batches"] == ENROLLED and row.metrics["fit_seconds"] >= 0
    assert 0 <= row.metrics["held_out_anomaly"] < 0.5  # the user's own typing looks like them
    models.validated(row.parameters)
    cached = cache_service.get_behavioral_model(uid)
    assert cached["mouse"] is None
    assert cached["keystroke"]["version"] == 1
    assert cached["keystroke"]["parameters"] == row.parameters


def test_the_same_data_twice_makes_one_version_new_data_a_second(app: Flask) -> None:
    uid = enrolled_user()
    ml_tasks.train_user_behavioral_model(uid)

    again = ml_tasks.train_user_behavioral_model(uid)
    assert again["models"][0]["status"] == "unchanged"
    assert versions(uid, "keystroke") == [(1, True)]

    store(uid, new_session(uid), batches(1, 3))
    ml_tasks.train_user_behavioral_model(uid)
    assert versions(uid, "keystroke") == [(1, False), (2, True)]
    assert cache_service.get_behavioral_model(uid)["keystroke"]["version"] == 2


def test_the_database_allows_one_active_version_per_user_and_kind(app: Flask) -> None:
    uid = enrolled_user()
    ml_tasks.train_user_behavioral_model(uid)
    row = db.session.scalar(sa.select(BehavioralModel).where(BehavioralModel.user_id == uid))
    db.session.add(
        BehavioralModel(
            user_id=uid, kind="keystroke", version=2, algorithm="x", parameters={}, is_active=True
        )
    )
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert versions(uid, "keystroke") == [(row.version, True)]


@pytest.mark.parametrize(
    "flag", ["session_risk", "assessment", "stepped_up", "step_up_failed", "decision"]
)
def test_batches_of_a_session_that_reached_step_up_never_train(app: Flask, flag: str) -> None:
    uid = enrolled_user(count=ENROLLED - 1)  # 95 genuine typings: not enrolled yet
    if flag == "session_risk":
        risky = new_session(uid, risk_score=60.0)
    elif flag == "stepped_up":  # in step-up now, whatever its stored score
        risky = new_session(uid, risk_score=10.0, step_up_required_at=utcnow())
    elif flag == "step_up_failed":  # ended by three wrong passwords
        risky = new_session(
            uid, risk_score=30.0, status="terminated", termination_reason="step_up_failed"
        )
    elif flag == "decision":  # stepped up, then passed: the score was lowered since
        risky = new_session(uid, risk_score=30.0)
        db.session.add(
            PolicyDecision(session_id=risky.id, user_id=uid, decision="step_up", risk_score=70)
        )
        db.session.commit()
    else:
        risky = new_session(uid, risk_score=10.0)
        db.session.add(
            RiskAssessment(session_id=risky.id, user_id=uid, risk_score=85.0, risk_level="high")
        )
        db.session.commit()
    store(uid, risky, batches(7, 10))  # an impostor's typing in that session

    result = ml_tasks.train_user_behavioral_model(uid)

    assert result["models"][0] == {
        "kind": "keystroke",
        "status": "insufficient_data",
        "samples": 95,
        "needed": 100,
    }
    assert versions(uid, "keystroke") == []
    assert training.gather(uid).excluded_batches == 10


def test_a_session_just_below_the_threshold_trains(app: Flask) -> None:
    uid = enrolled_user(count=ENROLLED - 1)
    store(uid, new_session(uid, risk_score=59.9), batches(1, 1))
    assert ml_tasks.train_user_behavioral_model(uid)["models"][0]["samples"] == 100


def test_the_mouse_model_trains_against_the_population_background(app: Flask) -> None:
    uid = enrolled_user(seed=1, count=70, style=0)
    enrolled_user(seed=2, count=30, style=1)
    population = ml_tasks.update_threat_models()
    assert population["status"] == "trained" and population["users"] == 2
    assert versions(None, "mouse") == [(1, True)]

    result = ml_tasks.train_user_behavioral_model(uid)

    mouse = result["models"][1]
    assert mouse["status"] == "trained", result
    row = db.session.get(BehavioralModel, mouse["model_id"])
    own_in_population = sum(
        1 for o in model_store.active_row(None, "mouse").parameters["owners"] if o == uid
    )
    assert row.metrics["background_actions"] == len(
        model_store.population_background(exclude_user_id=uid)
    )
    assert own_in_population > 0  # the population holds the user's actions, the fit did not
    assert row.metrics["held_out_anomaly"] < 0.5
    impostor = models.score(row.parameters, batches(2, 1, style=1)[0])
    genuine = models.score(row.parameters, batches(1, 1, style=0)[0])
    assert genuine["anomaly"] < 0.5 < impostor["anomaly"], (genuine, impostor)


def test_the_loader_serves_the_cache_then_the_database(app: Flask, sent: list) -> None:
    uid = enrolled_user()
    ml_tasks.train_user_behavioral_model(uid)
    cache_service.invalidate_user(uid)

    entry = model_store.active_model(uid, "keystroke")  # a miss: from the database

    assert entry is not None and entry["version"] == 1
    assert cache_service.get_behavioral_model(uid)["keystroke"] == entry
    assert model_store.active_model(uid, "mouse") is None
    # A hit does not touch the database: drop the row, the cached model is still served.
    db.session.execute(sa.delete(BehavioralModel))
    db.session.commit()
    assert model_store.active_model(uid, "keystroke") == entry
    assert sent == []


def test_a_corrupt_cached_model_is_reloaded_from_the_database(app: Flask, sent: list) -> None:
    uid = enrolled_user()
    ml_tasks.train_user_behavioral_model(uid)
    good = cache_service.get_behavioral_model(uid)
    bad = {**good, "keystroke": {**good["keystroke"], "parameters": {"template": "junk"}}}
    cache_service.cache_behavioral_model(uid, bad)

    assert model_store.active_model(uid, "keystroke") == good["keystroke"]
    assert cache_service.get_behavioral_model(uid) == good
    assert sent == []


def test_a_corrupt_stored_model_is_not_trusted_but_retrained(app: Flask, sent: list) -> None:
    uid = enrolled_user()
    ml_tasks.train_user_behavioral_model(uid)
    cache_service.invalidate_user(uid)
    row = model_store.active_row(uid, "keystroke")
    row.parameters = {**row.parameters, "scale": [-1.0]}
    db.session.commit()

    assert model_store.active_model(uid, "keystroke") is None

    assert sent == [(model_store.RETRAIN_TASK, (uid,))]
    assert versions(uid, "keystroke") == [(1, False)]
    assert cache_service.get_behavioral_model(uid)["keystroke"] is None
    # The retraining it queued stores a sound version again.
    ml_tasks.train_user_behavioral_model(uid)
    assert model_store.active_model(uid, "keystroke")["version"] == 2


def test_cleanup_keeps_the_newest_versions_and_the_active_one(app: Flask) -> None:
    uid = make_user().id
    params = {"kind": "keystroke", "version": 1, "enrolled": False, "field": "password"}
    for n in range(1, 6):
        model_store.store_version(uid, "keystroke", params, {"last_sample_id": n})
    model_store.store_version(uid, "mouse", params | {"kind": "mouse"}, {"last_sample_id": 1})
    # An older version made active again (a rollback) survives the pruning.
    model_store.active_row(uid, "keystroke").is_active = False
    db.session.flush()
    db.session.scalar(
        sa.select(BehavioralModel).where(
            BehavioralModel.kind == "keystroke", BehavioralModel.version == 1
        )
    ).is_active = True
    db.session.commit()
    app.config["BEHAVIOR_MODEL_VERSIONS_KEPT"] = 2

    assert ml_tasks.cleanup_old_models() == {"deleted": 2, "kept": 2}

    assert versions(uid, "keystroke") == [(1, True), (4, False), (5, False)]
    assert versions(uid, "mouse") == [(1, True)]
    assert ml_tasks.cleanup_old_models()["deleted"] == 0


def test_baseline_updates_use_only_sessions_that_ended_cleanly(app: Flask) -> None:
    uid = enrolled_user()
    ml_tasks.train_user_behavioral_model(uid)
    store(uid, new_session(uid), batches(1, 3))  # still active: not a baseline session
    store(
        uid,
        new_session(uid, status="terminated", termination_reason="terminated_by_admin"),
        batches(1, 3),
    )
    assert ml_tasks.update_behavioral_baseline(uid)["models"][0] == {
        "kind": "keystroke",
        "status": "unchanged",
        "reason": "no_new_clean_batches",
    }

    store(
        uid,
        new_session(uid, status="expired", termination_reason="idle_timeout"),
        batches(1, ENROLLED),
    )
    result = ml_tasks.update_behavioral_baseline(uid)

    assert result["models"][0]["status"] == "trained"
    row = model_store.active_row(uid, "keystroke")
    assert row.version == 2 and row.metrics["trigger"] == "baseline"
    assert row.metrics["batches"] == ENROLLED  # only the cleanly ended session's batches


@pytest.mark.parametrize("bad", [0, -3, "7", 1.5, None, True, [1]])
@pytest.mark.parametrize(
    "task", [ml_tasks.train_user_behavioral_model, ml_tasks.update_behavioral_baseline]
)
def test_bad_user_ids_are_refused_and_change_nothing(app: Flask, task: Any, bad: Any) -> None:
    enrolled_user()
    before = table_rows()
    with pytest.raises(ValueError, match="user_id must be a positive integer"):
        task(bad)
    assert_unchanged(before)


def test_an_unknown_user_gets_a_clear_result_and_nothing_changes(app: Flask) -> None:
    before = table_rows()
    assert ml_tasks.train_user_behavioral_model(999) == {"user_id": 999, "status": "unknown_user"}
    assert ml_tasks.update_behavioral_baseline(999)["status"] == "unknown_user"
    assert_unchanged(before)


def test_nightly_training_fans_out_users_with_enough_new_data(
    app: Flask, celery: Celery, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.config["BEHAVIOR_RETRAIN_MIN_NEW_BATCHES"] = 5
    app.config["BEHAVIOR_TRAINING_CHUNK_SIZE"] = 2
    due = [enrolled_user(seed=s) for s in (1, 2, 3)]
    few = enrolled_user(seed=4, count=4)
    trained = enrolled_user(seed=5)
    ml_tasks.train_user_behavioral_model(trained)
    store(trained, new_session(trained), batches(5, 4))  # 4 new batches: not due

    assert training.users_due() == due
    assert few not in training.users_due()

    assert ml_tasks.train_behavioral_models() == {"users": 3, "chunks": 2}
