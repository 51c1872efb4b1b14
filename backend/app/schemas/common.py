"""Shared pieces of the request schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# Usernames are case-insensitive: stored and compared lower-cased. Pydantic checks the
# pattern before lower-casing, so the pattern must accept upper-case letters too.
Username = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=3,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.@-]+$",
    ),
]
Password = Annotated[str, Field(min_length=1, max_length=256)]
# Stored free text: no control characters (PostgreSQL refuses NUL in text columns).
Fingerprint = Annotated[str, Field(min_length=8, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
Email = Annotated[
    str,
    Field(
        max_length=254, pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$"
    ),
]
NewPassword = Annotated[str, Field(min_length=8, max_length=256)]
Role = Annotated[str, Field(pattern=r"^(user|admin)$")]


class StrictModel(BaseModel):
    """Unknown fields are refused and types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Page(StrictModel):
    """Query-string paging; query values arrive as text, so this model coerces."""

    model_config = ConfigDict(extra="forbid", strict=False)

    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0, le=1_000_000)
