"""A real Ethereum JSON-RPC dev node for tests: Hardhat v2's `hardhat node` (tools/chain).

``ensure_hardhat_installed()`` checks for Node >= 20 (skipping locally, failing with CI=true
when it is missing, as tests/services.py does for services) and runs ``npm ci`` in
tools/chain once. ``HardhatNode`` runs the node as a child process on a loopback port; every
start is a fresh chain (block 0, the 20 funded dev accounts, a new genesis timestamp).
No pytest fixtures here: tests/integration/conftest.py builds them from this module.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

import pytest
import requests

from tests.procs import REPO_ROOT, Process, free_port, wait_for
from tests.services import IN_CI

HARDHAT_DIR = REPO_ROOT / "tools" / "chain"
HARDHAT_BIN = HARDHAT_DIR / "node_modules" / ".bin" / "hardhat"
HARDHAT_CHAIN_ID = 31337
MIN_NODE_MAJOR = 20

# Hardhat's published test keys: dev accounts #0 and #1 of its default mnemonic ("test test
# ... junk"), printed by every `hardhat node` and known to everyone. Funded (10000 ETH) only
# on the test node; never use them against any other network.
HARDHAT_SIGNER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
HARDHAT_SECOND_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"

READY_LINE = "Started HTTP and WebSocket JSON-RPC server at"
NPM_CI_TIMEOUT = 600
START_TIMEOUT = 60.0


def _missing(reason: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"{reason}; CI requires it")
    pytest.skip(reason)


def _node_env() -> dict[str, str]:
    """The environment for npm and Hardhat: no prompts, no colours, nothing phoning home.

    Hardhat 2 asks for telemetry consent only on a TTY, and its analytics, Sentry reports and
    Hardhat 3 banner download are off when it thinks it runs on CI (CI set, or Linux without
    a display); both are forced here. HARDHAT_* variables of the caller are dropped, since
    Hardhat reads them as CLI parameters (HARDHAT_NETWORK, HARDHAT_CONFIG, ...).
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("HARDHAT_")}
    env.update(
        HARDHAT_DISABLE_TELEMETRY_PROMPT="true",
        HARDHAT_HIDE_SOLIDITY_SURVEY_MESSAGE="true",
        CI="true",
        NO_COLOR="1",
        FORCE_COLOR="0",
        NO_UPDATE_NOTIFIER="1",
        npm_config_update_notifier="false",
        npm_config_audit="false",
        npm_config_fund="false",
    )
    return env


def ensure_hardhat_installed() -> Path:
    """Return tools/chain's hardhat binary, running `npm ci` there first if it is missing.

    Without node/npm/npx or with Node < 20 the calling test is skipped (failed with CI=true).
    """
    tools = {name: shutil.which(name) for name in ("node", "npm", "npx")}
    absent = [name for name, path in tools.items() if path is None]
    if absent:
        _missing(f"{', '.join(absent)} not found; the Hardhat dev node needs Node.js and npm")
    node, npm = str(tools["node"]), str(tools["npm"])
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    major = re.match(r"v(\d+)\.", version.stdout.strip())
    if not major or int(major.group(1)) < MIN_NODE_MAJOR:
        _missing(f"the Hardhat dev node needs Node >= {MIN_NODE_MAJOR}, found {version.stdout!r}")

    if not HARDHAT_BIN.exists():
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=HARDHAT_DIR,
            env=_node_env(),
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT,
        )
        if installed.returncode != 0 or not HARDHAT_BIN.exists():
            raise RuntimeError(
                f"`npm ci` in {HARDHAT_DIR} failed (exit {installed.returncode}):\n"
                f"--- stdout ---\n{installed.stdout}\n--- stderr ---\n{installed.stderr}"
            )
    return HARDHAT_BIN


def rpc(url: str, method: str, *params: Any, timeout: float = 5.0) -> Any:
    """One JSON-RPC call over HTTP; the ``result``, or RuntimeError with the node's error."""
    payload = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    response = requests.post(url, json=payload, timeout=timeout)
    response.raise_for_status()
    body = response.json()
    if "error" in body:
        raise RuntimeError(f"{method} failed: {body['error']}")
    return body["result"]


class HardhatNode:
    """`hardhat node` on 127.0.0.1 as a child process, its output in ``workdir``.

    ``start()`` returns once the node answers ``eth_chainId``; ``stop()`` terminates its
    process group; ``restart()`` starts a fresh chain on the same port.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.process: Process | None = None
        self._port: int | None = None
        self._starts = 0

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the Hardhat node has not been started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.alive()

    def output(self) -> str:
        """Everything the current (or last) node process printed."""
        if self.process is None:
            return ""
        return self.process.log_path.read_text(errors="replace")

    def start(self, port: int | None = None, timeout: float = START_TIMEOUT) -> None:
        if self.running:
            raise RuntimeError(f"the Hardhat node is already running at {self.url}")
        binary = ensure_hardhat_installed()
        # A port we picked may be taken between free_port() and the bind: try another one.
        attempts = 1 if port is not None else 3
        for attempt in range(1, attempts + 1):
            self._port = port if port is not None else free_port()
            self._spawn(binary)
            if self._wait_until_ready(timeout) or attempt == attempts:
                break
        if not self.running:
            raise RuntimeError(
                f"the Hardhat node exited before it was ready on port {self._port}:\n"
                f"{self.output()}"
            )

    def _spawn(self, binary: Path) -> None:
        self._starts += 1
        log_path = self.workdir / f"hardhat-{self._port}-{self._starts}.log"
        # Hardhat must run inside tools/chain (it refuses a "non-local installation" otherwise,
        # --config notwithstanding) and Process starts children in the repository root: cd,
        # then exec, so the node keeps the pid and process group that stop() signals.
        args = ["/bin/sh", "-c", 'cd "$0" && exec "$@"', str(HARDHAT_DIR), str(binary)]
        args += ["node", "--hostname", "127.0.0.1", "--port", str(self._port)]
        self.process = Process(args, _node_env(), log_path)

    def _wait_until_ready(self, timeout: float) -> bool:
        """True once the node serves requests, False if it exited; TimeoutError otherwise."""
        process = self.process
        assert process is not None

        def ready_or_exited() -> str | None:
            if READY_LINE in self.output():
                return "ready"
            return None if process.alive() else "exited"

        try:
            state = wait_for(ready_or_exited, timeout, f"the Hardhat node on port {self._port}")
            if state == "ready":
                chain_id = wait_for(
                    lambda: rpc(self.url, "eth_chainId"), 10, f"eth_chainId from {self.url}"
                )
                if int(chain_id, 16) != HARDHAT_CHAIN_ID:
                    raise RuntimeError(f"{self.url} has chain id {chain_id}, not 31337")
        except Exception as exc:
            message = f"{exc}\n--- hardhat node output ---\n{self.output()}"
            process.stop()
            if isinstance(exc, TimeoutError):
                raise TimeoutError(message) from exc
            raise RuntimeError(message) from exc
        if state == "exited":
            process.stop()
            return False
        return True

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the node's process group and wait for it (SIGKILL after ``timeout``)."""
        if self.process is not None:
            self.process.stop(timeout=timeout)

    def restart(self, timeout: float = START_TIMEOUT) -> None:
        """Stop and start again on the same port: a new, empty chain (block number 0)."""
        port = self.port
        self.stop()
        self.start(port=port, timeout=timeout)

    def __enter__(self) -> HardhatNode:
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
