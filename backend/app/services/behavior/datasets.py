"""Benchmark data sets turned back into the telemetry items a browser would send.

CMU keystroke benchmark (Killourhy & Maxion 2009): CSV with ``subject, sessionIndex, rep``
and 31 timings in seconds (``H.k``, ``DD.a.b``, ``UD.a.b``); since DD = H + UD, each row
gives exact keydown/keyup times relative to the first keydown.

Balabit mouse dynamics challenge: one CSV per session, ``record timestamp, client timestamp,
button, state, x, y``; moves and drags become movements, a Pressed/Released pair a click.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

PASSWORD_FIELD = "password"  # noqa: S105 - the field's id, not a password
# Key classes of the CMU password ".tie5Roanl" + Return; "Shift.r" is the capital R.
_CMU_CLASS = {"period": "punct", "five": "digit", "Return": "enter"}
_BUTTONS = {"Left": 0, "Middle": 1, "Right": 2}
# Balabit marks lost positions with 65535; no screen of the data set is this large.
_MAX_SCREEN_PX = 10_000


class DatasetError(ValueError):
    """The file is not in the layout the benchmark expects."""


@dataclass(frozen=True)
class TypingSample:
    subject: str
    session: int
    rep: int
    keystrokes: list[dict]


def _cmu_keys(header: list[str]) -> list[str]:
    keys = [name[2:] for name in header if name.startswith("H.")]
    for a, b in pairwise(keys):
        for prefix in ("DD", "UD"):
            if f"{prefix}.{a}.{b}" not in header:
                raise DatasetError(f"column {prefix}.{a}.{b} is missing")
    if len(keys) < 2:
        raise DatasetError("no H.<key> columns: not a CMU keystroke CSV")
    return keys


def cmu_row_keystrokes(row: dict[str, str], keys: list[str]) -> list[dict]:
    """Keydown/keyup items (ms from the first keydown) of one CMU row."""
    down = 0.0
    items = []
    for seq, key in enumerate(keys):
        if seq:
            down += float(row[f"DD.{keys[seq - 1]}.{key}"]) * 1000.0
        hold = float(row[f"H.{key}"]) * 1000.0
        cls = _CMU_CLASS.get(key, "letter")
        items.append(
            {"field": PASSWORD_FIELD, "seq": seq, "cls": cls, "down": down, "up": down + hold}
        )
    return items


def read_cmu(path: Path) -> list[TypingSample]:
    """Every row of a CMU-format CSV as one typing of the password, in file order."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        if not {"subject", "sessionIndex", "rep"} <= set(header):
            raise DatasetError("columns subject, sessionIndex, rep are required")
        keys = _cmu_keys(header)
        samples = []
        for line, row in enumerate(reader, start=2):
            try:
                samples.append(
                    TypingSample(
                        row["subject"],
                        int(row["sessionIndex"]),
                        int(row["rep"]),
                        cmu_row_keystrokes(row, keys),
                    )
                )
            except (TypeError, ValueError) as exc:
                raise DatasetError(f"line {line}: {exc}") from exc
    return samples


@dataclass
class MouseSession:
    movements: list[dict] = field(default_factory=list)
    clicks: list[dict] = field(default_factory=list)


def read_balabit_session(path: Path) -> MouseSession:
    """Movements and clicks of one Balabit session file (times in ms)."""
    session = MouseSession()
    pressed: dict[int, dict] = {}
    with path.open(newline="") as handle:
        for row in csv.reader(handle):
            if len(row) != 6:
                continue
            try:
                t = float(row[1]) * 1000.0
                x, y = float(row[4]), float(row[5])
            except ValueError:
                continue  # a header line
            if not (math.isfinite(t) and 0 <= x < _MAX_SCREEN_PX and 0 <= y < _MAX_SCREEN_PX):
                continue
            button, state = row[2], row[3]
            if state in ("Move", "Drag"):
                session.movements.append({"x": x, "y": y, "t": t})
            elif state == "Pressed" and button in _BUTTONS:
                pressed[_BUTTONS[button]] = {"x": x, "y": y, "button": _BUTTONS[button], "down": t}
            elif state == "Released" and _BUTTONS.get(button) in pressed:
                click = pressed.pop(_BUTTONS[button])
                session.clicks.append({**click, "up": max(t, click["down"])})
    return session


def balabit_users(root: Path) -> list[str]:
    training = root / "training_files"
    if not training.is_dir():
        raise DatasetError(f"{training} is not a directory: not a Balabit layout")
    return sorted((p.name for p in training.iterdir() if p.is_dir()), key=_natural)


def _natural(name: str) -> tuple:
    digits = "".join(ch for ch in name if ch.isdigit())
    return (name.rstrip("0123456789"), int(digits) if digits else -1, name)


def balabit_training_files(root: Path, user: str) -> list[Path]:
    return sorted((root / "training_files" / user).glob("session_*"))


def balabit_test_labels(root: Path) -> dict[str, dict[str, int]]:
    """``{user: {session file name: is_illegal}}`` from ``labels.csv``."""
    path = root / "labels.csv"
    if not path.is_file():
        raise DatasetError(f"{path} is missing")
    labels: dict[str, dict[str, int]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            try:
                labels.setdefault(row["user"], {})[row["filename"]] = int(row["is_illegal"])
            except (KeyError, TypeError, ValueError) as exc:
                raise DatasetError(f"labels.csv: {exc}") from exc
    return labels
