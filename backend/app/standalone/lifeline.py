"""A child of standalone mode ends when the web process that started it is gone.

The children run in process groups of their own (so that Ctrl-C reaches the web process
alone, which then stops them in order); a web process killed outright cannot stop them, so
each one watches its parent and ends itself instead of running on, orphaned, against
services that have gone with it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Protocol

PARENT_CHECK_SECONDS = 1.0


def _exit_now() -> None:
    os._exit(0)


def end_with_parent(on_orphaned: Callable[[], None] = _exit_now) -> None:
    """Call ``on_orphaned`` (default: exit at once) when this process's parent has gone."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        on_orphaned()

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


class _Server(Protocol):
    def serve_forever(self) -> None: ...
    def server_close(self) -> None: ...


def serve_until_stopped(server: _Server) -> int:
    """Serve until interrupted (Ctrl-C or the supervisor's stop), then close; exit status 0."""
    try:
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
    finally:
        server.server_close()
    return 0
