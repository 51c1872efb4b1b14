"""The child processes that stand in for external services, and the settings they imply."""

from __future__ import annotations

import atexit
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

EMBEDDED_REDIS_START_SECONDS = 30
EMBEDDED_CHAIN_START_SECONDS = 60


@dataclass
class EmbeddedProcess:
    """A child process standing in for an external service, at ``url``."""

    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_embedded_redis() -> EmbeddedProcess:
    """Start the Redis stand-in process and wait until it accepts connections."""
    port = _free_port()
    command = [sys.executable, "-m", "app.standalone.embedded_redis", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603 (fixed argv)
    embedded = EmbeddedProcess(process=process, url=f"redis://127.0.0.1:{port}")
    atexit.register(embedded.stop)
    deadline = time.monotonic() + EMBEDDED_REDIS_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the embedded Redis exited with status {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return embedded
        except OSError:
            time.sleep(0.05)
    embedded.stop()
    raise RuntimeError(f"the embedded Redis did not listen on port {port} in time")


@dataclass
class EmbeddedChain(EmbeddedProcess):
    chain_id: int
    private_key: str


def start_embedded_chain() -> EmbeddedChain:
    """Start the chain process with a new funded signing key; wait until it serves."""
    from app.services.audit.chain import signer_address

    private_key = "0x" + secrets.token_hex(32)
    command = [
        sys.executable,
        "-m",
        "app.standalone.embedded_chain",
        "--fund",
        signer_address(private_key),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE)  # noqa: S603 (fixed argv)
    assert process.stdout is not None
    ready = threading.Event()
    line: list[bytes] = []

    def read_ready_line() -> None:
        line.append(process.stdout.readline())  # type: ignore[union-attr]
        ready.set()

    threading.Thread(target=read_ready_line, daemon=True).start()
    match = None
    if ready.wait(EMBEDDED_CHAIN_START_SECONDS) and line:
        match = re.search(rb"ready on (\S+) chain_id=(\d+)", line[0])
    if match is None:
        process.kill()
        raise RuntimeError("the embedded Ethereum chain did not start")
    chain = EmbeddedChain(
        process=process,
        url=match.group(1).decode(),
        chain_id=int(match.group(2)),
        private_key=private_key,
    )
    atexit.register(chain.stop)
    return chain


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
