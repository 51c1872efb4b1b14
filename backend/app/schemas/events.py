"""Payloads of the client → server Socket.IO events (ARCHITECTURE section 4).

Telemetry carries timings and positions only, never typed characters.
"""

from __future__ import annotations

import math
import uuid
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from app.schemas.common import StrictModel

UserId = Annotated[int, Field(ge=1, le=2**31 - 1)]
Offset = Annotated[int, Field(ge=0, le=2**53)]
# Client clocks are monotonic milliseconds (performance.now()); a day bounds a tab's life.
Millis = Annotated[float, Field(ge=0, le=86_400_000, allow_inf_nan=False)]
Coordinate = Annotated[float, Field(ge=-100_000, le=100_000, allow_inf_nan=False)]
FieldId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
KeyClass = Literal["letter", "digit", "space", "enter", "backspace", "shift", "punct", "other"]
MAX_HOLD_MS = 10_000
MAX_BATCH_SPAN_MS = 10 * 60 * 1000


class _Timed(StrictModel):
    down: Millis
    up: Millis

    @model_validator(mode="after")
    def _ordered(self) -> _Timed:
        if self.up < self.down:
            raise ValueError("up must not be before down")
        if self.up - self.down > MAX_HOLD_MS:
            raise ValueError(f"held longer than {MAX_HOLD_MS} ms")
        return self


class Keystroke(_Timed):
    field: FieldId
    seq: Annotated[int, Field(ge=0, le=10_000)]
    cls: KeyClass


class MouseMovement(StrictModel):
    x: Coordinate
    y: Coordinate
    t: Millis


class Click(_Timed):
    x: Coordinate
    y: Coordinate
    button: Annotated[int, Field(ge=0, le=4)]


class BehavioralData(StrictModel):
    session_id: uuid.UUID
    keystrokes: list[Keystroke] = Field(default_factory=list)
    mouseMovements: list[MouseMovement] = Field(default_factory=list)  # the seed's wire name
    clicks: list[Click] = Field(default_factory=list)

    @field_validator("session_id", mode="before")
    @classmethod
    def _session_id_text(cls, value: object) -> object:
        # strict mode refuses str → UUID; the wire format is text.
        if isinstance(value, str):
            try:
                return uuid.UUID(value)
            except ValueError as exc:
                raise ValueError("session_id must be a UUID") from exc
        raise ValueError("session_id must be a UUID string")

    @model_validator(mode="after")
    def _plausible(self) -> BehavioralData:
        if not (self.keystrokes or self.mouseMovements or self.clicks):
            raise ValueError("the batch is empty")
        times = [t for k in self.keystrokes for t in (k.down, k.up)]
        times += [m.t for m in self.mouseMovements]
        times += [t for c in self.clicks for t in (c.down, c.up)]
        if times and max(times) - min(times) > MAX_BATCH_SPAN_MS:
            raise ValueError("the batch spans more than 10 minutes")
        moves = [m.t for m in self.mouseMovements]
        if any(later < earlier for earlier, later in pairwise(moves)):
            raise ValueError("mouseMovements must be ordered by t")
        if any(not math.isfinite(t) for t in times):
            raise ValueError("times must be finite")
        return self


class JoinUserRoom(StrictModel):
    user_id: UserId


class Empty(StrictModel):
    pass


class SubscribeRiskScore(StrictModel):
    user_id: UserId
    session_id: Annotated[str, Field(min_length=36, max_length=36)]

    @field_validator("session_id")
    @classmethod
    def _uuid(cls, value: str) -> str:
        try:
            return str(uuid.UUID(value))
        except ValueError as exc:
            raise ValueError("session_id must be a UUID") from exc


class Ping(StrictModel):
    client_ts: Annotated[float, Field(allow_inf_nan=False)]


class UpdateToken(StrictModel):
    token: Annotated[str, Field(min_length=1, max_length=4096)]


class Recover(StrictModel):
    """Last offsets a reconnecting client saw, per room it has (re)joined."""

    offsets: Annotated[dict[Annotated[str, Field(max_length=80)], Offset], Field(max_length=16)]
