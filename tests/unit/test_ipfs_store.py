"""The IPFS block stores: local add/cat with verification, the Kubo RPC calls, the CLI."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask

from app.config import ConfigError, load_config
from app.services.audit.ipfs import (
    CID,
    BlockNotFound,
    CorruptBlock,
    InvalidCID,
    IPFSUnavailable,
    KuboBlockStore,
    LocalBlockStore,
    NotAFile,
    blockstore_from_config,
    build_file,
)
from app.services.audit.ipfs.cid import DAG_PB
from app.services.audit.ipfs.unixfs import CHUNK_SIZE
from tests.unit.ipfs_support import payload


@pytest.fixture
def store(tmp_path: Path) -> LocalBlockStore:
    return LocalBlockStore(tmp_path / "blocks")


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * 1024 * 1024 + 5])
@pytest.mark.parametrize("cid_version", [0, 1])
def test_add_then_cat_gives_back_the_bytes(
    store: LocalBlockStore, size: int, cid_version: int
) -> None:
    data = payload(size)
    cid = store.add(data, cid_version)
    assert cid == str(build_file(data, cid_version).root)
    assert store.has(cid)
    assert store.cat(cid) == data


def test_adding_twice_stores_each_block_once(store: LocalBlockStore) -> None:
    data = payload(2 * CHUNK_SIZE)
    assert store.add(data) == store.add(data)
    assert len([p for p in store.directory.rglob("*") if p.is_file()]) == 3


def test_an_altered_block_is_detected(store: LocalBlockStore) -> None:
    data = payload(CHUNK_SIZE + 1)
    cid = store.add(data)
    leaf, _ = build_file(data).blocks[0]
    path = next(p for p in store.directory.rglob(leaf.digest.hex()))
    altered = bytearray(path.read_bytes())
    altered[-20] ^= 1
    path.write_bytes(bytes(altered))

    with pytest.raises(CorruptBlock, match=f"block {leaf} .* does not hash to its CID"):
        store.cat(cid)
    with pytest.raises(CorruptBlock):
        store.get(leaf)

    assert store.add(data) == cid  # adding the content again repairs the block
    assert store.cat(cid) == data


def test_put_refuses_bytes_that_do_not_hash_to_the_cid(store: LocalBlockStore) -> None:
    cid = CID.for_block(b"one", 1, DAG_PB)
    with pytest.raises(CorruptBlock, match="do not hash"):
        store.put(cid, b"another")
    assert not store.has(cid)


def test_unknown_and_missing_blocks_raise_block_not_found(store: LocalBlockStore) -> None:
    unknown = str(build_file(b"never stored").root)
    with pytest.raises(BlockNotFound, match=f"no block {unknown}") as raised:
        store.cat(unknown)
    assert isinstance(raised.value, KeyError)

    data = payload(CHUNK_SIZE + 1)
    cid = store.add(data)
    leaf, _ = build_file(data).blocks[1]
    next(store.directory.rglob(leaf.digest.hex())).unlink()
    with pytest.raises(BlockNotFound, match=str(leaf)):
        store.cat(cid)


def test_a_malformed_cid_is_refused_before_any_lookup(store: LocalBlockStore) -> None:
    with pytest.raises(InvalidCID, match="not a CIDv0"):
        store.cat("not-a-cid")


def test_blocks_that_are_not_unixfs_files_are_refused(store: LocalBlockStore) -> None:
    garbage = b"\xff\xff\xff"
    store.put(CID.for_block(garbage, 0, DAG_PB), garbage)
    with pytest.raises(CorruptBlock, match="not a UnixFS dag-pb node"):
        store.cat(CID.for_block(garbage, 0, DAG_PB))

    directory = b"\x0a\x02\x08\x01"  # PBNode{Data: UnixFS{Type: Directory}}
    store.put(CID.for_block(directory, 0, DAG_PB), directory)
    with pytest.raises(NotAFile, match="type 1, not a file"):
        store.cat(CID.for_block(directory, 0, DAG_PB))


def test_the_backend_follows_configuration(tmp_path: Path) -> None:
    config = load_config({"IPFS_BLOCKSTORE_DIR": str(tmp_path)})
    assert config["IPFS_BACKEND"] == "local"
    local = blockstore_from_config(config)
    assert isinstance(local, LocalBlockStore) and local.directory == tmp_path

    kubo = blockstore_from_config(
        load_config({"IPFS_BACKEND": "kubo", "IPFS_API_URL": "http://ipfs.internal:5001/"})
    )
    assert isinstance(kubo, KuboBlockStore) and kubo.api_url == "http://ipfs.internal:5001"
    with pytest.raises(ConfigError, match="IPFS_BACKEND"):
        load_config({"IPFS_BACKEND": "pinata"})


# --- the CLI ---------------------------------------------------------------------------


@pytest.fixture
def cli_app(app: Flask, tmp_path: Path) -> Flask:
    app.config["IPFS_BLOCKSTORE_DIR"] = str(tmp_path / "blocks")
    return app


@pytest.mark.parametrize("cid_version", ["0", "1"])
def test_cli_add_prints_the_cid_and_cat_writes_the_bytes(
    cli_app: Flask, tmp_path: Path, cid_version: str
) -> None:
    data = payload(CHUNK_SIZE + 3) + b"\0\r\n\xff"
    path = tmp_path / "payload.bin"
    path.write_bytes(data)
    runner = cli_app.test_cli_runner()

    added = runner.invoke(args=["ipfs", "add", str(path), "--cid-version", cid_version])
    assert added.exit_code == 0, added.output
    cid = added.stdout.strip()
    assert cid == str(build_file(data, int(cid_version)).root)

    shown = runner.invoke(args=["ipfs", "cat", cid])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout_bytes == data


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ipfs", "cat", "Qm-nonsense"], "not a CIDv0"),
        (["ipfs", "cat", "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"], "no block"),
        (["ipfs", "add", "/nonexistent/file"], "does not exist"),
        (["ipfs", "add", "/etc/hostname", "--cid-version", "2"], "'2' is not one of"),
    ],
)
def test_cli_bad_input_exits_non_zero_with_a_message(
    cli_app: Flask, args: list[str], message: str
) -> None:
    result = cli_app.test_cli_runner().invoke(args=args)
    assert result.exit_code != 0
    assert message in result.output


# --- Kubo over HTTP RPC, against a fake server (the real API: tests/integration) -----------


@dataclass
class FakeKubo:
    """Records each request and answers with the queued (status, body) replies."""

    url: str
    requests: list[dict[str, object]] = field(default_factory=list)
    replies: list[tuple[int, bytes]] = field(default_factory=list)


@pytest.fixture
def kubo() -> Iterator[FakeKubo]:
    fake = FakeKubo(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            fake.requests.append(
                {
                    "path": parts.path,
                    "query": {k: v[0] for k, v in parse_qs(parts.query).items()},
                    "content_type": self.headers.get("Content-Type", ""),
                    "body": self.rfile.read(length),
                }
            )
            status, body = fake.replies.pop(0)
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


def _error(message: str) -> bytes:
    return json.dumps({"Message": message, "Code": 0, "Type": "error"}).encode()


def _added(cid: str) -> bytes:
    return json.dumps({"Name": "data", "Hash": cid, "Size": "1"}).encode() + b"\n"


@pytest.mark.parametrize("cid_version", [0, 1])
def test_kubo_add_posts_the_file_with_explicit_import_settings(
    kubo: FakeKubo, cid_version: int
) -> None:
    data = payload(CHUNK_SIZE + 1)
    expected = str(build_file(data, cid_version).root)
    kubo.replies.append((200, _added(expected)))

    assert KuboBlockStore(kubo.url, timeout=5).add(data, cid_version) == expected
    (request,) = kubo.requests
    assert request["path"] == "/api/v0/add"
    assert request["query"] == {
        "cid-version": str(cid_version),
        "raw-leaves": "true" if cid_version else "false",
        "chunker": "size-262144",
        "hash": "sha2-256",
        "pin": "true",
        "timeout": "5s",
        **({"cid-base": "base32"} if cid_version else {}),
    }
    assert str(request["content_type"]).startswith("multipart/form-data")
    # js-ipfs refuses a file part without a Content-Type (tests/integration/test_ipfs_kubo.py).
    assert b"Content-Type: application/octet-stream\r\n\r\n" + data in request["body"]  # type: ignore[operator]


def test_kubo_add_refuses_a_cid_other_than_ours(kubo: FakeKubo) -> None:
    kubo.replies.append((200, _added("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH")))
    with pytest.raises(CorruptBlock, match="Import settings"):
        KuboBlockStore(kubo.url).add(b"not empty")


def test_kubo_cat_and_pin_send_the_cid_and_check_the_content(kubo: FakeKubo) -> None:
    data = payload(1000)
    cid = str(build_file(data, 1).root)
    store = KuboBlockStore(kubo.url)
    kubo.replies += [(200, data), (200, b'{"Pins": []}'), (200, data + b"!")]

    assert store.cat(cid) == data
    store.pin(cid)
    with pytest.raises(CorruptBlock, match="does not hash"):
        store.cat(cid)
    assert [(r["path"], r["query"]["arg"]) for r in kubo.requests] == [  # type: ignore[index]
        ("/api/v0/cat", cid),
        ("/api/v0/pin/add", cid),
        ("/api/v0/cat", cid),
    ]


def test_kubo_errors_are_told_apart(kubo: FakeKubo) -> None:
    store = KuboBlockStore(kubo.url)
    cid = str(build_file(b"x").root)
    absent = [
        "context deadline exceeded",  # Kubo, its timeout run out
        "block was not found locally (offline)",  # Kubo --offline
        "Failed to cat file: request timed out",  # js-ipfs, its timeout run out
    ]
    kubo.replies += [(500, _error(message)) for message in absent]
    kubo.replies += [
        (500, _error("Failed to cat file: this dag node is a directory")),
        (500, _error("repo lock held")),
    ]
    for _ in absent:
        with pytest.raises(BlockNotFound, match=cid):
            store.cat(cid)
    with pytest.raises(NotAFile, match=f"{cid} is a UnixFS directory"):
        store.cat(cid)
    with pytest.raises(IPFSUnavailable, match="repo lock held"):
        store.cat(cid)
    with pytest.raises(InvalidCID):
        store.cat("nope")
    assert len(kubo.requests) == 5


def test_kubo_unreachable_is_ipfs_unavailable() -> None:
    with pytest.raises(IPFSUnavailable, match="unreachable"):
        KuboBlockStore("http://127.0.0.1:9", timeout=1).add(b"data")
