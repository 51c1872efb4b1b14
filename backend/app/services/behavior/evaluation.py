"""Benchmarks of the behaviour models through the production path: raw telemetry items →
the live feature extractors → ``models.fit_*`` / ``models.score`` — with the in-run
baseline on the same features, per subject.

Protocols (the data sets' READMEs):
- CMU keystrokes: per subject, enrol on its first 200 typings, score its last 200 (genuine)
  and the first 5 of every other subject (impostors); the equal error rate per subject.
  A file with fewer typings per subject enrols on the first half.
- Balabit mouse: per user, fit on its training sessions against the other users' training
  actions as background, score each labelled test session; the ROC AUC per user.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.services.behavior import datasets, metrics, models
from app.services.behavior.baselines import ScaledManhattan, StrokeDistance
from app.services.behavior.keystroke_features import fixed_text_vectors

CMU_ENROL = 200
CMU_IMPOSTOR_TYPINGS = 5
# Score of a session the model cannot score (too few actions): neither side's.
UNSCORED = 0.5


@dataclass
class Evaluation:
    metric: str  # "eer" or "auc"
    per_subject: dict[str, float] = field(default_factory=dict)
    baseline_per_subject: dict[str, float] = field(default_factory=dict)
    # (genuine scores, impostor scores) per subject, for the curves
    scores: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    baseline_scores: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        mean, std = metrics.summary(self.per_subject)
        baseline_mean, _ = metrics.summary(self.baseline_per_subject)
        return {
            "metric": self.metric,
            "mean": mean,
            "std": std,
            "baseline_mean": baseline_mean,
            "per_subject": dict(self.per_subject),
            "baseline_per_subject": dict(self.baseline_per_subject),
        }

    def record(self, subject: str, model: tuple, baseline: tuple) -> None:
        measure = metrics.equal_error_rate if self.metric == "eer" else metrics.auc
        self.scores[subject] = model
        self.baseline_scores[subject] = baseline
        self.per_subject[subject] = measure(*model)
        self.baseline_per_subject[subject] = measure(*baseline)


def _typings(
    samples: Iterable[datasets.TypingSample], subjects: set[str] | None
) -> dict[str, list[datasets.TypingSample]]:
    by_subject: dict[str, list[datasets.TypingSample]] = defaultdict(list)
    for sample in samples:
        if subjects is None or sample.subject in subjects:
            by_subject[sample.subject].append(sample)
    for typings in by_subject.values():
        typings.sort(key=lambda s: (s.session, s.rep))
    return by_subject


def _vector(sample: datasets.TypingSample) -> np.ndarray:
    vectors = fixed_text_vectors(sample.keystrokes, datasets.PASSWORD_FIELD)
    if len(vectors) != 1:
        raise datasets.DatasetError(f"{sample.subject} rep {sample.rep}: not one clean typing")
    return vectors[0]


def cmu_split(typings: list) -> tuple[list, list]:
    enrol = min(CMU_ENROL, len(typings) // 2)
    return typings[:enrol], typings[enrol:]


def run_cmu(
    samples: list[datasets.TypingSample],
    subjects: set[str] | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Evaluation:
    by_subject = _typings(samples, subjects)
    if len(by_subject) < 2:
        raise datasets.DatasetError("at least two subjects are needed")
    result = Evaluation("eer")
    for subject, typings in by_subject.items():
        enrol, genuine = cmu_split(typings)
        impostors = [
            t
            for other, ts in by_subject.items()
            if other != subject
            for t in ts[:CMU_IMPOSTOR_TYPINGS]
        ]
        params = models.fit_keystroke_vectors([_vector(t) for t in enrol])
        if not params["enrolled"]:
            raise datasets.DatasetError(
                f"{subject}: {len(enrol)} enrolment typings, the model needs "
                f"{models.MIN_KEYSTROKE_SAMPLES}"
            )

        def model_scores(group: list, params: dict = params) -> np.ndarray:
            return np.array(
                [models.score(params, {"keystrokes": t.keystrokes})["anomaly"] for t in group]
            )

        baseline = ScaledManhattan(np.vstack([_vector(t) for t in enrol]))

        def baseline_scores(group: list, baseline: ScaledManhattan = baseline) -> np.ndarray:
            return baseline.distance(np.vstack([_vector(t) for t in group]))

        result.record(
            subject,
            (model_scores(genuine), model_scores(impostors)),
            (baseline_scores(genuine), baseline_scores(impostors)),
        )
        progress(subject)
    return result


def _actions(path: Path) -> np.ndarray:
    session = datasets.read_balabit_session(path)
    return models.batch_actions({"mouseMovements": session.movements, "clicks": session.clicks})


def run_balabit(
    root: Path,
    users: set[str] | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Evaluation:
    names = [u for u in datasets.balabit_users(root) if users is None or u in users]
    labels = datasets.balabit_test_labels(root)
    if len(names) < 2:
        raise datasets.DatasetError("at least two users are needed")
    training = {
        user: [_actions(p) for p in datasets.balabit_training_files(root, user)] for user in names
    }
    result = Evaluation("auc")
    for user in names:
        own = np.vstack(training[user])
        background = np.vstack([a for other in names if other != user for a in training[other]])
        params = models.fit_mouse_actions(own, background)
        if not params["enrolled"]:
            raise datasets.DatasetError(
                f"{user}: {len(own)} training actions, the model needs {models.MIN_MOUSE_ACTIONS}"
            )
        baseline = StrokeDistance(own)
        sessions = labels.get(user, {})
        scored = {0: [], 1: []}
        base = {0: [], 1: []}
        unscored = 0
        for name, illegal in sorted(sessions.items()):
            actions = _actions(root / "test_files" / user / name)
            outcome = models.score_features(params, actions)
            if outcome["status"] != "scored":
                unscored += 1
            scored[illegal].append(
                outcome["anomaly"] if outcome["anomaly"] is not None else UNSCORED
            )
            base[illegal].append(baseline.session_score(actions))
        if not (scored[0] and scored[1]):
            raise datasets.DatasetError(f"{user}: both legal and illegal test sessions are needed")
        if unscored:
            result.notes.append(f"{user}: {unscored} test sessions too short to score")
        result.record(
            user,
            (np.array(scored[0]), np.array(scored[1])),
            (np.array(base[0]), np.array(base[1])),
        )
        progress(user)
    return result
