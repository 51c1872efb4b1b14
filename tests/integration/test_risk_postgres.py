"""The risk engine's queries and the assessment writer on the real PostgreSQL (and Redis)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Flask

from app.database import utcnow
from app.extensions import db
from app.models import BehavioralSample, RiskAssessment
from app.services.risk.assessments import AssessmentWriter, purge_old_assessments
from app.services.risk.engine import assess
from tests.conftest import count, make_user
from tests.risk_support import assessment_for, attempts, daily_at, device_row, session_row


def test_batch_writer_on_postgres(app: Flask, statements: list[str]) -> None:
    assert db.engine.dialect.name == "postgresql"
    user = make_user()
    sessions = [session_row(user, f"198.51.100.{n}") for n in range(1, 4)]
    writer = AssessmentWriter(max_rows=10, max_age=3600)
    start = utcnow()
    statements.clear()
    for n in range(25):
        writer.add(assessment_for(sessions[n % 3], float(n), at=start + timedelta(seconds=n)))
    writer.flush()

    inserts = [s for s in statements if s.startswith("INSERT INTO risk_assessments")]
    updates = [s for s in statements if s.startswith("UPDATE user_sessions")]
    assert (len(inserts), len(updates)) == (3, 3)
    assert count(RiskAssessment) == 25
    db.session.expire_all()
    assert [s.risk_score for s in sessions] == [24.0, 22.0, 23.0]
    newest = db.session.scalars(
        sa.select(RiskAssessment).order_by(RiskAssessment.created_at.desc()).limit(1)
    ).one()
    assert newest.factors["factors"][0] == {
        "name": "new_network",
        "contribution": 24.0,
        "detail": "test",
    }
    assert newest.created_at == start + timedelta(seconds=24)


def test_context_queries_on_postgres(app: Flask) -> None:
    user, other = make_user(), make_user()
    now = utcnow()
    hour = now.hour
    attempts(user, daily_at(hour, 20, before=now), ip="2001:db8:7:1::5")
    attempts(user, [now - timedelta(minutes=3)] * 2, success=False)
    attempts(other, [now - timedelta(minutes=3)] * 5, success=False)
    laptop = device_row(user)
    session_row(user, "2001:db8:7:2::9", at=now - timedelta(days=1), device=laptop)
    session_row(user, "203.0.113.50", at=now - timedelta(hours=1))
    session = session_row(user, "2001:db8:7:3::1", at=now, device=laptop)
    db.session.add_all(
        BehavioralSample(user_id=user.id, session_id=session.id, events={}, created_at=now)
        for _ in range(90)
    )
    db.session.commit()

    result = assess(session, {"status": "scored", "model_version": 4, "anomaly": 0.5}, now=now)
    by_name = {f.name: f.contribution for f in result.factors}
    assert by_name == {
        "behaviour_anomaly": 30.0,
        "concurrent_sessions": 10.0,  # 203.0.113.0/24; the earlier 2001:db8:7::/48 is ours
        "failed_logins": 10.0,
        "untrusted_device": 8.0,
        "request_velocity": 3.8,  # 90 batches a minute against a bound of 60
        "new_network": 0.0,
        "unusual_hour": 0.0,
    }
    assert result.score == 61.8 and result.level == "high"
    assert result.decision["action"] == "step_up"
    assert result.behavioral_score == 30.0 and result.context_score == 31.8


def test_retention_purge_on_postgres(app: Flask) -> None:
    app.config["CLEANUP_BATCH_SIZE"] = 4
    session = session_row(make_user())
    old = utcnow() - timedelta(days=app.config["RISK_ASSESSMENT_RETENTION_DAYS"] + 1)
    writer = AssessmentWriter(max_rows=100, max_age=3600)
    for at in [old] * 9 + [utcnow()]:
        writer.add(assessment_for(session, 1.0, at=at))
    writer.flush()
    assert purge_old_assessments() == 9
    assert count(RiskAssessment) == 1
