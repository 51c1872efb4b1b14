"""The Kubo backend (KuboBlockStore) against a real IPFS HTTP RPC API: js-ipfs's daemon.

No Kubo binary can be had on this machine; js-ipfs serves the same `/api/v0/` calls and,
given the import parameters the backend sends, builds the same DAGs. These tests check what
the fake server in tests/unit/test_ipfs_store.py cannot: that the daemon accepts the
requests as sent and stores content under the very CIDs the local store computes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from app.services.audit.ipfs import (
    BlockNotFound,
    CorruptBlock,
    IPFSUnavailable,
    KuboBlockStore,
    LocalBlockStore,
    NotAFile,
    build_file,
)
from app.services.audit.ipfs.unixfs import CHUNK_SIZE, MAX_LINKS
from tests.ipfs_node import JsIpfsDaemon
from tests.unit.ipfs_support import payload

pytestmark = pytest.mark.integration

SIZES = [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * 1024 * 1024 + 5]
# A lookup of absent content waits this long for the network the daemon does not have.
SHORT_TIMEOUT = 1.0


@pytest.fixture
def kubo(ipfs_daemon: JsIpfsDaemon) -> KuboBlockStore:
    return KuboBlockStore(ipfs_daemon.url, timeout=10)


def _rpc(daemon: JsIpfsDaemon, command: str, **params: str) -> requests.Response:
    """A raw RPC call, for what the backend does not offer (pin/ls, pin/rm)."""
    response = requests.post(f"{daemon.url}/api/v0/{command}", params=params, timeout=10)
    response.raise_for_status()
    return response


@pytest.mark.parametrize("cid_version", [0, 1])
@pytest.mark.parametrize("size", SIZES)
def test_add_gives_the_local_stores_cid_and_cat_the_bytes(
    kubo: KuboBlockStore, tmp_path: Path, size: int, cid_version: int
) -> None:
    data = payload(size)
    cid = kubo.add(data, cid_version)
    assert cid == LocalBlockStore(tmp_path).add(data, cid_version)
    assert kubo.cat(cid) == data


@pytest.mark.parametrize("cid_version", [0, 1])
def test_a_file_of_two_dag_levels_has_the_local_stores_cid(
    kubo: KuboBlockStore, cid_version: int
) -> None:
    """Past MAX_LINKS chunks the root links to inner nodes: the daemon's layout must agree."""
    data = payload(MAX_LINKS * CHUNK_SIZE + 1)
    cid = kubo.add(data, cid_version)
    assert cid == str(build_file(data, cid_version).root)
    assert kubo.cat(cid) == data


def test_added_content_is_pinned_and_pin_pins_it_again(
    kubo: KuboBlockStore, ipfs_daemon: JsIpfsDaemon
) -> None:
    cid = kubo.add(payload(CHUNK_SIZE + 2))
    assert _rpc(ipfs_daemon, "pin/ls", arg=cid).json()["Keys"][cid]["Type"] == "recursive"

    _rpc(ipfs_daemon, "pin/rm", arg=cid)
    with pytest.raises(requests.HTTPError):
        _rpc(ipfs_daemon, "pin/ls", arg=cid)
    kubo.pin(cid)
    assert _rpc(ipfs_daemon, "pin/ls", arg=cid).json()["Keys"][cid]["Type"] == "recursive"


@pytest.mark.parametrize("cid_version", [0, 1])
def test_absent_content_is_block_not_found(ipfs_daemon: JsIpfsDaemon, cid_version: int) -> None:
    """The daemon answers within the backend's `timeout` parameter, before the HTTP timeout."""
    store = KuboBlockStore(ipfs_daemon.url, timeout=SHORT_TIMEOUT)
    absent = str(build_file(b"never added to any IPFS node", cid_version).root)
    with pytest.raises(BlockNotFound, match=absent):
        store.cat(absent)
    with pytest.raises(BlockNotFound, match=absent):
        store.pin(absent)
    assert ipfs_daemon.running


def test_a_directory_is_not_a_file(kubo: KuboBlockStore, ipfs_daemon: JsIpfsDaemon) -> None:
    added = requests.post(
        f"{ipfs_daemon.url}/api/v0/add",
        params={"wrap-with-directory": "true"},
        files={"file": ("inside.txt", b"a file in a directory", "application/octet-stream")},
        timeout=10,
    )
    added.raise_for_status()
    entries = [json.loads(line) for line in added.text.splitlines() if line.strip()]
    (directory,) = [entry["Hash"] for entry in entries if entry["Name"] == ""]
    with pytest.raises(NotAFile, match=directory):
        kubo.cat(directory)


def test_content_altered_in_the_daemons_repository_is_corrupt(
    kubo: KuboBlockStore, ipfs_daemon: JsIpfsDaemon
) -> None:
    """The daemon does not rehash what it reads back from disk; the backend does."""
    data = payload(1000)
    cid = kubo.add(data, 1)  # one raw leaf: the block file holds exactly ``data``
    (block_file,) = [p for p in ipfs_daemon.repo.rglob("*.data") if p.read_bytes() == data]
    block_file.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))

    with pytest.raises(CorruptBlock, match="does not hash"):
        kubo.cat(cid)


def test_a_stopped_daemon_is_ipfs_unavailable_and_a_restarted_one_still_has_the_content(
    kubo: KuboBlockStore, ipfs_daemon: JsIpfsDaemon
) -> None:
    data = payload(CHUNK_SIZE + 3)
    cid = kubo.add(data)
    ipfs_daemon.stop()

    with pytest.raises(IPFSUnavailable, match="unreachable"):
        kubo.add(data)
    with pytest.raises(IPFSUnavailable, match="unreachable"):
        kubo.cat(cid)
    with pytest.raises(IPFSUnavailable, match="unreachable"):
        kubo.pin(cid)

    ipfs_daemon.start(port=ipfs_daemon.port)
    assert kubo.cat(cid) == data
