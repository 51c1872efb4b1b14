"""Verification metrics over anomaly scores (higher = less like the user)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def _labelled(genuine: np.ndarray, impostor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.concatenate([np.asarray(genuine, float), np.asarray(impostor, float)])
    labels = np.concatenate([np.zeros(len(genuine)), np.ones(len(impostor))])
    return labels, scores


def error_rates(genuine, impostor) -> tuple[np.ndarray, np.ndarray]:
    """False accept rate (impostors passed) and false reject rate (genuine refused) at
    every distinct threshold, in ROC order."""
    labels, scores = _labelled(genuine, impostor)
    false_reject, impostor_caught, _ = roc_curve(labels, scores)
    return 1.0 - impostor_caught, false_reject


def equal_error_rate(genuine, impostor) -> float:
    """The rate where false accepts meet false rejects (the mean of the two at the closest
    threshold, as Killourhy & Maxion's evaluation does)."""
    far, frr = error_rates(genuine, impostor)
    i = int(np.argmin(np.abs(far - frr)))
    return float((far[i] + frr[i]) / 2.0)


def auc(genuine, impostor) -> float:
    labels, scores = _labelled(genuine, impostor)
    return float(roc_auc_score(labels, scores))


def summary(per_subject: dict[str, float]) -> tuple[float, float]:
    values = np.asarray(list(per_subject.values()), dtype=float)
    return float(values.mean()), float(values.std())
