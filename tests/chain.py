"""A real Ethereum JSON-RPC dev node for tests: Hardhat v2's `hardhat node` (tools/chain).

``ensure_hardhat_installed()`` runs ``npm ci`` in tools/chain once (skipping locally, failing
with CI=true, when Node >= 20 is missing; see tests/node_tools.py). ``HardhatNode`` runs the
node as a child process on a loopback port; every start is a fresh chain (block 0, the 20
funded dev accounts, a new genesis timestamp).
No pytest fixtures here: tests/integration/conftest.py builds them from this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

from tests.node_tools import ensure_npm_project, quiet_node_env
from tests.procs import REPO_ROOT, LoopbackServer

HARDHAT_DIR = REPO_ROOT / "tools" / "chain"
HARDHAT_BIN = HARDHAT_DIR / "node_modules" / ".bin" / "hardhat"
HARDHAT_CHAIN_ID = 31337

# Hardhat's published test keys: dev accounts #0 and #1 of its default mnemonic ("test test
# ... junk"), printed by every `hardhat node` and known to everyone. Funded (10000 ETH) only
# on the test node; never use them against any other network.
HARDHAT_SIGNER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
HARDHAT_SECOND_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"

READY_LINE = "Started HTTP and WebSocket JSON-RPC server at"


def _node_env() -> dict[str, str]:
    """The environment for npm and Hardhat: no prompts, no colours, nothing phoning home.

    Hardhat 2 asks for telemetry consent only on a TTY, and its analytics, Sentry reports and
    Hardhat 3 banner download are off when it thinks it runs on CI (CI set, or Linux without
    a display); both are forced here. HARDHAT_* variables of the caller are dropped, since
    Hardhat reads them as CLI parameters (HARDHAT_NETWORK, HARDHAT_CONFIG, ...).
    """
    env = {key: value for key, value in quiet_node_env().items() if not key.startswith("HARDHAT_")}
    env.update(
        HARDHAT_DISABLE_TELEMETRY_PROMPT="true",
        HARDHAT_HIDE_SOLIDITY_SURVEY_MESSAGE="true",
    )
    return env


def ensure_hardhat_installed() -> Path:
    """Return tools/chain's hardhat binary, running `npm ci` there first if it is missing."""
    return ensure_npm_project(HARDHAT_DIR, HARDHAT_BIN, "the Hardhat dev node")


def rpc(url: str, method: str, *params: Any, timeout: float = 5.0) -> Any:
    """One JSON-RPC call over HTTP; the ``result``, or RuntimeError with the node's error."""
    payload = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    response = requests.post(url, json=payload, timeout=timeout)
    response.raise_for_status()
    body = response.json()
    if "error" in body:
        raise RuntimeError(f"{method} failed: {body['error']}")
    return body["result"]


class HardhatNode(LoopbackServer):
    """`hardhat node` on 127.0.0.1 as a child process, its output in ``workdir``.

    ``start()`` returns once the node answers ``eth_chainId``; ``stop()`` terminates its
    process group; ``restart()`` starts a fresh chain on the same port.
    """

    name = "Hardhat node"

    def _command(self) -> tuple[list[str], Mapping[str, str]]:
        binary = ensure_hardhat_installed()
        # Hardhat must run inside tools/chain (it refuses a "non-local installation" otherwise,
        # --config notwithstanding) and Process starts children in the repository root: cd,
        # then exec, so the node keeps the pid and process group that stop() signals.
        args = ["/bin/sh", "-c", 'cd "$0" && exec "$@"', str(HARDHAT_DIR), str(binary)]
        args += ["node", "--hostname", "127.0.0.1", "--port", str(self.port)]
        return args, _node_env()

    def _serving(self) -> bool:
        return READY_LINE in self.output() and bool(rpc(self.url, "eth_chainId"))

    def _verify(self) -> None:
        chain_id = rpc(self.url, "eth_chainId")
        if int(chain_id, 16) != HARDHAT_CHAIN_ID:
            raise RuntimeError(f"{self.url} has chain id {chain_id}, not 31337")
