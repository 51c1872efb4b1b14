"""Test data for the IPFS tests."""

from __future__ import annotations

import hashlib


def payload(size: int) -> bytes:
    """``size`` deterministic pseudo-random bytes (SHAKE-256 of the size), incompressible
    and different for every size, so no two test files share chunks by accident."""
    return hashlib.shake_256(str(size).encode()).digest(size)
