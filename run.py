"""Entry point of the web process: REST API and Socket.IO in one server.

    python run.py                 services mode: PostgreSQL, Redis, RabbitMQ from the settings
    python run.py --standalone    one machine, no external service (what `make run` starts)

Monkey-patching for eventlet or gevent (SOCKETIO_ASYNC_MODE) happens here, in the web entry
only, before Flask and the drivers are imported.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from app.standalone.platform import StandalonePlatform

LISTEN_BACKLOG = 2048


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


def _monkey_patch(async_mode: str) -> None:
    if async_mode == "eventlet":
        import warnings

        # Eventlet announces its maintenance mode on every import, burying the one-line
        # start-up messages; the seed's stack runs on it by choice.
        warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
        import eventlet

        # psycopg's C wait function would block the hub; its selector one is green.
        os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_selector")
        eventlet.monkey_patch()
    elif async_mode == "gevent":
        from gevent import monkey

        monkey.patch_all()


def _raise_file_limit(wanted: int) -> None:
    """Each socket is a file descriptor: lift the soft limit towards the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _chunked_input_ends(wsgi_app):  # type: ignore[no-untyped-def]
    """eventlet decodes chunked request bodies and ends them itself but does not say so
    (``wsgi.input_terminated``), so Flask would read a chunked body as empty."""

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            environ["wsgi.input_terminated"] = True
        return wsgi_app(environ, start_response)

    return app


def _serve(app, host: str, port: int, async_mode: str, config: Mapping[str, Any]) -> None:  # type: ignore[no-untyped-def]
    max_connections = config["WS_MAX_CONNECTIONS"]
    _raise_file_limit(max_connections + 1024)
    if async_mode in ("eventlet", "gevent"):
        from app.serving.limits import EdgeSettings

        if async_mode == "eventlet":
            from app.serving.eventlet_server import serve

            app = _chunked_input_ends(app)
        else:
            from app.serving.gevent_server import serve
        serve(
            app,
            host,
            port,
            max_connections=max_connections,
            backlog=LISTEN_BACKLOG,
            edge=EdgeSettings.from_config(config),
        )
    else:
        from app.extensions import socketio

        socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    from app.config import ConfigError, async_mode_setting

    try:
        async_mode = async_mode_setting()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    _monkey_patch(async_mode)
    if not args.standalone:
        return _run(args, async_mode, None)

    from app.standalone.children import ChildFailed
    from app.standalone.platform import StandalonePlatform

    platform = StandalonePlatform()
    try:
        try:
            platform.start_services()
        except ChildFailed as exc:
            if platform.stopping:
                return 0
            print(f"cannot start: {exc}", file=sys.stderr)
            return 1
        # The app and the children (worker, beat) find the embedded services in the environment.
        os.environ.update(platform.settings())
        return _run(args, async_mode, platform)
    finally:
        platform.stop()


def _run(args: argparse.Namespace, async_mode: str, platform: StandalonePlatform | None) -> int:
    from app import create_app
    from app.config import ConfigError, load_config, read_environment, warn_if_development_secrets
    from app.extensions import socketio
    from app.realtime.lifecycle import start_maintenance
    from app.services.dependency_health import unreachable_required_service

    env = read_environment()
    if args.port:
        # --port stands for PORT, so what derives from it (the dashboard's origin) follows.
        env["PORT"] = str(args.port)
    try:
        config = load_config(env)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    config.update(REALTIME_SERVER=True)
    warn_if_development_secrets(config)
    host = args.host or config["HOST"]
    port = args.port or config["PORT"]
    app = create_app(config)

    if platform is not None:
        _start_standalone(app, config, platform, f"http://{host}:{port}")
    else:
        with app.app_context():
            problem = unreachable_required_service()
        if problem:
            print(f"cannot start: {problem}", file=sys.stderr)
            return 1

    start_maintenance(app, socketio)
    print(f"Serving on http://{host}:{port}  (API health: http://{host}:{port}/api/health)")
    sys.stdout.flush()

    def serve() -> None:
        _serve(app, host, port, async_mode, config)

    if platform is None:
        serve()
        return 0
    return platform.run(serve, socketio.start_background_task, socketio.sleep)


def _start_standalone(
    app: Flask, config: dict[str, Any], platform: StandalonePlatform, web_url: str
) -> None:
    """Banner, database, first admin, then the worker and beat."""
    from app.standalone.banner import banner
    from app.standalone.bootstrap import prepare

    platform.describe(web_url, config)
    print(banner(platform.state()))
    admin_password = prepare(app)
    if admin_password:
        admin = config["STANDALONE_ADMIN_USERNAME"]
        print(
            f"First start: created admin {admin!r} with password {admin_password}\n"
            "(shown once; change it signed in with POST /api/auth/password, or with "
            f"`APP_MODE=standalone flask change-password --username {admin}`)"
        )
    platform.start_jobs(config["CELERY_BEAT_SCHEDULE_FILE"])


if __name__ == "__main__":
    sys.exit(main())
