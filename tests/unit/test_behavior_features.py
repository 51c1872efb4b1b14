"""Behaviour features against values worked out by hand, and hostile items ignored."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.services.behavior.keystroke_features import fixed_text_vectors, free_text_profile
from app.services.behavior.mouse_features import ACTION_FEATURES, mouse_actions


def key(seq: int, down: float, up: float, cls: str = "letter", field: str = "password") -> dict:
    return {"field": field, "seq": seq, "cls": cls, "down": down, "up": up}


# One typing of three keys: holds 80, 90, 50; keydown→keydown 100, 150; keyup→keydown
# 20, 60.
TYPING = [key(0, 0, 80), key(1, 100, 190), key(2, 250, 300, "digit")]
EXPECTED = [80, 90, 50, 100, 150, 20, 60]


def feature(row: np.ndarray, name: str) -> float:
    return float(row[ACTION_FEATURES.index(name)])


def test_fixed_text_timings_per_position() -> None:
    assert fixed_text_vectors(TYPING, "password")[0].tolist() == EXPECTED


def test_overlapping_keys_give_a_negative_keyup_to_keydown() -> None:
    overlap = [key(0, 0, 150), key(1, 100, 180)]  # the second key goes down before the first up
    assert fixed_text_vectors(overlap, "password")[0].tolist() == [150, 80, 100, -50]


def test_entries_split_where_the_position_restarts_and_unclean_ones_are_dropped() -> None:
    second = [key(s, k["down"] + 1000, k["up"] + 1000, k["cls"]) for s, k in enumerate(TYPING)]
    corrected = [key(0, 2000, 2080), key(1, 2100, 2150, "backspace"), key(2, 2200, 2260)]
    skipped = [key(0, 3000, 3080), key(2, 3100, 3160)]  # position 1 missing
    other_field = [
        key(s, k["down"] + 4000, k["up"] + 4000, field="text") for s, k in enumerate(TYPING)
    ]
    vectors = fixed_text_vectors(TYPING + second + corrected + skipped + other_field, "password")
    assert [v.tolist() for v in vectors] == [EXPECTED, EXPECTED]


def test_free_text_hold_and_flight_statistics_per_class() -> None:
    items = [
        key(0, 0, 100, field="text"),
        key(1, 200, 260, "space", field="text"),
        key(2, 300, 340, field="text"),
        key(3, 3000, 3100, field="text"),  # 2,700 ms after the previous key: a pause
    ]
    profile = free_text_profile(items)
    assert profile["hold"]["letter"] == {"n": 3, "mean": 80.0, "std": pytest.approx(math.sqrt(800))}
    assert profile["hold"]["space"] == {"n": 1, "mean": 60.0, "std": 0.0}
    assert profile["flight"] == {
        "letter>space": {"n": 1, "mean": 200.0, "std": 0.0},
        "space>letter": {"n": 1, "mean": 100.0, "std": 0.0},
    }


def line(t0: float, x0: float, n: int, dx: float = 10.0, dt: float = 10.0) -> list[dict]:
    return [{"x": x0 + i * dx, "y": 0.0, "t": t0 + i * dt} for i in range(n)]


def test_a_straight_steady_move_by_hand() -> None:
    # 5 points 10 px and 10 ms apart: 40 px in 40 ms at 1,000 px/s, no turn, no acceleration.
    (row,) = mouse_actions(line(0, 0, 5), [])
    expected = {
        "is_move": 1,
        "is_point_click": 0,
        "points": 5,
        "duration_ms": 40,
        "path_px": 40,
        "distance_px": 40,
        "straightness": 1,
        "direction_cos": 1,
        "direction_sin": 0,
        "speed_mean": 1000,
        "speed_std": 0,
        "accel_mean": 0,
        "jerk_mean": 0,
        "angle_change_sum": 0,
        "max_deviation_px": 0,
        "pauses": 0,
        "click_hold_ms": 0,
    }
    assert {name: feature(row, name) for name in expected} == pytest.approx(expected)


def test_a_right_angle_turn_and_a_pause() -> None:
    points = [
        {"x": 0, "y": 0, "t": 0},
        {"x": 10, "y": 0, "t": 10},
        {"x": 20, "y": 0, "t": 20},
        {"x": 20, "y": 10, "t": 230},  # a 210 ms stop, then a quarter turn
        {"x": 20, "y": 20, "t": 240},
    ]
    (row,) = mouse_actions(points, [])
    assert feature(row, "angle_change_sum") == pytest.approx(math.pi / 2)
    assert feature(row, "path_px") == 40
    assert feature(row, "straightness") == pytest.approx(math.hypot(20, 20) / 40)
    assert feature(row, "pauses") == 1 and feature(row, "pause_ms") == 210
    # the line from (0,0) to (20,20) passes 10/sqrt(2) px from the corner (20,0)
    assert feature(row, "max_deviation_px") == pytest.approx(20 / math.sqrt(2))


def test_point_click_drag_drop_and_the_double_click_interval() -> None:
    moves = line(0, 0, 5) + line(2_000, 500, 6)  # two runs, 1,960 ms apart
    clicks = [
        {"x": 40, "y": 0, "button": 0, "down": 60, "up": 140},  # ends the first run: a click
        {"x": 40, "y": 0, "button": 0, "down": 340, "up": 400},  # 200 ms later: no movement
        {"x": 500, "y": 0, "button": 0, "down": 1_990, "up": 2_060},  # held while moving: drag
    ]
    rows = mouse_actions(moves, clicks)
    assert [(feature(r, "is_point_click"), feature(r, "is_drag_drop")) for r in rows] == [
        (1, 0),
        (0, 1),
    ]
    assert feature(rows[0], "click_hold_ms") == 80
    assert feature(rows[0], "click_interval_ms") == 500  # no click before it: capped
    assert feature(rows[1], "click_hold_ms") == 70
    assert feature(rows[1], "points") == 6
    assert feature(rows[1], "click_interval_ms") == 500  # 1,590 ms after the last release


HOSTILE_KEYS = [
    key(0, math.nan, 80),
    key(1, 100, math.inf),
    key(0, -5, 10),
    key(0, 500, 400),  # up before down
    key(0, 0, 60_000),  # held a minute
    key(0, 1e15, 1e15 + 50),  # absurd clock
    {"field": "password", "seq": "0", "cls": "letter", "down": 0, "up": 10},
    {"field": "password", "seq": True, "cls": "letter", "down": 0, "up": 10},
    {"field": "password", "seq": 0, "cls": "letter", "down": "0", "up": 10},
    {"field": "password", "seq": 0, "cls": "nonsense", "down": 0, "up": 10},
    {"field": None, "seq": 0, "cls": "letter", "down": 0, "up": 10},
    None,
    "text",
    [],
]


def test_hostile_keystrokes_are_ignored() -> None:
    assert fixed_text_vectors(HOSTILE_KEYS, "password") == []
    assert free_text_profile(HOSTILE_KEYS) == {"hold": {}, "flight": {}}
    shifted = [key(k["seq"], k["down"] + 10_000, k["up"] + 10_000, k["cls"]) for k in TYPING]
    vectors = fixed_text_vectors(HOSTILE_KEYS + TYPING + HOSTILE_KEYS + shifted, "password")
    assert [v.tolist() for v in vectors] == [EXPECTED, EXPECTED]


def test_unordered_keystrokes_do_not_make_a_typing() -> None:
    # position 2 pressed before position 1: not a typing of the fixed text
    shuffled = [key(0, 0, 80), key(1, 250, 300), key(2, 100, 190)]
    assert fixed_text_vectors(shuffled, "password") == []


def test_hostile_mouse_items_are_ignored_and_order_is_restored() -> None:
    clean = line(0, 0, 6)
    hostile = [
        {"x": math.nan, "y": 0, "t": 5},
        {"x": 0, "y": math.inf, "t": 5},
        {"x": 0, "y": 0, "t": -1},
        {"x": 1e12, "y": 0, "t": 5},
        {"x": 0, "y": 0, "t": 1e16},
        {"x": "0", "y": 0, "t": 5},
        {"x": 0, "y": 0, "t": 20},  # a second point at an instant already taken
        None,
    ]
    bad_clicks = [
        {"x": 0, "y": 0, "button": 0, "down": math.nan, "up": 10},
        {"x": 0, "y": 0, "button": 9, "down": 0, "up": 10},
        {"x": 0, "y": 0, "button": 0, "down": 30, "up": 10},
        {"x": 0, "y": 0, "button": 0, "down": 0, "up": 10**9},
        "click",
    ]
    expected = mouse_actions(clean, [])
    got = mouse_actions(list(reversed(clean)) + hostile, bad_clicks)
    assert got.shape == (1, len(ACTION_FEATURES))
    assert np.array_equal(got, expected)
    assert np.isfinite(got).all()


def test_nothing_usable_gives_no_actions() -> None:
    assert mouse_actions([], []).shape == (0, len(ACTION_FEATURES))
    assert mouse_actions(line(0, 0, 3), []).shape == (0, len(ACTION_FEATURES))  # too short
