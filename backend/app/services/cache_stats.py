"""``CacheService.get_cache_stats()``: what Redis holds (SCAN, never KEYS; INFO) and what
this process saw (hits, misses, writes, errors).

Hit and write counters are this process's since it started (or since ``reset_stats()``);
key counts and memory are Redis's. When Redis is unreachable ``connected`` is False and the
Redis-side figures are None. The embedded stand-in of standalone mode has no INFO: there
``used_memory`` is estimated from the cached keys and values (``memory_estimated``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import redis
from redis.exceptions import ResponseError

from app.services.cache_backend import COUNTER_FIELDS, RedisBackend

SCAN_BATCH = 1000
INFO_FIELDS = ("redis_version", "used_memory", "used_memory_human", "expired_keys", "evicted_keys")


def human_bytes(size: int) -> str:
    """Redis's style: 1023B, 1.50K, 12.30M."""
    value = float(size)
    for unit in ("B", "K", "M", "G"):
        if value < 1024 or unit == "G":
            return f"{int(value)}B" if unit == "B" else f"{value:.2f}{unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _ratio(hits: int, misses: int) -> float:
    lookups = hits + misses
    return round(hits / lookups, 4) if lookups else 0.0


def _info(client: redis.Redis) -> dict[str, Any] | None:
    try:
        info = client.info()
    except ResponseError:
        return None
    return {name: info.get(name) for name in INFO_FIELDS}


def _scan(client: redis.Redis, prefix: str, types: list[str], estimate: bool) -> dict[str, Any]:
    """Key counts by type under ``prefix`` (``zt:v1:``), and the keys' size if asked.

    ``other_keys`` are keys of the namespace the cache cannot read: other format versions
    (left to expire) and anything unknown."""
    counts = dict.fromkeys(types, 0)
    other = {"index_keys": 0, "lock_keys": 0, "other_keys": 0}
    sections = {b"user": "index_keys", b"lock": "lock_keys"}
    encoded_prefix = prefix.encode()
    size = 0
    batch: list[bytes] = []

    def measure() -> int:
        pipe = client.pipeline(transaction=False)
        for key in batch:
            pipe.strlen(key)
        total = sum(len(key) for key in batch) + sum(pipe.execute())
        batch.clear()
        return total

    namespace = prefix.split(":", 1)[0]
    for key in client.scan_iter(match=f"{namespace}:*", count=SCAN_BATCH):
        if not key.startswith(encoded_prefix):
            other["other_keys"] += 1
            continue
        section = key[len(encoded_prefix) :].split(b":", 1)[0]
        cache_type = section.decode(errors="replace")
        if cache_type in counts:
            counts[cache_type] += 1
            if estimate:
                batch.append(key)
                if len(batch) >= SCAN_BATCH:
                    size += measure()
        else:
            other[sections.get(section, "other_keys")] += 1
    if estimate and batch:
        size += measure()
    return {"keys_per_type": counts, **other, "estimated_bytes": size}


def _server_figures(client: redis.Redis, prefix: str, types: list[str]) -> dict[str, Any]:
    info = _info(client)
    estimated = info is None
    scan = _scan(client, prefix, types, estimate=estimated)
    if info is None:
        size = scan["estimated_bytes"]
        info = dict.fromkeys(INFO_FIELDS)
        info.update(used_memory=size, used_memory_human=human_bytes(size))
    return {"info": info, "scan": scan, "memory_estimated": estimated}


def collect_stats(backend: RedisBackend, prefix: str, ttls: dict[str, int]) -> dict[str, Any]:
    types = list(ttls)
    counters = backend.counters.snapshot()
    connected, server = backend.call(lambda client: _server_figures(client, prefix, types))
    scan = server["scan"] if server else None
    info = server["info"] if server else dict.fromkeys(INFO_FIELDS)

    per_type: dict[str, dict[str, Any]] = {}
    for cache_type in types:
        counts = counters[cache_type]
        per_type[cache_type] = {
            "keys": scan["keys_per_type"][cache_type] if scan else None,
            "ttl_seconds": ttls[cache_type],
            **counts,
            "hit_ratio": _ratio(counts["hits"], counts["misses"]),
        }
    totals = {field: sum(counters[t][field] for t in types) for field in COUNTER_FIELDS}
    since = backend.down_since
    return {
        "connected": connected,
        "redis_version": info["redis_version"],
        "total_keys": sum(scan["keys_per_type"].values()) if scan else None,
        "keys_per_type": dict(scan["keys_per_type"]) if scan else None,
        "index_keys": scan["index_keys"] if scan else None,
        "lock_keys": scan["lock_keys"] if scan else None,
        "other_keys": scan["other_keys"] if scan else None,
        "used_memory": info["used_memory"],
        "used_memory_human": info["used_memory_human"],
        "memory_estimated": bool(server and server["memory_estimated"]),
        "expired_keys": info["expired_keys"],
        "evicted_keys": info["evicted_keys"],
        **totals,
        "hit_ratio": _ratio(totals["hits"], totals["misses"]),
        "errors": backend.errors,
        "outages": backend.outages,
        "outage_since": (
            dt.datetime.fromtimestamp(since, dt.UTC).isoformat() if since is not None else None
        ),
        "per_type": per_type,
        "key_format": f"{prefix}<type>:<id>",
    }
