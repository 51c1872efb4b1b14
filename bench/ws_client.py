"""Load-generating client process of bench/ws_load.py: thousands of Socket.IO connections in one
asyncio loop, at a few KiB and a few microseconds per connection and message.

Each connection is a bare ``asyncio.Protocol`` speaking the websocket framing (RFC 6455,
client side: masked frames out, unmasked frames in) and Engine.IO v4 / Socket.IO v5 on top:
open ``/socket.io/?EIO=4&transport=websocket``, read the ``0{...}`` open packet, send
``40{auth}``, wait for ``40{...}`` (or ``44{...}``: refused), answer each ``2`` ping with
``3``, and time-stamp ``42["notification",...]`` events as they arrive. No task, no queue and
no JSON parsing per message on the hot path; samples are parsed when collected. (A client
on the ``websockets`` library cost ~100 µs of client CPU per received message, as much as
the server spends sending it: see bench/RESULTS.md.)

Driven by bench/ws_load.py over stdin/stdout, one JSON object per line:

    {"cmd": "connect", "host":, "port":, "n":, "auth": {...}, "concurrency":}
        -> {"ok": n_ok, "failed": n_failed, "errors": {...}, "seconds": ...}
    {"cmd": "count", "seq": k}     -> {"count": connections that received emit k}
    {"cmd": "collect"}             -> {"samples": [[seq, sent_ms, received_ms], ...]}
    {"cmd": "status"}              -> {"open", "closed", "close_reasons", "rss_kib", "cpu_seconds"}
    {"cmd": "ping_start", "host":, "port":, "auth": {...}, "interval": s}
        one more connection that sends ``ping`` {client_ts} events and times each ``pong``
    {"cmd": "ping_collect"}        -> {"samples": [[sent_ms, rtt_ms], ...]}
    {"cmd": "close", "concurrency":}  closes every connection (in batches) and exits
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import sys
import time
from collections import Counter
from typing import Any

PATH = "/socket.io/?EIO=4&transport=websocket"
EVENT_PREFIX = b'42["notification",'
PONG_PREFIX = b'42["pong",'
SEQ_KEY = b'"seq":'


def _frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (RFC 6455 section 5.2)."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    mask = os.urandom(4)
    if n == 0:
        return header + mask
    key = (mask * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
    return header + mask + masked


class Connection(asyncio.Protocol):
    """One websocket carrying one Engine.IO session and the Socket.IO namespace ``/``."""

    def __init__(self, pool: Pool, host: str, port: int, auth: bytes, role: str) -> None:
        self.pool = pool
        self.request = (
            f"GET {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: "
            f"{base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.auth = auth
        self.role = role  # "member" or "pinger"
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.state = "handshake"  # → "open" → "connected"
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.fragments: list[bytes] = []
        self.counted_closed = False

    # -- transport callbacks -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time() * 1000
        buf = self.buffer
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[: buf.find(b"\r\n")])
            del buf[: end + 4]
            if b" 101 " not in status:
                self._fail(f"upgrade refused: {status.decode(errors='replace')[:60]}")
                return
            self.upgraded = True
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            b0 = buf[pos]
            length = buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if size - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            self._on_frame(b0 & 0x80, b0 & 0x0F, payload, now)
        if pos:
            del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed during connect: {exc}"))
        if self.state == "connected" and not self.counted_closed:
            self.counted_closed = True
            self.pool.closed += 1
            self.pool.close_reasons[type(exc).__name__ if exc else "closed"] += 1

    # -- websocket / Engine.IO ------------------------------------------------------------
    def _on_frame(self, fin: int, opcode: int, payload: bytes, now: float) -> None:
        if opcode == 0:  # continuation
            self.fragments.append(payload)
            if not fin:
                return
            payload, self.fragments = b"".join(self.fragments), []
            opcode = 1
        elif not fin:
            self.fragments = [payload]
            return
        if opcode == 1:
            self._on_message(payload, now)
        elif opcode == 9:
            self._send(10, payload)
        elif opcode == 8 and self.transport is not None:
            self.transport.close()

    def _on_message(self, message: bytes, now: float) -> None:
        if message == b"2":
            self._send(1, b"3")
        elif message.startswith(EVENT_PREFIX):
            self.pool.samples.append((now, message))
            start = message.find(SEQ_KEY) + 6
            self.pool.counts[int(message[start : message.find(b",", start)])] += 1
        elif message.startswith(PONG_PREFIX):
            self.pool.on_pong(message)
        elif self.state == "handshake" and message.startswith(b"0"):
            self.state = "open"
            self._send(1, b"40" + self.auth)
        elif self.state == "open" and message.startswith(b"40"):
            self.state = "connected"
            self.ready.set_result(None)
        elif self.state == "open" and message.startswith(b"44"):
            self._fail(f"refused: {message[2:80].decode(errors='replace')}")

    def _send(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_frame(opcode, payload))

    def send_text(self, text: str) -> None:
        self._send(1, text.encode())

    def _fail(self, reason: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(reason))
        if self.transport is not None:
            self.transport.close()

    def close(self) -> None:
        self.counted_closed = True
        self._send(1, b"41")
        self._send(8, (1000).to_bytes(2, "big"))
        if self.transport is not None:
            self.transport.close()


class Pool:
    def __init__(self) -> None:
        self.conns: list[Connection] = []
        self.closed = 0
        self.close_reasons: Counter[str] = Counter()
        self.samples: list[tuple[float, bytes]] = []
        self.counts: Counter[int] = Counter()
        self.ping_samples: list[tuple[float, float]] = []
        self.ping_pending: dict[str, float] = {}
        self.ping_task: asyncio.Task[None] | None = None

    async def open(
        self, host: str, port: int, auth: bytes, role: str, timeout: float
    ) -> Connection:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            _, conn = await loop.create_connection(
                lambda: Connection(self, host, port, auth, role), host, port
            )
            try:
                await conn.ready
            except BaseException:
                conn.close()
                raise
        return conn

    async def connect(
        self, host: str, port: int, n: int, auth: dict[str, Any], concurrency: int
    ) -> dict[str, Any]:
        started = time.monotonic()
        gate = asyncio.Semaphore(concurrency)
        errors: Counter[str] = Counter()
        body = json.dumps(auth, separators=(",", ":")).encode()

        async def one() -> None:
            async with gate:
                try:
                    conn = await self.open(host, port, body, "member", timeout=60)
                except Exception as exc:
                    errors[f"{type(exc).__name__}: {str(exc)[:80]}"] += 1
                    return
            self.conns.append(conn)

        await asyncio.gather(*(one() for _ in range(n)))
        failed = sum(errors.values())
        return {
            "ok": n - failed,
            "failed": failed,
            "errors": dict(errors.most_common(5)),
            "seconds": round(time.monotonic() - started, 3),
        }

    async def ping_loop(self, host: str, port: int, auth: dict[str, Any], interval: float) -> None:
        body = json.dumps(auth, separators=(",", ":")).encode()
        conn = await self.open(host, port, body, "pinger", timeout=30)
        self.conns.append(conn)
        # Bounded: one ping per interval for at most an hour.
        for _ in range(int(3600 / interval)):
            stamp = f"{time.time() * 1000:.3f}"
            self.ping_pending[stamp] = time.perf_counter()
            conn.send_text(f'42["ping",{{"client_ts":{stamp}}}]')
            await asyncio.sleep(interval)

    def on_pong(self, message: bytes) -> None:
        now = time.perf_counter()
        body = json.loads(message[2:])[1]
        stamp = f"{body['client_ts']:.3f}"
        sent = self.ping_pending.pop(stamp, None)
        if sent is not None:
            self.ping_samples.append((float(stamp), (now - sent) * 1000))

    def collect(self) -> list[list[float]]:
        out = []
        for received, message in self.samples:
            body = json.loads(message[2:])[1]
            out.append([body["seq"], body["sent_ms"], round(received, 3)])
        self.samples = []
        return out

    async def close(self, concurrency: int) -> None:
        if self.ping_task is not None:
            self.ping_task.cancel()
        # In batches with a pause: a whole pool closing in one instant is a different test.
        for i in range(0, len(self.conns), concurrency):
            for conn in self.conns[i : i + concurrency]:
                conn.close()
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def serve() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    pool = Pool()

    def reply(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    while True:
        line = await reader.readline()
        if not line:
            break
        request = json.loads(line)
        cmd = request["cmd"]
        if cmd == "connect":
            reply(
                await pool.connect(
                    request["host"],
                    request["port"],
                    request["n"],
                    request["auth"],
                    request["concurrency"],
                )
            )
        elif cmd == "count":
            reply({"count": pool.counts.get(request["seq"], 0)})
        elif cmd == "collect":
            reply({"samples": pool.collect()})
        elif cmd == "status":
            reply(
                {
                    "open": len(pool.conns) - pool.closed,
                    "closed": pool.closed,
                    "close_reasons": dict(pool.close_reasons),
                    "rss_kib": _rss_kib(),
                    "cpu_seconds": round(time.process_time(), 3),
                }
            )
        elif cmd == "ping_start":
            pool.ping_task = asyncio.create_task(
                pool.ping_loop(
                    request["host"], request["port"], request["auth"], request["interval"]
                )
            )
            reply({"started": True})
        elif cmd == "ping_collect":
            reply({"samples": [[round(s, 3), round(r, 3)] for s, r in pool.ping_samples]})
            pool.ping_samples = []
        elif cmd == "close":
            await pool.close(request.get("concurrency", 500))
            reply({"closed": True})
            break
        else:
            reply({"error": f"unknown command {cmd!r}"})


if __name__ == "__main__":
    asyncio.run(serve())
