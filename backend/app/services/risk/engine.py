"""The risk engine: a session's behaviour anomaly and context become one explained score.

score = behaviour points + the context factors' points, on 0-100. Every factor of the
result carries its contribution and the contributions add up to the score, so the score is
its own explanation. When the raw sum passes 100 every contribution is scaled by the same
ratio (their order is kept; rounding is settled on the largest).

While the behaviour part is ``insufficient_data`` or ``no_model`` it adds nothing and risk
rests on context alone; its factor says so.

Weights: no labelled outcomes exist yet, so BEHAVIOUR_POINTS is set by hand: a fully
anomalous behaviour (anomaly 1.0) reaches the step-up threshold by itself, and it takes an
anomalous behaviour together with a strong context to reach termination. The policy work
tunes weights and thresholds from the outcomes of decisions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.database import utcnow
from app.models import UserSession
from app.services.cache_service import CacheService, cache_service
from app.services.risk.context import session_context
from app.services.risk.factors import Factor

BEHAVIOUR_POINTS = 60.0
MAX_SCORE = 100.0
BEHAVIOUR_STATUSES = ("scored", "insufficient_data", "no_model")

# Levels: low below LEVEL_MEDIUM_FROM, medium up to LEVEL_HIGH_FROM, high from there. High
# starts where the default policy steps a session up, so "high" always means "acted on".
LEVEL_MEDIUM_FROM = 30.0
LEVEL_HIGH_FROM = 60.0


@dataclass(frozen=True)
class Thresholds:
    """Where the decisions start (a score at the threshold takes the action)."""

    step_up: float = 60.0
    terminate: float = 85.0


DEFAULT_THRESHOLDS = Thresholds()


def decide(score: float, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> str:
    """``allow``, ``step_up`` or ``terminate`` for ``score``."""
    if score >= thresholds.terminate:
        return "terminate"
    if score >= thresholds.step_up:
        return "step_up"
    return "allow"


def level_of(score: float) -> str:
    if score >= LEVEL_HIGH_FROM:
        return "high"
    if score >= LEVEL_MEDIUM_FROM:
        return "medium"
    return "low"


@dataclass(frozen=True)
class Behaviour:
    """The behaviour part of an assessment: ``anomaly`` in [0, 1] when ``scored``."""

    status: str
    model_version: int | None = None
    anomaly: float | None = None

    def __post_init__(self) -> None:
        if self.status not in BEHAVIOUR_STATUSES:
            raise ValueError(f"behaviour status {self.status!r} is not one of {BEHAVIOUR_STATUSES}")
        if self.status == "scored":
            number = isinstance(self.anomaly, int | float) and not isinstance(self.anomaly, bool)
            if not number or not math.isfinite(self.anomaly):  # type: ignore[arg-type]
                raise ValueError("a scored behaviour needs a finite anomaly")
            if not 0.0 <= self.anomaly <= 1.0:
                raise ValueError("anomaly must be within [0, 1]")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Behaviour:
        if "status" not in data:
            raise ValueError("the behaviour part has no status")
        return cls(data["status"], data.get("model_version"), data.get("anomaly"))

    def to_json(self) -> dict[str, Any]:
        anomaly = self.anomaly if self.status == "scored" else None
        return {"status": self.status, "model_version": self.model_version, "anomaly": anomaly}


@dataclass(frozen=True)
class Assessment:
    session_id: str
    user_id: int
    score: float
    level: str
    factors: list[Factor]
    behavioral_score: float | None
    context_score: float
    behaviour: Behaviour
    decision: dict[str, Any] = field(default_factory=dict)
    assessed_at: datetime = field(default_factory=utcnow)

    def to_payload(self) -> dict[str, Any]:
        """The ``risk_score_update`` payload."""
        return {
            "session_id": self.session_id,
            "user_id": self.user_id,
            "score": self.score,
            "level": self.level,
            "factors": [f.to_json() for f in self.factors],
            "behaviour": self.behaviour.to_json(),
            "decision": dict(self.decision),
            "assessed_at": self.assessed_at.isoformat(),
        }


BEHAVIOUR_FACTOR = "behaviour_anomaly"


def behaviour_factor(behaviour: Behaviour) -> Factor:
    if behaviour.status != "scored":
        return Factor(
            BEHAVIOUR_FACTOR,
            0.0,
            f"No behavioural score ({behaviour.status}): risk rests on context alone.",
        )
    assert behaviour.anomaly is not None
    return Factor(
        BEHAVIOUR_FACTOR,
        behaviour.anomaly * BEHAVIOUR_POINTS,
        f"Behaviour anomaly {behaviour.anomaly:.2f} against model version "
        f"{behaviour.model_version}.",
    )


def _rounded(factors: list[Factor]) -> list[Factor]:
    """Contributions on one decimal, scaled into MAX_SCORE, sorted largest first."""
    raw_total = sum(f.contribution for f in factors)
    ratio = MAX_SCORE / raw_total if raw_total > MAX_SCORE else 1.0
    ordered = sorted(factors, key=lambda f: (-f.contribution, f.name))
    rounded = [Factor(f.name, round(f.contribution * ratio, 1), f.detail) for f in ordered]
    if ratio < 1.0 and rounded:
        residual = round(MAX_SCORE - sum(f.contribution for f in rounded), 1)
        top = rounded[0]
        rounded[0] = Factor(top.name, round(top.contribution + residual, 1), top.detail)
    return rounded


def combine(
    session_id: str,
    user_id: int,
    behaviour: Behaviour,
    context: list[Factor],
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    assessed_at: datetime | None = None,
) -> Assessment:
    """The assessment of a behaviour part and context factors (pure: no I/O)."""
    factors = _rounded([behaviour_factor(behaviour), *context])
    score = round(sum(f.contribution for f in factors), 1)
    behaviour_points = sum(f.contribution for f in factors if f.name == BEHAVIOUR_FACTOR)
    return Assessment(
        session_id=session_id,
        user_id=user_id,
        score=score,
        level=level_of(score),
        factors=factors,
        behavioral_score=round(behaviour_points, 1) if behaviour.status == "scored" else None,
        context_score=round(score - behaviour_points, 1),
        behaviour=behaviour,
        decision={
            "action": decide(score, thresholds),
            "policy_id": None,
            "policy_version": None,
            "enforced": False,
        },
        assessed_at=assessed_at or utcnow(),
    )


def assess(
    session: UserSession,
    behaviour: Behaviour | dict[str, Any],
    *,
    now: datetime | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    cache: CacheService = cache_service,
) -> Assessment:
    """Score ``session`` now: its behaviour part (a Behaviour or its JSON) and its context.

    The decision is the default thresholds' and is not enforced here.
    """
    if isinstance(behaviour, dict):
        behaviour = Behaviour.from_json(behaviour)
    now = now or utcnow()
    context = session_context(session, now=now, cache=cache)
    return combine(
        str(session.id), session.user_id, behaviour, context, thresholds=thresholds, assessed_at=now
    )
