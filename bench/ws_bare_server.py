"""Bare Flask-SocketIO server: the baseline that bench/ws_load.py measures next to the platform.

The same stack as the platform's web process (Flask-SocketIO on eventlet, eventlet's WSGI
server with max_size raised and a 2048 listen backlog, the same Engine.IO ping settings, a
Redis message queue carrying emits from other processes) with the same room / emit / ping
handlers, and nothing else: no authentication, no database, no rate limits, no presence,
no recovery log.

Its Socket.IO Redis queue uses the same bounded, blocking connection pool as the platform's
(app.realtime.server.RedisQueueManager, copied here so this server imports nothing of the
platform): with python-socketio's default manager, a burst of more than 100 concurrent
connects fails publishes ("Too many connections", redis-py 8's default pool size) and can
knock out the queue listener, so emits from the bench process are lost — see
bench/RESULTS.md. ``--default-queue-pool`` keeps that default.

    python bench/ws_bare_server.py --port 5099 --message-queue redis://127.0.0.1:6379/14 \
        --channel zt-bench-bare

A client connects with ``auth: {room: NAME}`` (optional) and is put into that room, as the
platform puts a socket into its login session's room; ``join`` {room} joins another one;
``ping`` {client_ts} answers ``pong`` {client_ts, server_ts}. ``GET /stats`` returns the
number of connected sockets.
"""

from __future__ import annotations

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import redis  # noqa: E402
import socketio as python_socketio  # noqa: E402
from eventlet import wsgi  # noqa: E402
from flask import Flask, jsonify, request  # noqa: E402
from flask_socketio import SocketIO, emit, join_room  # noqa: E402

LISTEN_BACKLOG = 2048  # as run.py


class BlockingPoolRedisManager(python_socketio.RedisManager):
    def _redis_connect(self) -> None:
        pool = redis.BlockingConnectionPool.from_url(self.redis_url, max_connections=51, timeout=20)
        self.redis = redis.Redis.from_pool(pool)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True


def create(
    message_queue: str | None, channel: str, default_pool: bool = False
) -> tuple[Flask, SocketIO]:
    app = Flask(__name__)
    options: dict[str, Any] = {}
    if message_queue and not default_pool:
        options["client_manager"] = BlockingPoolRedisManager(message_queue, channel=channel)
    socketio = SocketIO(
        app,
        async_mode="eventlet",
        message_queue=message_queue,
        channel=channel,
        **options,
        cors_allowed_origins="*",
        ping_interval=25,  # the platform's SOCKETIO_PING_INTERVAL / _TIMEOUT defaults
        ping_timeout=20,
        max_http_buffer_size=512 * 1024,
    )
    connected: set[str] = set()

    @socketio.on("connect")
    def on_connect(auth: Any = None) -> None:
        sid = request.sid  # type: ignore[attr-defined]
        room = auth.get("room") if isinstance(auth, dict) else None
        if isinstance(room, str) and room:
            join_room(room)
        connected.add(sid)
        emit("connection_response", {"sid": sid, "server_time": time.time() * 1000})

    @socketio.on("disconnect")
    def on_disconnect(reason: Any = None) -> None:
        connected.discard(request.sid)  # type: ignore[attr-defined]

    @socketio.on("join")
    def on_join(data: Any = None) -> dict[str, Any]:
        room = data.get("room") if isinstance(data, dict) else None
        if not isinstance(room, str) or not room:
            return {"ok": False}
        join_room(room)
        emit("room_joined", {"room": room})
        return {"ok": True}

    @socketio.on("ping")
    def on_ping(data: Any = None) -> dict[str, Any]:
        client_ts = data.get("client_ts") if isinstance(data, dict) else None
        reply = {"client_ts": client_ts, "server_ts": time.time() * 1000}
        emit("pong", reply)
        return {"ok": True, **reply}

    @app.get("/stats")
    def stats() -> Any:
        return jsonify({"total_connections": len(connected)})

    @app.get("/api/health")
    def health() -> Any:
        return jsonify({"status": "ok"})

    return app, socketio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--message-queue", default=None, help="Redis URL, or none")
    parser.add_argument("--channel", default="zt-bench-bare")
    parser.add_argument("--max-connections", type=int, default=12_000)
    parser.add_argument(
        "--default-queue-pool",
        action="store_true",
        help="python-socketio's default Redis pool (fails beyond 100 concurrent publishes)",
    )
    args = parser.parse_args(argv)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.max_connections + 1024
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))

    app, _ = create(args.message_queue, args.channel, args.default_queue_pool)
    listener = eventlet.listen((args.host, args.port), backlog=LISTEN_BACKLOG)
    print(f"Serving on http://{args.host}:{args.port}", flush=True)
    wsgi.server(listener, app, log_output=False, max_size=args.max_connections)
    return 0


if __name__ == "__main__":
    sys.exit(main())
