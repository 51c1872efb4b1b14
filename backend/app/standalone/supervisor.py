"""Standalone mode's supervisor: the web process keeps its children running, restarts one
that dies (a bounded number of times, with backoff), and stops them all on SIGINT/SIGTERM.

The web process runs under eventlet (or gevent) monkey-patching, where a signal handler
runs inside the event loop's hub and must not wait for anything. So the handlers here only
take note; the watching loop runs in the main green thread (the web server in a background
task), polls the children with ``Popen.poll()`` between green sleeps, and does the
restarting and the stopping.
"""

from __future__ import annotations

import signal
import time
from collections import deque
from collections.abc import Callable
from types import FrameType
from typing import Any

from app.standalone.children import (
    POLL_SECONDS,
    STOP_SECONDS,
    ChildFailed,
    ChildProcess,
    Sleep,
    describe_exit,
)

RESTART_LIMIT = 5
RESTART_WINDOW_SECONDS = 300.0
BACKOFF_FIRST_SECONDS = 0.5
BACKOFF_LONGEST_SECONDS = 8.0
WATCH_SECONDS = 0.2


def say(message: str) -> None:
    """One console line of the supervisor."""
    print(f"standalone: {message}", flush=True)


class RestartBudget:
    """Restarts of one child: at most ``limit`` within ``window`` seconds, each one after
    twice the wait of the one before."""

    def __init__(
        self,
        limit: int = RESTART_LIMIT,
        window: float = RESTART_WINDOW_SECONDS,
        first: float = BACKOFF_FIRST_SECONDS,
        longest: float = BACKOFF_LONGEST_SECONDS,
    ) -> None:
        self.limit = limit
        self.window = window
        self.first = first
        self.longest = longest
        self._deaths: deque[float] = deque()

    def delay_after_death(self, now: float) -> float | None:
        """Count a death at ``now``; the wait before the restart, or None when spent."""
        self._deaths.append(now)
        while now - self._deaths[0] > self.window:
            self._deaths.popleft()
        if len(self._deaths) > self.limit:
            return None
        return min(self.first * 2 ** (len(self._deaths) - 1), self.longest)


class Supervisor:
    """Starts ``services`` (which the jobs need) and later the jobs; watches them all."""

    def __init__(
        self,
        services: list[ChildProcess],
        *,
        budget: Callable[[], RestartBudget] = RestartBudget,
        on_restart: Callable[[], None] = lambda: None,
    ) -> None:
        self.services = services
        self.jobs: list[ChildProcess] = []
        self._budget = budget
        self._budgets = {child: budget() for child in services}
        self._on_restart = on_restart
        self._sleep: Sleep = time.sleep  # green once monkey-patched; run() takes the loop's
        self.stop_reason: str | None = None
        self._exit_status = 0
        self._hurry = False

    @property
    def children(self) -> list[ChildProcess]:
        return [*self.services, *self.jobs]

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # May run inside the event loop's hub: take note, never wait.
        if self.stop_reason is None:
            self.stop_reason = f"{signal.Signals(signum).name} received"
        else:
            self._hurry = True  # asked twice: kill what is still running

    def _stopping(self) -> bool:
        return self.stop_reason is not None

    def start_services(self) -> None:
        """Start the services one after the other, each ready before the next starts."""
        for child in self.services:
            child.start()
            child.wait_ready(self._sleep, self._stopping)

    def start_jobs(self, jobs: list[ChildProcess]) -> None:
        for child in jobs:
            child.start()
            self._budgets[child] = self._budget()
        self.jobs.extend(jobs)

    def run(self, serve: Callable[[], None], spawn: Callable[..., Any], sleep: Sleep) -> int:
        """Serve in a background task (``spawn``) and watch the children until told to stop,
        a restart budget is spent or the server ends; stop them all; the exit status."""
        self._sleep = sleep
        spawn(self._serve_then_stop, serve)
        status = self._watch()
        self.stop_all()
        return status

    def _serve_then_stop(self, serve: Callable[[], None]) -> None:
        try:
            serve()
            reason = "the web server stopped"
        except Exception as exc:
            reason = f"the web server stopped: {type(exc).__name__}: {exc}"
        if self.stop_reason is None:
            self._exit_status = 1  # before the reason, which the watching loop acts on
            self.stop_reason = reason

    def _watch(self) -> int:
        restart_at: dict[ChildProcess, float] = {}
        while self.stop_reason is None:
            now = time.monotonic()
            for child in self.children:
                if child in restart_at:
                    if now >= restart_at[child]:
                        del restart_at[child]
                        self._restart(child)
                    continue
                status = child.exit_status()
                if status is None:
                    continue
                budget = self._budgets[child]
                delay = budget.delay_after_death(now)
                if delay is None:
                    say(
                        f"the {child.name} exited with {describe_exit(status)}, more than "
                        f"{budget.limit} times within {budget.window:g} s; stopping everything"
                    )
                    return 1
                say(
                    f"the {child.name} (pid {child.pid}) exited with {describe_exit(status)}; "
                    f"restarting it in {delay:g} s"
                )
                restart_at[child] = now + delay
            self._sleep(WATCH_SECONDS)
        say(f"{self.stop_reason}; stopping the children")
        return self._exit_status

    def _restart(self, child: ChildProcess) -> None:
        child.clear_group()  # what the dead child left behind, e.g. a worker's pool process
        child.start()
        try:
            child.wait_ready(self._sleep, self._stopping)
        except ChildFailed as exc:
            say(f"{exc}")
            child.clear_group()  # counted as one more death on the next round
            return
        say(f"the {child.name} was restarted (pid {child.pid})")
        self._on_restart()

    def stop_all(self) -> None:
        """Jobs first, then the services they use; each group gets SIGTERM and
        STOP_SECONDS (none after a second signal) before SIGKILL."""
        for tier in (self.jobs, self.services):
            for child in tier:
                child.terminate()
            deadline = time.monotonic() + STOP_SECONDS
            while time.monotonic() < deadline and not self._hurry:
                if not any(child.running for child in tier):
                    break
                self._sleep(POLL_SECONDS)
            for child in tier:
                if child.running:
                    child.clear_group()
            while any(child.running for child in tier):
                self._sleep(POLL_SECONDS)
