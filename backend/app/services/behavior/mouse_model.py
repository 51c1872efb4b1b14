"""Mouse model: extremely randomised trees telling the user's actions from other users'.

Chosen by measurement on the Balabit tuning users (see ``models`` and bench/RESULTS.md,
"Behaviour models"): per-action trees against other users' actions as background beat a
logistic regression, a random forest and gradient boosting there. A session's anomaly is
the mean over its actions of the trees' probability that the action is someone else's.

The forest is exported to plain JSON — per tree, parallel lists of split feature (-1 at a
leaf), threshold, left and right child and the leaf's probability — and evaluated here with
numpy, so no estimator object is ever stored or unpickled.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier

TREES = 50
MAX_DEPTH = 8
MIN_LEAF = 10
SEED = 0


def _transform(actions: np.ndarray) -> np.ndarray:
    """Signed log of the magnitudes (the kind one-hot stays as it is), as float32 since the
    trees' thresholds were learned on float32 values."""
    out = np.array(actions, dtype=float)
    out[:, 3:] = np.sign(out[:, 3:]) * np.log1p(np.abs(out[:, 3:]))
    return out.astype(np.float32)


def _export(tree) -> dict:
    t = tree.tree_
    leaf = t.children_left == -1
    counts = t.value[:, 0, :]
    impostor = counts[:, 1] / np.maximum(counts.sum(axis=1), 1e-12)
    return {
        "feature": np.where(leaf, -1, t.feature).astype(int).tolist(),
        "threshold": [float(v) for v in np.where(leaf, 0.0, t.threshold)],
        "left": t.children_left.astype(int).tolist(),
        "right": t.children_right.astype(int).tolist(),
        "value": np.round(np.where(leaf, impostor, 0.0), 5).tolist(),
    }


def fit_forest(own: np.ndarray, background: np.ndarray) -> dict:
    """Trees from the user's actions (class 0) against background actions (class 1)."""
    if len(own) == 0 or len(background) == 0:
        raise ValueError("the user's and the background's actions are both needed")
    x = _transform(np.vstack([own, background]))
    y = np.r_[np.zeros(len(own)), np.ones(len(background))]
    forest = ExtraTreesClassifier(
        n_estimators=TREES,
        max_depth=MAX_DEPTH,
        min_samples_leaf=MIN_LEAF,
        class_weight="balanced",
        random_state=SEED,
        n_jobs=1,
    ).fit(x, y)
    return {"trees": [_export(tree) for tree in forest.estimators_]}


def _tree_predict(tree: dict, x: np.ndarray) -> np.ndarray:
    feature = np.asarray(tree["feature"])
    threshold = np.asarray(tree["threshold"])
    left, right = np.asarray(tree["left"]), np.asarray(tree["right"])
    node = np.zeros(len(x), dtype=int)
    rows = np.arange(len(x))
    for _ in range(len(feature)):
        split = feature[node] >= 0
        if not split.any():
            break
        f = np.where(split, feature[node], 0)
        go_left = x[rows, f] <= threshold[node]
        node = np.where(split, np.where(go_left, left[node], right[node]), node)
    return np.asarray(tree["value"])[node]


def impostor_probability(params: dict, actions: np.ndarray) -> np.ndarray:
    """Per action, the forest's probability that it is not the user's."""
    x = _transform(actions)
    return np.mean([_tree_predict(tree, x) for tree in params["trees"]], axis=0)


def check(params: dict, n_features: int) -> None:
    """Raise ValueError unless ``params`` is a well-formed exported forest: parallel lists,
    splits on existing features, children after their parent (so a walk ends), leaf
    probabilities in [0, 1]."""
    trees = params["trees"]
    if not isinstance(trees, list) or not trees:
        raise ValueError("no trees")
    for tree in trees:
        feature = np.asarray(tree["feature"], dtype=float)
        n = feature.size
        columns = [feature] + [np.asarray(tree[k], dtype=float) for k in ("left", "right")]
        threshold = np.asarray(tree["threshold"], dtype=float)
        value = np.asarray(tree["value"], dtype=float)
        if n == 0 or any(c.shape != (n,) for c in [*columns, threshold, value]):
            raise ValueError("a tree's lists differ in length")
        if not (np.isfinite(threshold).all() and ((value >= 0) & (value <= 1)).all()):
            raise ValueError("thresholds must be finite, leaf values in [0, 1]")
        feature, left, right = columns
        split = feature >= 0
        index = np.arange(n)
        if not ((feature >= -1) & (feature < n_features) & (feature == np.round(feature))).all():
            raise ValueError("a split on a feature that does not exist")
        for child in (left, right):
            if not ((child[split] > index[split]) & (child[split] < n)).all():
                raise ValueError("a child that is not after its parent")
