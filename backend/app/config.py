"""Every setting of the platform, read from the environment in this one module.

`load_config()` turns an environment mapping (``os.environ`` plus ``.env``) into the Flask
config mapping. Nothing else in the code base reads ``os.environ`` for settings.

Two running modes (ARCHITECTURE section 3):

* ``services`` (default): PostgreSQL, Redis and RabbitMQ from the environment, with the
  seed's defaults.
* ``standalone``: SQLite under ``instance/``, an in-process Redis stand-in, no external
  service. Selected with ``APP_MODE=standalone`` or ``python run.py --standalone``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dotenv import dotenv_values

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTANCE_DIR = REPO_ROOT / "instance"

# Development-only secret values. They are refused when APP_ENV=production.
DEV_SECRET_KEY = "development-only-secret-key-never-use-in-production"  # noqa: S105
DEV_JWT_SECRET = "development-only-jwt-secret-never-use-in-production"  # noqa: S105

MODES = ("services", "standalone")
ENVIRONMENTS = ("development", "production", "testing")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it."""


def _get(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = env.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _str(env: Mapping[str, str], name: str, default: str) -> str:
    return _get(env, name, default) or default


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _get(env, name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be a boolean (true/false), got {raw!r}")


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _str(env, name, default)
    for choice in choices:
        if value.lower() == choice.lower():
            return choice
    raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def _list(env: Mapping[str, str], name: str, default: str) -> list[str]:
    return [item.strip() for item in _str(env, name, default).split(",") if item.strip()]


def read_environment(dotenv_path: Path | None = None) -> dict[str, str]:
    """The process environment over the values of ``.env`` (the environment wins)."""
    path = dotenv_path or REPO_ROOT / ".env"
    merged: dict[str, str] = {}
    if path.is_file():
        merged.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    merged.update(os.environ)
    return merged


def redis_url_from(env: Mapping[str, str]) -> str:
    """REDIS_URL if given, else built from REDIS_HOST/PORT/DB/PASSWORD (the seed's variables)."""
    url = _get(env, "REDIS_URL")
    if url:
        return url
    host = _str(env, "REDIS_HOST", "localhost")
    port = _int(env, "REDIS_PORT", 6379, minimum=1)
    db = _int(env, "REDIS_DB", 0)
    password = _get(env, "REDIS_PASSWORD")
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{host}:{port}/{db}"


def load_config(env: Mapping[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    """Build the Flask config mapping from ``env`` (default: process environment + .env).

    ``overrides`` are applied last (tests and the standalone launcher use them).
    Raises ConfigError naming the setting when one is malformed, and, with
    ``APP_ENV=production``, when a secret is missing or still a development default.
    """
    env = read_environment() if env is None else env
    mode = _choice(env, "APP_MODE", "services", MODES)
    app_env = _choice(env, "APP_ENV", "development", ENVIRONMENTS)

    if mode == "standalone":
        default_db = f"sqlite:///{INSTANCE_DIR / 'zero_trust.sqlite3'}"
    else:
        default_db = "postgresql+psycopg://postgres@127.0.0.1:5432/zero_trust"

    config: dict[str, Any] = {
        "APP_MODE": mode,
        "APP_ENV": app_env,
        "SECRET_KEY": _get(env, "SECRET_KEY"),
        "JWT_SECRET_KEY": _get(env, "JWT_SECRET_KEY"),
        "JWT_ALGORITHM": _choice(env, "JWT_ALGORITHM", "HS256", ("HS256", "HS384", "HS512")),
        "JWT_ISSUER": _str(env, "JWT_ISSUER", "zero-trust-platform"),
        "JWT_ACCESS_TOKEN_SECONDS": _int(env, "JWT_ACCESS_TOKEN_SECONDS", 900, minimum=30),
        "JWT_REFRESH_TOKEN_SECONDS": _int(env, "JWT_REFRESH_TOKEN_SECONDS", 7 * 86400, 60),
        "SESSION_IDLE_TIMEOUT_SECONDS": _int(env, "SESSION_IDLE_TIMEOUT_SECONDS", 3600, 60),
        # Werkzeug method string; tests use a cheap one, production keeps scrypt.
        "PASSWORD_HASH_METHOD": _str(env, "PASSWORD_HASH_METHOD", "scrypt"),
        "LOGIN_MAX_FAILURES_PER_USER": _int(env, "LOGIN_MAX_FAILURES_PER_USER", 5, 1),
        "LOGIN_MAX_FAILURES_PER_IP": _int(env, "LOGIN_MAX_FAILURES_PER_IP", 20, 1),
        "LOGIN_FAILURE_WINDOW_SECONDS": _int(env, "LOGIN_FAILURE_WINDOW_SECONDS", 300, 1),
        "SQLALCHEMY_DATABASE_URI": _str(env, "DATABASE_URL", default_db),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url_from(env),
        "REDIS_MAX_CONNECTIONS": _int(env, "REDIS_MAX_CONNECTIONS", 50, 1),
        "REDIS_SOCKET_TIMEOUT": float(_int(env, "REDIS_SOCKET_TIMEOUT_MS", 2000, 1)) / 1000,
        "REDIS_CONNECT_TIMEOUT": float(_int(env, "REDIS_CONNECT_TIMEOUT_MS", 2000, 1)) / 1000,
        "REDIS_HEALTH_CHECK_INTERVAL": _int(env, "REDIS_HEALTH_CHECK_INTERVAL", 30),
        "CELERY_BROKER_URL": _str(env, "CELERY_BROKER_URL", "amqp://guest:guest@localhost:5672//"),
        "CELERY_RESULT_BACKEND": _str(env, "CELERY_RESULT_BACKEND", "redis://localhost:6379/1"),
        "CELERY_TIMEZONE": _str(env, "CELERY_TIMEZONE", "UTC"),
        "SOCKETIO_ASYNC_MODE": _choice(
            env, "SOCKETIO_ASYNC_MODE", "eventlet", ("eventlet", "gevent", "threading")
        ),
        "SOCKETIO_MESSAGE_QUEUE": _get(env, "SOCKETIO_MESSAGE_QUEUE"),
        "WEBSOCKET_CORS_ALLOWED_ORIGINS": _list(
            env, "WEBSOCKET_CORS_ALLOWED_ORIGINS", "http://localhost:3000,http://127.0.0.1:5000"
        ),
        "MAX_CONTENT_LENGTH": _int(env, "MAX_REQUEST_BYTES", 1024 * 1024, 1024),
        "LOG_LEVEL": _choice(
            env, "LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        ),
        "PROXY_FIX_X_FOR": _int(env, "PROXY_FIX_X_FOR", 0),
        "HOST": _str(env, "HOST", "127.0.0.1"),
        "PORT": _int(env, "PORT", 5000, 1),
        "STANDALONE_ADMIN_USERNAME": _str(env, "STANDALONE_ADMIN_USERNAME", "admin"),
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "JSON_SORT_KEYS": False,
        "TESTING": app_env == "testing",
    }
    config.update(overrides)
    _apply_secret_rules(config)
    return config


def _apply_secret_rules(config: dict[str, Any]) -> None:
    """Secrets never have a production default: refuse them in production, fill them in dev."""
    secrets = {"SECRET_KEY": DEV_SECRET_KEY, "JWT_SECRET_KEY": DEV_JWT_SECRET}
    if config["APP_ENV"] == "production":
        for name, dev_value in secrets.items():
            value = config.get(name)
            if not value:
                raise ConfigError(f"{name} is not set; it is required when APP_ENV=production")
            if value == dev_value:
                raise ConfigError(
                    f"{name} is the development default; set a real secret for production"
                )
            if len(value) < 32:
                raise ConfigError(f"{name} must be at least 32 characters in production")
        return
    for name, dev_value in secrets.items():
        if not config.get(name):
            config[name] = dev_value
