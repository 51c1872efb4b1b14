"""Errors of the IPFS content store, each naming what is wrong."""

from __future__ import annotations


class InvalidCID(ValueError):
    """A string or byte sequence that is not a CID this store understands."""


class BlockNotFound(KeyError):
    """No block (or no content) is stored under the CID."""

    def __str__(self) -> str:
        # KeyError's own __str__ quotes its argument; this one is a sentence.
        return str(self.args[0]) if self.args else "block not found"


class CorruptBlock(Exception):
    """A block whose bytes do not hash to its CID, or that is not valid UnixFS."""


class IPFSUnavailable(RuntimeError):
    """The Kubo daemon could not be reached or answered with an error."""


class NotAFile(ValueError):
    """The CID is a valid UnixFS node, but a directory or symlink rather than a file."""
