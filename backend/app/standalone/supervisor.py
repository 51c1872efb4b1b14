"""The Celery worker and beat of standalone mode, as children of the web process."""

from __future__ import annotations

import atexit
import signal
import subprocess
import sys
from typing import Any

from app.celery_app import QUEUES
from app.config import REPO_ROOT


def start_background_jobs(schedule_file: str) -> list[subprocess.Popen[bytes]]:
    """A Celery worker and beat as child processes on the embedded broker.

    They inherit the standalone settings through the environment and stop with this process.
    """
    celery = [sys.executable, "-m", "celery", "-A", "celery_config.celery_app"]
    queues = ",".join(QUEUES)
    commands = [
        [*celery, "worker", "-l", "warning", "-c", "1", "-E", "-Q", queues],
        [*celery, "beat", "-l", "warning", "--schedule", schedule_file],
    ]
    # Fixed argument lists of this interpreter; no shell, nothing from outside.
    children = [subprocess.Popen(command, cwd=REPO_ROOT) for command in commands]  # noqa: S603

    def stop() -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()

    atexit.register(stop)
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)

        def handler(received: int, frame: Any, previous: Any = previous) -> None:
            stop()
            if callable(previous):
                previous(received, frame)
            else:
                raise SystemExit(128 + received)

        signal.signal(signum, handler)
    return children
