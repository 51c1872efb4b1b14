"""Starting and waiting on real processes in tests: no fixed sleeps, always cleaned up."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

REPO_ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(check: Callable[[], T | None], timeout: float, what: str, poll: float = 0.05) -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # the thing we wait for may not be up yet
            last_error = exc
        time.sleep(poll)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


class Process:
    """A child process in its own process group, its output in a log file."""

    def __init__(
        self, args: list[str], env: Mapping[str, str], log_path: Path, cwd: Path = REPO_ROOT
    ) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.popen = subprocess.Popen(
            args,
            cwd=cwd,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15) -> None:
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self._log.close()


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


class LoopbackServer:
    """A server as a child process on a 127.0.0.1 port, its output in ``workdir``.

    ``start()`` returns once the server answers; ``stop()`` terminates its process group;
    ``restart()`` starts it again on the same port. Subclasses say how to spawn it
    (``_command``), how to tell that it serves (``_serving``) and what to check then
    (``_verify``).
    """

    name = "server"
    start_timeout = 60.0

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.process: Process | None = None
        self._port: int | None = None
        self._starts = 0

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"the {self.name} has not been started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.alive()

    def output(self) -> str:
        """Everything the current (or last) process printed."""
        if self.process is None:
            return ""
        return self.process.log_path.read_text(errors="replace")

    def _command(self) -> tuple[list[str], Mapping[str, str]]:
        """The arguments and environment that start the server on ``self.port``."""
        raise NotImplementedError

    def _serving(self) -> bool:
        """True once the server answers requests; may raise while it is not up yet."""
        raise NotImplementedError

    def _verify(self) -> None:
        """Raise RuntimeError if what answers on the port is not the server we started."""

    def start(self, port: int | None = None, timeout: float | None = None) -> None:
        if self.running:
            raise RuntimeError(f"the {self.name} is already running at {self.url}")
        # A port we picked may be taken between free_port() and the bind: try another one.
        attempts = 1 if port is not None else 3
        for attempt in range(1, attempts + 1):
            self._port = port if port is not None else free_port()
            self._spawn()
            if self._wait_until_ready(timeout or self.start_timeout) or attempt == attempts:
                break
        if not self.running:
            raise RuntimeError(
                f"the {self.name} exited before it was ready on port {self._port}:\n{self.output()}"
            )

    def _spawn(self) -> None:
        self._starts += 1
        args, env = self._command()
        slug = self.name.replace(" ", "-")
        self.process = Process(args, env, self.workdir / f"{slug}-{self._port}-{self._starts}.log")

    def _wait_until_ready(self, timeout: float) -> bool:
        """True once the server serves, False if it exited; TimeoutError otherwise."""
        process = self.process
        assert process is not None

        def ready_or_exited() -> str | None:
            if not process.alive():
                return "exited"
            return "ready" if self._serving() else None

        try:
            state = wait_for(ready_or_exited, timeout, f"the {self.name} on port {self._port}")
            if state == "ready":
                self._verify()
        except Exception as exc:
            message = f"{exc}\n--- {self.name} output ---\n{self.output()}"
            process.stop()
            if isinstance(exc, TimeoutError):
                raise TimeoutError(message) from exc
            raise RuntimeError(message) from exc
        if state == "exited":
            process.stop()
            return False
        return True

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the server's process group and wait for it (SIGKILL after ``timeout``)."""
        if self.process is not None:
            self.process.stop(timeout=timeout)

    def restart(self, timeout: float | None = None) -> None:
        """Stop and start again on the same port."""
        port = self.port
        self.stop()
        self.start(port=port, timeout=timeout)

    def __enter__(self) -> Self:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
