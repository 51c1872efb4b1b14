"""The generated-input property of tests/unit/test_fuzz_endpoints.py, on PostgreSQL.

PostgreSQL is stricter than SQLite (NUL in text, lengths, types), so input that SQLite
stores can fail here; fewer examples per operation, as each costs real round trips.
"""

from __future__ import annotations

import os

import pytest
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.test_fuzz_endpoints import (  # noqa: F401  (the parametrization hook)
    FUZZ_SETTINGS,
    Operation,
    WorldKeeper,
    check_operation,
    pytest_generate_tests,
)

EXAMPLES = int(os.environ.get("FUZZ_POSTGRES_EXAMPLES", "15"))


@pytest.fixture(name="worlds")
def postgres_worlds(client: FlaskClient) -> WorldKeeper:
    return WorldKeeper(client)


@settings(max_examples=EXAMPLES, **FUZZ_SETTINGS)
@given(data=st.data())
def test_generated_input_never_breaks_an_operation_on_postgres(
    client: FlaskClient, worlds: WorldKeeper, operation: Operation, data: st.DataObject
) -> None:
    check_operation(client, worlds, operation, data)
