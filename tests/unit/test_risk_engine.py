"""The engine's arithmetic: explained scores, levels and the default decision (no I/O)."""

from __future__ import annotations

import math

import pytest

from app.services.risk.engine import (
    Behaviour,
    Thresholds,
    combine,
    decide,
    level_of,
)
from app.services.risk.factors import Factor

CONTEXT = [
    Factor("new_network", 20.0, "No earlier sign-in came from 203.0.113.0/24."),
    Factor("failed_logins", 15.0, "3 failed logins in the last 30 minutes."),
    Factor("unusual_hour", 0.0, "Neutral: 2 earlier sign-ins, 10 needed."),
    Factor("new_device", 15.0, "First sign-in from this device."),
]


def assessed(behaviour: Behaviour, context: list[Factor] = CONTEXT):
    return combine("8c6f4a52-1d1b-4c55-9f3e-2f0f7d5d0a11", 7, behaviour, context)


def test_factors_largest_first_and_summing_to_the_score() -> None:
    result = assessed(Behaviour("scored", model_version=3, anomaly=0.4))
    contributions = [f.contribution for f in result.factors]
    assert contributions == sorted(contributions, reverse=True)
    assert [f.name for f in result.factors][:2] == ["behaviour_anomaly", "new_network"]
    assert result.score == 74.0
    assert math.isclose(sum(contributions), result.score)
    assert result.behavioral_score == 24.0 and result.context_score == 50.0
    assert result.factors[0].detail == "Behaviour anomaly 0.40 against model version 3."
    # Equal contributions are ordered by name, so the same input explains the same way.
    assert [f.name for f in result.factors][2:4] == ["failed_logins", "new_device"]


@pytest.mark.parametrize("status", ["insufficient_data", "no_model"])
def test_without_a_behaviour_score_risk_rests_on_context(status: str) -> None:
    result = assessed(Behaviour(status, anomaly=0.9))
    assert result.score == 50.0 == result.context_score
    assert result.behavioral_score is None
    behaviour = next(f for f in result.factors if f.name == "behaviour_anomaly")
    assert behaviour.contribution == 0.0
    assert behaviour.detail == f"No behavioural score ({status}): risk rests on context alone."
    assert result.to_payload()["behaviour"] == {
        "status": status,
        "model_version": None,
        "anomaly": None,
    }


def test_a_sum_beyond_100_is_scaled_keeping_the_order_and_the_sum() -> None:
    heavy = [Factor(f"f{n}", 20.0 + n, "x") for n in range(5)]  # 110 points of context
    result = assessed(Behaviour("scored", model_version=1, anomaly=1.0), heavy)
    assert result.score == 100.0
    assert math.isclose(sum(f.contribution for f in result.factors), 100.0)
    assert result.factors[0].name == "behaviour_anomaly"
    contributions = [f.contribution for f in result.factors]
    assert contributions == sorted(contributions, reverse=True)
    assert result.level == "high" and result.decision["action"] == "terminate"


@pytest.mark.parametrize(
    ("score", "level", "action"),
    [
        (0.0, "low", "allow"),
        (29.9, "low", "allow"),
        (30.0, "medium", "allow"),
        (59.9, "medium", "allow"),
        (60.0, "high", "step_up"),
        (84.9, "high", "step_up"),
        (85.0, "high", "terminate"),
        (100.0, "high", "terminate"),
    ],
)
def test_level_and_decision_boundaries(score: float, level: str, action: str) -> None:
    assert level_of(score) == level
    assert decide(score) == action
    result = assessed(Behaviour("no_model"), [Factor("new_network", score, "x")])
    assert (result.score, result.level, result.decision["action"]) == (score, level, action)


def test_decide_takes_other_thresholds() -> None:
    strict = Thresholds(step_up=40.0, terminate=70.0)
    assert [decide(s, strict) for s in (39.9, 40.0, 69.9, 70.0)] == [
        "allow",
        "step_up",
        "step_up",
        "terminate",
    ]


def test_payload_has_the_risk_score_update_fields() -> None:
    payload = assessed(Behaviour("scored", model_version=2, anomaly=0.5)).to_payload()
    assert set(payload) == {
        "session_id",
        "user_id",
        "score",
        "level",
        "factors",
        "behaviour",
        "decision",
        "assessed_at",
    }
    assert payload["decision"] == {
        "action": "step_up",
        "policy_id": None,
        "policy_version": None,
        "enforced": False,
    }
    assert set(payload["factors"][0]) == {"name", "contribution", "detail"}
    assert payload["behaviour"] == {"status": "scored", "model_version": 2, "anomaly": 0.5}


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "scored", "anomaly": None},
        {"status": "scored", "anomaly": float("nan")},
        {"status": "scored", "anomaly": 1.5},
        {"status": "scored", "anomaly": -0.1},
        {"status": "scored", "anomaly": "0.5"},
        {"status": "scored", "anomaly": True},
        {"status": "enrolling"},
        {"anomaly": 0.5},
    ],
)
def test_a_malformed_behaviour_part_is_refused(fields: dict) -> None:
    with pytest.raises(ValueError):
        Behaviour.from_json(fields)
