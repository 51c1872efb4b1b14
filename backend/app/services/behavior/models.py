"""Per-user behavioural models: fit on enrolment telemetry, score a batch, all as JSON.

``fit_*`` take telemetry (or the features of it) and return the model's parameters as a
dict of plain numbers and lists — what the database and the cache store (never pickle).
``score`` takes those parameters and a telemetry batch ``{keystrokes, mouseMovements,
clicks}`` and returns ``{"status": "scored", "anomaly": a, "samples": n}`` with a in [0, 1]
(1 = unlike the user), or ``{"status": "insufficient_data", ...}`` while the model is still
enrolling (the cold-start rule below) or the batch holds nothing it can score.
``validated`` checks parameters read back from storage before they are trusted.

The cold-start rule (the MIN_* constants) is set from the learning curves that
``bench/behavior_learning_curve.py`` measures on the tuning part of each benchmark
(bench/RESULTS.md, "Behaviour models").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from app.services.behavior import keystroke_model, mouse_model
from app.services.behavior.keystroke_features import fixed_text_vectors
from app.services.behavior.mouse_features import (
    ACTION_FEATURES,
    count_mouse_actions,
    mouse_actions,
)

MODEL_VERSION = 1
KEYSTROKE = "keystroke"
MOUSE = "mouse"

# Typings of the password before its model scores. Enrolled on the first n typings, the
# CMU tuning subjects' mean EER is 0.515 / 0.367 / 0.293 / 0.194 / 0.076 / 0.038 at
# n = 5 / 10 / 20 / 50 / 100 / 200: at 100 it is below scaled Manhattan with all 200
# (0.114), while at 50 it is still above it. (Enrolled on the n typings just before the
# test half instead, the EER is 0.039-0.049 from n = 5 on: what the first typings lack is
# practice, which a count of typings stands for.)
MIN_KEYSTROKE_SAMPLES = 100
# Mouse actions before the model scores. On the Balabit tuning users the mean AUC is
# 0.969 / 0.983 / 0.978 / 0.982 / 0.986 / 0.970 / 0.982 with the first 50 / 100 / 200 /
# 500 / 1000 / 2000 / 4000 actions: flat within noise from 100 actions on. With only two
# other users as background there, the rule takes five times that: 500 actions, about 17
# minutes of active mouse use.
MIN_MOUSE_ACTIONS = 500
# A batch needs this many actions for its mean to mean something (a guard, not measured).
MIN_MOUSE_ACTIONS_PER_BATCH = 5

Telemetry = Mapping[str, Any]


class InvalidModel(ValueError):
    """Stored parameters that are not a model of this version: retrain, do not trust."""


def _not_enrolled(kind: str, n: int, extra: dict | None = None) -> dict:
    return {
        "kind": kind,
        "version": MODEL_VERSION,
        "enrolled": False,
        "samples": n,
        **(extra or {}),
    }


def fit_keystroke_vectors(vectors: list[np.ndarray], field: str = "password") -> dict:
    """Parameters from fixed-text timing vectors (oldest first)."""
    if len(vectors) < MIN_KEYSTROKE_SAMPLES:
        return _not_enrolled(KEYSTROKE, len(vectors), {"field": field})
    params = keystroke_model.fit_template(vectors)
    return {
        "kind": KEYSTROKE,
        "version": MODEL_VERSION,
        "enrolled": True,
        "samples": len(vectors),
        "field": field,
        **params,
    }


def fit_keystroke(batches: Iterable[Telemetry], field: str = "password") -> dict:
    """Parameters from enrolment batches (oldest first): every clean entry of ``field``."""
    vectors = [v for b in batches for v in fixed_text_vectors(b.get("keystrokes", []), field)]
    return fit_keystroke_vectors(vectors, field)


def fit_mouse_actions(own: np.ndarray, background: np.ndarray) -> dict:
    """Parameters from the user's action features against other users' (the background)."""
    if len(own) < MIN_MOUSE_ACTIONS:
        return _not_enrolled(MOUSE, len(own))
    params = mouse_model.fit_forest(own, background)
    return {
        "kind": MOUSE,
        "version": MODEL_VERSION,
        "enrolled": True,
        "samples": len(own),
        **params,
    }


def batch_actions(batch: Telemetry) -> np.ndarray:
    return mouse_actions(batch.get("mouseMovements", []), batch.get("clicks", []))


def fit_mouse(batches: Iterable[Telemetry], background: Iterable[Telemetry]) -> dict:
    """Parameters from the user's enrolment batches against other users' batches."""
    width = len(ACTION_FEATURES)
    own = np.vstack([np.empty((0, width)), *map(batch_actions, batches)])
    others = np.vstack([np.empty((0, width)), *map(batch_actions, background)])
    return fit_mouse_actions(own, others)


def validated(params: object) -> dict:
    """``params`` if they are a well-formed model of this version, else InvalidModel.
    Call it once on parameters read back from the database or the cache."""
    try:
        if not isinstance(params, dict) or params.get("version") != MODEL_VERSION:
            raise ValueError(f"not a version {MODEL_VERSION} model")
        if params.get("kind") not in (KEYSTROKE, MOUSE):
            raise ValueError(f"unknown model kind {params.get('kind')!r}")
        if not isinstance(params.get("enrolled"), bool):
            raise ValueError("enrolled must be true or false")
        if params["kind"] == KEYSTROKE and not isinstance(params.get("field"), str):
            raise ValueError("a keystroke model names its field")
        if params["enrolled"] and params["kind"] == KEYSTROKE:
            keystroke_model.check(params)
        elif params["enrolled"]:
            mouse_model.check(params, len(ACTION_FEATURES))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidModel(str(exc)) from exc
    return params


def _insufficient(samples: int) -> dict:
    return {"status": "insufficient_data", "anomaly": None, "samples": samples}


def score_features(params: Mapping[str, Any], features: np.ndarray) -> dict:
    """Score already extracted features (typing vectors or action rows) of one batch."""
    if not params.get("enrolled"):
        return _insufficient(0)
    if params["kind"] == KEYSTROKE:
        features = np.asarray(
            [v for v in features if len(v) == keystroke_model.dimension(params)], dtype=float
        )
        if len(features) == 0:
            return _insufficient(0)
        values = keystroke_model.anomaly(params, features)
    elif params["kind"] == MOUSE:
        if len(features) < MIN_MOUSE_ACTIONS_PER_BATCH:
            return _insufficient(len(features))
        values = mouse_model.impostor_probability(params, features)
    else:
        raise InvalidModel(f"unknown model kind {params['kind']!r}")
    return {"status": "scored", "anomaly": float(np.mean(values)), "samples": len(features)}


def score(params: Mapping[str, Any], batch: Telemetry) -> dict:
    """The anomaly of a telemetry batch under a user's model (see the module docstring)."""
    if params.get("kind") == KEYSTROKE:
        features = fixed_text_vectors(batch.get("keystrokes", []), params["field"])
    else:
        features = batch_actions(batch)
    return score_features(params, features)


PASSWORD_FIELD = "password"  # noqa: S105 - the input field's id, not a password


def usable_counts(batch: Telemetry) -> dict[str, int]:
    """What a batch gives each model kind: typings of the password field, mouse actions.
    Cheap enough to count as a batch is stored (no features computed), so that showing a
    user's enrolment never re-reads their telemetry."""
    return {
        KEYSTROKE: len(fixed_text_vectors(batch.get("keystrokes", []), PASSWORD_FIELD)),
        MOUSE: count_mouse_actions(batch.get("mouseMovements", []), batch.get("clicks", [])),
    }
