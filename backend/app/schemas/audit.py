"""Query and body schemas of the audit trail's endpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from app.models.audit import BATCH_STATUSES
from app.schemas.common import StrictModel

ID_MAX = 2**63 - 1  # event ids are 64-bit


def _iso_datetime(value: object) -> datetime:
    """An ISO 8601 date or date-time, as aware UTC (no offset means UTC); nothing else."""
    if not isinstance(value, str):
        raise ValueError("expected an ISO 8601 date-time")
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError("expected an ISO 8601 date-time, e.g. 2025-01-31T12:00:00Z") from None


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime)]
Id = Annotated[int, Field(ge=1, le=ID_MAX)]
Text = Annotated[str, Field(min_length=1, pattern=r"^[^\x00]+$")]


class KeysetQuery(StrictModel):
    """Newest first, ``limit`` at a time; the next page is ``before_id=<next_before_id>``."""

    model_config = ConfigDict(extra="forbid", strict=False)

    limit: int = Field(default=100, ge=1, le=500)
    before_id: Id | None = Field(default=None, description="only ids below this one")


class EventListQuery(KeysetQuery):
    event_type: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")] | None = None
    actor_user_id: Id | None = None
    subject_type: Annotated[Text, Field(max_length=32)] | None = None
    subject_id: Annotated[Text, Field(max_length=64)] | None = None
    since: IsoDateTime | None = Field(default=None, description="created at or after")
    until: IsoDateTime | None = Field(default=None, description="created before (exclusive)")
    batch_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    anchored: bool | None = Field(default=None, description="whether its batch is anchored")

    @model_validator(mode="after")
    def _ordered_window(self) -> EventListQuery:
        if self.since and self.until and self.since > self.until:
            raise ValueError("since must not be after until")
        return self


class BatchListQuery(KeysetQuery):
    status: Annotated[str, Field(pattern=f"^({'|'.join(BATCH_STATUSES)})$")] | None = None


class VerificationRequest(StrictModel):
    """A range of event ids, or neither bound for the whole trail."""

    first_event_id: Id | None = None
    last_event_id: Id | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> VerificationRequest:
        first, last = self.first_event_id, self.last_event_id
        if (first is None) != (last is None):
            raise ValueError("give both first_event_id and last_event_id, or neither")
        if first is not None and last is not None and last < first:
            raise ValueError("last_event_id must not be below first_event_id")
        return self


class AnchorRequest(StrictModel):
    """No fields: ``{}``, or no body at all."""


class ProofQuery(StrictModel):
    model_config = ConfigDict(extra="forbid", strict=False)

    download: bool = Field(default=False, description="answer as an attachment")
