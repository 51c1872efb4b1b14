"""Standalone mode as the web process runs it: its four children, the settings they imply,
and the state file that says how to reach them."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.standalone.children import (
    celery_beat,
    celery_worker,
    embedded_chain,
    embedded_redis,
    standalone_settings,
)
from app.standalone.state import remove_state, write_state
from app.standalone.supervisor import Sleep, Supervisor, say


class StandalonePlatform:
    """The embedded Redis and chain (started before the app is built, since its settings
    point at them), then the Celery worker and beat; all supervised until the web process
    stops."""

    def __init__(self) -> None:
        self.redis = embedded_redis()
        self.chain = embedded_chain()
        self.supervisor = Supervisor([self.redis, self.chain], on_restart=self.write_state)
        self.details: dict[str, Any] = {}
        self.state_file: Path | None = None
        self._stopped = False

    @property
    def stopping(self) -> bool:
        return self.supervisor.stop_reason is not None

    def start_services(self) -> None:
        """Start Redis and the chain; raises ChildFailed. SIGINT/SIGTERM stop the platform
        from here on."""
        self.supervisor.install_signal_handlers()
        self.supervisor.start_services()

    def settings(self) -> dict[str, str]:
        """The environment for the app and the children (they inherit it)."""
        return {k: str(v) for k, v in standalone_settings(self.redis.url, self.chain).items()}

    def describe(self, web_url: str, config: dict[str, Any]) -> None:
        self.state_file = Path(config["STANDALONE_STATE_FILE"])
        self.details = {
            "pid": os.getpid(),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "web_url": web_url,
            "database": config["SQLALCHEMY_DATABASE_URI"],
            "state_file": str(self.state_file),
        }

    def state(self) -> dict[str, Any]:
        """What an operator needs to reach the embedded parts; no secret."""
        return {
            **self.details,
            "redis_url": self.redis.url,
            "broker_url": f"{self.redis.url}/2",
            "chain_url": self.chain.url,
            "chain_id": self.chain.chain_id,
            "signer_address": self.chain.signer,
            "children": {child.name: child.pid for child in self.supervisor.children},
        }

    def write_state(self) -> None:
        if self.state_file is not None:
            write_state(self.state_file, self.state())

    def start_jobs(self, schedule_file: str) -> None:
        self.supervisor.start_jobs([celery_worker(), celery_beat(schedule_file)])
        self.write_state()

    def run(self, serve: Callable[[], None], spawn: Callable[..., Any], sleep: Sleep) -> int:
        """Serve and supervise until stopped; the web process's exit status."""
        status = self.supervisor.run(serve, spawn, sleep)
        self.stop()
        # Collected now, while the event loop still runs: Celery's AsyncResult objects
        # unsubscribe when finalized, which fails once the interpreter is shutting down.
        gc.collect()
        return status

    def stop(self) -> None:
        """Stop every child (idempotent) and remove the state file."""
        if self._stopped:
            return
        self._stopped = True
        # The Socket.IO queue's listener would report as an error that the embedded Redis
        # goes away, which is what stopping means.
        logging.getLogger("socketio.server").setLevel(logging.CRITICAL)
        self.supervisor.stop_all()
        if self.state_file is not None:
            remove_state(self.state_file, os.getpid())
        say("stopped")
