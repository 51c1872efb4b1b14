"""The standalone mode's Redis stand-in, run as its own process:

    python -m app.standalone.embedded_redis --port PORT

fakeredis's TCP server pushes pub/sub messages from its connection threads; inside a
monkey-patched (eventlet/gevent) web process those threads never get to run while the
web process waits, so Socket.IO messages and Celery broadcasts from other processes would
never arrive. In a plain process of its own it behaves like a small Redis (the data lives
in memory: a restarted stand-in starts empty). It exits when its parent does.
"""

from __future__ import annotations

import argparse
import sys

from fakeredis import TcpFakeServer

from app.standalone.lifeline import end_with_parent, serve_until_stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    server = TcpFakeServer(("127.0.0.1", args.port))  # binds with SO_REUSEADDR
    end_with_parent()
    print(f"embedded redis listening on 127.0.0.1:{args.port}", flush=True)
    return serve_until_stopped(server)


if __name__ == "__main__":
    sys.exit(main())
