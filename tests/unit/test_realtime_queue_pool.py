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
from app.standalone.children import ChildProcess


def test_a_redis_queue_gets_the_bounded_blocking_manager() -> None:
    config = load_config(
        {"SOCKETIO_MESSAGE_QUEUE": "redis://127.0.0.1:6379/3", "REDIS_MAX_CONNECTIONS": "7"}
    )
    manager = socketio_options(config)["client_manager"]
    assert isinstance(manager, RedisQueueManager)
    assert manager.channel == "flask-socketio"  # Flask-SocketIO's default
    own = load_config(
        {"SOCKETIO_MESSAGE_QUEUE": "redis://127.0.0.1:6379/3", "SOCKETIO_CHANNEL": "zt-a"}
    )
    assert socketio_options(own)["client_manager"].channel == "zt-a"
    assert "client_manager" not in socketio_options(load_config({"SOCKETIO_MESSAGE_QUEUE": "none"}))


def test_more_concurrent_publishers_than_connections_all_publish(
    embedded_redis: ChildProcess,
) -> None:
    manager = RedisQueueManager(
        f"{embedded_redis.url}/0", max_connections=2, channel="flask-socketio"
    )
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


def test_a_worker_emits_on_the_configured_channel(embedded_redis: ChildProcess) -> None:
    """A process without the server (a Celery worker) publishes where the web processes of
    its own deployment listen, and nowhere else."""
    import json

    import redis

    from app import create_app
    from app.realtime.emit import emit_to_user
    from tests.conftest import test_config
    from tests.procs import wait_for

    queue = f"{embedded_redis.url}/3"
    app = create_app(
        test_config(
            REALTIME_SERVER=False,
            REDIS_URL=f"{embedded_redis.url}/0",
            SOCKETIO_MESSAGE_QUEUE=queue,
            SOCKETIO_CHANNEL="zt-deployment-a",
        )
    )
    listener = redis.Redis.from_url(queue).pubsub(ignore_subscribe_messages=True)
    listener.subscribe("zt-deployment-a", "flask-socketio")
    with app.app_context():
        emit_to_user(7, "notification", {"title": "hello"})

    def next_message() -> dict | None:
        # get_message returns None for each subscribe confirmation it swallows.
        return listener.get_message(timeout=1)

    message = wait_for(next_message, 10, "the published emit")
    assert message["channel"] == b"zt-deployment-a"
    published = json.loads(message["data"])
    assert published["event"] == "notification" and published["room"] == "user:7"
    assert listener.get_message(timeout=0.5) is None  # not on the default channel too
    listener.close()
