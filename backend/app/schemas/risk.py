"""Query schemas of the risk endpoints."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field

from app.schemas.common import StrictModel


class RiskHistoryQuery(StrictModel):
    model_config = ConfigDict(extra="forbid", strict=False)

    limit: Annotated[int, Field(ge=1, le=200)] = 20
