"""The child processes of standalone mode: how each starts, when it is ready, how it stops.

Each child runs in a process group of its own: a Ctrl-C at the terminal reaches the web
process alone, which stops the children in order (see supervisor), and the remains of a
child that died (a worker's pool process) can be cleared with its group. Each child ends
itself when the web process is gone (see lifeline).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

from app.celery_app import QUEUES
from app.config import REPO_ROOT

READY_SECONDS = 30.0
CHAIN_READY_SECONDS = 60.0
STOP_SECONDS = 10.0
POLL_SECONDS = 0.05

Sleep = Callable[[float], None]
C = TypeVar("C", bound="ChildProcess")


class ChildFailed(RuntimeError):
    """A child exited or did not become ready; the message says which and why."""


def describe_exit(status: int) -> str:
    """``status`` of Popen.returncode in words: "status 1", "signal SIGKILL"."""
    if status < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-status).name}"
        return f"signal {-status}"
    return f"status {status}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class ChildProcess:
    """One child: a fixed command, restartable as often as needed, and, for a stand-in of
    a service, the loopback ``port`` it is ready on and the ``url`` it is reached at."""

    def __init__(
        self,
        name: str,
        command: list[str],
        *,
        port: int | None = None,
        url: str | None = None,
        ready_seconds: float = READY_SECONDS,
        quiet: bool = False,
    ) -> None:
        self.name = name
        self.command = command
        self.port = port
        self.url = url
        self.ready_seconds = ready_seconds
        self.quiet = quiet
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 (this interpreter, a fixed argv, no shell)
            self.command,
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL if self.quiet else None,
            process_group=0,
        )

    def exit_status(self) -> int | None:
        """None while running (or never started), else its return code; reaps it."""
        return None if self.process is None else self.process.poll()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_ready(
        self, sleep: Sleep = time.sleep, give_up: Callable[[], bool] = lambda: False
    ) -> None:
        """Return once the child serves on its port (at once if it has none); raise
        ChildFailed if it exits, does not get there in time, or ``give_up()`` says so."""
        deadline = time.monotonic() + self.ready_seconds
        while self.port is not None and not _listening(self.port):
            status = self.exit_status()
            if status is not None:
                raise ChildFailed(f"the {self.name} exited with {describe_exit(status)}")
            if give_up():
                raise ChildFailed(f"the {self.name} was stopped while starting")
            if time.monotonic() > deadline:
                raise ChildFailed(
                    f"the {self.name} did not listen on port {self.port} "
                    f"in {self.ready_seconds:g} s"
                )
            sleep(POLL_SECONDS)

    def terminate(self) -> None:
        if self.running:
            self.process.terminate()  # type: ignore[union-attr]

    def stop(self, sleep: Sleep = time.sleep) -> None:
        """SIGTERM, and SIGKILL to its group if it has not exited within STOP_SECONDS."""
        self.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        while self.running and time.monotonic() < deadline:
            sleep(POLL_SECONDS)
        if self.running:
            self.clear_group()
        while self.running:
            sleep(POLL_SECONDS)

    def clear_group(self) -> None:
        """SIGKILL every process left in the child's group (the child included)."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)


class EmbeddedChain(ChildProcess):
    """The chain child: funds ``signer`` (the key standalone anchors with) on every start."""

    def __init__(self, port: int, private_key: str) -> None:
        from app.services.audit.chain import signer_address

        self.private_key = private_key
        self.signer = signer_address(private_key)
        self.chain_id = 0
        command = [sys.executable, "-m", "app.standalone.embedded_chain"]
        super().__init__(
            "embedded chain",
            [*command, "--port", str(port), "--fund", self.signer],
            port=port,
            url=f"http://127.0.0.1:{port}",
            ready_seconds=CHAIN_READY_SECONDS,
            quiet=True,
        )

    def wait_ready(
        self, sleep: Sleep = time.sleep, give_up: Callable[[], bool] = lambda: False
    ) -> None:
        # The chain listens only once the signer is funded.
        super().wait_ready(sleep, give_up)
        try:
            self.chain_id = int(rpc(self.url, "eth_chainId"), 16)  # type: ignore[arg-type]
        except (OSError, ValueError) as exc:
            raise ChildFailed(f"the {self.name} does not answer eth_chainId: {exc}") from exc


def rpc(url: str, method: str, params: list[Any] | None = None) -> Any:
    """One JSON-RPC call; the result, or ChildFailed with the node's error."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(  # noqa: S310 (the chain's own loopback URL)
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        reply = json.loads(response.read())
    if "error" in reply:
        raise ChildFailed(f"{method} at {url}: {reply['error']}")
    return reply["result"]


def embedded_redis() -> ChildProcess:
    port = free_port()
    command = [sys.executable, "-m", "app.standalone.embedded_redis", "--port", str(port)]
    return ChildProcess(
        "embedded Redis", command, port=port, url=f"redis://127.0.0.1:{port}", quiet=True
    )


def embedded_chain() -> EmbeddedChain:
    """The chain child with a new signing key, made for this run."""
    return EmbeddedChain(free_port(), "0x" + secrets.token_hex(32))


def celery_worker() -> ChildProcess:
    command = ["worker", "-l", "warning", "-c", "1", "-E", "-Q", ",".join(QUEUES)]
    return ChildProcess("Celery worker", _celery(command))


def celery_beat(schedule_file: str) -> ChildProcess:
    command = ["beat", "-l", "warning", "--schedule", schedule_file]
    return ChildProcess("Celery beat", _celery(command))


def _celery(arguments: list[str]) -> list[str]:
    entry = [sys.executable, "-m", "app.standalone.celery_child"]
    return [*entry, "-A", "celery_config.celery_app", *arguments]


def start_embedded_redis() -> ChildProcess:
    """Start the Redis stand-in and wait until it accepts connections (tests use it too)."""
    return _started(embedded_redis())


def start_embedded_chain() -> EmbeddedChain:
    """Start a chain with a new funded signing key and wait until it serves."""
    return _started(embedded_chain())


def _started(child: C) -> C:
    child.start()
    try:
        child.wait_ready()
    except ChildFailed:
        child.stop()
        raise
    return child


def standalone_settings(redis_url: str, chain: EmbeddedChain | None = None) -> dict[str, Any]:
    """Settings that point every Redis user at the embedded server and, given the embedded
    chain, anchoring at it (ephemeral: the chain ends with the process that started it)."""
    settings: dict[str, Any] = {
        "APP_MODE": "standalone",
        "REDIS_URL": f"{redis_url}/0",
        "CELERY_BROKER_URL": f"{redis_url}/2",
        "CELERY_RESULT_BACKEND": f"{redis_url}/1",
        "SOCKETIO_MESSAGE_QUEUE": f"{redis_url}/3",
    }
    if chain is not None:
        settings.update(
            {
                "ETH_RPC_URL": chain.url,
                "ETH_CHAIN_ID": chain.chain_id,
                "ETH_PRIVATE_KEY": chain.private_key,
                "ETH_CHAIN_EPHEMERAL": "true",
                # The test chain mines only when there is something to mine.
                "ETH_MAX_BLOCK_AGE_SECONDS": 0,
            }
        )
    return settings
