"""Behaviour model tasks (queue ``ml_queue``) and their beat entries.

Thin: check the arguments, call one training service, return what happened. A bad
argument (not a positive integer id) raises ``ValueError`` at once; an unknown user
returns ``{"status": "unknown_user"}``; neither changes anything nor is retried.
``train_behavioral_models`` only finds the users due and fans their training out in
chunks of BEHAVIOR_TRAINING_CHUNK_SIZE users, so the queue is never held by one long task.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.schedules import crontab
from flask import current_app

from app.services.behavior import model_store, training

log = logging.getLogger(__name__)
PREFIX = "app.tasks.ml_tasks"

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "train_behavioral_models": {
        "task": f"{PREFIX}.train_behavioral_models",
        "schedule": crontab(minute=0, hour=2),
    },
    "update_threat_models": {
        "task": f"{PREFIX}.update_threat_models",
        "schedule": crontab(minute=0, hour=1, day_of_week="sun"),
    },
    "cleanup_old_models": {
        "task": f"{PREFIX}.cleanup_old_models",
        "schedule": crontab(minute=0, hour=1, day_of_week="wed"),
    },
}


def _done(name: str, result: dict[str, Any]) -> dict[str, Any]:
    log.info("%s: %s", name, result)
    return result


def _per_user(name: str, service: Any, user_id: Any) -> dict[str, Any]:
    uid = training.check_user_id(user_id)
    try:
        return _done(name, service(uid))
    except training.UnknownUser:
        return _done(name, {"user_id": uid, "status": "unknown_user"})


@shared_task
def train_user_behavioral_model(user_id: int) -> dict[str, Any]:
    """Train and store a new active version of each of the user's models."""
    return _per_user("train_user_behavioral_model", training.train_user, user_id)


@shared_task
def update_behavioral_baseline(user_id: int) -> dict[str, Any]:
    """Adapt the user's models with batches of sessions that ended without incident."""
    return _per_user("update_behavioral_baseline", training.update_baseline, user_id)


@shared_task
def train_behavioral_models() -> dict[str, Any]:
    """Queue training of every user with enough new telemetry since their last model."""
    users = training.users_due()
    size = current_app.config["BEHAVIOR_TRAINING_CHUNK_SIZE"]
    chunks = 0
    if users:
        work = train_user_behavioral_model.chunks([(uid,) for uid in users], size)
        chunks = len(work.group().apply_async(queue="ml_queue").results)
    return _done("train_behavioral_models", {"users": len(users), "chunks": chunks})


@shared_task
def update_threat_models() -> dict[str, Any]:
    """Rebuild the population model (the mouse background users are trained against)."""
    return _done("update_threat_models", training.update_population())


@shared_task
def cleanup_old_models() -> dict[str, Any]:
    """Keep the newest BEHAVIOR_MODEL_VERSIONS_KEPT versions of each user and kind."""
    keep = current_app.config["BEHAVIOR_MODEL_VERSIONS_KEPT"]
    return _done("cleanup_old_models", {"deleted": model_store.prune_versions(keep), "kept": keep})
