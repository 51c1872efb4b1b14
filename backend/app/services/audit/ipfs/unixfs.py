"""UnixFS files as `ipfs add` builds them: fixed-size chunks in a balanced dag-pb tree.

Mirrors go-unixfs's balanced importer with Kubo's defaults: 262,144-byte chunks, at most
174 links per node, leaves as dag-pb UnixFS `File` nodes for CIDv0 and as raw blocks for
CIDv1 (``--cid-version 1`` implies ``--raw-leaves``). A file of one chunk is that leaf
alone; an empty file is a leaf without data. Protobuf is written by hand in the byte order
go-merkledag produces (links before data), since the CID is the hash of exactly those bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from app.services.audit.ipfs.cid import (
    CID,
    DAG_PB,
    RAW,
    cid_from_bytes,
    decode_varint,
    encode_varint,
)
from app.services.audit.ipfs.errors import CorruptBlock, InvalidCID, NotAFile

CHUNK_SIZE = 262_144
MAX_LINKS = 174

# UnixFS Data.DataType values.
_TYPE_RAW = 0
_TYPE_FILE = 2
_FILE_TYPES = (_TYPE_RAW, _TYPE_FILE)

_VARINT = 0
_LENGTH_DELIMITED = 2


def _key(number: int, wire_type: int) -> bytes:
    return encode_varint(number << 3 | wire_type)


def _bytes_field(number: int, value: bytes) -> bytes:
    return _key(number, _LENGTH_DELIMITED) + encode_varint(len(value)) + value


def _varint_field(number: int, value: int) -> bytes:
    return _key(number, _VARINT) + encode_varint(value)


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """Yield (field number, value) of a protobuf message with varint and bytes fields."""
    offset = 0
    while offset < len(data):
        key, offset = decode_varint(data, offset)
        number, wire_type = key >> 3, key & 7
        if wire_type == _VARINT:
            value, offset = decode_varint(data, offset)
            yield number, value
        elif wire_type == _LENGTH_DELIMITED:
            length, offset = decode_varint(data, offset)
            if offset + length > len(data):
                raise ValueError(f"field {number} runs past the end of the message")
            yield number, data[offset : offset + length]
            offset += length
        else:
            raise ValueError(f"unexpected protobuf wire type {wire_type}")


@dataclass(frozen=True)
class _Child:
    cid: CID
    file_size: int
    tree_size: int  # the link's Tsize: this block plus everything below it


@dataclass
class DagBuild:
    """The blocks of one file, root last, and the root CID that `ipfs add` prints."""

    root: CID
    blocks: list[tuple[CID, bytes]] = field(default_factory=list)


def _unixfs_file(data: bytes | None, file_size: int, block_sizes: list[int]) -> bytes:
    out = _varint_field(1, _TYPE_FILE)
    if data:
        out += _bytes_field(2, data)
    out += _varint_field(3, file_size)
    return out + b"".join(_varint_field(4, size) for size in block_sizes)


def _pb_node(links: list[_Child], data: bytes) -> bytes:
    encoded = b"".join(
        _bytes_field(
            2,
            _bytes_field(1, link.cid.to_bytes())
            + _bytes_field(2, b"")  # go-merkledag always writes the (empty) name
            + _varint_field(3, link.tree_size),
        )
        for link in links
    )
    return encoded + _bytes_field(1, data)


def build_file(data: bytes, cid_version: int = 0) -> DagBuild:
    """Chunk ``data`` and build its DAG as `ipfs add [--cid-version 1]` does."""
    if cid_version not in (0, 1):
        raise ValueError(f"cid_version must be 0 or 1, not {cid_version!r}")
    raw_leaves = cid_version == 1
    build = DagBuild(root=CID(0, DAG_PB, b""))

    def store(block: bytes, codec: int) -> CID:
        cid = CID.for_block(block, cid_version, codec)
        build.blocks.append((cid, block))
        return cid

    def leaf(chunk: bytes) -> _Child:
        if raw_leaves:
            return _Child(store(chunk, RAW), len(chunk), len(chunk))
        block = _pb_node([], _unixfs_file(chunk, len(chunk), []))
        return _Child(store(block, DAG_PB), len(chunk), len(block))

    def parent(children: list[_Child]) -> _Child:
        sizes = [child.file_size for child in children]
        block = _pb_node(children, _unixfs_file(None, sum(sizes), sizes))
        tree_size = len(block) + sum(child.tree_size for child in children)
        return _Child(store(block, DAG_PB), sum(sizes), tree_size)

    # Filling each node with MAX_LINKS subtrees of the level below before starting the
    # next, as the balanced importer does, is the same as grouping level by level.
    level = [leaf(data[start : start + CHUNK_SIZE]) for start in range(0, len(data), CHUNK_SIZE)]
    if not level:
        level = [leaf(b"")]
    while len(level) > 1:
        level = [parent(level[i : i + MAX_LINKS]) for i in range(0, len(level), MAX_LINKS)]
    build.root = level[0].cid
    return build


def read_file(root: CID, get_block: Callable[[CID], bytes]) -> bytes:
    """Reassemble a UnixFS file from its root; ``get_block`` returns verified bytes."""
    parts: list[bytes] = []
    stack = [root]
    while stack:
        cid = stack.pop()
        block = get_block(cid)
        if cid.codec == RAW:
            parts.append(block)
            continue
        data, children = _decode_file_node(cid, block)
        parts.append(data)
        stack.extend(reversed(children))
    return b"".join(parts)


def _decode_file_node(cid: CID, block: bytes) -> tuple[bytes, list[CID]]:
    """The file data and child CIDs of a dag-pb UnixFS file node."""
    children: list[CID] = []
    unixfs: bytes | None = None
    try:
        for number, value in _fields(block):
            if number == 2 and isinstance(value, bytes):
                hashes = [v for n, v in _fields(value) if n == 1 and isinstance(v, bytes)]
                if len(hashes) != 1:
                    raise ValueError("a link needs exactly one hash")
                children.append(cid_from_bytes(hashes[0]))
            elif number == 1 and isinstance(value, bytes):
                unixfs = value
        if unixfs is None:
            raise ValueError("no UnixFS data")
        file_type, data = None, b""
        for number, value in _fields(unixfs):
            if number == 1 and isinstance(value, int):
                file_type = value
            elif number == 2 and isinstance(value, bytes):
                data = value
    except (ValueError, InvalidCID) as exc:
        raise CorruptBlock(f"block {cid} is not a UnixFS dag-pb node: {exc}") from None
    if file_type not in _FILE_TYPES:
        raise NotAFile(f"{cid} is a UnixFS node of type {file_type}, not a file")
    return data, children
