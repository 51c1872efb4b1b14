"""IPFS content addressing for large audit payloads: the CIDs `ipfs add` produces."""

from app.services.audit.ipfs.cid import CID, parse_cid
from app.services.audit.ipfs.errors import (
    BlockNotFound,
    CorruptBlock,
    InvalidCID,
    IPFSUnavailable,
    NotAFile,
)
from app.services.audit.ipfs.kubo import KuboBlockStore
from app.services.audit.ipfs.local import LocalBlockStore
from app.services.audit.ipfs.store import BlockStore, blockstore_from_config
from app.services.audit.ipfs.unixfs import build_file

__all__ = [
    "CID",
    "BlockNotFound",
    "BlockStore",
    "CorruptBlock",
    "IPFSUnavailable",
    "InvalidCID",
    "KuboBlockStore",
    "LocalBlockStore",
    "NotAFile",
    "blockstore_from_config",
    "build_file",
    "parse_cid",
]
