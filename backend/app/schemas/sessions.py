"""Query and body schemas of the session endpoints."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from app.schemas.common import Page, StrictModel


class SessionListQuery(Page):
    model_config = ConfigDict(extra="forbid", strict=False)

    user_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    status: Annotated[str, Field(pattern=r"^(active|terminated|expired)$")] | None = None


class TerminateSessionRequest(StrictModel):
    reason: Annotated[str, Field(min_length=1, max_length=200)] = "terminated_by_request"
