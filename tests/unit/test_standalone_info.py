"""`flask standalone-info` reads the state file a running standalone platform writes, says
how to reach its parts without a secret, and says so when no platform is running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from app import create_app
from app.standalone.state import read_state, remove_state, write_state
from tests.conftest import test_config

SIGNER = "0x" + "ab" * 20


def platform_state(path: Path, pid: int) -> dict[str, Any]:
    return {
        "pid": pid,
        "started_at": "2026-01-01T00:00:00+00:00",
        "web_url": "http://127.0.0.1:5000",
        "database": "sqlite:///instance/zero_trust.sqlite3",
        "state_file": str(path),
        "redis_url": "redis://127.0.0.1:40001",
        "broker_url": "redis://127.0.0.1:40001/2",
        "chain_url": "http://127.0.0.1:40002",
        "chain_id": 131277322940537,
        "signer_address": SIGNER,
        "children": {"embedded Redis": 11, "embedded chain": 12, "Celery worker": 13},
    }


def standalone_info(path: Path, *args: str) -> Result:
    app = create_app(test_config(STANDALONE_STATE_FILE=str(path)))
    return app.test_cli_runner().invoke(args=["standalone-info", *args])


def exited_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_prints_the_addresses_and_commands_of_the_running_platform(tmp_path: Path) -> None:
    path = tmp_path / "standalone.json"
    write_state(path, platform_state(path, os.getpid()))

    result = standalone_info(path)

    assert result.exit_code == 0, result.output
    out = result.output
    assert f"pid {os.getpid()}" in out
    assert (
        "celery -A celery_config.celery_app --broker redis://127.0.0.1:40001/2 inspect ping" in out
    )
    assert "flask audit verify PROOF.json --rpc http://127.0.0.1:40002" in out
    assert SIGNER in out
    assert "Celery worker 13" in out


def test_json_is_the_state_file(tmp_path: Path) -> None:
    path = tmp_path / "standalone.json"
    state = platform_state(path, os.getpid())
    write_state(path, state)

    result = standalone_info(path, "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == state


def test_no_state_file_means_no_platform(tmp_path: Path) -> None:
    result = standalone_info(tmp_path / "absent.json")

    assert result.exit_code == 1
    assert "no standalone platform is running (no state file at" in result.output


def test_a_state_file_left_by_an_exited_platform_says_so(tmp_path: Path) -> None:
    path = tmp_path / "standalone.json"
    pid = exited_pid()
    write_state(path, platform_state(path, pid))

    result = standalone_info(path)

    assert result.exit_code == 1
    assert f"left over from process {pid}, which has exited" in result.output
    assert "inspect ping" not in result.output


@pytest.mark.parametrize("content", ["", "{not json", "[1, 2]"])
def test_an_unreadable_state_file_counts_as_none(tmp_path: Path, content: str) -> None:
    path = tmp_path / "standalone.json"
    path.write_text(content)

    assert read_state(path) is None
    assert standalone_info(path).exit_code == 1


def test_a_platform_removes_only_its_own_state_file(tmp_path: Path) -> None:
    path = tmp_path / "standalone.json"
    write_state(path, platform_state(path, 4242))

    remove_state(path, 4241)  # another platform's file stays
    assert read_state(path) is not None
    remove_state(path, 4242)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []  # no partial file left behind either
