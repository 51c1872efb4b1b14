"""Mouse actions from movement ``{x, y, t}`` and click ``{x, y, button, down, up}`` items.

The stream is cut into actions, as in mouse-dynamics work (Antal & Egyed-Zsigmond 2019):
a drag-and-drop (DD) is the movement while a button is held; a point-and-click (PC) is the
movement that leads up to a click; a mouse move (MM) is movement that ends in no click.
A pause longer than ACTION_GAP_MS ends an action. Each action becomes one vector of
ACTION_FEATURES (times in ms, distances in px, speeds in px/s).

Items with missing, non-finite, negative or absurd values are ignored; movements are taken
in time order and a point at the same instant as the one before it is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from app.services.behavior._clean import coordinate, press, time_ms

ACTION_GAP_MS = 2_000.0
MIN_POINTS = 4  # speed, acceleration and jerk need four points
DRAG_MIN_PX = 5.0  # a held click that moves less than this is a click, not a drag
PAUSE_MS = 100.0  # a stop within an action
DOUBLE_CLICK_MS = 500.0  # clicks further apart than this are not a double click

ACTION_FEATURES = (
    "is_move",
    "is_point_click",
    "is_drag_drop",
    "points",
    "duration_ms",
    "path_px",
    "distance_px",
    "straightness",
    "direction_sin",
    "direction_cos",
    "speed_mean",
    "speed_std",
    "speed_max",
    "accel_mean",
    "accel_std",
    "accel_max",
    "accel_min",
    "jerk_mean",
    "jerk_std",
    "angle_change_sum",
    "angle_change_mean",
    "angular_speed_mean",
    "curvature_mean",
    "curvature_std",
    "max_deviation_px",
    "pause_ms",
    "pauses",
    "time_to_max_speed",
    "click_hold_ms",
    "click_interval_ms",
)
MOVE, POINT_CLICK, DRAG_DROP = 0, 1, 2


def _points(movements: Iterable[Mapping[str, Any]]) -> np.ndarray:
    rows = []
    for item in movements:
        t, x, y = time_ms(item, "t"), coordinate(item, "x"), coordinate(item, "y")
        if t is not None and x is not None and y is not None:
            rows.append((t, x, y))
    if not rows:
        return np.empty((0, 3))
    pts = np.array(sorted(rows, key=lambda r: r[0]))
    keep = np.concatenate([[True], np.diff(pts[:, 0]) > 0])
    return pts[keep]


def _clicks(clicks: Iterable[Mapping[str, Any]]) -> list[tuple[float, float]]:
    valid = []
    for item in clicks:
        times = press(item)
        button = item.get("button") if isinstance(item, Mapping) else None
        if times is None or isinstance(button, bool) or button not in range(5):
            continue
        if coordinate(item, "x") is None or coordinate(item, "y") is None:
            continue
        valid.append(times)
    return sorted(valid)


def _split_at_gaps(pts: np.ndarray) -> list[np.ndarray]:
    if len(pts) == 0:
        return []
    cuts = np.flatnonzero(np.diff(pts[:, 0]) > ACTION_GAP_MS) + 1
    return np.split(pts, cuts)


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a, dtype=float), where=b > 0)


def action_vector(
    pts: np.ndarray, kind: int, click_hold: float = 0.0, click_interval: float = DOUBLE_CLICK_MS
) -> np.ndarray:
    """The ACTION_FEATURES of one action given its points (rows of t ms, x, y)."""
    t, x, y = pts[:, 0], pts[:, 1], pts[:, 2]
    dt = np.diff(t) / 1000.0
    dx, dy = np.diff(x), np.diff(y)
    step = np.hypot(dx, dy)
    speed = step / dt
    accel = np.diff(speed) / dt[1:]
    jerk = np.diff(accel) / dt[2:]
    heading = np.arctan2(dy, dx)
    turn = np.abs(np.angle(np.exp(1j * np.diff(heading))))
    path = float(step.sum())
    ex, ey = x[-1] - x[0], y[-1] - y[0]
    distance = float(np.hypot(ex, ey))
    angle = np.arctan2(ey, ex)
    if distance > 0:
        deviation = np.abs(ex * (y - y[0]) - ey * (x - x[0])) / distance
    else:
        deviation = np.hypot(x - x[0], y - y[0])
    gaps = np.diff(t)
    duration = float(t[-1] - t[0])
    return np.array(
        [
            kind == MOVE,
            kind == POINT_CLICK,
            kind == DRAG_DROP,
            len(pts),
            duration,
            path,
            distance,
            distance / path if path > 0 else 1.0,
            np.sin(angle),
            np.cos(angle),
            speed.mean(),
            speed.std(),
            speed.max(),
            accel.mean(),
            accel.std(),
            accel.max(),
            accel.min(),
            jerk.mean(),
            jerk.std(),
            turn.sum(),
            turn.mean(),
            _safe_div(turn, dt[1:]).mean(),
            _safe_div(turn, step[1:]).mean(),
            _safe_div(turn, step[1:]).std(),
            deviation.max(),
            gaps[gaps > PAUSE_MS].sum(),
            float((gaps > PAUSE_MS).sum()),
            (t[int(np.argmax(speed))] - t[0]) / duration if duration > 0 else 0.0,
            click_hold,
            click_interval,
        ],
        dtype=float,
    )


Segment = tuple[np.ndarray, int, float, float]  # points, action kind, click hold, interval


def _segments(
    movements: Iterable[Mapping[str, Any]], clicks: Iterable[Mapping[str, Any]]
) -> list[Segment]:
    """The actions of a batch before their features: each one's points (at least
    MIN_POINTS), kind, click hold time and interval since the previous click."""
    pts = _points(movements)
    times = pts[:, 0]
    segments: list[Segment] = []

    def add(chunk: np.ndarray, kind: int, hold: float = 0.0, interval: float = DOUBLE_CLICK_MS):
        if len(chunk) >= MIN_POINTS:
            segments.append((chunk, kind, hold, interval))

    start, previous_up = 0, -np.inf
    for down, up in _clicks(clicks):
        before_end = max(start, int(np.searchsorted(times, down, side="left")))
        drag_end = max(start, int(np.searchsorted(times, up, side="right")))
        interval = min(down - previous_up, DOUBLE_CLICK_MS)
        chunks = _split_at_gaps(pts[start:before_end])
        drag = pts[before_end:drag_end]
        if len(drag) >= 2 and np.hypot(*(drag[-1, 1:] - drag[0, 1:])) >= DRAG_MIN_PX:
            add(drag, DRAG_DROP, up - down, interval)
        elif chunks and down - chunks[-1][-1, 0] <= ACTION_GAP_MS:
            add(chunks.pop(), POINT_CLICK, up - down, interval)
        for chunk in chunks:
            add(chunk, MOVE)
        start, previous_up = max(start, drag_end), max(previous_up, up)
    for chunk in _split_at_gaps(pts[start:]):
        add(chunk, MOVE)
    return segments


def count_mouse_actions(
    movements: Iterable[Mapping[str, Any]], clicks: Iterable[Mapping[str, Any]]
) -> int:
    """How many actions ``mouse_actions`` finds, without computing their features (a few
    ms for the largest batch, against about 45 ms with them)."""
    return len(_segments(movements, clicks))


def mouse_actions(
    movements: Iterable[Mapping[str, Any]], clicks: Iterable[Mapping[str, Any]]
) -> np.ndarray:
    """One row of ACTION_FEATURES per action, in time order (shape (n, len(ACTION_FEATURES)))."""
    segments = sorted(_segments(movements, clicks), key=lambda segment: segment[0][0, 0])
    if not segments:
        return np.empty((0, len(ACTION_FEATURES)))
    return np.vstack([action_vector(*segment) for segment in segments])
