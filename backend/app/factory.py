"""The application factory: wiring only."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import INSTANCE_DIR, REPO_ROOT, load_config

# Responses under these paths carry tokens or personal data: never stored by a cache.
NO_STORE_PREFIXES = ("/api/", "/socket.io/")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` defaults to ``load_config()`` (environment + .env).

    Wiring only: settings, extensions, blueprints, error handlers, CLI, logging.
    """
    from app import models  # noqa: F401  (registers every table on the metadata)
    from app.api import register_blueprints
    from app.cli import register_cli
    from app.errors import register_error_handlers
    from app.extensions import db, migrate
    from app.realtime.server import init_realtime
    from app.serving.headers import SecurityHeaders

    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.update(load_config() if config is None else config)
    _configure_logging(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(REPO_ROOT / "migrations"), render_as_batch=True)
    x_for, x_proto = app.config["PROXY_FIX_X_FOR"], app.config["PROXY_FIX_X_PROTO"]
    init_realtime(app)
    # Around Socket.IO too, whose responses never reach Flask; the client's address and
    # scheme are decided outside both (Socket.IO's middleware hands Flask a copy of the
    # environ, and its own connect budgets count per client address).
    app.wsgi_app = SecurityHeaders(app.wsgi_app, NO_STORE_PREFIXES)  # type: ignore[method-assign]
    if x_for or x_proto:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=x_for, x_proto=x_proto)  # type: ignore[method-assign]
    register_error_handlers(app)
    register_blueprints(app)
    register_cli(app)
    return app


def _configure_logging(app: Flask) -> None:
    """LOG_LEVEL applies to the platform's own loggers. The root logger is configured only
    when nobody has (the web process): a Celery worker keeps the logging it set up."""
    level = getattr(logging, app.config["LOG_LEVEL"])
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        root.setLevel(level)
    logging.getLogger("app").setLevel(level)
    app.logger.setLevel(level)
