"""Stored behavioural model versions: writing a new active version, serving the active one
through the cache, pruning old versions.

Cache (``cache_service``, type ``model``, key ``zt:v1:model:<user_id>``, 1 h TTL): one
JSON document per user holding both kinds, ``{"keystroke": entry | null, "mouse": entry |
null}`` with entry ``{model_id, version, algorithm, parameters}``; null says "no usable
model", so a user without one does not send every lookup to the database. Parameters read
back from the cache or the database go through ``models.validated``; a model that fails is
never used: its row is deactivated and retraining is queued.

The population model of a kind is the row with no user_id (``update_threat_models``).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.errors import ServiceUnavailable
from app.extensions import db
from app.models import BehavioralModel
from app.services import task_sender
from app.services.behavior import models
from app.services.behavior.mouse_features import ACTION_FEATURES
from app.services.cache_codec import CacheType, CacheUsageError
from app.services.cache_service import cache_service

log = logging.getLogger(__name__)
ALGORITHMS = {
    models.KEYSTROKE: "knn-capped-scaled-manhattan",
    models.MOUSE: "extra-trees",
}
POPULATION_ALGORITHM = "population-background"
RETRAIN_TASK = "app.tasks.ml_tasks.train_user_behavioral_model"
# Advisory-lock namespace (PostgreSQL) serialising version writes of one user.
_LOCK_SPACE = 741_013


def _lock_owner(user_id: int | None) -> None:
    """Hold, until this transaction ends, the lock on writing ``user_id``'s versions (0:
    the population's). SQLite serialises writers by itself."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            sa.text("SELECT pg_advisory_xact_lock(:space, :owner)"),
            {"space": _LOCK_SPACE, "owner": user_id or 0},
        )


def _owner_is(user_id: int | None) -> sa.ColumnElement[bool]:
    if user_id is None:
        return BehavioralModel.user_id.is_(None)
    return BehavioralModel.user_id == user_id


def active_row(user_id: int | None, kind: str) -> BehavioralModel | None:
    return db.session.scalar(
        sa.select(BehavioralModel).where(
            _owner_is(user_id), BehavioralModel.kind == kind, BehavioralModel.is_active.is_(True)
        )
    )


def store_version(
    user_id: int | None, kind: str, params: dict[str, Any], metrics: dict[str, Any]
) -> tuple[BehavioralModel, bool]:
    """Store ``params`` as the new active version of (user, kind) and commit; returns the
    row and whether it is new. A run that trained on exactly the data of the active
    version (a task delivered twice, or two runs at once) stores nothing new."""
    for attempt in (1, 2):
        try:
            return _store_version(user_id, kind, params, metrics)
        except IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _store_version(
    user_id: int | None, kind: str, params: dict[str, Any], metrics: dict[str, Any]
) -> tuple[BehavioralModel, bool]:
    _lock_owner(user_id)
    active = active_row(user_id, kind)
    if active is not None and _same_data(active.metrics or {}, metrics):
        db.session.commit()
        return active, False
    latest = db.session.scalar(
        sa.select(sa.func.max(BehavioralModel.version)).where(
            _owner_is(user_id), BehavioralModel.kind == kind
        )
    )
    if active is not None:
        active.is_active = False
        db.session.flush()
    row = BehavioralModel(
        user_id=user_id,
        kind=kind,
        version=(latest or 0) + 1,
        algorithm=POPULATION_ALGORITHM if user_id is None else ALGORITHMS[kind],
        parameters=params,
        metrics=metrics,
        training_samples=int(metrics.get("samples", 0)),
        is_active=True,
    )
    db.session.add(row)
    db.session.commit()
    return row, True


def _same_data(old: dict[str, Any], new: dict[str, Any]) -> bool:
    keys = ("last_sample_id", "samples", "trigger")
    return all(old.get(k) == new.get(k) for k in keys)


# --- serving ------------------------------------------------------------------------------


def _entry(row: BehavioralModel) -> dict[str, Any]:
    return {
        "model_id": row.id,
        "version": row.version,
        "algorithm": row.algorithm,
        "parameters": row.parameters,
    }


def _schedule_retraining(user_id: int, row: BehavioralModel, reason: str) -> None:
    log.warning(
        "behavioural model %s of user %s is invalid (%s): retraining", row.id, user_id, reason
    )
    row.is_active = False
    db.session.commit()
    try:
        task_sender.send(RETRAIN_TASK, args=(user_id,))
    except ServiceUnavailable:
        log.warning("could not queue retraining of user %s: broker unavailable", user_id)


def _from_database(user_id: int) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for kind in (models.KEYSTROKE, models.MOUSE):
        row = active_row(user_id, kind)
        document[kind] = None
        if row is None:
            continue
        try:
            models.validated(row.parameters)
        except models.InvalidModel as exc:
            _schedule_retraining(user_id, row, str(exc))
            continue
        document[kind] = _entry(row)
    return document


def refresh_cache(user_id: int) -> dict[str, Any]:
    """Cache the user's active models as they are in the database now; returns them."""
    document = _from_database(user_id)
    try:
        cache_service.cache_behavioral_model(user_id, document)
    except CacheUsageError as exc:  # too large for one cached value: served from the DB
        log.warning("behavioural models of user %s not cached: %s", user_id, exc)
        cache_service.delete(CacheType.BEHAVIORAL_MODEL, user_id)
    return document


def _valid_entry(entry: object) -> bool:
    if not isinstance(entry, dict) or not isinstance(entry.get("version"), int):
        return False
    try:
        models.validated(entry.get("parameters"))
    except models.InvalidModel:
        return False
    return True


def active_model(user_id: int, kind: str) -> dict[str, Any] | None:
    """The user's active model of ``kind`` ({model_id, version, algorithm, parameters}), or
    None when there is none usable. Cache first, then the database; a cached document
    that fails validation is dropped and reloaded, a stored one is retrained."""
    if kind not in (models.KEYSTROKE, models.MOUSE):
        raise ValueError(f"unknown model kind {kind!r}")
    cached = cache_service.get_behavioral_model(user_id)
    if isinstance(cached, dict) and kind in cached:
        entry = cached[kind]
        if entry is None or _valid_entry(entry):
            return entry
        log.warning("cached behavioural model of user %s is invalid: reloading", user_id)
    return refresh_cache(user_id)[kind]


# --- the population model -----------------------------------------------------------------


def population_parameters(actions: np.ndarray, owners: list[int]) -> dict[str, Any]:
    return {
        "kind": models.MOUSE,
        "version": models.MODEL_VERSION,
        "population": True,
        "features": list(ACTION_FEATURES),
        "actions": np.round(actions, 5).tolist(),
        "owners": owners,
    }


def population_background(exclude_user_id: int) -> np.ndarray:
    """The active population model's actions that are not ``exclude_user_id``'s (empty when
    there is no usable population model)."""
    width = len(ACTION_FEATURES)
    row = active_row(None, models.MOUSE)
    params = row.parameters if row is not None else None
    try:
        actions = np.asarray(params["actions"], dtype=float)  # type: ignore[index]
        owners = np.asarray(params["owners"], dtype=int)  # type: ignore[index]
        if actions.ndim != 2 or actions.shape[1] != width or len(owners) != len(actions):
            raise ValueError("shape")
        if not np.isfinite(actions).all():
            raise ValueError("not finite")
    except (TypeError, KeyError, ValueError):
        return np.empty((0, width))
    return actions[owners != exclude_user_id]


# --- pruning ------------------------------------------------------------------------------


def prune_versions(keep: int) -> int:
    """Delete all but the ``keep`` newest versions of each (user, kind), never an active
    one; returns how many rows went."""
    rank = (
        sa.func.row_number()
        .over(
            partition_by=(BehavioralModel.user_id, BehavioralModel.kind),
            order_by=BehavioralModel.version.desc(),
        )
        .label("rank")
    )
    ranked = sa.select(BehavioralModel.id, BehavioralModel.is_active, rank).subquery()
    doomed = sa.select(ranked.c.id).where(ranked.c.rank > keep, ranked.c.is_active.is_(False))
    result = db.session.execute(
        sa.delete(BehavioralModel)
        .where(BehavioralModel.id.in_(doomed))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return int(result.rowcount or 0)
