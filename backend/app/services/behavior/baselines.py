"""The in-run baselines the models are compared with, on the same features.

Keystrokes: scaled Manhattan distance to the mean enrolment typing, each feature scaled by
its mean absolute deviation (Killourhy & Maxion 2009's best detector).
Mouse: per-action scaled Manhattan distance to the mean training action over path length,
straightness, duration, speed, acceleration, angle change and direction; a session's score
is the median of its actions' distances (the data set's README baseline).
"""

from __future__ import annotations

import numpy as np

from app.services.behavior.mouse_features import ACTION_FEATURES

_MOUSE_COLUMNS = [
    ACTION_FEATURES.index(name)
    for name in (
        "path_px",
        "straightness",
        "duration_ms",
        "speed_mean",
        "accel_mean",
        "angle_change_sum",
        "direction_sin",
        "direction_cos",
    )
]


class ScaledManhattan:
    def __init__(self, training: np.ndarray) -> None:
        self.mean = training.mean(axis=0)
        self.scale = np.maximum(np.abs(training - self.mean).mean(axis=0), 1e-9)

    def distance(self, vectors: np.ndarray) -> np.ndarray:
        return (np.abs(np.asarray(vectors, float) - self.mean) / self.scale).sum(axis=1)


class StrokeDistance:
    def __init__(self, training_actions: np.ndarray) -> None:
        self.detector = ScaledManhattan(training_actions[:, _MOUSE_COLUMNS])

    def session_score(self, actions: np.ndarray) -> float:
        if len(actions) == 0:
            return 0.0
        return float(np.median(self.detector.distance(actions[:, _MOUSE_COLUMNS])))
