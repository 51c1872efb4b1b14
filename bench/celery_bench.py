"""Background-job benchmark: Celery throughput through RabbitMQ, and task-emit latency.

    .venv/bin/python bench/celery_bench.py [--tasks 2000] [--emits 200] [--quick]

1. Throughput of a trivial task (one Redis INCR) sent through the machine's RabbitMQ and run
   by a real worker (prefork, 2 processes), against a baseline in the same run: raw kombu
   messages published to and consumed from a queue of the same broker.
2. Latency from a task's emit (in the worker, through the Redis message queue and the web
   process) to a real Socket.IO client, p50/p99, against a baseline in the same run: the
   same emit made directly by this process's write-only emitter.

Uses a private RabbitMQ vhost and a private PostgreSQL schema, removed at the end. Writes
bench/out/celery_bench.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
import requests
import socketio
import sqlalchemy as sa
from kombu import Connection, Exchange, Queue

from app.config import database_url

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out" / "celery_bench.json"
PG_ADMIN = database_url("postgresql://postgres@127.0.0.1:5432/test", "PG_ADMIN")
REDIS_URL = "redis://127.0.0.1:6379/11"
PASSWORD = "bench password 1"  # noqa: S105 (a throwaway account of a private schema)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception:  # noqa: S110 (not up yet)
            pass
        time.sleep(0.02)
    raise TimeoutError(f"timed out waiting for {what}")


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)  # noqa: S603,S607


@contextmanager
def environment() -> Iterator[dict[str, str]]:
    """A private vhost and schema, migrated, with an admin-created bench user."""
    vhost = f"zt_bench_{os.getpid()}"
    schema = f"zt_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    env = {
        **os.environ,
        "APP_MODE": "services",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": f"{PG_ADMIN}?options=-csearch_path%3D{schema}",
        "REDIS_URL": REDIS_URL,
        "SOCKETIO_MESSAGE_QUEUE": REDIS_URL,
        "CELERY_BROKER_URL": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        "CELERY_RESULT_BACKEND": REDIS_URL,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "PYTHONUNBUFFERED": "1",
    }
    try:
        subprocess.run(
            [sys.executable, "-m", "flask", "db", "upgrade"],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                sys.executable,
                "-m",
                "flask",
                "create-user",
                "--username",
                "bench_user",
                "--password-stdin",
            ],
            cwd=REPO,
            env=env,
            input=PASSWORD.encode(),
            check=True,
            capture_output=True,
        )
        yield env
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True)  # noqa: S603,S607


@contextmanager
def process(args: list[str], env: dict[str, str], ready: Any, what: str) -> Iterator[Any]:
    log = open(REPO / "bench" / "out" / f"{what}.log", "wb")  # noqa: SIM115
    child = subprocess.Popen(args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        wait_for(lambda: ready(child), 90, what)
        yield child
    finally:
        child.terminate()
        child.wait(timeout=30)
        log.close()


def log_says(name: str, text: str) -> Any:
    return lambda _child: (
        text in (REPO / "bench" / "out" / f"{name}.log").read_text(errors="replace")
    )


def celery_throughput(env: dict[str, str], tasks: int) -> dict[str, Any]:
    from app.celery_app import make_celery
    from app.config import load_config

    celery = make_celery(load_config(env))
    client = redis.Redis.from_url(REDIS_URL)
    key = f"bench:noop:{uuid.uuid4().hex}"
    started = time.perf_counter()
    with celery.producer_or_acquire() as producer:
        for _ in range(tasks):
            celery.send_task("bench.noop", args=(key,), producer=producer)
    sent = time.perf_counter()
    wait_for(lambda: int(client.get(key) or 0) >= tasks, 600, "every task to run")
    done = time.perf_counter()
    return {
        "tasks": tasks,
        "publish_per_s": round(tasks / (sent - started)),
        "end_to_end_per_s": round(tasks / (done - started)),
    }


def kombu_throughput(env: dict[str, str], messages: int) -> dict[str, Any]:
    """Baseline: raw kombu publish and consume of the same number of small JSON messages."""
    exchange = Exchange("bench_raw", type="direct")
    queue = Queue("bench_raw", exchange, routing_key="bench_raw", auto_delete=True)
    received = 0
    done = threading.Event()

    def consume() -> None:
        nonlocal received
        with Connection(env["CELERY_BROKER_URL"]) as conn:

            def on_message(body: Any, message: Any) -> None:
                nonlocal received
                message.ack()
                received += 1
                if received >= messages:
                    done.set()

            with conn.Consumer(queue, callbacks=[on_message], accept=["json"]):
                while not done.is_set():
                    conn.drain_events(timeout=10)

    with Connection(env["CELERY_BROKER_URL"]) as conn:
        queue(conn.default_channel).declare()
    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    started = time.perf_counter()
    with Connection(env["CELERY_BROKER_URL"]) as conn:
        producer = conn.Producer(serializer="json")
        for seq in range(messages):
            producer.publish({"seq": seq}, exchange=exchange, routing_key="bench_raw")
    sent = time.perf_counter()
    done.wait(600)
    finished = time.perf_counter()
    return {
        "messages": received,
        "publish_per_s": round(messages / (sent - started)),
        "end_to_end_per_s": round(messages / (finished - started)),
    }


def emit_latency(env: dict[str, str], base: str, emits: int) -> dict[str, Any]:
    from app import create_app
    from app.config import load_config
    from app.realtime.emit import emit_to_user

    login = requests.post(
        f"{base}/api/auth/login", json={"username": "bench_user", "password": PASSWORD}, timeout=10
    ).json()
    user_id = login["user"]["id"]
    latencies: dict[str, list[float]] = {"task": [], "direct": []}
    client = socketio.Client()
    client.on(
        "notification",
        lambda data: latencies[data["via"]].append((time.time() - data["sent_at"]) * 1000),
    )
    client.connect(base, auth={"token": login["access_token"]}, wait_timeout=10)
    assert client.call("join_user_room", {"user_id": user_id}, timeout=10)["ok"]
    from app.celery_app import make_celery

    celery = make_celery(load_config(env))
    app = create_app(load_config(env))
    with app.app_context():
        for seq in range(emits):
            celery.send_task("bench.emit_stamp", args=(user_id, seq, time.time()))
            emit_to_user(
                user_id, "notification", {"seq": seq, "sent_at": time.time(), "via": "direct"}
            )
            time.sleep(0.01)  # pacing: latency, not a queue under saturation, is measured
    wait_for(lambda: all(len(v) >= emits for v in latencies.values()), 120, "every emit")
    client.disconnect()
    summary = {
        via: {
            "count": len(values),
            "p50_ms": round(percentile(values, 50), 2),
            "p99_ms": round(percentile(values, 99), 2),
        }
        for via, values in latencies.items()
    }
    summary["ratio_p50"] = round(summary["task"]["p50_ms"] / summary["direct"]["p50_ms"], 2)
    summary["ratio_p99"] = round(summary["task"]["p99_ms"] / summary["direct"]["p99_ms"], 2)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--emits", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="200 tasks, 30 emits")
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks, args.emits = 200, 30
    sys.path.insert(0, str(REPO))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    redis.Redis.from_url(REDIS_URL).flushdb()
    port = _free_port()
    celery_cmd = [sys.executable, "-m", "celery", "-A", "celery_config.celery_app"]
    with (
        environment() as env,
        process(
            [
                *celery_cmd,
                "worker",
                "-Q",
                "default",
                "-c",
                "2",
                "-l",
                "info",
                "-I",
                "bench.celery_bench_tasks",
                "--without-mingle",
                "--without-gossip",
            ],
            env,
            log_says("celery-worker", "ready."),
            "celery-worker",
        ),
        process(
            [sys.executable, "run.py", "--port", str(port)],
            env,
            lambda _c: requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2).ok,
            "celery-web",
        ),
    ):
        baseline = kombu_throughput(env, args.tasks)
        celery = celery_throughput(env, args.tasks)
        latency = emit_latency(env, f"http://127.0.0.1:{port}", args.emits)
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "throughput": {
            "celery": celery,
            "kombu_baseline": baseline,
            "ratio_end_to_end": round(celery["end_to_end_per_s"] / baseline["end_to_end_per_s"], 3),
        },
        "emit_latency": latency,
    }
    OUT.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main())
