"""DET (keystrokes) and ROC (mouse) curves of an evaluation, model beside baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.services.behavior import metrics
from app.services.behavior.evaluation import Evaluation

_GRID = np.linspace(0.0, 1.0, 201)


def _mean_curve(curves: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Vertical average of per-subject curves (y at each x of a common grid)."""
    ys = []
    for x, y in curves:
        order = np.lexsort((y, x))
        ys.append(np.interp(_GRID, x[order], y[order]))
    return np.mean(ys, axis=0)


def save_curves(result: Evaluation, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 6))
    for label, scores, style in (
        ("model", result.scores, "-"),
        ("baseline", result.baseline_scores, "--"),
    ):
        curves = []
        for genuine, impostor in scores.values():
            far, frr = metrics.error_rates(genuine, impostor)
            # DET: false reject against false accept; ROC: impostors caught against
            # genuine sessions flagged.
            curves.append((far, frr) if result.metric == "eer" else (frr, 1.0 - far))
        for x, y in curves:
            axes.plot(x, y, style, color="grey", alpha=0.25, linewidth=0.7)
        mean, std = metrics.summary(
            result.per_subject if label == "model" else result.baseline_per_subject
        )
        axes.plot(
            _GRID,
            _mean_curve(curves),
            style,
            linewidth=2,
            label=f"{label}: mean {result.metric.upper()} {mean:.3f} ± {std:.3f}",
        )
    if result.metric == "eer":
        axes.plot([0, 1], [0, 1], ":", color="black", linewidth=0.7)
        axes.set(xlabel="false accept rate", ylabel="false reject rate", xlim=(0, 0.5))
        axes.set_ylim(0, 0.5)
    else:
        axes.plot([0, 1], [0, 1], ":", color="black", linewidth=0.7)
        axes.set(xlabel="false positive rate (genuine flagged)", ylabel="true positive rate")
    axes.set_title(title)
    axes.legend(loc="upper right" if result.metric == "eer" else "lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
