"""Storing validated behavioural telemetry batches as behavioural samples.

Scoring is the behaviour model's work; until it exists no risk score is produced here.
"""

from __future__ import annotations

import uuid

from flask import current_app

from app.errors import Forbidden, ValidationFailed
from app.extensions import db
from app.models import BehavioralSample
from app.schemas.events import BehavioralData
from app.services.behavior.models import usable_counts


def store_batch(user_id: int, session_id: uuid.UUID, batch: BehavioralData) -> dict[str, int]:
    """Persist one batch sent over login session ``session_id``, which must be the one the
    batch names; returns how many items of each kind were accepted."""
    if batch.session_id != session_id:
        raise Forbidden("telemetry is accepted for your own session only")
    cfg = current_app.config
    caps = {
        "keystrokes": (len(batch.keystrokes), cfg["BEHAVIOR_MAX_KEYSTROKES"]),
        "mouseMovements": (len(batch.mouseMovements), cfg["BEHAVIOR_MAX_MOUSE_MOVEMENTS"]),
        "clicks": (len(batch.clicks), cfg["BEHAVIOR_MAX_CLICKS"]),
    }
    for name, (given, cap) in caps.items():
        if given > cap:
            raise ValidationFailed(f"{name}: at most {cap} items per batch, got {given}")
    events = batch.model_dump(mode="json", exclude={"session_id"})
    sample = BehavioralSample(
        user_id=user_id,
        session_id=session_id,
        keystroke_count=len(batch.keystrokes),
        mouse_count=len(batch.mouseMovements),
        click_count=len(batch.clicks),
        events=events,
        features={"usable": usable_counts(events)},
    )
    db.session.add(sample)
    db.session.commit()
    return {name: given for name, (given, _) in caps.items()}
