"""CacheService and the Redis client factory on real Redis: the machine's (db 15 through
the ``redis_url`` fixture) and private ``redis-server`` processes this module starts."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from app import create_app
from app.config import load_config
from app.redis_client import client_for, get_redis_client
from app.services.cache_codec import TTL_SETTINGS, CacheType
from app.services.cache_service import CacheService, cache_service
from tests.conftest import test_config
from tests.procs import free_port, wait_for
from tests.services import IN_CI

pytestmark = pytest.mark.integration


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class RedisServer:
    """A private redis-server on a fixed loopback port, without persistence."""

    def __init__(self, workdir: Path, password: str | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            message = "redis-server is not installed"
            if IN_CI:
                pytest.fail(f"{message}; CI requires it")
            pytest.skip(message)
        self.binary, self.workdir, self.password = binary, workdir, password
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        if self.password:
            command += ["--requirepass", self.password]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(
            lambda: accepts_connections(self.port) or self.process.poll() is not None,
            10,
            f"redis-server on port {self.port}",
        )
        assert self.process.poll() is None, "redis-server exited at start"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        wait_for(lambda: not accepts_connections(self.port), 10, "redis-server to stop")


@pytest.fixture
def redis_servers(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    servers: list[RedisServer] = []

    def start(password: str | None = None) -> RedisServer:
        server = RedisServer(tmp_path, password)
        servers.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def own_redis(redis_servers: Callable[..., RedisServer]) -> RedisServer:
    return redis_servers()


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_the_seed_usage_runs_as_written(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from app import redis_client

    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setattr(redis_client, "_process_config", None)
    from app.services.cache_service import cache_service

    user_id, request_id, session_id = 42, "req-1", "sess-1"
    model_data = {"means": {"letter>letter": 121.5}, "stds": {"letter>letter": 14.2}}
    cache_service.cache_behavioral_model(user_id, model_data)
    model = cache_service.get_behavioral_model(user_id)
    cache_service.cache_contextual_score(request_id, {"score": 0.4})
    cache_service.cache_active_session(session_id, {"risk": 0.1})
    stats = cache_service.get_cache_stats()

    assert model == model_data
    assert stats["total_keys"] == 3
    assert stats["used_memory"] > 0 and stats["memory_estimated"] is False


@pytest.mark.parametrize("custom", [False, True], ids=["defaults", "from-settings"])
def test_redis_reports_the_configured_ttl_of_each_type(
    redis_url: str, raw: redis.Redis, custom: bool
) -> None:
    overrides = {name: 1000 + i for i, name in enumerate(TTL_SETTINGS.values())} if custom else {}
    service = CacheService(test_config(REDIS_URL=redis_url, **overrides))
    for cache_type in CacheType:
        assert service.set(cache_type, "x", {"t": cache_type.value}, user_id=None) is True
        expected = service.ttl_for(cache_type)
        assert raw.ttl(f"zt:v1:{cache_type.value}:x") == expected
        if custom:
            assert expected == overrides[TTL_SETTINGS[cache_type]]


def test_per_user_invalidation_leaves_other_users(redis_url: str, raw: redis.Redis) -> None:
    service = CacheService(test_config(REDIS_URL=redis_url))
    for user in (1, 2):
        service.cache_behavioral_model(user, {"u": user})
        service.cache_active_session(f"s{user}", {"u": user}, user_id=user)
        service.cache_device_profile(f"d{user}", {"u": user}, user_id=user)
        service.set_many("context", {f"r{user}a": 1, f"r{user}b": 2}, user_id=user)
    service.cache_policy_performance(7, {"shared": True})
    before = set(raw.scan_iter(match="zt:v1:*:*2*"))

    assert service.invalidate_user(1) == 5

    assert not any(
        service.get(t, i) for t, i in [("model", 1), ("session", "s1"), ("device", "d1")]
    )
    assert service.get_many("context", ["r1a", "r1b"]) == {}
    assert set(raw.scan_iter(match="zt:v1:*:*2*")) == before
    assert service.get_behavioral_model(2) == {"u": 2}
    assert service.get_many("context", ["r2a", "r2b"]) == {"r2a": 1, "r2b": 2}
    assert service.get_policy_performance(7) == {"shared": True}


def test_stats_add_up(redis_url: str, raw: redis.Redis) -> None:
    service = CacheService(test_config(REDIS_URL=redis_url))
    service.set_many("model", {i: {"m": i} for i in range(10)})
    service.set_many("session", {f"s{i}": {"s": i} for i in range(4)}, user_id=3)
    service.cache_device_profile("d", {"d": 1})
    service.get_many("model", range(15))
    service.get_active_session("s0")
    service.get_active_session("nope")

    stats = service.get_cache_stats()
    info = raw.info()

    assert stats["connected"] is True
    assert stats["total_keys"] == sum(stats["keys_per_type"].values()) == 15
    assert stats["keys_per_type"]["model"] == 10 and stats["keys_per_type"]["session"] == 4
    assert stats["index_keys"] == 1
    per_type = stats["per_type"]
    for field in ("hits", "misses", "writes", "dropped_writes"):
        assert stats[field] == sum(counts[field] for counts in per_type.values())
    assert (stats["hits"], stats["misses"], stats["writes"]) == (11, 6, 15)
    assert stats["hit_ratio"] == round(11 / 17, 4)
    assert per_type["model"]["hit_ratio"] == round(10 / 15, 4)
    assert stats["redis_version"] == info["redis_version"]
    assert stats["used_memory"] > 0 and stats["used_memory_human"]
    assert stats["memory_estimated"] is False
    assert isinstance(stats["expired_keys"], int) and isinstance(stats["evicted_keys"], int)


def test_stampede_runs_compute_once(redis_url: str) -> None:
    service = CacheService(test_config(REDIS_URL=redis_url))
    callers, calls, results = 50, [], []
    start = threading.Barrier(callers)

    def misses() -> int:
        return service.get_cache_stats()["per_type"]["model"]["misses"]

    def compute() -> dict[str, Any]:
        calls.append(threading.get_ident())
        # Hold the lock until every caller has missed: all 50 contend for the cold key.
        wait_for(lambda: misses() >= callers, 20, "every caller to miss")
        return {"model": "trained once"}

    def caller() -> None:
        start.wait()
        results.append(service.get_or_compute("model", 1, compute))

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(calls) == 1
    assert results == [{"model": "trained once"}] * callers
    assert misses() == callers


def test_password_auth(redis_servers: Callable[..., RedisServer]) -> None:
    server = redis_servers(password="s3cret-pass")
    env = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": str(server.port), "REDIS_DB": "0"}

    with_password = load_config({**env, "REDIS_PASSWORD": "s3cret-pass"})
    assert client_for(with_password).ping() is True
    service = CacheService(with_password)
    assert service.cache_behavioral_model(1, {"m": 1}) is True
    assert service.get_behavioral_model(1) == {"m": 1}

    without = load_config({**env, "REDIS_RETRY_ATTEMPTS": "0"})
    with pytest.raises(redis.AuthenticationError, match="Authentication required"):
        client_for(without).ping()
    wrong = load_config({**env, "REDIS_PASSWORD": "wrong", "REDIS_RETRY_ATTEMPTS": "0"})
    with pytest.raises(redis.AuthenticationError, match="invalid username-password"):
        client_for(wrong).ping()
    assert CacheService(without).get_behavioral_model(1) is None


def test_outage_is_a_miss_and_the_same_client_resumes(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"redis://127.0.0.1:{own_redis.port}/0"
    app = create_app(test_config(REDIS_URL=url, CACHE_OUTAGE_RETRY=0.05))
    caplog.set_level(logging.INFO, logger="app.services.cache_backend")
    with app.app_context():
        client = get_redis_client()
        assert cache_service.cache_behavioral_model(1, {"m": 1}) is True
        assert cache_service.get_behavioral_model(1) == {"m": 1}

        own_redis.stop()
        for _ in range(100):
            assert cache_service.get_behavioral_model(1) is None
            assert cache_service.cache_behavioral_model(1, {"m": 2}) is False
        assert cache_service.get_or_compute("model", 2, lambda: {"m": 3}) == {"m": 3}
        stats = cache_service.get_cache_stats()
        assert stats["connected"] is False and stats["outage_since"]
        assert stats["dropped_writes"] >= 100
        records = [r for r in caplog.records if r.name == "app.services.cache_backend"]
        assert [r.levelno for r in records] == [logging.WARNING]

        own_redis.start()
        wait_for(
            lambda: cache_service.cache_behavioral_model(1, {"m": 4}),
            10,
            "a write to succeed",
        )
        assert cache_service.get_behavioral_model(1) == {"m": 4}
        assert get_redis_client() is client
        stats = cache_service.get_cache_stats()
        assert stats["connected"] is True and stats["outages"] == 1
        assert stats["outage_since"] is None


def test_a_dropped_connection_is_retried_transparently(own_redis: RedisServer) -> None:
    service = CacheService(test_config(REDIS_URL=f"redis://127.0.0.1:{own_redis.port}/0"))
    service.cache_behavioral_model(1, {"m": 1})
    admin = redis.Redis(port=own_redis.port)
    assert admin.client_kill_filter(_type="normal", skipme=True) >= 1
    admin.close()

    assert service.get_behavioral_model(1) == {"m": 1}
    stats = service.get_cache_stats()
    assert (stats["errors"], stats["outages"]) == (0, 0)
