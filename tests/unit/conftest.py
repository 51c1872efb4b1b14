"""Unit fixtures for the Socket.IO tests (see tests/unit/sockets.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import SignedIn
from tests.unit.sockets import Sockets, new_account


@pytest.fixture
def sockets(app: Flask, client: FlaskClient) -> Iterator[Sockets]:
    opened = Sockets(app, client)
    yield opened
    opened.close_all()


@pytest.fixture
def account(client: FlaskClient) -> SignedIn:
    """A signed-in user."""
    return new_account(client)
