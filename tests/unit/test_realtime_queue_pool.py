"""The web process's Socket.IO Redis queue waits for a pooled connection instead of failing.

python-socketio's own RedisManager publishes through redis-py's default pool (at most 100
connections in redis-py 8, failing at once beyond that); bench/ws_load.py showed a connect
burst of 200 failing publishes and knocking out the queue listener.
"""

from __future__ import annotations

import threading

import redis

from app.config import load_config
from app.realtime.server import RedisQueueManager, socketio_options
from app.standalone import EmbeddedRedis


def test_a_redis_queue_gets_the_bounded_blocking_manager() -> None:
    config = load_config(
        {"SOCKETIO_MESSAGE_QUEUE": "redis://127.0.0.1:6379/3", "REDIS_MAX_CONNECTIONS": "7"}
    )
    manager = socketio_options(config)["client_manager"]
    assert isinstance(manager, RedisQueueManager)
    assert manager.channel == "flask-socketio"  # what Flask-SocketIO's write-only emitters use
    assert "client_manager" not in socketio_options(load_config({"SOCKETIO_MESSAGE_QUEUE": "none"}))


def test_more_concurrent_publishers_than_connections_all_publish(
    embedded_redis: EmbeddedRedis,
) -> None:
    manager = RedisQueueManager(f"{embedded_redis.url}/0", max_connections=2)
    manager._redis_connect()
    assert isinstance(manager.redis.connection_pool, redis.BlockingConnectionPool)
    results: list[object] = []
    lock = threading.Lock()

    def publish(n: int) -> None:
        outcome = manager._publish({"method": "emit", "n": n})
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=publish, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # _publish returns the receiver count, or None when it gave up after its retry.
    assert len(results) == 30
    assert all(isinstance(outcome, int) for outcome in results)
    manager.redis.close()
