"""The block store interface and the backend chosen by configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from app.services.audit.ipfs.cid import CID
from app.services.audit.ipfs.kubo import KuboBlockStore
from app.services.audit.ipfs.local import LocalBlockStore


class BlockStore(Protocol):
    """Stores files as UnixFS DAGs under the CIDs `ipfs add` gives them."""

    def add(self, data: bytes, cid_version: int = 0) -> str: ...

    def cat(self, cid: CID | str) -> bytes: ...


def blockstore_from_config(config: Mapping[str, Any]) -> BlockStore:
    """IPFS_BACKEND=kubo talks to IPFS_API_URL; local (the default) uses IPFS_BLOCKSTORE_DIR."""
    if config["IPFS_BACKEND"] == "kubo":
        return KuboBlockStore(config["IPFS_API_URL"], config["IPFS_API_TIMEOUT_SECONDS"])
    return LocalBlockStore(config["IPFS_BLOCKSTORE_DIR"])
