"""CacheService on the embedded fakeredis server (the standalone mode's Redis stand-in):
every operation, the encodings, bad input, invalidation, statistics and the admin API.
get_or_compute and outages: test_cache_resilience.py."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from app.config import ConfigError, load_config
from app.services.cache_codec import TTL_SETTINGS
from app.services.cache_service import (
    CacheType,
    CacheUsageError,
    InvalidCacheKey,
    UnserializableValue,
    ValueTooLarge,
    cache_service,
)
from app.standalone.children import ChildProcess
from tests.conftest import SignedIn
from tests.unit.cache_support import cache_config, emptied_cache


@pytest.fixture
def base_config(base_config: dict[str, Any], embedded_redis: ChildProcess) -> dict[str, Any]:
    return cache_config(base_config, embedded_redis)


@pytest.fixture
def raw(app: Flask) -> Iterator[redis.Redis]:
    yield from emptied_cache(app)


SEED_TYPES = [
    (CacheType.BEHAVIORAL_MODEL, "cache_behavioral_model", "get_behavioral_model", 3600),
    (CacheType.CONTEXT_SCORE, "cache_contextual_score", "get_contextual_score", 300),
    (CacheType.THREAT_PREDICTION, "cache_threat_prediction", "get_threat_prediction", 1800),
    (CacheType.SESSION_DATA, "cache_active_session", "get_active_session", 3600),
    (CacheType.DEVICE_PROFILE, "cache_device_profile", "get_device_profile", 7200),
    (CacheType.POLICY_PERFORMANCE, "cache_policy_performance", "get_policy_performance", 1800),
]


def test_the_seed_usage_runs_as_written(raw: redis.Redis) -> None:
    from app.services.cache_service import cache_service

    user_id, request_id, session_id = 42, "req-1", "sess-1"
    model_data = {"means": [120.5, 98.0], "stds": [12.0, 9.5]}
    cache_service.cache_behavioral_model(user_id, model_data)
    model = cache_service.get_behavioral_model(user_id)
    cache_service.cache_contextual_score(request_id, {"score": 0.2})
    cache_service.cache_active_session(session_id, {"risk": 0.1})
    stats = cache_service.get_cache_stats()

    assert model == model_data
    assert stats["total_keys"] == 3
    assert stats["used_memory"] > 0
    assert stats["memory_estimated"] is True  # the stand-in has no INFO


@pytest.mark.parametrize(("cache_type", "write", "read", "ttl"), SEED_TYPES)
def test_each_type_round_trips_with_its_default_ttl(
    raw: redis.Redis, cache_type: CacheType, write: str, read: str, ttl: int
) -> None:
    value = {"type": cache_type.value, "items": [1, 2.5, "x", True, None]}
    assert getattr(cache_service, write)("id-1", value) is True
    assert getattr(cache_service, read)("id-1") == value
    assert getattr(cache_service, read)("id-2") is None
    assert raw.ttl(f"zt:v1:{cache_type.value}:id-1") == ttl
    assert cache_service.ttl_for(cache_type) == ttl


def test_ttls_come_from_the_settings(app: Flask, raw: redis.Redis) -> None:
    app.config["CACHE_TTL_CONTEXT_SCORE"] = 42
    cache_service.cache_contextual_score("r", {"score": 1})
    assert raw.ttl("zt:v1:context:r") == 42


def test_cache_settings_are_read_from_the_environment() -> None:
    defaults = load_config({})
    assert [defaults[name] for name in TTL_SETTINGS.values()] == [3600, 300, 1800, 3600, 7200, 1800]
    assert defaults["CACHE_MAX_VALUE_BYTES"] == 1024 * 1024
    env = {
        "CACHE_TTL_CONTEXT_SCORE": "42",
        "CACHE_LOCK_TTL_MS": "1500",
        "REDIS_RETRY_ATTEMPTS": "0",
    }
    config = load_config(env)
    assert (config["CACHE_TTL_CONTEXT_SCORE"], config["CACHE_LOCK_TTL"]) == (42, 1.5)
    assert config["REDIS_RETRY_ATTEMPTS"] == 0
    with pytest.raises(ConfigError, match="CACHE_TTL_SESSION_DATA"):
        load_config({"CACHE_TTL_SESSION_DATA": "0"})


def test_values_are_plain_json_under_versioned_keys(raw: redis.Redis) -> None:
    cache_service.cache_behavioral_model(42, {"a": [1, 2]})
    assert list(raw.scan_iter()) == [b"zt:v1:model:42"]
    assert json.loads(raw.get("zt:v1:model:42")) == {"a": [1, 2]}


def test_an_older_format_is_never_read(raw: redis.Redis) -> None:
    raw.set("zt:v0:model:42", b"\x80\x04old-format")
    assert cache_service.get_behavioral_model(42) is None
    assert cache_service.get_cache_stats()["other_keys"] == 1


def test_explicit_types_round_trip(raw: redis.Redis) -> None:
    value = {
        "aware": dt.datetime(2026, 11, 27, 8, 30, tzinfo=dt.UTC),
        "naive": dt.datetime(2026, 11, 27, 8, 30, 1, 5),
        "day": dt.date(2026, 11, 27),
        "at": dt.time(8, 30),
        "amount": Decimal("10.10"),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "nested": [{"when": dt.date(2020, 1, 1)}],
        "nan": float("inf"),
        "user_tag_lookalike": {"$zt": "unknown", "v": 1},
    }
    cache_service.cache_device_profile("d", value)
    assert cache_service.get_device_profile("d") == value
    stored = json.loads(raw.get("zt:v1:device:d"))
    assert stored["amount"] == {"$zt": "decimal", "v": "10.10"}


def test_numpy_arrays_are_encoded_explicitly(raw: redis.Redis) -> None:
    numpy = pytest.importorskip("numpy")
    value = {"means": numpy.array([[1.5, 2.0], [3.0, 4.0]]), "n": numpy.int64(7)}
    cache_service.cache_behavioral_model(1, value)
    back = cache_service.get_behavioral_model(1)
    assert back["n"] == 7
    assert back["means"].dtype == numpy.float64
    assert numpy.array_equal(back["means"], value["means"])


class FakeDtype:
    kind = "f"

    def __str__(self) -> str:
        return "float64"


class FakeNumpyArray:
    """Quacks like a numpy array, so the encoding is tested where numpy is not installed."""

    def __init__(self, rows: list[Any]) -> None:
        self.rows, self.shape, self.dtype = rows, (len(rows),), FakeDtype()

    def tolist(self) -> list[Any]:
        return self.rows


FakeNumpyArray.__module__ = "numpy"


def test_numpy_like_arrays_read_back_as_lists_without_numpy(
    raw: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.services import cache_codec

    monkeypatch.setattr(cache_codec, "_numpy", lambda: None)
    cache_service.cache_behavioral_model(1, {"means": FakeNumpyArray([1.5, 2.0])})
    stored = json.loads(raw.get("zt:v1:model:1"))
    assert stored == {"means": {"$zt": "ndarray", "v": [1.5, 2.0], "dtype": "float64"}}
    assert cache_service.get_behavioral_model(1) == {"means": [1.5, 2.0]}


@pytest.mark.parametrize(
    "value",
    [{1, 2}, b"bytes", object(), {"when": dt.timedelta(1)}, None],
    ids=["set", "bytes", "object", "timedelta", "none"],
)
def test_unserialisable_values_raise_and_write_nothing(raw: redis.Redis, value: Any) -> None:
    with pytest.raises(UnserializableValue) as caught:
        cache_service.cache_active_session("s", value)
    assert isinstance(caught.value, TypeError)
    assert raw.dbsize() == 0


def test_a_circular_value_raises(raw: redis.Redis) -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(UnserializableValue):
        cache_service.cache_active_session("s", loop)
    assert raw.dbsize() == 0


@pytest.mark.parametrize("item_id", [None, "", "x" * 257, True, 1.5, {"a": 1}], ids=repr)
def test_bad_ids_raise(raw: redis.Redis, item_id: Any) -> None:
    with pytest.raises(InvalidCacheKey) as caught:
        cache_service.cache_behavioral_model(item_id, {"a": 1})
    assert isinstance(caught.value, ValueError)
    with pytest.raises(InvalidCacheKey):
        cache_service.get_behavioral_model(item_id)
    assert raw.dbsize() == 0


def test_ids_of_different_types_name_the_same_key(raw: redis.Redis) -> None:
    uid = uuid.uuid4()
    cache_service.cache_active_session(uid, {"a": 1})
    assert cache_service.get_active_session(str(uid)) == {"a": 1}
    cache_service.cache_behavioral_model(7, {"m": 1})
    assert cache_service.get_behavioral_model("7") == {"m": 1}


def test_unknown_type_and_mismatched_owner_raise(raw: redis.Redis) -> None:
    with pytest.raises(InvalidCacheKey, match="unknown cache type"):
        cache_service.get("nope", 1)
    with pytest.raises(InvalidCacheKey, match="user's id"):
        cache_service.set(CacheType.BEHAVIORAL_MODEL, 1, {"a": 1}, user_id=2)
    assert cache_service.set("model", 1, {"a": 1}, user_id=1) is True


def test_oversized_values_raise_and_write_nothing(app: Flask, raw: redis.Redis) -> None:
    app.config["CACHE_MAX_VALUE_BYTES"] = 100
    assert cache_service.cache_policy_performance(1, "x" * 90) is True
    with pytest.raises(ValueTooLarge, match="CACHE_MAX_VALUE_BYTES=100"):
        cache_service.cache_policy_performance(2, "x" * 101)
    with pytest.raises(ValueTooLarge):
        cache_service.set_many("policy", {3: "small", 4: "x" * 200})
    assert list(raw.scan_iter()) == [b"zt:v1:policy:1"]


def test_default_size_cap_is_one_mebibyte(app: Flask, raw: redis.Redis) -> None:
    assert app.config["CACHE_MAX_VALUE_BYTES"] == 1024 * 1024
    with pytest.raises(CacheUsageError):
        cache_service.cache_threat_prediction("t", "x" * (1024 * 1024))


def test_get_many_and_set_many(raw: redis.Redis) -> None:
    assert cache_service.set_many("device", {"a": {"n": 1}, "b": {"n": 2}}) is True
    assert cache_service.get_many("device", ["a", "b", "missing"]) == {
        "a": {"n": 1},
        "b": {"n": 2},
    }
    assert cache_service.get_many("device", []) == {}
    assert cache_service.set_many("device", {}) is True
    assert raw.ttl("zt:v1:device:b") == 7200
    counts = cache_service.get_cache_stats()["per_type"]["device"]
    assert (counts["hits"], counts["misses"], counts["writes"]) == (2, 1, 2)


def test_set_many_for_a_user_is_indexed(raw: redis.Redis) -> None:
    cache_service.set_many("session", {"s1": 1, "s2": 2}, user_id=9)
    assert sorted(raw.zrange("zt:v1:user:9", 0, -1)) == [b"zt:v1:session:s1", b"zt:v1:session:s2"]
    assert raw.ttl("zt:v1:user:9") == 7200
    assert cache_service.invalidate_user(9) == 2
    assert raw.dbsize() == 0


def test_delete_removes_one_key(raw: redis.Redis) -> None:
    cache_service.cache_threat_prediction("p1", {"risk": 1})
    cache_service.cache_threat_prediction("p2", {"risk": 2})
    assert cache_service.delete("threat", "p1") is True
    assert cache_service.delete("threat", "p1") is False
    assert cache_service.get_threat_prediction("p1") is None
    assert cache_service.get_threat_prediction("p2") == {"risk": 2}


def test_invalidate_user_leaves_other_users(raw: redis.Redis) -> None:
    for user in (1, 2):
        cache_service.cache_behavioral_model(user, {"u": user})
        cache_service.cache_active_session(f"s{user}", {"u": user}, user_id=user)
        cache_service.cache_device_profile(f"d{user}", {"u": user}, user_id=user)
        cache_service.cache_contextual_score(f"r{user}", {"u": user}, user_id=user)
        cache_service.cache_threat_prediction(f"t{user}", {"u": user}, user_id=user)
    cache_service.cache_policy_performance(1, {"shared": True})

    assert cache_service.invalidate_user(1) == 5
    assert cache_service.get_behavioral_model(1) is None
    assert cache_service.get_active_session("s1") is None
    assert cache_service.get_device_profile("d1") is None
    assert cache_service.get_behavioral_model(2) == {"u": 2}
    assert cache_service.get_active_session("s2") == {"u": 2}
    assert cache_service.get_threat_prediction("t2") == {"u": 2}
    assert cache_service.get_policy_performance(1) == {"shared": True}
    assert cache_service.invalidate_user(1) == 0


def test_user_index_is_pruned_of_expired_and_deleted_entries(raw: redis.Redis) -> None:
    cache_service.cache_active_session("gone", {"a": 1}, user_id=5)
    cache_service.cache_active_session("deleted", {"a": 1}, user_id=5)
    cache_service.cache_active_session("kept", {"a": 1}, user_id=5)
    raw.zadd("zt:v1:user:5", {"zt:v1:session:expired": time.time() - 1})
    cache_service.delete("session", "deleted")
    raw.delete("zt:v1:session:gone")

    result = cache_service.cleanup_indexes()

    assert result == {"redis_available": True, "indexes_scanned": 1, "entries_removed": 3}
    assert raw.zrange("zt:v1:user:5", 0, -1) == [b"zt:v1:session:kept"]


def test_invalidate_type_removes_only_that_type(raw: redis.Redis) -> None:
    cache_service.set_many("context", {f"r{i}": {"i": i} for i in range(1203)})
    cache_service.cache_behavioral_model(1, {"m": 1})
    assert cache_service.invalidate_type(CacheType.CONTEXT_SCORE) == 1203
    assert cache_service.get_contextual_score("r5") is None
    assert cache_service.get_behavioral_model(1) == {"m": 1}
    assert cache_service.invalidate_type("context") == 0


def test_corrupt_values_read_as_misses(raw: redis.Redis) -> None:
    raw.set("zt:v1:model:3", b"{not json")
    errors = cache_service.get_cache_stats()["errors"]
    assert cache_service.get_behavioral_model(3) is None
    assert cache_service.get_cache_stats()["errors"] == errors + 1


def test_stats_add_up(raw: redis.Redis) -> None:
    cache_service.cache_behavioral_model(1, {"m": 1})
    cache_service.cache_behavioral_model(2, {"m": 2})
    cache_service.cache_active_session("s", {"a": 1}, user_id=1)
    cache_service.get_behavioral_model(1)
    cache_service.get_behavioral_model(3)
    cache_service.get_active_session("s")
    cache_service.get_device_profile("none")
    raw.set("zt:v1:lock:model:9", "held")

    stats = cache_service.get_cache_stats()

    assert stats["connected"] is True
    assert stats["keys_per_type"] == {
        "model": 2,
        "context": 0,
        "threat": 0,
        "session": 1,
        "device": 0,
        "policy": 0,
    }
    assert stats["total_keys"] == 3
    assert (stats["index_keys"], stats["lock_keys"]) == (1, 1)
    assert (stats["hits"], stats["misses"], stats["writes"]) == (2, 2, 3)
    assert stats["hit_ratio"] == 0.5
    assert stats["per_type"]["model"] == {
        "keys": 2,
        "ttl_seconds": 3600,
        "hits": 1,
        "misses": 1,
        "writes": 2,
        "dropped_writes": 0,
        "hit_ratio": 0.5,
    }
    # The stand-in has no INFO: keys plus values of the cached entries, 2 x (13 + 7) + 15 + 7.
    assert (stats["used_memory"], stats["used_memory_human"]) == (62, "62B")
    assert stats["memory_estimated"] is True
    assert stats["key_format"] == "zt:v1:<type>:<id>"
    json.dumps(stats)

    cache_service.reset_stats()
    assert cache_service.get_cache_stats()["hits"] == 0


def test_cache_stats_api_is_admin_only(
    client: FlaskClient, admin_login: SignedIn, user_login: SignedIn, raw: redis.Redis
) -> None:
    cache_service.cache_behavioral_model(admin_login.user.id, {"m": 1})

    response = client.get("/api/admin/cache/stats", headers=admin_login.headers)
    assert response.status_code == 200
    assert response.get_json()["keys_per_type"]["model"] == 1
    assert response.get_json()["connected"] is True

    forbidden = client.get("/api/admin/cache/stats", headers=user_login.headers)
    assert forbidden.status_code == 403
    assert forbidden.get_json()["error"]["code"]
    anonymous = client.get("/api/admin/cache/stats")
    assert anonymous.status_code == 401
