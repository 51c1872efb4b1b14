"""A real standalone platform (`run.py --standalone`) for end-to-end tests, and the waits
they share: every dependency healthy, a live worker heartbeat, a console line, a task run.

Its instance files (SQLite, beat schedule, IPFS blocks, state file) live in a temporary
directory, never in the repository's instance/; it gets a minimal environment, so nothing
leaks in from the caller's shell.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.procs import Process, free_port, python, wait_for

STARTUP_SECONDS = 120  # web, chain, worker and beat importing on a busy 2-core machine
TASK_SECONDS = 60


def clean_env(**settings: str) -> dict[str, str]:
    """What a shell needs and ``settings``: no APP_MODE, DATABASE_URL, REDIS_* or the like."""
    inherited = ("PATH", "HOME", "LANG", "TMPDIR")
    return {**{name: os.environ[name] for name in inherited if name in os.environ}, **settings}


def isolated_settings(tmp_path: Path) -> dict[str, str]:
    return {
        "STANDALONE_DATABASE_URL": f"sqlite:///{tmp_path / 'standalone.sqlite3'}",
        "CELERY_BEAT_SCHEDULE_FILE": str(tmp_path / "celerybeat-schedule"),
        "IPFS_BLOCKSTORE_DIR": str(tmp_path / "ipfs"),
        "STANDALONE_STATE_FILE": str(tmp_path / "standalone.json"),
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }


@dataclass
class Standalone:
    process: Process
    base: str
    state_file: Path

    def output(self) -> str:
        return self.process.output()

    def printed(self, pattern: str) -> str:
        """The first group of ``pattern`` in the console output."""
        found = re.search(pattern, self.output())
        assert found, f"{pattern!r} not in the output:\n{self.output()[-3000:]}"
        return found[1]

    def state(self) -> dict[str, Any]:
        return json.loads(self.state_file.read_text())

    def wait_for_line(self, text: str, timeout: float = 60) -> None:
        wait_for(lambda: text in self.output(), timeout, f"the console to say {text!r}")

    def health(self) -> dict[str, Any]:
        return requests.get(f"{self.base}/api/health", timeout=5).json()

    def wait_healthy(self, timeout: float = STARTUP_SECONDS) -> dict[str, Any]:
        """Until /api/health says ok for every dependency; fails at once if the web exits."""

        def healthy() -> dict[str, Any] | None:
            if not self.process.alive():
                pytest.fail(f"the platform exited:\n{self.output()[-5000:]}")
            health = self.health()
            ok = health["status"] == "ok" and all(c["ok"] for c in health["checks"].values())
            return health if ok else None

        return wait_for(healthy, timeout, "every dependency ok in /api/health", poll=0.2)

    def admin_headers(self) -> dict[str, str]:
        password = self.printed(r"created admin 'admin' with password (\S+)")
        login = requests.post(
            f"{self.base}/api/auth/login",
            json={"username": "admin", "password": password},
            timeout=10,
        )
        assert login.status_code == 200, login.text
        return {"Authorization": f"Bearer {login.json()['access_token']}"}

    def wait_worker_heartbeat(self, since: float, timeout: float = STARTUP_SECONDS) -> None:
        """Until /api/admin/jobs shows a worker heartbeat sent after ``since`` (time.time())."""

        headers = self.admin_headers()

        def beat_since() -> bool:
            jobs = requests.get(f"{self.base}/api/admin/jobs", headers=headers, timeout=10).json()
            now = time.time()
            return any(
                now - worker["heartbeat_age_seconds"] > since
                for worker in (jobs["workers"] or {}).values()
            )

        wait_for(beat_since, timeout, f"a worker heartbeat after {since}", poll=0.5)

    def run_anchoring(self) -> dict[str, Any]:
        """Queue sync_audit_trail through the API and wait for the worker's result."""
        headers = self.admin_headers()
        queued = requests.post(
            f"{self.base}/api/admin/audit/anchor", headers=headers, json={}, timeout=10
        )
        assert queued.status_code == 202, queued.text

        def finished() -> dict[str, Any] | None:
            state = requests.get(
                f"{self.base}{queued.json()['status_url']}", headers=headers, timeout=10
            ).json()
            return state if state["state"] in ("SUCCESS", "FAILURE") else None

        state = wait_for(finished, TASK_SECONDS, "the anchoring task", poll=0.2)
        assert state["state"] == "SUCCESS", state
        return state["result"]


def start_standalone(tmp_path: Path, name: str = "standalone") -> Standalone:
    """``python run.py --standalone`` of this interpreter, serving once healthy."""
    port = free_port()
    process = Process(
        python("run.py", "--standalone", "--port", str(port)),
        clean_env(**isolated_settings(tmp_path)),
        tmp_path / f"{name}.log",
    )
    platform = Standalone(process, f"http://127.0.0.1:{port}", tmp_path / "standalone.json")
    try:
        platform.wait_healthy()
    except BaseException:
        process.stop()
        raise
    return platform
