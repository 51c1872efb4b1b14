"""Fixed-text typing model: capped scaled-Manhattan nearest neighbours over a recent window.

Chosen by measurement on the CMU benchmark's tuning subjects (see ``models`` and
bench/RESULTS.md, "Behaviour models"): against plain scaled Manhattan, three changes each
lowered the error — per-feature deviations capped at CAP (one wild timing no longer decides),
the mean distance to the K nearest enrolment typings instead of to their mean, and a
template of the WINDOW most recent typings only (rhythm drifts across sessions).

Parameters are plain JSON: the template vectors, the per-feature scale and two quantiles of
the template's own leave-one-out distances that map a distance onto an anomaly in [0, 1].
"""

from __future__ import annotations

from collections import Counter

import numpy as np

WINDOW = 50
K = 3
CAP = 3.0
_MIN_SCALE_MS = 1.0  # a timing that never varied still gets a scale
_LN9 = float(np.log(9.0))


def _distances(template: np.ndarray, scale: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Capped scaled-Manhattan distance from each vector to every template typing."""
    deviations = np.abs(vectors[:, None, :] - template[None, :, :]) / scale
    return np.minimum(deviations, CAP).sum(axis=2)


def _knn(distances: np.ndarray) -> np.ndarray:
    k = min(K, distances.shape[1])
    return np.sort(distances, axis=1)[:, :k].mean(axis=1)


def fit_template(vectors: list[np.ndarray]) -> dict:
    """Parameters from enrolment typings (oldest first); needs at least two of one length."""
    length = Counter(len(v) for v in vectors).most_common(1)[0][0]
    usable = [v for v in vectors if len(v) == length][-WINDOW:]
    if len(usable) < 2:
        raise ValueError("at least two typings of the same length are needed")
    template = np.vstack(usable)
    scale = np.maximum(np.abs(template - template.mean(axis=0)).mean(axis=0), _MIN_SCALE_MS)
    own = _distances(template, scale, template)
    np.fill_diagonal(own, np.inf)
    loo = _knn(own)
    median, high = np.quantile(loo, [0.5, 0.95])
    return {
        "template": np.round(template, 3).tolist(),
        "scale": np.round(scale, 4).tolist(),
        "median": float(median),
        "spread": float(max(high - median, 1e-6)),
    }


def anomaly(params: dict, vectors: np.ndarray) -> np.ndarray:
    """Per typing, an anomaly in [0, 1]: 0.1 at the template's own median distance, 0.5 at
    its 95th percentile, rising towards 1 beyond (strictly increasing in the distance)."""
    template = np.asarray(params["template"], dtype=float)
    scale = np.asarray(params["scale"], dtype=float)
    distance = _knn(_distances(template, scale, vectors))
    z = (distance - params["median"]) / params["spread"] - 1.0
    return 1.0 / (1.0 + np.exp(-_LN9 * np.clip(z, -50.0, 50.0)))


def dimension(params: dict) -> int:
    return len(params["scale"])


def check(params: dict) -> None:
    """Raise ValueError unless ``params`` is a well-formed fitted template."""
    template = np.asarray(params["template"], dtype=float)
    scale = np.asarray(params["scale"], dtype=float)
    if template.ndim != 2 or len(template) < 2 or template.shape[1] != scale.size:
        raise ValueError("template and scale do not match")
    spread, median = float(params["spread"]), float(params["median"])
    if not (np.isfinite(template).all() and np.isfinite([spread, median]).all()):
        raise ValueError("parameters must be finite")
    if not ((scale > 0).all() and np.isfinite(scale).all() and spread > 0):
        raise ValueError("scales must be positive")
