"""Merkle trees and inclusion proofs against RFC 9162's recursive definitions."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.services.audit.chain import AnchorDataError, AnchorPayload
from app.services.audit.merkle import (
    MerkleError,
    inclusion_path,
    leaf_hash,
    merkle_root,
    root_from_inclusion,
    verify_inclusion,
)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def mth(entries: list[bytes]) -> bytes:
    """MTH(D[n]), RFC 9162 §2.1.1, transcribed literally."""
    n = len(entries)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return sha256(b"\x00" + entries[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return sha256(b"\x01" + mth(entries[:k]) + mth(entries[k:]))


def path(m: int, entries: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]), RFC 9162 §2.1.3.1, transcribed literally."""
    n = len(entries)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*path(m, entries[:k]), mth(entries[k:])]
    return [*path(m - k, entries[k:]), mth(entries[:k])]


def entries(n: int) -> list[bytes]:
    return [sha256(str(i).encode()) for i in range(n)]


def test_the_empty_and_one_leaf_trees() -> None:
    assert merkle_root([]) == sha256(b"")
    assert merkle_root([b"x"]) == sha256(b"\x00x")


def test_leaves_and_nodes_hash_with_distinct_prefixes() -> None:
    # A two-leaf tree's root must not equal the leaf hash of the concatenated leaves.
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert merkle_root([b"a", b"b"]) == sha256(b"\x01" + a + b)
    assert merkle_root([b"a", b"b"]) != leaf_hash(a + b)


@pytest.mark.parametrize("n", [*range(1, 18), 31, 32, 33, 100, 257])
def test_root_and_every_path_match_the_rfc(n: int) -> None:
    data = entries(n)
    leaves = [leaf_hash(d) for d in data]
    root = merkle_root(data)
    assert root == mth(data)
    for m in range(n):
        proof = inclusion_path(m, leaves)
        assert proof == path(m, data)
        assert verify_inclusion(leaves[m], m, n, proof, root)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), data=st.data())
def test_a_changed_leaf_index_size_or_path_fails(n: int, data: st.DataObject) -> None:
    items = entries(n)
    leaves = [leaf_hash(d) for d in items]
    root = merkle_root(items)
    m = data.draw(st.integers(0, n - 1))
    proof = inclusion_path(m, leaves)
    assert verify_inclusion(leaves[m], m, n, proof, root)
    other = data.draw(st.integers(0, n - 1).filter(lambda i: i != m)) if n > 1 else None
    if other is not None:
        assert not verify_inclusion(leaves[other], m, n, proof, root)
        assert not verify_inclusion(leaves[m], other, n, proof, root)
    assert not verify_inclusion(leaf_hash(b"forged"), m, n, proof, root)
    if proof:
        i = data.draw(st.integers(0, len(proof) - 1))
        bad = [*proof]
        bad[i] = sha256(bad[i])
        assert not verify_inclusion(leaves[m], m, n, bad, root)
        assert not verify_inclusion(leaves[m], m, n, proof[:-1], root)
    assert not verify_inclusion(leaves[m], m, n, [*proof, sha256(b"extra")], root)


def test_malformed_inclusion_requests_raise() -> None:
    leaves = [leaf_hash(d) for d in entries(4)]
    with pytest.raises(MerkleError):
        inclusion_path(4, leaves)
    with pytest.raises(MerkleError):
        root_from_inclusion(leaves[0], 5, 4, [])
    with pytest.raises(MerkleError, match="32-byte"):
        root_from_inclusion(leaves[0], 0, 4, [b"short", b"x" * 32])


def test_anchor_data_round_trips_and_rejects_foreign_input() -> None:
    payload = AnchorPayload(7, 100, 199, "ab" * 32)
    encoded = payload.encode()
    assert encoded.startswith(b"ZTAUDIT1") and len(encoded) == 64
    assert AnchorPayload.decode(encoded) == payload
    for foreign in (b"", encoded[:-1], b"XXAUDIT1" + encoded[8:], encoded + b"\x00"):
        with pytest.raises(AnchorDataError):
            AnchorPayload.decode(foreign)
