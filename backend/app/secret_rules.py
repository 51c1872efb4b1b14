"""What makes SECRET_KEY and JWT_SECRET_KEY acceptable in production (app.config applies it).

A secret anyone can read in this repository, or guess, lets anyone forge tokens. So with
APP_ENV=production a secret is refused when it is

* shorter than 32 characters;
* equal to, containing, or contained in (case-insensitively, also reversed) a value
  published in the code: the development defaults, the usual placeholders, the development chains'
  published signing keys;
* a repetition of a shorter piece ("changeme" four times, "a" * 32);
* of low estimated entropy: below 80 bits by either of two estimators, the Shannon
  entropy of its character frequencies times its length, and zxcvbn's guess count over
  its first 72 characters (which sees keyboard walks, sequences, words and dates).
  32 random bytes (`python -c "import secrets; print(secrets.token_urlsafe(32))"`) pass
  with a wide margin;
* the same as the other secret.
"""

from __future__ import annotations

import math
from collections import Counter

from zxcvbn import zxcvbn

# Development-only secret values: filled in outside production, refused in it.
DEV_SECRET_KEY = "development-only-secret-key-never-use-in-production"  # noqa: S105
DEV_JWT_SECRET = "development-only-jwt-secret-never-use-in-production"  # noqa: S105
# Placeholders that end up as secrets when an example is copied without thinking.
PLACEHOLDERS = (
    "changeme",
    "change-me",
    "change_me",
    "replaceme",
    "secret",
    "password",
    "default",
    "development",
    "example",
    "placeholder",
    "insecure",
)
# Signing keys published with development chains (Hardhat's and Anvil's first accounts,
# derived from their default mnemonic): anyone can spend from them and sign as them.
PUBLISHED_DEV_KEYS = frozenset(
    {
        "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
        "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    }
)
PUBLISHED_SECRETS = (DEV_SECRET_KEY, DEV_JWT_SECRET, *PLACEHOLDERS, *PUBLISHED_DEV_KEYS)
MIN_SECRET_LENGTH = 32
MIN_ESTIMATED_BITS = 80
_ZXCVBN_PREFIX = 72


def _smallest_period(value: str) -> int:
    """Length of the shortest piece whose repetition (possibly cut short) is ``value``."""
    prefix = [0] * len(value)
    for i in range(1, len(value)):
        k = prefix[i - 1]
        while k and value[i] != value[k]:
            k = prefix[k - 1]
        prefix[i] = k + 1 if value[i] == value[k] else 0
    return len(value) - prefix[-1]


def shannon_bits(value: str) -> float:
    """Entropy estimate in bits: length times the Shannon entropy of the character mix."""
    counts = Counter(value)
    total = len(value)
    return -total * sum(n / total * math.log2(n / total) for n in counts.values())


def _published_relation(value: str) -> bool:
    folded = value.casefold()
    for candidate in (folded, folded[::-1]):
        for published in PUBLISHED_SECRETS:
            published = published.casefold()
            if published in candidate or candidate in published:
                return True
    return False


def secret_problem(value: str) -> str | None:
    """Why ``value`` is no production secret, or None when it is acceptable."""
    if len(value) < MIN_SECRET_LENGTH:
        return f"must be at least {MIN_SECRET_LENGTH} characters"
    if _published_relation(value):
        return "is or contains a value published in the code (a default or placeholder)"
    if _smallest_period(value) <= len(value) // 2:
        return "repeats a shorter piece"
    guesses_bits = zxcvbn(value[:_ZXCVBN_PREFIX])["guesses_log10"] * math.log2(10)
    if min(shannon_bits(value), guesses_bits) < MIN_ESTIMATED_BITS:
        return f"has too little entropy (under {MIN_ESTIMATED_BITS} bits estimated)"
    return None
