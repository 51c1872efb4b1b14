"""The Redis cache of hot data (ARCHITECTURE section 5): ``cache_service``.

    from app.services.cache_service import cache_service
    cache_service.cache_behavioral_model(user_id, model_data)
    model = cache_service.get_behavioral_model(user_id)      # None on a miss

Six types, each with its TTL setting (CACHE_TTL_*). Keys are ``zt:v1:<type>:<id>``: the
``v1`` is the value format's version, so a format change bumps it and can never read data
written in the old one. Values are JSON only (see cache_codec for the explicit encodings).

Which Redis and settings: inside a Flask app context the app's; outside one those of
``load_config()`` (read once per process), so tasks and scripts work as the web process
does. ``CacheService(config)`` binds an instance to fixed settings instead.

Redis unreachable is a miss: reads return None, writes return False and are counted as
dropped, nothing raises (see cache_backend). Programming errors (None or bad ids,
unserialisable or oversized values) raise a CacheUsageError (a ValueError or TypeError)
before anything is written.

Per-user invalidation: a behavioural model's id is its user's id; values of the other
types may name their user (``user_id=``), which records them in that user's index (a
sorted set ``zt:v1:user:<id>`` of key -> expiry, pruned as it is written to).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import redis

from app.redis_client import active_config, client_for
from app.services.cache_backend import RedisBackend
from app.services.cache_codec import (
    KEY_PREFIX,
    TTL_SETTINGS,
    CacheType,
    CacheUsageError,
    InvalidCacheKey,
    UnserializableValue,
    ValueTooLarge,
    as_cache_type,
    cache_key,
    decode_value,
    encode_value,
    lock_key,
    render_id,
    user_index_key,
)
from app.services.cache_stats import collect_stats

__all__ = [
    "CacheService",
    "CacheType",
    "CacheUsageError",
    "InvalidCacheKey",
    "UnserializableValue",
    "ValueTooLarge",
    "cache_service",
]

UNLINK_BATCH = 500
MAX_REMEMBERED_CONFIGS = 64
LOCK_POLL_FIRST, LOCK_POLL_MAX = 0.005, 0.05


class CacheService:
    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self._config = config
        self._backends: dict[int, RedisBackend] = {}  # by id of the pooled client
        self._by_config: dict[int, tuple[Mapping[str, Any], int, str, RedisBackend]] = {}
        self._lock = threading.Lock()

    # --- plumbing -----------------------------------------------------------------------

    def _settings(self) -> Mapping[str, Any]:
        return self._config if self._config is not None else active_config()

    def _backend(self, config: Mapping[str, Any]) -> RedisBackend:
        """The backend of this process's pooled client for ``config``.

        Remembered per settings mapping (kept referenced, so its id cannot be reused) and
        looked up again when the process forked or the mapping's REDIS_URL changed: this
        runs on every call, so it must cost a dict lookup, not a client lookup.
        """
        pid, url = os.getpid(), config["REDIS_URL"]
        known = self._by_config.get(id(config))
        if known is not None and known[0] is config and known[1] == pid and known[2] == url:
            return known[3]
        client = client_for(config)
        with self._lock:
            backend = self._backends.get(id(client))
            if backend is None:
                retry = config["CACHE_OUTAGE_RETRY"]
                backend = RedisBackend(client, retry, [t.value for t in CacheType])
                self._backends[id(client)] = backend
            if len(self._by_config) >= MAX_REMEMBERED_CONFIGS:
                self._by_config.clear()
            self._by_config[id(config)] = (config, pid, url, backend)
        return backend

    def _index_owner(self, cache_type: CacheType, item_id: object, user_id: object) -> str | None:
        """The user whose index records this value, or None (no index entry needed)."""
        if cache_type is CacheType.BEHAVIORAL_MODEL:
            if user_id is not None and render_id(user_id) != render_id(item_id):
                raise InvalidCacheKey("a behavioural model's id is its user's id")
            return None
        return None if user_id is None else render_id(user_id)

    def _decode(self, backend: RedisBackend, key: str, data: bytes) -> Any | None:
        try:
            return decode_value(data)
        except ValueError as exc:
            backend.error("cache value at %s is not valid JSON (%s); treated as a miss", key, exc)
            return None

    def ttl_for(self, cache_type: CacheType | str) -> int:
        """The configured TTL in seconds of ``cache_type``."""
        return int(self._settings()[TTL_SETTINGS[as_cache_type(cache_type)]])

    # --- generic operations -------------------------------------------------------------

    def get(self, cache_type: CacheType | str, item_id: object) -> Any | None:
        """The cached value, or None on a miss (including Redis being unreachable)."""
        ctype = as_cache_type(cache_type)
        key = cache_key(ctype, item_id)
        backend = self._backend(self._settings())
        _, data = backend.call(lambda client: client.get(key))
        value = None if data is None else self._decode(backend, key, data)
        backend.counters.add(ctype, "misses" if value is None else "hits")
        return value

    def set(
        self,
        cache_type: CacheType | str,
        item_id: object,
        value: Any,
        *,
        user_id: object = None,
    ) -> bool:
        """Cache ``value`` for the type's TTL; False when Redis did not take it."""
        ctype = as_cache_type(cache_type)
        config = self._settings()
        owner = self._index_owner(ctype, item_id, user_id)
        encoded = [
            (cache_key(ctype, item_id), encode_value(value, config["CACHE_MAX_VALUE_BYTES"]))
        ]
        return self._write(ctype, config, encoded, owner)

    def get_many(self, cache_type: CacheType | str, item_ids: Iterable[object]) -> dict[Any, Any]:
        """``{id: value}`` of the ids that are cached (one MGET round trip)."""
        ctype = as_cache_type(cache_type)
        ids = list(item_ids)
        keys = [cache_key(ctype, item_id) for item_id in ids]
        if not keys:
            return {}
        backend = self._backend(self._settings())
        _, found = backend.call(lambda client: client.mget(keys))
        found = found or [None] * len(keys)
        values: dict[Any, Any] = {}
        for item_id, key, data in zip(ids, keys, found, strict=True):
            value = None if data is None else self._decode(backend, key, data)
            if value is not None:
                values[item_id] = value
        backend.counters.add(ctype, "hits", len(values))
        backend.counters.add(ctype, "misses", len(keys) - len(values))
        return values

    def set_many(
        self,
        cache_type: CacheType | str,
        items: Mapping[Any, Any],
        *,
        user_id: object = None,
    ) -> bool:
        """Cache every ``{id: value}`` in one round trip. Every value is encoded (and may
        raise) before anything is sent, so bad input writes nothing."""
        ctype = as_cache_type(cache_type)
        config = self._settings()
        max_bytes = config["CACHE_MAX_VALUE_BYTES"]
        owners = {self._index_owner(ctype, item_id, user_id) for item_id in items}
        encoded = [
            (cache_key(ctype, item_id), encode_value(value, max_bytes))
            for item_id, value in items.items()
        ]
        if not encoded:
            return True
        return self._write(ctype, config, encoded, owners.pop())

    def _write(
        self,
        ctype: CacheType,
        config: Mapping[str, Any],
        encoded: list[tuple[str, bytes]],
        owner: str | None,
    ) -> bool:
        """One round trip: a SET, a pipeline of SETs, or the indexing script for a user."""
        ttl = int(config[TTL_SETTINGS[ctype]])
        backend = self._backend(config)
        if owner is not None:
            index_ttl = max(int(config[name]) for name in TTL_SETTINGS.values())
            keys = [user_index_key(owner), *(key for key, _ in encoded)]
            args = [repr(time.time()), index_ttl, ttl, *(data for _, data in encoded)]
            ok, _ = backend.call(lambda client: backend.indexed_set(keys, args, client=client))
        elif len(encoded) == 1:
            key, data = encoded[0]
            ok, _ = backend.call(lambda client: client.set(key, data, ex=ttl))
        else:
            ok, _ = backend.call(lambda client: self._pipelined_set(client, encoded, ttl))
        backend.counters.add(ctype, "writes" if ok else "dropped_writes", len(encoded))
        return ok

    @staticmethod
    def _pipelined_set(client: redis.Redis, encoded: list[tuple[str, bytes]], ttl: int) -> None:
        pipe = client.pipeline(transaction=False)
        for key, data in encoded:
            pipe.set(key, data, ex=ttl)
        pipe.execute()

    def delete(self, cache_type: CacheType | str, item_id: object) -> bool:
        """Remove one cached value; True if it was there."""
        key = cache_key(as_cache_type(cache_type), item_id)
        _, removed = self._backend(self._settings()).call(lambda client: client.unlink(key))
        return bool(removed)

    def invalidate_user(self, user_id: object) -> int:
        """Remove the user's behavioural model and every value cached with their user_id;
        other users' values stay. Returns how many values were removed."""
        keys = [user_index_key(user_id), cache_key(CacheType.BEHAVIORAL_MODEL, user_id)]
        backend = self._backend(self._settings())
        _, removed = backend.call(lambda client: backend.invalidate_user(keys, client=client))
        return int(removed or 0)

    def invalidate_type(self, cache_type: CacheType | str) -> int:
        """Remove every cached value of one type (found with SCAN). Returns the count."""
        pattern = f"{KEY_PREFIX}{as_cache_type(cache_type).value}:*"

        def unlink_all(client: redis.Redis) -> int:
            removed, batch = 0, []
            for key in client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= UNLINK_BATCH:
                    removed += client.unlink(*batch)
                    batch.clear()
            return removed + (client.unlink(*batch) if batch else 0)

        _, removed = self._backend(self._settings()).call(unlink_all)
        return int(removed or 0)

    def cleanup_indexes(self) -> dict[str, Any]:
        """Drop index entries of values that expired or were deleted (the cleanup_cache task)."""

        backend = self._backend(self._settings())

        def prune(client: redis.Redis) -> dict[str, int]:
            now, scanned, removed = repr(time.time()), 0, 0
            for index in client.scan_iter(match=f"{KEY_PREFIX}user:*", count=1000):
                scanned += 1
                removed += backend.prune_index([index], [now], client=client)
            return {"indexes_scanned": scanned, "entries_removed": removed}

        ok, result = backend.call(prune)
        return {"redis_available": ok, **(result or {"indexes_scanned": 0, "entries_removed": 0})}

    def get_or_compute(
        self,
        cache_type: CacheType | str,
        item_id: object,
        compute: Callable[[], Any],
        *,
        user_id: object = None,
    ) -> Any:
        """The cached value, or ``compute()``'s result, cached. When many callers miss the
        same key at once, one computes under a short Redis lock (CACHE_LOCK_TTL) and the
        others wait for its result (at most CACHE_LOCK_WAIT, then compute themselves; a dead
        holder's lock expires and the next caller takes over). A None result is returned
        uncached. Without Redis every caller computes."""
        ctype = as_cache_type(cache_type)
        value = self.get(ctype, item_id)
        if value is not None:
            return value
        config = self._settings()
        backend = self._backend(config)
        key = cache_key(ctype, item_id)
        lock, token = lock_key(key), secrets.token_hex(16)
        lock_ms = max(1, int(config["CACHE_LOCK_TTL"] * 1000))
        deadline = time.monotonic() + config["CACHE_LOCK_WAIT"]
        delay = LOCK_POLL_FIRST
        while True:
            ok, acquired = backend.call(lambda c: c.set(lock, token, nx=True, px=lock_ms))
            if not ok:
                return self._compute_and_store(ctype, item_id, compute, user_id)
            if acquired:
                try:
                    # Checked again under the lock: the previous holder may just have stored it.
                    value = self._peek(backend, key)
                    if value is not None:
                        return value
                    return self._compute_and_store(ctype, item_id, compute, user_id)
                finally:
                    backend.call(lambda c: backend.release_lock([lock], [token], client=c))
            value = self._peek(backend, key)
            if value is not None:
                return value
            if time.monotonic() >= deadline:
                return self._compute_and_store(ctype, item_id, compute, user_id)
            time.sleep(delay)
            delay = min(delay * 2, LOCK_POLL_MAX)

    def _peek(self, backend: RedisBackend, key: str) -> Any | None:
        """A read that is not counted as a lookup (get_or_compute's own polling)."""
        _, data = backend.call(lambda client: client.get(key))
        return None if data is None else self._decode(backend, key, data)

    def _compute_and_store(
        self, ctype: CacheType, item_id: object, compute: Callable[[], Any], user_id: object
    ) -> Any:
        value = compute()
        if value is not None:
            self.set(ctype, item_id, value, user_id=user_id)
        return value

    def get_cache_stats(self) -> dict[str, Any]:
        """Keys per type and in total, memory, Redis version, expired/evicted keys (Redis's),
        hits/misses/hit_ratio per type and overall, writes, dropped writes and errors (this
        process's); see cache_stats."""
        config = self._settings()
        ttls = {t.value: int(config[name]) for t, name in TTL_SETTINGS.items()}
        return collect_stats(self._backend(config), KEY_PREFIX, ttls)

    def reset_stats(self) -> None:
        """Zero this process's hit/miss/write counters for the current Redis."""
        self._backend(self._settings()).counters.reset()

    # --- the seed's per-type API (ARCHITECTURE section 5) ---------------------------------

    def cache_behavioral_model(self, user_id: object, model_data: Any) -> bool:
        return self.set(CacheType.BEHAVIORAL_MODEL, user_id, model_data)

    def get_behavioral_model(self, user_id: object) -> Any | None:
        return self.get(CacheType.BEHAVIORAL_MODEL, user_id)

    def cache_contextual_score(
        self, request_id: object, context_data: Any, *, user_id: object = None
    ) -> bool:
        return self.set(CacheType.CONTEXT_SCORE, request_id, context_data, user_id=user_id)

    def get_contextual_score(self, request_id: object) -> Any | None:
        return self.get(CacheType.CONTEXT_SCORE, request_id)

    def cache_threat_prediction(
        self, key: object, prediction: Any, *, user_id: object = None
    ) -> bool:
        return self.set(CacheType.THREAT_PREDICTION, key, prediction, user_id=user_id)

    def get_threat_prediction(self, key: object) -> Any | None:
        return self.get(CacheType.THREAT_PREDICTION, key)

    def cache_active_session(
        self, session_id: object, session_data: Any, *, user_id: object = None
    ) -> bool:
        return self.set(CacheType.SESSION_DATA, session_id, session_data, user_id=user_id)

    def get_active_session(self, session_id: object) -> Any | None:
        return self.get(CacheType.SESSION_DATA, session_id)

    def cache_device_profile(
        self, device_id: object, profile: Any, *, user_id: object = None
    ) -> bool:
        return self.set(CacheType.DEVICE_PROFILE, device_id, profile, user_id=user_id)

    def get_device_profile(self, device_id: object) -> Any | None:
        return self.get(CacheType.DEVICE_PROFILE, device_id)

    def cache_policy_performance(self, policy_id: object, performance: Any) -> bool:
        return self.set(CacheType.POLICY_PERFORMANCE, policy_id, performance)

    def get_policy_performance(self, policy_id: object) -> Any | None:
        return self.get(CacheType.POLICY_PERFORMANCE, policy_id)


cache_service = CacheService()
