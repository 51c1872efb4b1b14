"""Real-time load benchmark: the platform's Socket.IO server next to a bare Flask-SocketIO one.

    .venv/bin/python bench/ws_load.py                  # full run: 10,000 connections
    .venv/bin/python bench/ws_load.py --quick          # smoke run: 200 connections, < 1 min
    .venv/bin/python bench/ws_load.py --connections 3000 --rooms 1000,3000

For each server, one after the other, with the same client load generator (bench/ws_client.py,
raw Engine.IO/Socket.IO over asyncio, spread over --client-procs processes):

* platform: ``python run.py --port P`` in services mode, against a private, freshly migrated
  schema of the PostgreSQL database ``test`` (dropped at the end) and the real Redis (db 14)
  as message queue, presence store and recovery log. Members authenticate with a real
  access token (REST login); they all share one login session, so each connect puts them in
  that session's room ``session:<uuid>`` — the fan-out room. Emits go through
  ``app.realtime.emit.emit_to_session`` called in this process, i.e. the write-only path a
  Celery worker uses: recovery-log append in Redis, then a publish on the Socket.IO queue that
  the web process fans out. A UUID room cannot collide with rooms of other servers that share
  this Redis.
* bare: bench/ws_bare_server.py — Flask-SocketIO on eventlet with the same server settings,
  room / emit / ping handlers, and the same Redis queue path (its own channel), no auth.

Measures, per server: connections held in one process (after a hold longer than the
Engine.IO ping interval), connect rate, server RSS per connection (VmRSS before and after,
divided by connections), fan-out latency (receive time - send time at every member: p50,
p99, and the time until the last member got it) to a room of each --rooms size, and ping
round trip (``ping`` -> ``pong`` event) from a separate connection while idle and while the
fan-outs run. Writes bench/out/ws_load.json and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import queue
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.config import database_url

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
OUT = BENCH / "out"
PYTHON = sys.executable
POSTGRES_ADMIN_URL = database_url(
    os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    "TEST_POSTGRES_URL",
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PASSWORD = "bench-password-" + secrets.token_hex(4)
FAST_HASH = "pbkdf2:sha256:1000"
EVENT = "notification"


# -- small helpers ---------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[index], 2)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_json(url: str, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data)  # noqa: S310 - loopback http only
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before serving")
        try:
            http_json(url)
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer {url} within {timeout}s")


def log(message: str) -> None:
    print(f"[ws_load {time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- client processes --------------------------------------------------------------------------
class Worker:
    """One bench/ws_client.py process, driven by JSON lines."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, our own script
            [PYTHON, str(BENCH / "ws_client.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put("")

    def send(self, cmd: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(cmd) + "\n")
        self.process.stdin.flush()

    def receive(self, timeout: float) -> dict[str, Any]:
        line = self._lines.get(timeout=timeout)
        if not line:
            raise RuntimeError(f"client process {self.name} exited")
        return json.loads(line)

    def request(self, cmd: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
        self.send(cmd)
        return self.receive(timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(Exception):
                self.request({"cmd": "close", "concurrency": 250}, timeout=60)
        with contextlib.suppress(Exception):
            self.process.wait(timeout=10)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


# -- the two servers ---------------------------------------------------------------------------
class Target:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    member_auth: dict[str, Any]
    pinger_auth: dict[str, Any]

    def start(self) -> None:
        raise NotImplementedError

    def emit(self, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def server_connections(self) -> int | None:
        raise NotImplementedError

    def _spawn(self, argv: list[str], env: dict[str, str]) -> None:
        OUT.mkdir(parents=True, exist_ok=True)
        log_file = (OUT / f"{self.name}-server.log").open("wb")
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, our own scripts
            argv, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        wait_http(f"http://127.0.0.1:{self.port}/api/health", self.process, timeout=90)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def cleanup(self) -> None:
        """Remove what this run left in shared services."""


class Platform(Target):
    name = "platform"

    def __init__(self) -> None:
        self.port = free_port()
        self.schema = f"zt_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.jwt_secret = secrets.token_urlsafe(48)
        self.app: Any = None
        self.session_id: str | None = None
        self.admin_token: str | None = None

    @property
    def database_url(self) -> str:
        return f"{POSTGRES_ADMIN_URL}?options=-csearch_path%3D{self.schema}"

    def env(self) -> dict[str, str]:
        return {
            "APP_MODE": "services",
            "APP_ENV": "development",
            "LOG_LEVEL": "WARNING",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": REDIS_URL,
            "SOCKETIO_MESSAGE_QUEUE": REDIS_URL,
            "SOCKETIO_ASYNC_MODE": "eventlet",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "JWT_SECRET_KEY": self.jwt_secret,
            # A full run lasts longer than the 15-minute default access token; the server
            # would rightly warn and disconnect every member when it expires.
            "JWT_ACCESS_TOKEN_SECONDS": "7200",
            "PASSWORD_HASH_METHOD": FAST_HASH,
            # Every member connects from 127.0.0.1: the per-address limit would cap the
            # run at its default (README "HTTP edge").
            "MAX_CONNECTIONS_PER_ADDRESS": "0",
            # The benchmark measures capacity: every member is one user on one session
            # from one address, which the per-user, per-session and per-address limits
            # exist to stop. Lifted here, measured as the deployment's whole load.
            "WS_MAX_CONNECTIONS_PER_USER": "1000000",
            "WS_MAX_CONNECTIONS_PER_SESSION": "1000000",
            "WS_CONNECT_RATE_PER_USER": "1000000/1000000",
            "WS_CONNECT_RATE_PER_ADDRESS": "1000000/1000000",
            "WS_ADDRESS_RATE_MULTIPLIER": "100000",
        }

    def prepare_database(self) -> None:
        import sqlalchemy as sa
        from flask_migrate import upgrade

        from app import create_app
        from app.config import load_config
        from app.services.user_service import create_user

        admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
        admin.dispose()
        env = {**os.environ, **self.env()}
        self.app = create_app(load_config(env))
        with self.app.app_context():
            upgrade()
            create_user("bench_member", PASSWORD)
            create_user("bench_pinger", PASSWORD)
            create_user("bench_admin", PASSWORD, role="admin")

    def start(self) -> None:
        self.prepare_database()
        env = {**os.environ, **self.env()}
        self._spawn([PYTHON, "run.py", "--port", str(self.port)], env)
        base = f"http://127.0.0.1:{self.port}/api/auth/login"
        member = http_json(base, {"username": "bench_member", "password": PASSWORD})
        pinger = http_json(base, {"username": "bench_pinger", "password": PASSWORD})
        admin = http_json(base, {"username": "bench_admin", "password": PASSWORD})
        self.session_id = member["session_id"]
        self.admin_token = admin["access_token"]
        self.member_auth = {"token": member["access_token"]}
        self.pinger_auth = {"token": pinger["access_token"]}
        # The write-only emitter's Redis connection is made here, not in the first sample.
        self.emit({"seq": -1, "sent_ms": 0})

    def emit(self, data: dict[str, Any]) -> None:
        from app.realtime.emit import emit_to_session

        with self.app.app_context():
            emit_to_session(self.session_id, EVENT, data)

    def server_connections(self) -> int | None:
        stats = http_json(
            f"http://127.0.0.1:{self.port}/api/admin/realtime/stats", token=self.admin_token
        )
        return int(stats["total_connections"])

    def cleanup(self) -> None:
        import redis
        import sqlalchemy as sa

        if self.app is not None:
            from app.extensions import db

            with self.app.app_context():
                db.engine.dispose()
        admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        admin.dispose()
        if self.session_id:
            client = redis.Redis.from_url(REDIS_URL)
            room = f"session:{self.session_id}"
            client.delete(f"zt:ws:seq:{room}", f"zt:ws:log:{room}", f"zt:ws:sess:{self.session_id}")
            client.close()


class Bare(Target):
    name = "bare"

    def __init__(self) -> None:
        self.port = free_port()
        self.channel = f"zt-bench-bare-{uuid.uuid4().hex[:8]}"
        self.room = f"bench:{uuid.uuid4()}"
        self.member_auth = {"room": self.room}
        self.pinger_auth = {}
        self.emitter: Any = None

    def start(self) -> None:
        from flask_socketio import SocketIO

        argv = [PYTHON, str(BENCH / "ws_bare_server.py"), "--port", str(self.port)]
        argv += ["--message-queue", REDIS_URL, "--channel", self.channel]
        self._spawn(argv, dict(os.environ))
        self.emitter = SocketIO(message_queue=REDIS_URL, channel=self.channel)
        self.emit({"seq": -1, "sent_ms": 0})

    def emit(self, data: dict[str, Any]) -> None:
        self.emitter.emit(EVENT, data, to=self.room)

    def server_connections(self) -> int | None:
        return int(http_json(f"http://127.0.0.1:{self.port}/stats")["total_connections"])


# -- one server's run --------------------------------------------------------------------------
def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def fanout_stats(samples: list[list[float]], sent: dict[int, float], members: int) -> dict:
    latencies: list[float] = []
    last: dict[int, float] = {}
    received: dict[int, int] = {}
    for seq, sent_ms, received_ms in samples:
        if seq not in sent:
            continue
        delay = received_ms - sent_ms
        latencies.append(delay)
        last[seq] = max(last.get(seq, 0.0), delay)
        received[seq] = received.get(seq, 0) + 1
    expected = members * len(sent)
    lasts = list(last.values())
    return {
        "room_size": members,
        "emits": len(sent),
        "deliveries": len(latencies),
        "delivered_fraction": round(len(latencies) / expected, 5) if expected else 0,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": percentile(latencies, 100),
        "last_member_p50_ms": percentile(lasts, 50),
        "last_member_max_ms": percentile(lasts, 100),
    }


def ping_stats(samples: list[list[float]]) -> dict[str, Any]:
    rtts = [rtt for _, rtt in samples]
    return {
        "count": len(rtts),
        "p50_ms": percentile(rtts, 50),
        "p99_ms": percentile(rtts, 99),
        "max_ms": percentile(rtts, 100),
    }


def run_target(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"server": target.name, "errors": []}
    workers: list[Worker] = []
    log(f"{target.name}: starting server")
    try:
        target.start()
        pid = target.process.pid
        workers = [Worker(f"members-{i}") for i in range(args.client_procs)]
        pinger = Worker("pinger")
        pinger.request(
            {
                "cmd": "ping_start",
                "host": "127.0.0.1",
                "port": target.port,
                "auth": target.pinger_auth,
                "interval": args.ping_interval,
            }
        )
        time.sleep(2)
        rss0 = rss_kib(pid)
        result["rss_idle_kib"] = rss0
        ping_samples: list[list[float]] = []
        windows: list[tuple[str, int, float, float]] = []
        held = 0
        connect_seconds = 0.0
        connect_cpu = 0.0
        failed = 0
        stages: list[dict[str, Any]] = []
        seq = 0
        for size in args.rooms:
            need = size - held
            log(f"{target.name}: connecting {need} more (to {size})")
            cpu_before = cpu_seconds(pid)
            started = time.monotonic()
            parts = split(need, len(workers))
            for worker, n in zip(workers, parts, strict=True):
                worker.send(
                    {
                        "cmd": "connect",
                        "host": "127.0.0.1",
                        "port": target.port,
                        "n": n,
                        "auth": target.member_auth,
                        "concurrency": args.concurrency,
                    }
                )
            replies = [w.receive(timeout=args.connect_timeout) for w in workers]
            elapsed = time.monotonic() - started
            connect_seconds += elapsed
            connect_cpu += cpu_seconds(pid) - cpu_before
            ok = sum(r["ok"] for r in replies)
            failed += sum(r["failed"] for r in replies)
            for r in replies:
                if r["errors"]:
                    result["errors"].append({"stage": size, "connect_errors": r["errors"]})
            held += ok
            log(f"{target.name}: {held} held ({ok} in {elapsed:.1f}s, {need - ok} failed)")
            time.sleep(args.settle)
            rss = rss_kib(pid)
            idle_start = time.time() * 1000
            time.sleep(args.idle_window)
            windows.append(("idle", size, idle_start, time.time() * 1000))
            # Fan-outs: each emit once the previous one reached every member (or timed out).
            sent: dict[int, float] = {}
            client_cpu0 = [w.request({"cmd": "status"})["cpu_seconds"] for w in workers]
            server_cpu0 = cpu_seconds(pid)
            load_start = time.time() * 1000
            per_emit_timeout = max(args.emit_timeout, held / 500)
            for _ in range(args.emits):
                seq += 1
                sent_ms = time.time() * 1000
                target.emit({"seq": seq, "sent_ms": sent_ms})
                sent[seq] = sent_ms
                deadline = time.monotonic() + per_emit_timeout
                while time.monotonic() < deadline:
                    counts = [w.request({"cmd": "count", "seq": seq})["count"] for w in workers]
                    if sum(counts) >= held:
                        break
                    time.sleep(0.02)
                time.sleep(args.gap)
            windows.append(("load", size, load_start, time.time() * 1000))
            server_cpu = cpu_seconds(pid) - server_cpu0
            client_cpu = [
                w.request({"cmd": "status"})["cpu_seconds"] - c
                for w, c in zip(workers, client_cpu0, strict=True)
            ]
            samples: list[list[float]] = []
            for w in workers:
                samples += w.request({"cmd": "collect"}, timeout=120)["samples"]
            stage = fanout_stats(samples, sent, held)
            stage.update(
                {
                    "connections": held,
                    "rss_kib": rss,
                    "kib_per_connection": round((rss - rss0) / held, 2) if held else None,
                    "server_cpu_us_per_delivery": round(server_cpu * 1e6 / stage["deliveries"], 1)
                    if stage["deliveries"]
                    else None,
                    "client_cpu_us_per_delivery": round(
                        sum(client_cpu) * 1e6 / stage["deliveries"], 1
                    )
                    if stage["deliveries"]
                    else None,
                }
            )
            stages.append(stage)
            ping_samples += pinger.request({"cmd": "ping_collect"})["samples"]
            log(
                f"{target.name}: room {held}: p50 {stage['p50_ms']} ms, p99 {stage['p99_ms']} ms,"
                f" last member {stage['last_member_p50_ms']} ms,"
                f" delivered {stage['delivered_fraction']:.4f}"
            )
        # Hold: longer than the Engine.IO ping interval, so every socket answered a heartbeat.
        log(f"{target.name}: holding {held} connections for {args.hold}s")
        time.sleep(args.hold)
        statuses = [w.request({"cmd": "status"}) for w in workers]
        still_open = sum(s["open"] for s in statuses)
        close_reasons: dict[str, int] = {}
        for s in statuses:
            for reason, n in s["close_reasons"].items():
                close_reasons[reason] = close_reasons.get(reason, 0) + n
        try:
            server_reported = target.server_connections()
        except Exception as exc:
            server_reported = None
            result["errors"].append({"server_stats": f"{type(exc).__name__}: {exc}"})
        rss_final = rss_kib(pid)
        ping_samples += pinger.request({"cmd": "ping_collect"})["samples"]
        pinger.stop()

        def in_windows(kind: str) -> list[list[float]]:
            return [
                s
                for s in ping_samples
                if any(k == kind and a <= s[0] <= b for k, _, a, b in windows)
            ]

        result.update(
            {
                "connections": {
                    "target": args.rooms[-1],
                    "connected": held,
                    "failed": failed,
                    "held_after_hold": still_open,
                    "hold_seconds": args.hold,
                    "client_close_reasons": close_reasons,
                    "server_reported": server_reported,
                    "connect_seconds": round(connect_seconds, 2),
                    "connects_per_second": round(held / connect_seconds, 1)
                    if connect_seconds
                    else None,
                    "server_cpu_ms_per_connect": round(connect_cpu * 1000 / held, 2)
                    if held
                    else None,
                },
                "memory": {
                    "rss_idle_mib": round(rss0 / 1024, 1),
                    "rss_loaded_mib": round(rss_final / 1024, 1),
                    "kib_per_connection": round((rss_final - rss0) / held, 2) if held else None,
                    "client_rss_mib": round(sum(s["rss_kib"] for s in statuses) / 1024, 1),
                },
                "fanout": stages,
                "ping": {
                    "idle": ping_stats(in_windows("idle")),
                    "under_load": ping_stats(in_windows("load")),
                    "under_load_by_room": {
                        str(size): ping_stats(
                            [
                                s
                                for s in ping_samples
                                if any(
                                    k == "load" and n == size and a <= s[0] <= b
                                    for k, n, a, b in windows
                                )
                            ]
                        )
                        for size in args.rooms
                    },
                },
            }
        )
        log(f"{target.name}: {still_open} still open after hold; server says {server_reported}")
    finally:
        for worker in workers:
            worker.stop()
        with contextlib.suppress(Exception):
            target.stop()
        try:
            target.cleanup()
        except Exception as exc:
            result["errors"].append({"cleanup": f"{type(exc).__name__}: {exc}"})
    return result


# -- report ------------------------------------------------------------------------------------
def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b in (None, 0):
        return None
    return round(a / b, 2)


def ratios(platform_result: dict[str, Any], bare: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kib_per_connection": ratio(
            platform_result["memory"]["kib_per_connection"], bare["memory"]["kib_per_connection"]
        ),
        "server_cpu_ms_per_connect": ratio(
            platform_result["connections"]["server_cpu_ms_per_connect"],
            bare["connections"]["server_cpu_ms_per_connect"],
        ),
        "connects_per_second": ratio(
            platform_result["connections"]["connects_per_second"],
            bare["connections"]["connects_per_second"],
        ),
        "ping_under_load_p50": ratio(
            platform_result["ping"]["under_load"]["p50_ms"], bare["ping"]["under_load"]["p50_ms"]
        ),
        "ping_under_load_p99": ratio(
            platform_result["ping"]["under_load"]["p99_ms"], bare["ping"]["under_load"]["p99_ms"]
        ),
        "fanout": {},
    }
    for p_stage, b_stage in zip(platform_result["fanout"], bare["fanout"], strict=False):
        out["fanout"][str(p_stage["room_size"])] = {
            key: ratio(p_stage[key], b_stage[key])
            for key in ("p50_ms", "p99_ms", "last_member_p50_ms", "server_cpu_us_per_delivery")
        }
    return out


def table(results: dict[str, Any]) -> str:
    servers = [
        results["servers"][name] for name in ("platform", "bare") if name in results["servers"]
    ]
    lines = [
        "| measure | " + " | ".join(s["server"] for s in servers) + " | platform/bare |",
        "| --- | " + " | ".join("---:" for _ in servers) + " | ---: |",
    ]
    r = results.get("ratios") or {}

    def row(label: str, values: list[Any], rat: Any = "") -> None:
        shown = ["-" if v is None else str(v) for v in values]
        lines.append(f"| {label} | " + " | ".join(shown) + f" | {'' if rat is None else rat} |")

    row(
        "connections held (after hold) / target",
        [f"{s['connections']['held_after_hold']} / {s['connections']['target']}" for s in servers],
    )
    row("server-reported connections", [s["connections"]["server_reported"] for s in servers])
    row("failed connects", [s["connections"]["failed"] for s in servers])
    row(
        "connects per second",
        [s["connections"]["connects_per_second"] for s in servers],
        r.get("connects_per_second"),
    )
    row(
        "server CPU per connect (ms)",
        [s["connections"]["server_cpu_ms_per_connect"] for s in servers],
        r.get("server_cpu_ms_per_connect"),
    )
    row("server RSS idle (MiB)", [s["memory"]["rss_idle_mib"] for s in servers])
    row("server RSS loaded (MiB)", [s["memory"]["rss_loaded_mib"] for s in servers])
    row(
        "memory per connection (KiB)",
        [s["memory"]["kib_per_connection"] for s in servers],
        r.get("kib_per_connection"),
    )
    for index, stage in enumerate(servers[0]["fanout"]):
        size = stage["room_size"]
        stages = [s["fanout"][index] if index < len(s["fanout"]) else {} for s in servers]
        fr = (r.get("fanout") or {}).get(str(size), {})
        row(
            f"fan-out {size}: p50 / p99 (ms)",
            [f"{st.get('p50_ms')} / {st.get('p99_ms')}" for st in stages],
            f"{fr.get('p50_ms')} / {fr.get('p99_ms')}",
        )
        row(
            f"fan-out {size}: last member, median of emits (ms)",
            [st.get("last_member_p50_ms") for st in stages],
            fr.get("last_member_p50_ms"),
        )
        row(
            f"fan-out {size}: delivered",
            [
                f"{st.get('deliveries')} / {st.get('room_size', 0) * st.get('emits', 0)}"
                for st in stages
            ],
        )
        row(
            f"fan-out {size}: server CPU per delivery (µs)",
            [st.get("server_cpu_us_per_delivery") for st in stages],
            fr.get("server_cpu_us_per_delivery"),
        )
    row(
        "ping RTT idle p50 / p99 (ms)",
        [f"{s['ping']['idle']['p50_ms']} / {s['ping']['idle']['p99_ms']}" for s in servers],
    )
    row(
        "ping RTT under fan-out load p50 / p99 (ms)",
        [
            f"{s['ping']['under_load']['p50_ms']} / {s['ping']['under_load']['p99_ms']}"
            for s in servers
        ],
        f"{r.get('ping_under_load_p50')} / {r.get('ping_under_load_p99')}",
    )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    mem_kib = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    import resource

    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "nofile_limit": resource.getrlimit(resource.RLIMIT_NOFILE),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


@contextlib.contextmanager
def app_import_path() -> Iterator[None]:
    sys.path.insert(0, str(REPO / "backend"))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(REPO / "backend"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 200 connections")
    parser.add_argument("--connections", type=int, help="connections to reach (default 10000)")
    parser.add_argument(
        "--rooms", help="comma-separated fan-out room sizes (default 1000,5000,10000)"
    )
    parser.add_argument("--servers", default="platform,bare", help="platform, bare or both")
    parser.add_argument("--emits", type=int, help="fan-out emits per room size (default 20)")
    parser.add_argument("--client-procs", type=int, default=2, help="member client processes")
    parser.add_argument(
        "--concurrency", type=int, default=100, help="connects in flight per process"
    )
    parser.add_argument("--hold", type=float, help="seconds to hold all connections (default 40)")
    parser.add_argument("--ping-interval", type=float, default=0.2)
    parser.add_argument("--out", type=Path, default=OUT / "ws_load.json")
    args = parser.parse_args(argv)
    connections = args.connections or (200 if args.quick else 10_000)
    if args.rooms:
        rooms = sorted({int(x) for x in args.rooms.split(",") if x.strip()})
    elif args.quick:
        rooms = [100, connections]
    else:
        rooms = [1000, 5000, 10_000]
    rooms = sorted({min(r, connections) for r in rooms} | {connections})
    args.rooms = [r for r in rooms if r > 0]
    args.emits = args.emits or (4 if args.quick else 20)
    args.hold = args.hold if args.hold is not None else (1.0 if args.quick else 40.0)
    args.settle = 0.3 if args.quick else 3.0
    args.idle_window = 0.6 if args.quick else 5.0
    args.gap = 0.05 if args.quick else 0.2
    args.emit_timeout = 5.0 if args.quick else 10.0
    args.connect_timeout = 60 + max(args.rooms) / 20
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: dict[str, Any] = {
        "benchmark": "bench/ws_load.py",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(PYTHON).name, "bench/ws_load.py", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "settings": {
            "rooms": args.rooms,
            "emits_per_room": args.emits,
            "client_processes": args.client_procs,
            "connect_concurrency_per_process": args.concurrency,
            "hold_seconds": args.hold,
            "ping_interval_seconds": args.ping_interval,
            "redis": REDIS_URL,
        },
        "servers": {},
    }
    with app_import_path():
        for name in args.servers:
            target: Target = Platform() if name == "platform" else Bare()
            results["servers"][name] = run_target(target, args)
    if "platform" in results["servers"] and "bare" in results["servers"]:
        results["ratios"] = ratios(results["servers"]["platform"], results["servers"]["bare"])
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
