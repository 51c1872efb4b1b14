"""Behaviour models: JSON parameters that score the same after a round trip, the cold-start
rule, and anomalies that tell the user from someone else."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier

from app.services.behavior import models, mouse_model
from app.services.behavior.datasets import cmu_row_keystrokes, read_balabit_session
from app.services.behavior.mouse_features import ACTION_FEATURES
from tests.unit.behavior_data import CMU_KEYS, cmu_header, mouse_rows, typist_rows


def typings(seed: int, n: int) -> list[dict]:
    """``n`` telemetry batches, one typing of the password each, by typist ``seed``."""
    header = cmu_header()
    return [
        {
            "keystrokes": cmu_row_keystrokes(
                dict(zip(header, map(str, row), strict=True)), list(CMU_KEYS)
            )
        }
        for row in typist_rows(f"s{seed}", seed, reps=n)
    ]


def mouse_batch(style: int, actions: int, seed: int, tmp_path) -> dict:
    path = tmp_path / f"session_{style}_{seed}"
    lines = ["record timestamp,client timestamp,button,state,x,y"]
    lines += [",".join(map(str, row)) for row in mouse_rows(style, actions, seed)]
    path.write_text("\n".join(lines) + "\n")
    session = read_balabit_session(path)
    return {"mouseMovements": session.movements, "clicks": session.clicks}


def round_trip(params: dict) -> dict:
    return json.loads(json.dumps(params, allow_nan=False))


def test_a_keystroke_model_scores_the_same_after_a_json_round_trip() -> None:
    params = models.fit_keystroke(typings(1, models.MIN_KEYSTROKE_SAMPLES))
    assert params["enrolled"] and params["kind"] == "keystroke"
    stored = round_trip(params)
    for batch in typings(1, 3) + typings(2, 3):
        assert models.score(stored, batch) == models.score(params, batch)


def test_the_keystroke_model_tells_the_typist_from_another() -> None:
    params = models.fit_keystroke(typings(1, 150)[:120])
    own = [models.score(params, b)["anomaly"] for b in typings(1, 150)[120:]]
    other = [models.score(params, b)["anomaly"] for b in typings(2, 30)]
    assert all(0.0 <= a <= 1.0 for a in own + other)
    assert np.median(own) < 0.5 < min(other)


def test_keystroke_cold_start_rule() -> None:
    batches = typings(1, models.MIN_KEYSTROKE_SAMPLES)
    early = models.fit_keystroke(batches[:-1])
    assert early == {
        "kind": "keystroke",
        "version": models.MODEL_VERSION,
        "enrolled": False,
        "samples": models.MIN_KEYSTROKE_SAMPLES - 1,
        "field": "password",
    }
    assert models.score(round_trip(early), batches[0])["status"] == "insufficient_data"
    enrolled = models.fit_keystroke(batches)
    assert models.score(enrolled, batches[0])["status"] == "scored"
    # a batch with no clean typing of the password cannot be scored either
    no_password = {"keystrokes": [{**k, "field": "text"} for k in batches[0]["keystrokes"]]}
    assert models.score(enrolled, no_password) == {
        "status": "insufficient_data",
        "anomaly": None,
        "samples": 0,
    }


def test_mouse_model_round_trip_cold_start_and_separation(tmp_path) -> None:
    own = [mouse_batch(0, 300, seed, tmp_path) for seed in (1, 2)]
    others = [mouse_batch(style, 300, 10 + style, tmp_path) for style in (1, 2)]
    early = models.fit_mouse(own[:1], others)  # 300 actions: still enrolling
    assert early["enrolled"] is False and early["samples"] == 300
    assert models.score(early, own[0])["status"] == "insufficient_data"

    params = models.fit_mouse(own, others)
    assert params["enrolled"] and params["samples"] == 600 >= models.MIN_MOUSE_ACTIONS
    stored = round_trip(params)
    genuine = mouse_batch(0, 40, 99, tmp_path)
    impostor = mouse_batch(2, 40, 98, tmp_path)
    assert models.score(stored, genuine) == models.score(params, genuine)
    assert models.score(stored, impostor) == models.score(params, impostor)
    assert (
        models.score(stored, genuine)["anomaly"] < 0.3 < models.score(stored, impostor)["anomaly"]
    )
    short = mouse_batch(0, models.MIN_MOUSE_ACTIONS_PER_BATCH - 1, 97, tmp_path)
    assert models.score(stored, short)["status"] == "insufficient_data"


def test_the_exported_forest_predicts_what_scikit_learn_does() -> None:
    rng = np.random.default_rng(0)
    width = len(ACTION_FEATURES)
    own = rng.normal(0, 1, (400, width))
    background = rng.normal(0.5, 1.5, (400, width))
    params = round_trip(mouse_model.fit_forest(own, background))
    reference = ExtraTreesClassifier(
        n_estimators=mouse_model.TREES,
        max_depth=mouse_model.MAX_DEPTH,
        min_samples_leaf=mouse_model.MIN_LEAF,
        class_weight="balanced",
        random_state=mouse_model.SEED,
    ).fit(mouse_model._transform(np.vstack([own, background])), np.r_[np.zeros(400), np.ones(400)])
    probe = rng.normal(0.2, 1.2, (200, width))
    expected = reference.predict_proba(mouse_model._transform(probe))[:, 1]
    assert mouse_model.impostor_probability(params, probe) == pytest.approx(expected, abs=1e-4)


def _plain(value: object) -> bool:
    if isinstance(value, dict):
        return all(type(k) is str and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(map(_plain, value))
    return value is None or type(value) in (str, int, float, bool)


def test_parameters_are_plain_python_numbers_and_lists(tmp_path) -> None:
    keystroke = models.fit_keystroke(typings(3, models.MIN_KEYSTROKE_SAMPLES))
    mouse = models.fit_mouse([mouse_batch(0, 600, 1, tmp_path)], [mouse_batch(1, 300, 2, tmp_path)])
    for params in (keystroke, mouse):
        assert _plain(params), "numpy values would not survive the cache as they are"
        assert json.loads(json.dumps(params, allow_nan=False)) == params


def _tampered(params: dict, path: tuple, value: object) -> dict:
    copy = round_trip(params)
    target = copy
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return copy


def test_stored_parameters_that_are_not_a_model_are_refused(tmp_path) -> None:
    keystroke = models.fit_keystroke(typings(1, models.MIN_KEYSTROKE_SAMPLES))
    mouse = models.fit_mouse([mouse_batch(0, 600, 1, tmp_path)], [mouse_batch(1, 300, 2, tmp_path)])
    assert models.validated(round_trip(keystroke)) == keystroke
    assert models.validated(round_trip(mouse)) == mouse
    assert models.validated(models.fit_keystroke([]))["enrolled"] is False
    tree = mouse["trees"][0]
    split = next(i for i, f in enumerate(tree["feature"]) if f >= 0)
    bad = [
        _tampered(keystroke, ("version",), models.MODEL_VERSION + 1),
        _tampered(keystroke, ("kind",), "gait"),
        _tampered(keystroke, ("enrolled",), "yes"),
        _tampered(keystroke, ("scale",), KeyError),
        _tampered(keystroke, ("scale", 0), 0.0),
        _tampered(keystroke, ("template", 0, 0), float("nan")),
        _tampered(keystroke, ("template", 1), [1.0, 2.0]),
        _tampered(keystroke, ("spread",), "wide"),
        _tampered(mouse, ("trees",), []),
        _tampered(mouse, ("trees", 0, "left", split), split),  # a loop
        _tampered(mouse, ("trees", 0, "feature", split), len(ACTION_FEATURES)),
        _tampered(mouse, ("trees", 0, "value", -1), 2.0),
        _tampered(mouse, ("trees", 0, "threshold"), tree["threshold"][:-1]),
        "not a model",
        None,
    ]
    for params in bad:
        with pytest.raises(models.InvalidModel):
            models.validated(params)
