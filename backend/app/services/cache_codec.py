"""How the cache names things and turns values into bytes: JSON only, never pickle.

Keys are ``zt:v1:<type>:<id>``; ``v1`` is the value format's version, bumped whenever the
encoding changes so new code never reads data written in an old format.

JSON-native values (dict, list, str, int, float, bool) are stored as plain compact JSON.
A few common Python types are encoded explicitly as tagged objects and come back as the
same type: ``datetime``, ``date``, ``time``, ``Decimal``, ``UUID`` and numpy arrays
(``{"$zt": "<tag>", "v": ...}``; a numpy array reads back as an array when numpy is
installed and as a nested list otherwise). numpy scalars become plain numbers. Anything
else (sets, bytes, arbitrary objects) is refused, so a value never silently changes shape.
``None`` is refused too: it would read back as a miss.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from enum import StrEnum
from typing import Any

KEY_PREFIX = "zt:v1:"
TAG = "$zt"
_TAG_MARKER = b'"$zt"'
MAX_ID_LENGTH = 256


class CacheUsageError(Exception):
    """A cache call was given something it can never store; nothing was written."""


class InvalidCacheKey(CacheUsageError, ValueError):
    """A cache id or type is None, empty, too long or of an unsupported type."""


class UnserializableValue(CacheUsageError, TypeError):
    """A value cannot be encoded as JSON by the cache's explicit rules."""


class ValueTooLarge(CacheUsageError, ValueError):
    """An encoded value is larger than CACHE_MAX_VALUE_BYTES."""


def render_id(value: object) -> str:
    """The key part of an id: an int, a non-empty string or a UUID."""
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str and 0 < len(value) <= MAX_ID_LENGTH:  # type: ignore[arg-type]
        return value  # type: ignore[return-value]
    if value is None:
        raise InvalidCacheKey("cache id must not be None")
    if isinstance(value, bool) or not isinstance(value, int | str | uuid.UUID):
        raise InvalidCacheKey(f"cache id must be an int, str or UUID, got {type(value).__name__}")
    text = str(value)
    if not text or len(text) > MAX_ID_LENGTH:
        raise InvalidCacheKey(f"cache id must be 1..{MAX_ID_LENGTH} characters, got {text!r:.40}")
    return text


class CacheType(StrEnum):
    """The cached types; the value is the type's part of the key."""

    BEHAVIORAL_MODEL = "model"
    CONTEXT_SCORE = "context"
    THREAT_PREDICTION = "threat"
    SESSION_DATA = "session"
    DEVICE_PROFILE = "device"
    POLICY_PERFORMANCE = "policy"


TTL_SETTINGS = {
    CacheType.BEHAVIORAL_MODEL: "CACHE_TTL_BEHAVIORAL_MODEL",
    CacheType.CONTEXT_SCORE: "CACHE_TTL_CONTEXT_SCORE",
    CacheType.THREAT_PREDICTION: "CACHE_TTL_THREAT_PREDICTION",
    CacheType.SESSION_DATA: "CACHE_TTL_SESSION_DATA",
    CacheType.DEVICE_PROFILE: "CACHE_TTL_DEVICE_PROFILE",
    CacheType.POLICY_PERFORMANCE: "CACHE_TTL_POLICY_PERFORMANCE",
}


_KEY_PREFIXES = {cache_type: f"{KEY_PREFIX}{cache_type.value}:" for cache_type in CacheType}


def as_cache_type(value: CacheType | str) -> CacheType:
    if value.__class__ is CacheType:
        return value  # type: ignore[return-value]
    try:
        return CacheType(value)
    except ValueError:
        names = ", ".join(t.value for t in CacheType)
        raise InvalidCacheKey(f"unknown cache type {value!r}; one of {names}") from None


def cache_key(cache_type: CacheType, item_id: object) -> str:
    return _KEY_PREFIXES[cache_type] + render_id(item_id)


def user_index_key(user_id: object) -> str:
    return f"{KEY_PREFIX}user:{render_id(user_id)}"


def lock_key(key: str) -> str:
    return f"{KEY_PREFIX}lock:{key[len(KEY_PREFIX) :]}"


def _numpy_value(obj: Any) -> Any:
    if hasattr(obj, "tolist") and hasattr(obj, "dtype") and hasattr(obj, "shape"):
        if obj.shape == ():
            return obj.item()
        if obj.dtype.kind not in "biuf":
            raise UnserializableValue(f"numpy arrays of dtype {obj.dtype} are not cached")
        return {TAG: "ndarray", "v": obj.tolist(), "dtype": str(obj.dtype)}
    raise UnserializableValue(f"cannot cache a value of type numpy.{type(obj).__name__}")


def _encode_special(obj: Any) -> Any:
    """``json`` calls this for every value it cannot encode natively."""
    if isinstance(obj, dt.datetime):
        return {TAG: "datetime", "v": obj.isoformat()}
    if isinstance(obj, dt.date):
        return {TAG: "date", "v": obj.isoformat()}
    if isinstance(obj, dt.time):
        return {TAG: "time", "v": obj.isoformat()}
    if isinstance(obj, Decimal):
        return {TAG: "decimal", "v": str(obj)}
    if isinstance(obj, uuid.UUID):
        return {TAG: "uuid", "v": str(obj)}
    if type(obj).__module__ == "numpy":
        return _numpy_value(obj)
    raise UnserializableValue(f"cannot cache a value of type {type(obj).__name__}")


_encoder = json.JSONEncoder(separators=(",", ":"), default=_encode_special)


def encode_value(value: Any, max_bytes: int) -> bytes:
    """``value`` as JSON bytes; raises UnserializableValue or ValueTooLarge."""
    if value is None:
        raise UnserializableValue("None cannot be cached: it would read back as a miss")
    try:
        data = _encoder.encode(value).encode()
    except CacheUsageError:
        raise
    except (TypeError, ValueError, RecursionError) as exc:
        raise UnserializableValue(f"cannot cache this value as JSON: {exc}") from exc
    if len(data) > max_bytes:
        raise ValueTooLarge(
            f"encoded value is {len(data)} bytes, more than CACHE_MAX_VALUE_BYTES={max_bytes}"
        )
    return data


@functools.cache
def _numpy() -> Any | None:
    """numpy if installed (it is optional), imported on first need."""
    try:
        return importlib.import_module("numpy")
    except ImportError:
        return None


def _ndarray(obj: dict[str, Any]) -> Any:
    numpy = _numpy()
    return obj["v"] if numpy is None else numpy.asarray(obj["v"], dtype=obj["dtype"])


_DECODERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "datetime": lambda obj: dt.datetime.fromisoformat(obj["v"]),
    "date": lambda obj: dt.date.fromisoformat(obj["v"]),
    "time": lambda obj: dt.time.fromisoformat(obj["v"]),
    "decimal": lambda obj: Decimal(obj["v"]),
    "uuid": lambda obj: uuid.UUID(obj["v"]),
    "ndarray": _ndarray,
}


def _decode_tagged(obj: dict[str, Any]) -> Any:
    decoder = _DECODERS.get(obj.get(TAG))  # type: ignore[arg-type]
    if decoder is None or "v" not in obj:
        return obj
    return decoder(obj)


def decode_value(data: bytes) -> Any:
    """The value stored by ``encode_value``. Tagged objects are only looked for when the
    payload contains one, so plain JSON decodes at ``json.loads`` speed."""
    if _TAG_MARKER in data:
        return json.loads(data, object_hook=_decode_tagged)
    return json.loads(data)
