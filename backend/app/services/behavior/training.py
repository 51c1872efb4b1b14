"""Training users' behavioural models from their stored telemetry, in workers only.

A user's template is fitted on their newest ``BEHAVIOR_TRAINING_MAX_BATCHES`` batches,
never on a batch of a session whose risk reached ``BEHAVIOR_STEP_UP_THRESHOLD`` (the
poisoning guard: an impostor who got in must not become the template). The keystroke
model learns the ``password`` field; the mouse model learns the user's actions against
the population background (other users' actions, see ``update_population``). Each fit is
stored as a new active version (``model_store``) with its training metrics.

``update_baseline`` adapts the template to the user's recent behaviour using only batches
of sessions that ended without incident (signed out or idle, never above the threshold).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import (
    BehavioralModel,
    BehavioralSample,
    PolicyDecision,
    RiskAssessment,
    User,
    UserSession,
)
from app.services.behavior import keystroke_model, model_store, models, mouse_model
from app.services.behavior.keystroke_features import fixed_text_vectors
from app.services.behavior.mouse_features import ACTION_FEATURES

log = logging.getLogger(__name__)
PASSWORD_FIELD = models.PASSWORD_FIELD
# How sessions end when nothing went wrong: the user signed out, or the session idled out.
CLEAN_END_REASONS = ("logout", "idle_timeout")
# Share of the user's own samples held out to estimate how the fitted model sees them.
HOLD_OUT = 0.2
MIN_HELD_OUT = 5


class UnknownUser(LookupError):
    """No such user: nothing is trained or changed."""


@dataclass
class Telemetry:
    """The batches one training run uses (oldest first) and what the guard left out."""

    batches: list[dict[str, Any]] = field(default_factory=list)
    last_sample_id: int = 0
    excluded_batches: int = 0


def check_user_id(user_id: object) -> int:
    """``user_id`` as a positive int, or ValueError (a task's bad argument)."""
    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id < 1:
        raise ValueError(f"user_id must be a positive integer, got {user_id!r}")
    return user_id


RISK_END_REASONS = ("risk_terminated", "step_up_failed")


def _flagged_sessions(threshold: float) -> sa.Select:
    """Ids of sessions whose risk reached ``threshold``, now or in any assessment, or that
    a risk decision stepped up or ended (whatever the score says now: a passed step-up
    lowers it, and a decision may come from an operator)."""
    scored = sa.select(UserSession.id).where(
        sa.or_(
            UserSession.risk_score >= threshold,
            UserSession.step_up_required_at.is_not(None),
            UserSession.termination_reason.in_(RISK_END_REASONS),
        )
    )
    assessed = sa.select(RiskAssessment.session_id).where(RiskAssessment.risk_score >= threshold)
    decided = sa.select(PolicyDecision.session_id).where(
        PolicyDecision.decision.in_(("step_up", "terminate")),
        PolicyDecision.session_id.is_not(None),
    )
    return sa.union(scored, assessed, decided)


def _window(
    user_id: int, columns: tuple[Any, ...], since_sample_id: int, clean_ended_only: bool
) -> tuple[list[sa.Row], int]:
    """The user's newest batches (``columns``, newest first) that pass the poisoning
    guard, and how many batches the guard left out."""
    cfg = current_app.config
    flagged = _flagged_sessions(cfg["BEHAVIOR_STEP_UP_THRESHOLD"])
    mine = sa.and_(BehavioralSample.user_id == user_id, BehavioralSample.id > since_sample_id)
    query = sa.select(*columns).where(mine, BehavioralSample.session_id.not_in(flagged))
    if clean_ended_only:
        query = query.join(UserSession, UserSession.id == BehavioralSample.session_id).where(
            UserSession.status != "active",
            UserSession.termination_reason.in_(CLEAN_END_REASONS),
        )
    rows = db.session.execute(
        query.order_by(BehavioralSample.id.desc()).limit(cfg["BEHAVIOR_TRAINING_MAX_BATCHES"])
    ).all()
    excluded = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(BehavioralSample)
        .where(mine, BehavioralSample.session_id.in_(flagged))
    )
    return list(rows), int(excluded or 0)


def gather(user_id: int, *, since_sample_id: int = 0, clean_ended_only: bool = False) -> Telemetry:
    """The user's newest batches that pass the poisoning guard, oldest first."""
    rows, excluded = _window(
        user_id, (BehavioralSample.id, BehavioralSample.events), since_sample_id, clean_ended_only
    )
    rows.reverse()
    return Telemetry(
        batches=[row.events for row in rows],
        last_sample_id=rows[-1].id if rows else 0,
        excluded_batches=excluded,
    )


def usable_samples(user_id: int) -> tuple[dict[str, int], int]:
    """What the next training run would have per model kind (the same window and guard as
    ``gather``), from the counts stored with each batch: no telemetry is re-read, so the
    web process can show it. Returns the counts and the batches the guard left out."""
    rows, excluded = _window(
        user_id, (BehavioralSample.id, BehavioralSample.features), 0, clean_ended_only=False
    )
    totals = {models.KEYSTROKE: 0, models.MOUSE: 0}
    for row in rows:
        usable = (row.features or {}).get("usable") or {}
        for kind in totals:
            value = usable.get(kind)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                totals[kind] += value
    return totals, excluded


def _keystroke_held_out(vectors: list[np.ndarray]) -> float | None:
    """Mean anomaly of the user's newest typings under a template fitted on the older
    ones: how strange the model finds its own user (low is good)."""
    n_out = max(MIN_HELD_OUT, int(len(vectors) * HOLD_OUT))
    try:
        params = keystroke_model.fit_template(vectors[:-n_out])
    except ValueError:
        return None
    held = [v for v in vectors[-n_out:] if len(v) == keystroke_model.dimension(params)]
    if not held:
        return None
    return round(float(np.mean(keystroke_model.anomaly(params, np.asarray(held)))), 4)


def _fit_keystroke(telemetry: Telemetry) -> tuple[dict | None, dict]:
    vectors = [
        v
        for batch in telemetry.batches
        for v in fixed_text_vectors(batch.get("keystrokes", []), PASSWORD_FIELD)
    ]
    metrics: dict[str, Any] = {"samples": len(vectors), "needed": models.MIN_KEYSTROKE_SAMPLES}
    params = models.fit_keystroke_vectors(vectors, PASSWORD_FIELD)
    if not params["enrolled"]:
        return None, metrics
    metrics["held_out_anomaly"] = _keystroke_held_out(vectors)
    return params, metrics


def own_actions(batches: Iterable[dict[str, Any]]) -> np.ndarray:
    width = len(ACTION_FEATURES)
    return np.vstack([np.empty((0, width)), *map(models.batch_actions, batches)])


def _fit_mouse(user_id: int, telemetry: Telemetry) -> tuple[dict | None, dict]:
    own = own_actions(telemetry.batches)
    metrics: dict[str, Any] = {"samples": len(own), "needed": models.MIN_MOUSE_ACTIONS}
    if len(own) < models.MIN_MOUSE_ACTIONS:
        return None, metrics
    background = model_store.population_background(exclude_user_id=user_id)
    if len(background) == 0:
        background = population_actions(exclude_user_id=user_id)
    if len(background) == 0:
        metrics["reason"] = "no_background"
        return None, metrics
    params = models.fit_mouse_actions(own, background)
    metrics["background_actions"] = len(background)
    n_out = max(MIN_HELD_OUT, int(len(own) * HOLD_OUT))
    held = mouse_model.fit_forest(own[:-n_out], background)
    probability = mouse_model.impostor_probability(held, own[-n_out:])
    metrics["held_out_anomaly"] = round(float(np.mean(probability)), 4)
    return params, metrics


def _train_kind(user_id: int, kind: str, telemetry: Telemetry, trigger: str) -> dict[str, Any]:
    started = time.perf_counter()
    if kind == models.KEYSTROKE:
        params, metrics = _fit_keystroke(telemetry)
    else:
        params, metrics = _fit_mouse(user_id, telemetry)
    if params is None:
        return {"kind": kind, "status": metrics.pop("reason", "insufficient_data"), **metrics}
    metrics |= {
        "batches": len(telemetry.batches),
        "excluded_batches": telemetry.excluded_batches,
        "fit_seconds": round(time.perf_counter() - started, 3),
        "last_sample_id": telemetry.last_sample_id,
        "trigger": trigger,
    }
    row, created = model_store.store_version(user_id, kind, params, metrics)
    return {
        "kind": kind,
        "status": "trained" if created else "unchanged",
        "model_id": row.id,
        "version": row.version,
        "samples": metrics["samples"],
    }


def _require_user(user_id: object) -> int:
    uid = check_user_id(user_id)
    if db.session.get(User, uid) is None:
        raise UnknownUser(f"no user {uid}")
    return uid


def train_user(user_id: object) -> dict[str, Any]:
    """Fit and store every kind of the user's model from their enrolment telemetry."""
    uid = _require_user(user_id)
    telemetry = gather(uid)
    results = [_train_kind(uid, kind, telemetry, "enrolment") for kind in models_kinds()]
    model_store.refresh_cache(uid)
    return {"user_id": uid, "models": results}


def update_baseline(user_id: object) -> dict[str, Any]:
    """Refit the user's models on batches of their sessions that ended without incident,
    newest first; a kind without such new batches since its active version is left as is."""
    uid = _require_user(user_id)
    results = []
    for kind in models_kinds():
        active = model_store.active_row(uid, kind)
        since = int((active.metrics or {}).get("last_sample_id", 0)) if active else 0
        if not gather(uid, since_sample_id=since, clean_ended_only=True).batches:
            results.append({"kind": kind, "status": "unchanged", "reason": "no_new_clean_batches"})
            continue
        telemetry = gather(uid, clean_ended_only=True)
        results.append(_train_kind(uid, kind, telemetry, "baseline"))
    model_store.refresh_cache(uid)
    return {"user_id": uid, "models": results}


def models_kinds() -> tuple[str, str]:
    return (models.KEYSTROKE, models.MOUSE)


def _population_rows(exclude_user_id: int | None = None) -> list[Any]:
    """(user_id, events) of the newest guarded batches with mouse data, bounded."""
    cfg = current_app.config
    query = sa.select(BehavioralSample.user_id, BehavioralSample.events).where(
        BehavioralSample.mouse_count > 0,
        BehavioralSample.session_id.not_in(_flagged_sessions(cfg["BEHAVIOR_STEP_UP_THRESHOLD"])),
    )
    if exclude_user_id is not None:
        query = query.where(BehavioralSample.user_id != exclude_user_id)
    limit = cfg["BEHAVIOR_BACKGROUND_MAX_BATCHES"]
    return list(db.session.execute(query.order_by(BehavioralSample.id.desc()).limit(limit)))


def population_actions(exclude_user_id: int | None = None) -> np.ndarray:
    """Mouse actions of other users' newest batches, at most
    BEHAVIOR_BACKGROUND_MAX_ACTIONS of them, taken evenly per user."""
    rows = _population_rows(exclude_user_id)
    cap = current_app.config["BEHAVIOR_BACKGROUND_MAX_ACTIONS"]
    return _evenly(_per_user_actions(rows), cap)[0]


def _per_user_actions(rows: Iterable[Any]) -> dict[int, np.ndarray]:
    grouped: dict[int, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row.user_id, []).append(row.events)
    return {uid: own_actions(batches) for uid, batches in grouped.items()}


def _evenly(per_user: dict[int, np.ndarray], cap: int) -> tuple[np.ndarray, list[int]]:
    """At most ``cap`` rows, the same share from each user; and each row's owner."""
    width = len(ACTION_FEATURES)
    if not per_user:
        return np.empty((0, width)), []
    share = max(1, cap // len(per_user))
    parts, owners = [], []
    for uid, actions in sorted(per_user.items()):
        taken = actions[-share:]
        parts.append(taken)
        owners += [uid] * len(taken)
    return np.vstack([np.empty((0, width)), *parts]), owners


def update_population() -> dict[str, Any]:
    """Store the population mouse background: other users' actions, evenly per user, with
    each row's owner so a user's own actions are left out of their background."""
    cfg = current_app.config
    rows = _population_rows()
    actions, owners = _evenly(_per_user_actions(rows), cfg["BEHAVIOR_BACKGROUND_MAX_ACTIONS"])
    if len(actions) == 0:
        return {"status": "insufficient_data", "actions": 0, "users": 0}
    params = model_store.population_parameters(actions, owners)
    metrics = {
        "samples": len(actions),
        "users": len(set(owners)),
        "last_sample_id": db.session.scalar(sa.select(sa.func.max(BehavioralSample.id))) or 0,
    }
    row, created = model_store.store_version(None, models.MOUSE, params, metrics)
    return {
        "status": "trained" if created else "unchanged",
        "model_id": row.id,
        "version": row.version,
        "actions": len(actions),
        "users": metrics["users"],
    }


def users_due() -> list[int]:
    """Active users with at least BEHAVIOR_RETRAIN_MIN_NEW_BATCHES batches newer than their
    newest model (every batch counts for a user with no model yet), by id."""
    newest_model = (
        sa.select(
            BehavioralModel.user_id, sa.func.max(BehavioralModel.created_at).label("trained_at")
        )
        .where(BehavioralModel.user_id.is_not(None))
        .group_by(BehavioralModel.user_id)
        .subquery()
    )
    query = (
        sa.select(BehavioralSample.user_id)
        .join(User, User.id == BehavioralSample.user_id)
        .outerjoin(newest_model, newest_model.c.user_id == BehavioralSample.user_id)
        .where(
            User.is_active.is_(True),
            sa.or_(
                newest_model.c.trained_at.is_(None),
                BehavioralSample.created_at > newest_model.c.trained_at,
            ),
        )
        .group_by(BehavioralSample.user_id)
        .having(sa.func.count() >= current_app.config["BEHAVIOR_RETRAIN_MIN_NEW_BATCHES"])
        .order_by(BehavioralSample.user_id)
    )
    return list(db.session.scalars(query))
