"""Emit events to users' rooms from outside the web process (for the JS client's tests).

Goes through app.realtime.emit like a Celery worker does: each event is appended to the
recovery log in the server's Redis and published on its Socket.IO message queue, with the
settings the standalone server derives from its embedded Redis (standalone_settings).

Reads one request per line on stdin, answers one line per request on stdout, until EOF
(one process per test file, so the app is imported once):

    python emit_events.py --redis-url redis://127.0.0.1:PORT --database-url sqlite:///…
    < {"user_id": 3, "event": "notification", "count": 5, "data": {}}
    > {"offsets": [1, 2, 3, 4, 5]}        (or {"error": "…"})
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def _emit(request: dict[str, Any]) -> dict[str, Any]:
    from app.realtime.emit import emit_to_user

    data = request.get("data") or {}
    offsets = [
        emit_to_user(int(request["user_id"]), str(request["event"]), {**data, "seq": i})
        for i in range(int(request.get("count", 1)))
    ]
    return {"offsets": offsets}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", required=True, help="the standalone server's Redis")
    parser.add_argument("--database-url", required=True, help="its STANDALONE_DATABASE_URL")
    args = parser.parse_args()

    from app.standalone.children import standalone_settings

    os.environ.update({k: str(v) for k, v in standalone_settings(args.redis_url).items()})
    os.environ["STANDALONE_DATABASE_URL"] = args.database_url
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    from app import create_app

    app = create_app()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            with app.app_context():
                reply = _emit(json.loads(line))
        except Exception as exc:  # reported to the test, which fails with it
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
