"""Keystroke features from ``{field, seq, cls, down, up}`` items (times in ms).

Fixed text (a field typed the same way every time, the password): one vector per complete
entry, the CMU benchmark's timings per position — hold ``H_i = up_i - down_i``,
keydown→keydown ``DD_i = down_{i+1} - down_i`` and keyup→keydown ``UD_i = down_{i+1} - up_i``
(negative when keys overlap) — laid out as ``[H_0..H_{n-1}, DD_0..DD_{n-2}, UD_0..UD_{n-2}]``.

Free text: hold statistics per key class and flight (keydown→keydown) statistics per pair
of consecutive classes.

Items whose times are missing, not finite, negative, absurd or held too long are ignored;
an entry whose positions are not exactly 0..n-1 in keydown order, or that was corrected
with backspace, is not a typing of the fixed text and yields no vector.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from app.services.behavior._clean import press

KEY_CLASSES = ("letter", "digit", "space", "enter", "backspace", "shift", "punct", "other")
# A pause longer than this between two keys is thinking, not rhythm (free text only).
MAX_FLIGHT_MS = 2_000.0


@dataclass(frozen=True)
class Key:
    seq: int
    cls: str
    down: float
    up: float


def _keys(items: Iterable[Mapping[str, Any]], field: str | None) -> dict[str, list[Key]]:
    """Valid keys per field, each field's keys in keydown order."""
    by_field: dict[str, list[Key]] = defaultdict(list)
    for item in items:
        if not isinstance(item, Mapping):
            continue
        name, seq, cls = item.get("field"), item.get("seq"), item.get("cls")
        if not isinstance(name, str) or (field is not None and name != field):
            continue
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            continue
        if cls not in KEY_CLASSES:
            continue
        times = press(item)
        if times is None:
            continue
        by_field[name].append(Key(seq, cls, *times))
    for keys in by_field.values():
        keys.sort(key=lambda k: (k.down, k.seq))
    return by_field


def _entries(keys: list[Key]) -> list[list[Key]]:
    """Split one field's keys into entries: a new entry starts where the position restarts."""
    entries: list[list[Key]] = []
    for key in keys:
        if not entries or key.seq <= entries[-1][-1].seq:
            entries.append([])
        entries[-1].append(key)
    return entries


def entry_vector(entry: list[Key]) -> np.ndarray | None:
    """The fixed-text timings of one entry, or None if it is not a clean typing."""
    if len(entry) < 2 or [k.seq for k in entry] != list(range(len(entry))):
        return None
    if any(k.cls == "backspace" for k in entry):
        return None
    down = np.array([k.down for k in entry])
    up = np.array([k.up for k in entry])
    hold = up - down
    dd = np.diff(down)
    ud = down[1:] - up[:-1]
    return np.concatenate([hold, dd, ud])


def fixed_text_vectors(items: Iterable[Mapping[str, Any]], field: str) -> list[np.ndarray]:
    """One timing vector per clean entry of ``field``, in the order they were typed."""
    keys = _keys(items, field).get(field, [])
    vectors = (entry_vector(entry) for entry in _entries(keys))
    return [v for v in vectors if v is not None]


def _stats(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    return {"n": int(arr.size), "mean": float(arr.mean()), "std": float(arr.std())}


def free_text_profile(items: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, dict]]:
    """Hold time statistics per key class and keydown→keydown statistics per class pair
    (``"letter>space"``), over every field; flights across fields or longer than
    MAX_FLIGHT_MS are left out."""
    holds: dict[str, list[float]] = defaultdict(list)
    flights: dict[str, list[float]] = defaultdict(list)
    for keys in _keys(items, None).values():
        for key in keys:
            holds[key.cls].append(key.up - key.down)
        for before, after in pairwise(keys):
            flight = after.down - before.down
            if flight <= MAX_FLIGHT_MS:
                flights[f"{before.cls}>{after.cls}"].append(flight)
    return {
        "hold": {cls: _stats(v) for cls, v in sorted(holds.items())},
        "flight": {pair: _stats(v) for pair, v in sorted(flights.items())},
    }
