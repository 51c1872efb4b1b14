"""Small generated data sets in the CMU keystroke and Balabit mouse layouts.

Each generated typist or mouse user has a rhythm or style of its own, so a working model
tells them apart; nothing here reads the real benchmark data.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

CMU_KEYS = ("period", "t", "i", "e", "five", "Shift.r", "o", "a", "n", "l", "Return")


def typist_rows(subject: str, seed: int, reps: int = 400) -> list[list]:
    """``reps`` CMU rows (8 sessions) of a typist with its own hold and gap times."""
    rng = np.random.default_rng(seed)
    hold = rng.uniform(0.06, 0.16, len(CMU_KEYS))
    gap = rng.uniform(0.05, 0.40, len(CMU_KEYS) - 1)
    rows = []
    for i in range(reps):
        h = np.abs(hold + rng.normal(0, 0.012, hold.size))
        ud = gap + rng.normal(0, 0.03, gap.size)
        row: list = [subject, i // 50 + 1, i % 50 + 1]
        for k in range(len(CMU_KEYS)):
            row.append(round(float(h[k]), 4))
            if k + 1 < len(CMU_KEYS):
                row += [round(float(h[k] + ud[k]), 4), round(float(ud[k]), 4)]
        rows.append(row)
    return rows


def cmu_header() -> list[str]:
    header = ["subject", "sessionIndex", "rep"]
    for k, key in enumerate(CMU_KEYS):
        header.append(f"H.{key}")
        if k + 1 < len(CMU_KEYS):
            header += [f"DD.{key}.{CMU_KEYS[k + 1]}", f"UD.{key}.{CMU_KEYS[k + 1]}"]
    return header


def write_cmu(path: Path, subjects: int = 3, reps: int = 400) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(cmu_header())
        for s in range(subjects):
            writer.writerows(typist_rows(f"s{s + 1:03d}", seed=s, reps=reps))
    return path


def mouse_rows(style: int, actions: int, seed: int) -> list[list]:
    """Balabit rows of ``actions`` point-and-clicks by a user of the given style: its own
    speed, curvature, sampling interval and click hold."""
    rng = np.random.default_rng(seed)
    speed = (300.0, 900.0, 1800.0)[style]  # px/s
    bend = (0.0, 0.35, -0.25)[style]
    hold = (0.06, 0.15, 0.25)[style]
    rows = []
    t, x, y = 0.0, 500.0, 400.0
    for _ in range(actions):
        tx, ty = rng.uniform(50, 1200), rng.uniform(50, 900)
        length = float(np.hypot(tx - x, ty - y))
        steps = max(int(length / speed / 0.016), 5)
        for s in range(1, steps + 1):
            f = s / steps
            px = x + (tx - x) * f - (ty - y) * bend * f * (1 - f)
            py = y + (ty - y) * f + (tx - x) * bend * f * (1 - f)
            t += 0.016 * rng.uniform(0.8, 1.2)
            rows.append([t, t, "NoButton", "Move", round(px), round(py)])
        t += rng.uniform(0.05, 0.3)
        rows.append([t, t, "Left", "Pressed", round(tx), round(ty)])
        t += hold * rng.uniform(0.7, 1.3)
        rows.append([t, t, "Left", "Released", round(tx), round(ty)])
        t += rng.uniform(0.2, 0.8)
        x, y = tx, ty
    return rows


def _write_session(path: Path, rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["record timestamp", "client timestamp", "button", "state", "x", "y"])
        writer.writerows(rows)


def write_balabit(root: Path, users: int = 3, training_actions: int = 600) -> Path:
    """training_files/, test_files/ (4 own and 4 other users' sessions each), labels.csv."""
    labels = []
    for u in range(users):
        name = f"user{u + 1}"
        _write_session(
            root / "training_files" / name / "session_0", mouse_rows(u, training_actions, u)
        )
        for i in range(8):
            illegal = i % 2
            style = (u + 1 + i // 2 % (users - 1)) % users if illegal else u
            session = f"session_{u}{i}"
            _write_session(
                root / "test_files" / name / session, mouse_rows(style, 30, 100 + 10 * u + i)
            )
            labels.append([name, session, illegal])
    with (root / "labels.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user", "filename", "is_illegal"])
        writer.writerows(labels)
    return root
