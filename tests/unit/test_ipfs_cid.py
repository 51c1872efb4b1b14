"""CIDs of the pure-Python UnixFS importer against Debian's `ipfs_cid` and published vectors.

`ipfs_cid` (package ipfs-cid) chunks and builds the DAG as `ipfs add` does with its
defaults, so its "CIDv0" is the reference for CIDv0. Its "CIDv1" is that same dag-pb root
re-encoded in base32 (what `ipfs cid base32` prints), not what `ipfs add --cid-version 1`
produces (raw leaves), so CIDv1 is checked against vectors Kubo publishes instead.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from app.services.audit.ipfs import CID, InvalidCID, build_file, parse_cid
from app.services.audit.ipfs.cid import DAG_PB, RAW, encode_varint
from app.services.audit.ipfs.unixfs import CHUNK_SIZE, MAX_LINKS
from tests.services import IN_CI
from tests.unit.ipfs_support import payload

SIZES = {
    "empty": 0,
    "one byte": 1,
    "one chunk": CHUNK_SIZE,
    "one chunk + 1": CHUNK_SIZE + 1,
    "about 3 MiB": 3 * 1024 * 1024 + 12_345,
}


def ipfs_cid(path: Path) -> dict[str, str]:
    """Run Debian's ipfs_cid on ``path``; without it skip, or in CI (.ci/run installs it) fail."""
    tool = shutil.which("ipfs_cid")
    if tool is None:
        message = "ipfs_cid is not installed (apt-get install ipfs-cid)"
        if IN_CI:
            pytest.fail(f"{message}; CI requires it (.ci/run installs it)")
        pytest.skip(message)
    output = subprocess.run(
        [tool, str(path)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return json.loads(next(line for line in output.splitlines() if line.startswith("{")))


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_cidv0_matches_ipfs_cid(size: int, tmp_path: Path) -> None:
    data = payload(size)
    path = tmp_path / "payload"
    path.write_bytes(data)
    reference = ipfs_cid(path)

    root = build_file(data, cid_version=0).root
    assert str(root) == reference["CIDv0"]
    # The tool's CIDv1 is the same root in base32: checks the CIDv1 string encoding.
    assert str(CID(1, DAG_PB, root.digest)) == reference["CIDv1"]


def test_a_second_dag_level_matches_ipfs_cid(tmp_path: Path) -> None:
    """175 chunks (the fewest that overflow one node of 174 links) force a tree of depth 2."""
    data = payload(MAX_LINKS * CHUNK_SIZE + 1)
    path = tmp_path / "large"
    path.write_bytes(data)

    build = build_file(data, cid_version=0)
    assert len(build.blocks) == MAX_LINKS + 1 + 2 + 1  # leaves, two inner nodes, root
    assert str(build.root) == ipfs_cid(path)["CIDv0"]


@pytest.mark.parametrize(
    ("data", "cid_version", "expected"),
    [
        # Kubo's docs and tests: `echo "hello world" | ipfs add` and the empty file.
        (b"hello world\n", 0, "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"),
        (b"", 0, "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"),
        # `ipfs add --cid-version 1`: a single chunk is one raw block.
        (b"hello world\n", 1, "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"),
        (b"", 1, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"),
    ],
)
def test_published_vectors(data: bytes, cid_version: int, expected: str) -> None:
    assert str(build_file(data, cid_version).root) == expected


def test_cidv1_uses_raw_leaves_under_dag_pb_parents() -> None:
    data = payload(2 * CHUNK_SIZE + 7)
    build = build_file(data, cid_version=1)
    *leaves, (root, _) = build.blocks

    chunks = [data[i : i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE)]
    assert leaves == [(CID.for_block(chunk, 1, RAW), chunk) for chunk in chunks]
    assert root.version == 1 and root.codec == DAG_PB
    assert str(root).startswith("bafybei")
    assert build.root == root


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE + 1])
@pytest.mark.parametrize("cid_version", [0, 1])
def test_cid_strings_parse_back(size: int, cid_version: int) -> None:
    root = build_file(payload(size), cid_version).root
    assert parse_cid(str(root)) == root


def _v1(codec: int, multihash: bytes) -> str:
    encoded = base64.b32encode(encode_varint(1) + encode_varint(codec) + multihash)
    return "b" + encoded.decode().lower().rstrip("=")


_DIGEST = bytes(range(32))

MALFORMED = {
    "empty": ("", "empty CID"),
    "not a CID at all": ("hello", "not a CIDv0"),
    "base58 character 0": ("Qm" + "0" * 44, "not a base58btc character"),
    "CIDv0 too short": ("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5", "not a CIDv0"),
    "base58 CIDv1": ("zdj7WWeQ43G6JJvLWQWZpyHuAMq6uYWRjkBXFad11vE2LHhQ7", "not a CIDv0"),
    "invalid base32": ("bafy1!", "not valid base32"),
    "truncated digest": (_v1(DAG_PB, b"\x12\x20" + _DIGEST[:20]), "digest is 32 bytes, got 20"),
    "dag-cbor codec": (_v1(0x71, b"\x12\x20" + _DIGEST), "unsupported codec 0x71"),
    "blake2b multihash": (
        _v1(RAW, encode_varint(0xB220) + b"\x20" + _DIGEST),
        "unsupported multihash function 0xb220",
    ),
    "version 2": (
        "b" + base64.b32encode(b"\x02\x55\x12\x20" + _DIGEST).decode().lower().rstrip("="),
        "CID version 2",
    ),
}


@pytest.mark.parametrize(("text", "problem"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_cids_name_the_problem(text: str, problem: str) -> None:
    with pytest.raises(InvalidCID, match=problem) as raised:
        parse_cid(text)
    assert isinstance(raised.value, ValueError)
