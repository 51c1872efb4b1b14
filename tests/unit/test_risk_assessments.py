"""Stored assessments: the batch writer, retention, and the context cache around assess()."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask

from app.database import utcnow
from app.extensions import db
from app.models import RiskAssessment, UserSession
from app.services.cache_service import CacheService
from app.services.risk import assessments
from app.services.risk.assessments import AssessmentWriter
from app.services.risk.engine import assess
from app.standalone.children import ChildProcess
from app.tasks import cleanup_tasks
from tests.conftest import count, make_user, test_config
from tests.procs import free_port
from tests.risk_support import assessment_for, attempts, session_row
from tests.unit.cache_support import cache_config, emptied_cache


@pytest.fixture
def base_config(base_config: dict[str, Any], embedded_redis: ChildProcess) -> dict[str, Any]:
    return cache_config(base_config, embedded_redis)


@pytest.fixture
def raw(app: Flask) -> Iterator[redis.Redis]:
    yield from emptied_cache(app)


def _writes(statements: list[str], table: str) -> list[str]:
    return [s for s in statements if s.startswith(("INSERT", "UPDATE")) and table in s]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_n_assessments_are_one_insert_per_flush(app: Flask, statements: list[str]) -> None:
    user = make_user()
    first, second = session_row(user), session_row(user, "203.0.113.4")
    writer = AssessmentWriter(max_rows=10, max_age=3600)
    statements.clear()

    written = [writer.add(assessment_for(s, 10.0 + n)) for n, s in enumerate([first, second] * 12)]

    assert written == [0] * 9 + [10] + [0] * 9 + [10] + [0] * 4
    inserts = [s for s in _writes(statements, "risk_assessments") if s.startswith("INSERT")]
    assert len(inserts) == 2 and count(RiskAssessment) == 20
    assert all(insert.count("), (") == 9 for insert in inserts)  # ten rows in one VALUES
    assert len(_writes(statements, "user_sessions")) == 2  # one UPDATE per flush
    assert len(writer) == 4
    statements.clear()
    assert writer.flush() == 4
    assert len(_writes(statements, "risk_assessments")) == 1
    assert count(RiskAssessment) == 24 and len(writer) == 0
    assert writer.flush() == 0


def test_flush_sets_each_sessions_latest_score_and_level(app: Flask) -> None:
    user = make_user()
    first, second = session_row(user), session_row(user, "203.0.113.4")
    writer = AssessmentWriter(max_rows=100, max_age=3600)
    start = utcnow()
    writer.add(assessment_for(first, 70.0, at=start))
    writer.add(assessment_for(first, 20.0, at=start + timedelta(seconds=2)))
    writer.add(assessment_for(second, 65.0, at=start + timedelta(seconds=1)))
    writer.flush()

    db.session.expire_all()
    assert (first.risk_score, first.risk_level) == (20.0, "low")
    assert (second.risk_score, second.risk_level) == (65.0, "high")
    stored = db.session.scalars(
        sa.select(RiskAssessment).where(RiskAssessment.session_id == second.id)
    ).one()
    assert stored.context_score == 65.0 and stored.behavioral_score is None
    assert stored.factors["decision"]["action"] == "step_up"
    assert stored.factors["factors"][0]["name"] == "new_network"


def test_the_age_bound_flushes_on_the_next_add(app: Flask) -> None:
    session = session_row(make_user())
    clock = Clock()
    writer = AssessmentWriter(max_rows=1000, max_age=2.0, clock=clock)
    assert writer.add(assessment_for(session, 5.0)) == 0
    clock.now = 1.9
    assert writer.add(assessment_for(session, 6.0)) == 0 and not writer.due()
    clock.now = 2.0
    assert writer.due()
    assert writer.add(assessment_for(session, 7.0)) == 3
    assert count(RiskAssessment) == 3


def test_a_failed_flush_keeps_the_rows_for_the_next(app: Flask) -> None:
    session = session_row(make_user())
    writer = AssessmentWriter(max_rows=100, max_age=3600)
    writer.add(assessment_for(session, 5.0))
    writer.add(dataclasses.replace(assessment_for(session, 6.0), level="extreme"))
    with pytest.raises(sa.exc.IntegrityError):  # risk_level's CHECK constraint
        writer.flush()
    assert len(writer) == 2 and count(RiskAssessment) == 0
    assert db.session.get(UserSession, session.id).risk_score is None


def test_writer_settings_and_bounds(app: Flask) -> None:
    writer = AssessmentWriter.from_config(app.config)
    assert (writer.max_rows, writer.max_age) == (500, 2.0)
    with pytest.raises(ValueError):
        AssessmentWriter(max_rows=0)
    with pytest.raises(ValueError):
        AssessmentWriter(max_rows=assessments.MAX_ROWS_LIMIT + 1)


def test_retention_purge_runs_with_cleanup_old_behavioral_data(app: Flask) -> None:
    app.config["CLEANUP_BATCH_SIZE"] = 2
    session = session_row(make_user())
    now = utcnow()
    old = now - timedelta(days=app.config["RISK_ASSESSMENT_RETENTION_DAYS"], minutes=1)
    writer = AssessmentWriter(max_rows=100, max_age=3600)
    for at in [old] * 5 + [now - timedelta(days=1)] * 2:
        writer.add(assessment_for(session, 5.0, at=at))
    writer.flush()

    result = cleanup_tasks.cleanup_old_behavioral_data()
    assert result == {"deleted": 0, "risk_assessments_deleted": 5}
    assert count(RiskAssessment) == 2
    assert assessments.purge_old_assessments() == 0


def test_context_is_cached_per_session_for_300_s(app: Flask, raw: redis.Redis) -> None:
    user = make_user()
    session = session_row(user, at=utcnow())
    first = assess(session, {"status": "no_model", "model_version": None, "anomaly": None})
    key = f"zt:v1:context:{session.id}"
    assert raw.ttl(key) == 300
    cached = json.loads(raw.get(key))
    assert {f["name"] for f in cached["factors"]} == {
        "unidentified_device",
        "new_network",
        "unusual_hour",
        "failed_logins",
        "concurrent_sessions",
    }

    attempts(user, [utcnow()] * 3, success=False)  # not seen until the entry expires
    again = assess(session, {"status": "no_model", "model_version": None, "anomaly": None})
    assert again.score == first.score == 30.0
    raw.delete(key)
    recomputed = assess(session, {"status": "no_model", "model_version": None, "anomaly": None})
    assert recomputed.score == 45.0
    assert recomputed.factors[0].name == "new_network"


def test_a_malformed_cache_entry_is_recomputed(app: Flask, raw: redis.Redis) -> None:
    session = session_row(make_user(), at=utcnow())
    raw.set(f"zt:v1:context:{session.id}", json.dumps({"format": 1, "factors": [{"x": 1}]}))
    result = assess(session, {"status": "insufficient_data"})
    assert result.score == 30.0 and len(result.factors) == 7


def test_redis_down_means_recompute(app: Flask) -> None:
    down = CacheService(
        test_config(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", CACHE_OUTAGE_RETRY=0.05)
    )
    user = make_user()
    session = session_row(user, at=utcnow())
    assert assess(session, {"status": "no_model"}, cache=down).score == 30.0
    attempts(user, [utcnow()] * 2, success=False)
    assert assess(session, {"status": "no_model"}, cache=down).score == 40.0


def test_threads_sharing_a_writer_lose_and_repeat_nothing(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = session_row(make_user())
    batches: list[list[float]] = []
    monkeypatch.setattr(
        assessments, "_write", lambda rows: batches.append([r["risk_score"] for r in rows])
    )
    writer = AssessmentWriter(max_rows=7, max_age=3600)
    values = [[round(t * 25 + n * 0.1, 1) for n in range(50)] for t in range(4)]  # unique
    prepared = [[assessment_for(session, v) for v in chunk] for chunk in values]
    start = threading.Barrier(len(prepared))

    def add_all(chunk: list[Any]) -> None:
        start.wait()
        for item in chunk:
            writer.add(item)

    threads = [threading.Thread(target=add_all, args=(chunk,)) for chunk in prepared]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.flush()

    written = sorted(v for batch in batches for v in batch)
    assert written == sorted(v for chunk in values for v in chunk)
    assert all(batches) and len(writer) == 0  # an empty buffer is never written
