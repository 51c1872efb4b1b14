"""Generated live telemetry (the ``behavioral_data`` layout) of synthetic users, each with
a typing rhythm and a mouse style of their own, and helpers that store it as samples."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from app.extensions import db
from app.models import UserSession
from app.schemas.events import BehavioralData
from app.services.behavior_ingest import store_batch
from tests.unit.behavior_data import mouse_rows

PASSWORD_KEYS = 11


def typist(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hold times and keyup→keydown gaps (ms) of a typist of its own."""
    rng = np.random.default_rng(seed)
    return rng.uniform(60, 160, PASSWORD_KEYS), rng.uniform(50, 400, PASSWORD_KEYS - 1)


def typing(
    rhythm: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
    entries: int,
    start: float = 0.0,
) -> list[dict[str, Any]]:
    """``entries`` typings of the password field in that rhythm."""
    hold, gap = rhythm
    items, t = [], start
    for _ in range(entries):
        h = np.abs(hold + rng.normal(0, 12, hold.size))
        g = gap + rng.normal(0, 30, gap.size)
        down = t
        for seq in range(PASSWORD_KEYS):
            items.append(
                {
                    "field": "password",
                    "seq": seq,
                    "cls": "letter",
                    "down": round(down, 3),
                    "up": round(down + h[seq], 3),
                }
            )
            if seq + 1 < PASSWORD_KEYS:
                down += h[seq] + max(g[seq], -h[seq] + 5)
        t = down + 2000.0
    return items


def mouse(style: int, actions: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Movements and clicks (ms) of ``actions`` point-and-clicks in one of three styles."""
    movements, clicks, pressed = [], [], None
    for _, t, _button, state, x, y in mouse_rows(style, actions, seed):
        ms = round(t * 1000.0, 3)
        if state == "Move":
            movements.append({"x": x, "y": y, "t": ms})
        elif state == "Pressed":
            pressed = {"x": x, "y": y, "button": 0, "down": ms}
        elif pressed is not None:
            clicks.append({**pressed, "up": ms})
            pressed = None
    return movements, clicks


def batches(
    seed: int, count: int, *, entries: int = 5, actions: int = 8, style: int | None = None
) -> list[dict[str, Any]]:
    """``count`` batches of one synthetic user: typings and (with a style) mouse use."""
    rng = np.random.default_rng(seed)
    rhythm = typist(seed)
    out = []
    for i in range(count):
        movements, clicks = ([], []) if style is None else mouse(style, actions, seed * 1000 + i)
        out.append(
            {
                "keystrokes": typing(rhythm, rng, entries),
                "mouseMovements": movements,
                "clicks": clicks,
            }
        )
    return out


def new_session(user_id: int, **fields: Any) -> UserSession:
    session = UserSession(id=uuid.uuid4(), user_id=user_id, ip_address="127.0.0.1", **fields)
    db.session.add(session)
    db.session.commit()
    return session


def store(user_id: int, session: UserSession, items: list[dict[str, Any]]) -> None:
    """Store ``items`` as the user's samples sent over ``session``, through ingestion."""
    for batch in items:
        store_batch(
            user_id,
            session.id,
            BehavioralData.model_validate({**batch, "session_id": str(session.id)}),
        )
