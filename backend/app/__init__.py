"""The Zero Trust AI platform's Flask application package.

Importing the package is cheap on purpose: the web entry reads its async mode from
app.config and monkey-patches before Flask and the rest are imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; see app.factory.create_app."""
    from app.factory import create_app as build

    return build(config)
