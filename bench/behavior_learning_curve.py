"""Learning curves of the behaviour models: error against the amount of enrolment data.

    .venv/bin/python bench/behavior_learning_curve.py \\
        --cmu ../shared/data/keystroke/cmu-dev-15-subjects.csv \\
        --cmu-subjects s002,s003,s004,s005,s007,s008,s010,s011 \\
        --balabit ../shared/data/mouse --balabit-users user7,user9,user12 [--json OUT]

Keystrokes: per subject, the model is enrolled on n typings (n = 5 … 200) and scored by
the CMU protocol (its last 200 typings against the first 5 of every other subject given);
mean and std of the EER over subjects, beside scaled Manhattan. Two curves: enrolled on
the first n typings (how the protocol enrols; the fewer, the older they are by test time,
so drift adds to the error) and on the n typings just before the test half (the count
alone, as for a user scored right after enrolling).
Mouse: per user, the model is trained on its first n training actions (in time order)
against the other given users' training actions, and scored on its labelled test
sessions; mean AUC over users, with the minutes of mouse activity those n actions took.
Only the subjects and users given are read, so the curve can be measured on the tuning
part of each data set alone. The cold-start rule in ``app.services.behavior.models`` is
set from this curve.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from app.services.behavior import datasets, keystroke_model, metrics, models, mouse_model
from app.services.behavior.baselines import ScaledManhattan
from app.services.behavior.evaluation import CMU_ENROL, CMU_IMPOSTOR_TYPINGS
from app.services.behavior.keystroke_features import fixed_text_vectors
from app.services.behavior.mouse_features import ACTION_FEATURES

TYPINGS = (5, 10, 20, 50, 100, 200)
ACTIONS = (50, 100, 200, 500, 1000, 2000, 4000)
_DURATION = ACTION_FEATURES.index("duration_ms")


def _ids(text: str | None) -> set[str] | None:
    return {p.strip() for p in text.split(",") if p.strip()} if text else None


def keystroke_curve(path: Path, subjects: set[str] | None) -> list[dict]:
    by_subject: dict[str, list[np.ndarray]] = {}
    for sample in sorted(datasets.read_cmu(path), key=lambda s: (s.subject, s.session, s.rep)):
        if subjects is None or sample.subject in subjects:
            vector = fixed_text_vectors(sample.keystrokes, datasets.PASSWORD_FIELD)[0]
            by_subject.setdefault(sample.subject, []).append(vector)
    rows = []
    for n, enrolment in [(n, e) for e in ("first", "latest") for n in TYPINGS]:
        model, baseline = {}, {}
        for subject, vectors in by_subject.items():
            genuine = np.vstack(vectors[CMU_ENROL:])
            impostor = np.vstack(
                [
                    v
                    for s, vs in by_subject.items()
                    if s != subject
                    for v in vs[:CMU_IMPOSTOR_TYPINGS]
                ]
            )
            enrol = vectors[:n] if enrolment == "first" else vectors[CMU_ENROL - n : CMU_ENROL]
            params = keystroke_model.fit_template(enrol)
            model[subject] = metrics.equal_error_rate(
                keystroke_model.anomaly(params, genuine), keystroke_model.anomaly(params, impostor)
            )
            base = ScaledManhattan(np.vstack(enrol))
            baseline[subject] = metrics.equal_error_rate(
                base.distance(genuine), base.distance(impostor)
            )
        mean, std = metrics.summary(model)
        base_mean, base_std = metrics.summary(baseline)
        rows.append(
            {
                "enrolment": enrolment,
                "typings": n,
                "eer_mean": mean,
                "eer_std": std,
                "baseline_mean": base_mean,
            }
        )
        print(
            f"keystrokes {enrolment} n={n:>4}: EER {mean:.4f} ± {std:.4f} "
            f"(scaled Manhattan {base_mean:.4f} ± {base_std:.4f})",
            flush=True,
        )
    return rows


def _session_actions(path: Path) -> np.ndarray:
    session = datasets.read_balabit_session(path)
    return models.batch_actions({"mouseMovements": session.movements, "clicks": session.clicks})


def mouse_curve(root: Path, users: set[str] | None) -> list[dict]:
    names = [u for u in datasets.balabit_users(root) if users is None or u in users]
    labels = datasets.balabit_test_labels(root)
    training = {
        u: np.vstack([_session_actions(p) for p in datasets.balabit_training_files(root, u)])
        for u in names
    }
    tests = {
        u: [(ill, _session_actions(root / "test_files" / u / f)) for f, ill in labels[u].items()]
        for u in names
    }
    rows = []
    for n in ACTIONS:
        aucs, minutes = {}, []
        for user in names:
            own = training[user][:n]
            background = np.vstack([training[o] for o in names if o != user])
            params = mouse_model.fit_forest(own, background)
            scores = {0: [], 1: []}
            for illegal, actions in tests[user]:
                if len(actions) >= models.MIN_MOUSE_ACTIONS_PER_BATCH:
                    scores[illegal].append(
                        float(mouse_model.impostor_probability(params, actions).mean())
                    )
            aucs[user] = metrics.auc(scores[0], scores[1])
            minutes.append(own[:, _DURATION].sum() / 60_000.0)
        mean, std = metrics.summary(aucs)
        rows.append(
            {
                "actions": n,
                "active_minutes": float(np.mean(minutes)),
                "auc_mean": mean,
                "auc_std": std,
                "per_user": aucs,
            }
        )
        print(
            f"mouse n={n:>5} actions (~{np.mean(minutes):.1f} active min): "
            f"AUC {mean:.4f} ± {std:.4f}  { ({u: round(a, 3) for u, a in aucs.items()}) }",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cmu", type=Path)
    parser.add_argument("--cmu-subjects")
    parser.add_argument("--balabit", type=Path)
    parser.add_argument("--balabit-users")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.cmu is None and args.balabit is None:
        parser.error("give --cmu CSV and/or --balabit DIR")
    out: dict[str, list[dict]] = {}
    if args.cmu is not None:
        out["keystroke"] = keystroke_curve(args.cmu, _ids(args.cmu_subjects))
    if args.balabit is not None:
        out["mouse"] = mouse_curve(args.balabit, _ids(args.balabit_users))
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
