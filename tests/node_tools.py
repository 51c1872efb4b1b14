"""The npm projects under tools/ that integration tests run (Hardhat, js-ipfs): Node checks
and a one-time `npm ci`.

Without node or npm, or with Node older than MIN_NODE_MAJOR, the calling test is skipped
(failed with CI=true, as tests/services.py does for services).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

from tests.services import IN_CI

MIN_NODE_MAJOR = 20
NPM_CI_TIMEOUT = 600


def missing(reason: str) -> NoReturn:
    """Skip the calling test, or fail it in CI, where nothing may be missing."""
    if IN_CI:
        pytest.fail(f"{reason}; CI requires it")
    pytest.skip(reason)


def quiet_node_env() -> dict[str, str]:
    """The environment for npm and the Node tools: no prompts, no colours, no update checks."""
    return {
        **os.environ,
        "CI": "true",
        "NO_COLOR": "1",
        "FORCE_COLOR": "0",
        "NO_UPDATE_NOTIFIER": "1",
        "npm_config_update_notifier": "false",
        "npm_config_audit": "false",
        "npm_config_fund": "false",
    }


def ensure_npm_project(
    project: Path, binary: Path, needed_by: str, npm_args: tuple[str, ...] = ()
) -> Path:
    """Return ``binary``, running `npm ci` in ``project`` first if it is not installed yet.

    ``needed_by`` names the tool in skip messages; ``npm_args`` are added to `npm ci`.
    """
    tools = {name: shutil.which(name) for name in ("node", "npm")}
    absent = [name for name, path in tools.items() if path is None]
    if absent:
        missing(f"{', '.join(absent)} not found; {needed_by} needs Node.js and npm")
    node, npm = str(tools["node"]), str(tools["npm"])
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    major = re.match(r"v(\d+)\.", version.stdout.strip())
    if not major or int(major.group(1)) < MIN_NODE_MAJOR:
        missing(f"{needed_by} needs Node >= {MIN_NODE_MAJOR}, found {version.stdout!r}")

    if not binary.exists():
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", *npm_args],
            cwd=project,
            env=quiet_node_env(),
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT,
        )
        if installed.returncode != 0 or not binary.exists():
            raise RuntimeError(
                f"`npm ci` in {project} failed (exit {installed.returncode}):\n"
                f"--- stdout ---\n{installed.stdout}\n--- stderr ---\n{installed.stderr}"
            )
    return binary
