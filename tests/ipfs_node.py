"""A real IPFS HTTP RPC API for tests: js-ipfs's `jsipfs daemon` (tools/ipfs).

No Kubo binary can be installed here, and js-ipfs (deprecated, last released as ipfs 0.66)
serves the same `/api/v0/…` RPC API from npm alone. ``JsIpfsDaemon`` runs it as a child
process on a loopback port with its repository (IPFS_PATH) in a temporary directory, and
never on the network: no bootstrap peers, no swarm listeners, no MDNS, no DHT, no delegate
or preload nodes, no update check (see ``_config`` and ``_node_env``). Its repository
survives ``restart()``, as a Kubo node's would.
No pytest fixtures here: tests/integration/conftest.py builds them from this module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

from tests.node_tools import ensure_npm_project, quiet_node_env
from tests.procs import REPO_ROOT, LoopbackServer

JSIPFS_DIR = REPO_ROOT / "tools" / "ipfs"
JSIPFS_BIN = JSIPFS_DIR / "node_modules" / ".bin" / "jsipfs"


def ensure_jsipfs_installed() -> Path:
    """Return tools/ipfs's jsipfs binary, running `npm ci` there first if it is missing.

    No install script is run: none is needed (classic-level loads the prebuilt LevelDB
    binding it ships) and none may download anything.
    """
    return ensure_npm_project(JSIPFS_DIR, JSIPFS_BIN, "the js-ipfs daemon", ("--ignore-scripts",))


def _node_env(repo: Path) -> dict[str, str]:
    # NODE_ENV=test also turns off js-ipfs's preload nodes and update-notifier's check.
    return {**quiet_node_env(), "IPFS_PATH": str(repo), "NODE_ENV": "test"}


def _api_address(port: int) -> str:
    return f"/ip4/127.0.0.1/tcp/{port}"


def _config(port: int) -> dict[str, Any]:
    """The settings `jsipfs daemon` merges into a new repository's config: the RPC API on
    ``port`` and nothing else listening or dialling out."""
    return {
        "Addresses": {
            "API": _api_address(port),
            "Gateway": "",
            "RPC": "",
            "Swarm": [],
            "Announce": [],
            "NoAnnounce": [],
            "Delegates": [],
        },
        "Bootstrap": [],
        "Discovery": {"MDNS": {"Enabled": False}, "webRTCStar": {"Enabled": False}},
        "Pubsub": {"Enabled": False},
        "Routing": {"Type": "none"},
        "Swarm": {"DisableNatPortMap": True},
    }


class JsIpfsDaemon(LoopbackServer):
    """`jsipfs daemon --offline` on 127.0.0.1, its repository under ``workdir``/repo.

    ``start()`` returns once ``/api/v0/version`` answers; ``restart()`` keeps the content.
    """

    name = "js-ipfs daemon"

    @property
    def repo(self) -> Path:
        return self.workdir / "repo"

    def _command(self) -> tuple[list[str], Mapping[str, str]]:
        binary = ensure_jsipfs_installed()
        args = [str(binary), "daemon", "--offline", "--enable-preload=false"]
        repo_config = self.repo / "config"
        if repo_config.exists():
            # The repository keeps the port it was created with; a start on another port
            # (after the first one was taken) moves its API there.
            config = json.loads(repo_config.read_text())
            config["Addresses"]["API"] = _api_address(self.port)
            repo_config.write_text(json.dumps(config, indent=2))
        else:
            init_config = self.workdir / "init-config.json"
            init_config.write_text(json.dumps(_config(self.port), indent=2))
            args += ["--init-config", str(init_config)]
        return args, _node_env(self.repo)

    def _serving(self) -> bool:
        return bool(self.version())

    def _verify(self) -> None:
        response = requests.post(f"{self.url}/api/v0/id", timeout=5)
        response.raise_for_status()
        answering = response.json()["ID"]
        ours = json.loads((self.repo / "config").read_text())["Identity"]["PeerID"]
        if answering != ours:
            raise RuntimeError(f"{self.url} is IPFS peer {answering}, not ours ({ours})")

    def version(self) -> str:
        """The daemon's `/api/v0/version`, e.g. "0.18.1" (js-ipfs core, not the npm package)."""
        response = requests.post(f"{self.url}/api/v0/version", timeout=5)
        response.raise_for_status()
        return str(response.json()["Version"])
