"""Merkle trees over audit events, as Certificate Transparency builds them (RFC 9162 §2.1).

Leaves and interior nodes are hashed with distinct one-byte prefixes (0x00 and 0x01), so
a leaf can never be passed off as a node. A tree of n leaves splits at the largest power of
two below n, which makes the tree of any batch size well defined and its inclusion proofs
(audit paths) at most ceil(log2 n) hashes long. Hashes travel as lowercase hex.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


class MerkleError(ValueError):
    """A tree or proof request that cannot be answered (bad index, bad size)."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _root(leaves: Sequence[bytes]) -> bytes:
    n = len(leaves)
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(_root(leaves[:k]), _root(leaves[k:]))


def root_of_leaf_hashes(leaves: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves; the empty tree's root is SHA-256 of nothing."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    # Level by level, which equals the recursive definition: complete subtrees of the
    # left-most power-of-two sizes are paired first, a lone last node moves up unchanged.
    level = list(leaves)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def merkle_root(data: Sequence[bytes]) -> bytes:
    return root_of_leaf_hashes([leaf_hash(item) for item in data])


def inclusion_path(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1 over already-hashed leaves."""
    n = len(leaves)
    if not 0 <= index < n:
        raise MerkleError(f"leaf index {index} is outside a tree of {n} leaves")
    path: list[bytes] = []
    # Walk down from the root, collecting the sibling subtree roots, then reverse.
    lo, hi = 0, n
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append(root_of_leaf_hashes(leaves[lo + k : hi]))
            hi = lo + k
        else:
            path.append(root_of_leaf_hashes(leaves[lo : lo + k]))
            lo = lo + k
    path.reverse()
    return path


def root_from_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2); MerkleError if malformed."""
    if not 0 <= index < size:
        raise MerkleError(f"leaf index {index} is outside a tree of {size} leaves")
    fn, sn = index, size - 1
    result = leaf
    for sibling in path:
        if len(sibling) != 32:
            raise MerkleError("every audit path entry must be a 32-byte hash")
        if sn == 0:
            raise MerkleError("the audit path is longer than the tree allows")
        if fn % 2 == 1 or fn == sn:
            result = node_hash(sibling, result)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MerkleError("the audit path is shorter than the tree requires")
    return result


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    try:
        return root_from_inclusion(leaf, index, size, path) == root
    except MerkleError:
        return False
