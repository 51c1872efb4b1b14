"""Reading untrusted telemetry items: a value that is not a plausible number is dropped.

The feature extractors run on stored batches and on benchmark files alike, so they do not
rely on the event schema having run: each item is checked here again and a bad one is
ignored, never raised on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# Client clocks are monotonic milliseconds; a day bounds a tab's life (as the event schema).
MAX_TIME_MS = 86_400_000.0
MAX_HOLD_MS = 10_000.0
MAX_COORDINATE = 100_000.0


def number(item: Mapping[str, Any], key: str, low: float, high: float) -> float | None:
    """``item[key]`` as a float within [low, high], or None when missing or implausible."""
    value = item.get(key) if isinstance(item, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    if not math.isfinite(value) or not low <= value <= high:
        return None
    return value


def time_ms(item: Mapping[str, Any], key: str) -> float | None:
    return number(item, key, 0.0, MAX_TIME_MS)


def coordinate(item: Mapping[str, Any], key: str) -> float | None:
    return number(item, key, -MAX_COORDINATE, MAX_COORDINATE)


def press(item: Mapping[str, Any]) -> tuple[float, float] | None:
    """(down, up) of a keystroke or click, or None unless 0 <= up - down <= MAX_HOLD_MS."""
    down, up = time_ms(item, "down"), time_ms(item, "up")
    if down is None or up is None or not 0.0 <= up - down <= MAX_HOLD_MS:
        return None
    return down, up
