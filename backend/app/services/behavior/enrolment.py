"""What is stored about a user's behaviour, shown to them (or an admin), and its deletion.

Authorization lives here: a user reaches their own data only; another user's id answers
exactly as an unknown one (NotFound), so ids cannot be probed. Admins reach anyone's.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.errors import NotFound
from app.extensions import db
from app.models import BehavioralModel, BehavioralSample, User
from app.services.audit.events import record_event
from app.services.behavior import models, training
from app.services.cache_codec import CacheType
from app.services.cache_service import cache_service

NEEDED = {models.KEYSTROKE: models.MIN_KEYSTROKE_SAMPLES, models.MOUSE: models.MIN_MOUSE_ACTIONS}


def _subject(actor: User, user_id: int) -> User:
    if actor.id != user_id and not actor.is_admin:
        raise NotFound("User not found.")
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("User not found.")
    return user


def _version_json(row: BehavioralModel) -> dict[str, Any]:
    return {
        "id": row.id,
        "version": row.version,
        "algorithm": row.algorithm,
        "active": row.is_active,
        "training_samples": row.training_samples,
        "metrics": row.metrics or {},
        "created_at": row.created_at.isoformat(),
    }


def enrolment_state(actor: User, user_id: int) -> dict[str, Any]:
    """Per kind: usable samples so far (in the training window, after the poisoning guard)
    against the cold-start threshold, and the stored versions with their metrics. Counted
    from what each batch recorded when it was stored: never from the telemetry itself, which
    the web process must not re-read (up to BEHAVIOR_TRAINING_MAX_BATCHES large documents)."""
    user = _subject(actor, user_id)
    batches = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(BehavioralSample)
        .where(BehavioralSample.user_id == user.id)
    )
    samples, excluded = training.usable_samples(user.id)
    rows = db.session.scalars(
        sa.select(BehavioralModel)
        .where(BehavioralModel.user_id == user.id)
        .order_by(BehavioralModel.kind, BehavioralModel.version.desc())
    ).all()
    kinds = {}
    for kind, needed in NEEDED.items():
        versions = [_version_json(row) for row in rows if row.kind == kind]
        active = next((v for v in versions if v["active"]), None)
        kinds[kind] = {
            "samples": samples[kind],
            "needed": needed,
            "enrolled": active is not None,
            "active_version": active["version"] if active else None,
            "versions": versions,
        }
    return {
        "user_id": user.id,
        "batches": int(batches or 0),
        "excluded_batches": excluded,
        "kinds": kinds,
    }


def delete_behavior_data(actor: User, user_id: int, ip_address: str) -> dict[str, int]:
    """Delete every telemetry batch and model version of the user, drop their cached
    models, and record who did it."""
    user = _subject(actor, user_id)
    samples = db.session.execute(
        sa.delete(BehavioralSample).where(BehavioralSample.user_id == user.id)
    ).rowcount
    versions = db.session.execute(
        sa.delete(BehavioralModel).where(BehavioralModel.user_id == user.id)
    ).rowcount
    deleted = {"samples": int(samples or 0), "models": int(versions or 0)}
    record_event(
        "behavior_data_deleted",
        actor_user_id=actor.id,
        subject_type="user",
        subject_id=user.id,
        ip_address=ip_address,
        payload=deleted,
    )
    db.session.commit()
    cache_service.delete(CacheType.BEHAVIORAL_MODEL, user.id)
    return deleted
