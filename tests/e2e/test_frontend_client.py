"""The browser client (frontend/src/utils/websocketClient.js) under Node, against real servers.

Runs the vitest suite of frontend/ (which starts its own `run.py --standalone` processes with
this interpreter), so `make test` covers the JS client too. Without Node it is skipped locally
and fails in CI (CI=true), where a missing toolchain must not pass silently.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
MIN_NODE_MAJOR = 20


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _missing(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"{reason} (required when CI is set)")
    pytest.skip(reason)


def _run(command: list[str], timeout: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable, "NO_COLOR": "1", "FORCE_COLOR": "0"}
    return subprocess.run(
        command, cwd=FRONTEND, env=env, capture_output=True, text=True, timeout=timeout
    )


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"exit {result.returncode}\n--- stdout ---\n{result.stdout}\n"
        f"--- stderr ---\n{result.stderr}"
    )


@pytest.mark.timeout(900)
def test_js_client_suite_passes() -> None:
    node, npm, npx = (shutil.which(name) for name in ("node", "npm", "npx"))
    if not (node and npm and npx):
        _missing("node, npm and npx are needed for the JS client tests")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
    major = re.match(r"v(\d+)", version)
    if not major or int(major.group(1)) < MIN_NODE_MAJOR:
        _missing(f"Node >= {MIN_NODE_MAJOR} is needed for the JS client tests, found {version!r}")

    if not (FRONTEND / "node_modules").is_dir():
        installed = _run([npm, "ci", "--no-audit", "--no-fund"], timeout=600)
        assert installed.returncode == 0, f"npm ci failed:\n{_output(installed)}"

    result = _run([npx, "vitest", "run"], timeout=600)
    assert result.returncode == 0, f"the JS client tests failed:\n{_output(result)}"
