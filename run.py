"""Entry point of the web process: REST API (and, with the real-time issue, Socket.IO).

    python run.py                 services mode: PostgreSQL, Redis, RabbitMQ from the settings
    python run.py --standalone    one machine, no external service (what `make run` starts)

Monkey-patching for eventlet happens here, in the web entry only, before anything else.
"""

from __future__ import annotations

import argparse
import os
import sys


def _parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Zero Trust AI platform web process")
    parser.add_argument(
        "--standalone",
        action="store_true",
        help="run on one machine with embedded stand-ins for every external service",
    )
    parser.add_argument("--host", help="bind address (default: HOST setting, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: PORT setting, 5000)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)

    import eventlet

    # psycopg's C wait function would block the event loop; its selector one is green.
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_selector")
    eventlet.monkey_patch()

    from eventlet import wsgi

    from app import create_app
    from app.config import ConfigError, load_config
    from app.services.health_service import unreachable_required_service

    overrides = {}
    embedded = None
    if args.standalone:
        from app.standalone import BANNER, prepare, standalone_settings, start_embedded_redis

        embedded = start_embedded_redis()
        overrides = standalone_settings(embedded.url)
        # Child processes (workers, beat) inherit the embedded services' addresses.
        os.environ.update({k: str(v) for k, v in overrides.items()})
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    config.update(overrides)
    host = args.host or config["HOST"]
    port = args.port or config["PORT"]
    app = create_app(config)

    if args.standalone:
        print(BANNER.format(database=config["SQLALCHEMY_DATABASE_URI"], redis_url=embedded.url))
        admin_password = prepare(app)
        if admin_password:
            print(
                f"First start: created admin {config['STANDALONE_ADMIN_USERNAME']!r} with password "
                f"{admin_password}\n(shown once; change it or create your own admin with "
                "`flask create-admin`)"
            )
    else:
        with app.app_context():
            problem = unreachable_required_service()
        if problem:
            print(f"cannot start: {problem}", file=sys.stderr)
            return 1

    print(f"Serving on http://{host}:{port}  (API health: http://{host}:{port}/api/health)")
    sys.stdout.flush()
    wsgi.server(eventlet.listen((host, port)), app, log_output=False, max_size=10_000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
