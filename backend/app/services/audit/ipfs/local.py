"""A content-addressed block store on the local disk (the default and standalone backend)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from app.services.audit.ipfs.cid import CID, parse_cid
from app.services.audit.ipfs.errors import BlockNotFound, CorruptBlock
from app.services.audit.ipfs.unixfs import build_file, read_file


def as_cid(cid: CID | str) -> CID:
    return cid if isinstance(cid, CID) else parse_cid(cid)


class LocalBlockStore:
    """Blocks as files named by their sha2-256 digest, read back only if they still hash right.

    Keyed by digest rather than by CID string, as Kubo's blockstore keys by multihash, so the
    same bytes addressed as CIDv0 or CIDv1 are one file.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def _path(self, cid: CID) -> Path:
        name = cid.digest.hex()
        return self.directory / name[:2] / name

    def has(self, cid: CID | str) -> bool:
        return self._path(as_cid(cid)).is_file()

    def put(self, cid: CID | str, data: bytes) -> None:
        """Store ``data`` under ``cid``; CorruptBlock if it does not hash to it.

        A stored copy that no longer hashes right is replaced, so adding the content
        again repairs a damaged store.
        """
        cid = as_cid(cid)
        if not cid.matches(data):
            raise CorruptBlock(f"refusing to store block: its bytes do not hash to {cid}")
        path = self._path(cid)
        if path.is_file() and cid.matches(path.read_bytes()):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a crash never leaves a half-written block under its name.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, cid: CID | str) -> bytes:
        """The block's bytes; BlockNotFound when absent, CorruptBlock when altered."""
        cid = as_cid(cid)
        try:
            data = self._path(cid).read_bytes()
        except FileNotFoundError:
            raise BlockNotFound(f"no block {cid} in {self.directory}") from None
        if not cid.matches(data):
            raise CorruptBlock(f"block {cid} in {self.directory} does not hash to its CID")
        return data

    def add(self, data: bytes, cid_version: int = 0) -> str:
        """Store ``data`` as a UnixFS file; return the CID `ipfs add` would print."""
        build = build_file(data, cid_version)
        for cid, block in build.blocks:
            self.put(cid, block)
        return str(build.root)

    def cat(self, cid: CID | str) -> bytes:
        """The file's content, every block on the way verified against its CID."""
        return read_file(as_cid(cid), self.get)
