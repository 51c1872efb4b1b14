"""Every setting of the platform, read from the environment in this one module.

`load_config()` turns an environment mapping (``os.environ`` plus ``.env``) into the Flask
config mapping. Nothing else in the code base reads ``os.environ`` for settings.

Two running modes (ARCHITECTURE section 3):

* ``services`` (default): PostgreSQL, Redis and RabbitMQ from the environment, with the
  seed's defaults.
* ``standalone``: SQLite under ``instance/``, an embedded Redis stand-in, no external
  service. Selected with ``APP_MODE=standalone`` or ``python run.py --standalone``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dotenv import dotenv_values
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from app.secret_rules import (
    DEV_JWT_SECRET,
    DEV_SECRET_KEY,
    PUBLISHED_DEV_KEYS,
    secret_problem,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTANCE_DIR = REPO_ROOT / "instance"
STANDALONE_DATABASE_DEFAULT = f"sqlite:///{INSTANCE_DIR / 'zero_trust.sqlite3'}"

MODES = ("services", "standalone")
ENVIRONMENTS = ("development", "production", "testing")
ASYNC_MODES = ("eventlet", "gevent", "threading")


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


def _at_most(name: str, value: int, maximum: int) -> int:
    if value > maximum:
        raise ConfigError(f"{name} must be <= {maximum}, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _str(env, name, default)
    for choice in choices:
        if value.lower() == choice.lower():
            return choice
    raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def _list(env: Mapping[str, str], name: str, default: str) -> list[str]:
    return [item.strip() for item in _str(env, name, default).split(",") if item.strip()]


# The database drivers this platform installs (backend/requirements.txt), and the spellings
# operators are handed for them: PaaS add-ons, docker images and tutorials say
# `postgres://` or `postgresql://`, which SQLAlchemy would map to the absent psycopg2.
SUPPORTED_DATABASES = "postgresql:// (psycopg 3) or sqlite:///PATH"
_DRIVER_ALIASES = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
}


def database_url(raw: str, setting: str = "DATABASE_URL") -> str:
    """``raw`` as a SQLAlchemy URL on an installed driver; ConfigError naming ``setting``
    for a URL that cannot be parsed or names a driver this platform does not ship."""
    try:
        url: URL = make_url(raw)
    except ArgumentError:
        raise ConfigError(f"{setting} is not a database URL; use {SUPPORTED_DATABASES}") from None
    driver = _DRIVER_ALIASES.get(url.drivername.lower())
    if driver is None:
        raise ConfigError(
            f"{setting} uses the unsupported driver {url.drivername!r}; use {SUPPORTED_DATABASES}"
        )
    return url.set(drivername=driver).render_as_string(hide_password=False)


def read_environment(dotenv_path: Path | None = None) -> dict[str, str]:
    """The process environment over the values of ``.env`` (the environment wins)."""
    path = dotenv_path or REPO_ROOT / ".env"
    merged: dict[str, str] = {}
    if path.is_file():
        merged.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    merged.update(os.environ)
    return merged


def async_mode_setting() -> str:
    """SOCKETIO_ASYNC_MODE alone, for the web entry to pick its monkey-patching early."""
    return _choice(read_environment(), "SOCKETIO_ASYNC_MODE", "eventlet", ASYNC_MODES)


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


def _message_queue(env: Mapping[str, str]) -> str | None:
    value = _get(env, "SOCKETIO_MESSAGE_QUEUE")
    if value is None:
        return redis_url_from(env)
    return None if value.lower() == "none" else value


def _own_origins(port: int) -> str:
    """The default browser origins: the development frontend and the dashboard on ``port``."""
    return f"http://localhost:3000,http://127.0.0.1:{port},http://localhost:{port}"


def _rate(env: Mapping[str, str], name: str, default: str) -> tuple[float, int]:
    """Parse "rate/burst" (rate per second, burst a count)."""
    raw = _str(env, name, default)
    rate, _, burst = raw.partition("/")
    try:
        parsed = (float(rate), int(burst))
    except ValueError as exc:
        raise ConfigError(f"{name}: {raw!r} is not rate/burst, e.g. 0.5/20") from exc
    if not parsed[0] > 0 or parsed[1] < 1:
        raise ConfigError(f"{name}: {raw!r} needs a positive rate and burst")
    return parsed


def _rate_limits(env: Mapping[str, str], name: str, default: str) -> dict[str, tuple[float, int]]:
    """Parse "event=rate/burst,…" into {event: (rate per second, burst)}; needs "default"."""
    limits: dict[str, tuple[float, int]] = {}
    for item in _list(env, name, default):
        event, _, spec = item.partition("=")
        rate, _, burst = spec.partition("/")
        try:
            limits[event.strip()] = (float(rate), int(burst))
        except ValueError as exc:
            raise ConfigError(f"{name}: {item!r} is not event=rate/burst") from exc
        if limits[event.strip()][0] <= 0 or limits[event.strip()][1] < 1:
            raise ConfigError(f"{name}: {item!r} needs a positive rate and burst")
    if "default" not in limits:
        raise ConfigError(f"{name} must include a 'default=rate/burst' entry")
    return limits


def load_config(env: Mapping[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    """Build the Flask config mapping from ``env`` (default: process environment + .env).

    ``overrides`` are applied last (tests and the standalone launcher use them).
    Raises ConfigError naming the setting when one is malformed, and, with
    ``APP_ENV=production``, when a secret is missing, published or weak (app.secret_rules).
    """
    env = read_environment() if env is None else env
    mode = _choice(env, "APP_MODE", "services", MODES)
    app_env = _choice(env, "APP_ENV", "development", ENVIRONMENTS)

    if mode == "standalone":
        # Never DATABASE_URL: that is services mode's (.env.example sets it), and standalone
        # must need no external service. STANDALONE_DATABASE_URL moves the SQLite file.
        sqlalchemy_url = database_url(
            _str(env, "STANDALONE_DATABASE_URL", STANDALONE_DATABASE_DEFAULT),
            "STANDALONE_DATABASE_URL",
        )
    else:
        sqlalchemy_url = database_url(
            _str(env, "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/zero_trust"),
            "DATABASE_URL",
        )

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
        # Hashes one process runs at once, and how long a caller waits for a free slot.
        "PASSWORD_MAX_CONCURRENT_HASHES": _int(env, "PASSWORD_MAX_CONCURRENT_HASHES", 2, 1),
        "PASSWORD_HASH_WAIT_MS": _int(env, "PASSWORD_HASH_WAIT_MS", 1000, 0),
        # zxcvbn score (0-4) a new password needs (app.services.passwords).
        "PASSWORD_MIN_STRENGTH": _int(env, "PASSWORD_MIN_STRENGTH", 3, 0),
        # Sign-in budgets per window (app.services.login_limits, README "Security").
        "LOGIN_MAX_FAILURES_PER_USER": _int(env, "LOGIN_MAX_FAILURES_PER_USER", 5, 1),
        "LOGIN_MAX_FAILURES_PER_IP": _int(env, "LOGIN_MAX_FAILURES_PER_IP", 20, 1),
        "LOGIN_FAILURE_WINDOW_SECONDS": _int(env, "LOGIN_FAILURE_WINDOW_SECONDS", 300, 1),
        "LOGIN_FAMILIAR_IP_DAYS": _int(env, "LOGIN_FAMILIAR_IP_DAYS", 30, 1),
        "LOGIN_MAX_UNFAMILIAR_FAILURES": _int(env, "LOGIN_MAX_UNFAMILIAR_FAILURES", 300, 1),
        "LOGIN_UNFAMILIAR_WINDOW_SECONDS": _int(env, "LOGIN_UNFAMILIAR_WINDOW_SECONDS", 60, 1),
        # Repeated refusals of one kind, subject and source are one audit event per window.
        "AUDIT_REFUSAL_WINDOW_SECONDS": _int(env, "AUDIT_REFUSAL_WINDOW_SECONDS", 300, 1),
        "SQLALCHEMY_DATABASE_URI": sqlalchemy_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url_from(env),
        "REDIS_MAX_CONNECTIONS": _int(env, "REDIS_MAX_CONNECTIONS", 50, 1),
        "REDIS_SOCKET_TIMEOUT": float(_int(env, "REDIS_SOCKET_TIMEOUT_MS", 2000, 1)) / 1000,
        "REDIS_CONNECT_TIMEOUT": float(_int(env, "REDIS_CONNECT_TIMEOUT_MS", 2000, 1)) / 1000,
        "REDIS_HEALTH_CHECK_INTERVAL": _int(env, "REDIS_HEALTH_CHECK_INTERVAL", 30),
        # --- Redis pool and the cache (app.redis_client, app.services.cache_service) ---
        # A caller waits this long for a free pooled connection before giving up.
        "REDIS_POOL_TIMEOUT": float(_int(env, "REDIS_POOL_TIMEOUT_MS", 2000, 1)) / 1000,
        # Connection errors are retried this many times, backing off exponentially
        # (base * 2**attempt, capped), so clients reconnect by themselves after a restart.
        "REDIS_RETRY_ATTEMPTS": _int(env, "REDIS_RETRY_ATTEMPTS", 3),
        "REDIS_RETRY_BACKOFF_BASE": float(_int(env, "REDIS_RETRY_BACKOFF_BASE_MS", 10)) / 1000,
        "REDIS_RETRY_BACKOFF_CAP": float(_int(env, "REDIS_RETRY_BACKOFF_CAP_MS", 1000)) / 1000,
        # Seconds each cached type lives (ARCHITECTURE section 5).
        "CACHE_TTL_BEHAVIORAL_MODEL": _int(env, "CACHE_TTL_BEHAVIORAL_MODEL", 3600, 1),
        "CACHE_TTL_CONTEXT_SCORE": _int(env, "CACHE_TTL_CONTEXT_SCORE", 300, 1),
        "CACHE_TTL_THREAT_PREDICTION": _int(env, "CACHE_TTL_THREAT_PREDICTION", 1800, 1),
        "CACHE_TTL_SESSION_DATA": _int(env, "CACHE_TTL_SESSION_DATA", 3600, 1),
        "CACHE_TTL_DEVICE_PROFILE": _int(env, "CACHE_TTL_DEVICE_PROFILE", 7200, 1),
        "CACHE_TTL_POLICY_PERFORMANCE": _int(env, "CACHE_TTL_POLICY_PERFORMANCE", 1800, 1),
        # Largest encoded value the cache accepts; bigger ones are a programming error.
        "CACHE_MAX_VALUE_BYTES": _int(env, "CACHE_MAX_VALUE_BYTES", 1024 * 1024, 1),
        # While Redis is unreachable the cache serves misses and tries Redis again this often.
        "CACHE_OUTAGE_RETRY": float(_int(env, "CACHE_OUTAGE_RETRY_MS", 1000, 1)) / 1000,
        # get_or_compute: the computing caller's lock lifetime, and how long others wait
        # for its result before computing themselves.
        "CACHE_LOCK_TTL": float(_int(env, "CACHE_LOCK_TTL_MS", 10_000, 1)) / 1000,
        "CACHE_LOCK_WAIT": float(_int(env, "CACHE_LOCK_WAIT_MS", 10_000, 0)) / 1000,
        "CELERY_BROKER_URL": _str(env, "CELERY_BROKER_URL", "amqp://guest:guest@localhost:5672//"),
        "CELERY_RESULT_BACKEND": _str(env, "CELERY_RESULT_BACKEND", "redis://localhost:6379/1"),
        "CELERY_TIMEZONE": _str(env, "CELERY_TIMEZONE", "UTC"),
        # Soft limit raises SoftTimeLimitExceeded inside the task; the hard one kills it.
        "CELERY_TASK_SOFT_TIME_LIMIT": _int(env, "CELERY_TASK_SOFT_TIME_LIMIT", 300, 1),
        "CELERY_TASK_TIME_LIMIT": _int(env, "CELERY_TASK_TIME_LIMIT", 360, 1),
        "CELERY_RESULT_EXPIRES": _int(env, "CELERY_RESULT_EXPIRES", 86400, 60),
        "CELERY_TASK_MAX_RETRIES": _int(env, "CELERY_TASK_MAX_RETRIES", 5, 0),
        # Where beat keeps its schedule state (last run times).
        "CELERY_BEAT_SCHEDULE_FILE": _str(
            env, "CELERY_BEAT_SCHEDULE_FILE", str(INSTANCE_DIR / "celerybeat-schedule")
        ),
        # Retention of cleanup tasks, in days (sessions: SESSION_IDLE_TIMEOUT_SECONDS).
        "BEHAVIOR_RETENTION_DAYS": _int(env, "BEHAVIOR_RETENTION_DAYS", 90, 1),
        "PREDICTION_RETENTION_DAYS": _int(env, "PREDICTION_RETENTION_DAYS", 30, 1),
        "NOTIFICATION_RETENTION_DAYS": _int(env, "NOTIFICATION_RETENTION_DAYS", 30, 1),
        "CLEANUP_BATCH_SIZE": _int(env, "CLEANUP_BATCH_SIZE", 1000, 1),
        # --- Risk engine (app.services.risk) ---
        # Stored risk assessments older than this are deleted (cleanup_old_behavioral_data).
        "RISK_ASSESSMENT_RETENTION_DAYS": _int(env, "RISK_ASSESSMENT_RETENTION_DAYS", 90, 1),
        # The assessment writer flushes (one INSERT) at this many buffered rows, or once its
        # oldest buffered row is this many milliseconds old.
        "RISK_ASSESSMENT_BATCH_ROWS": _int(env, "RISK_ASSESSMENT_BATCH_ROWS", 500, 1),
        "RISK_ASSESSMENT_BATCH_MAX_AGE": float(
            _int(env, "RISK_ASSESSMENT_BATCH_MAX_AGE_MS", 2000, 0)
        )
        / 1000,
        # --- Step-up and termination by risk (app.services.risk.enforcement, step_up) ---
        # Wrong passwords a session in step-up may give (POST /api/auth/step-up); the last
        # one ends the session.
        "STEP_UP_MAX_FAILURES": _int(env, "STEP_UP_MAX_FAILURES", 3, 1),
        # A session's risk score once its step-up passes (kept if it was lower already);
        # below the step-up threshold (60) so the session is not stepped up again at once.
        "STEP_UP_PASSED_RISK_SCORE": _at_most(
            "STEP_UP_PASSED_RISK_SCORE", _int(env, "STEP_UP_PASSED_RISK_SCORE", 30, 0), 59
        ),
        # --- IPFS content store for large audit payloads (app.services.audit.ipfs) ---
        # local: content-addressed blocks under IPFS_BLOCKSTORE_DIR; kubo: a Kubo daemon's
        # HTTP RPC API at IPFS_API_URL, each call bounded by IPFS_API_TIMEOUT_SECONDS (tested
        # against js-ipfs's daemon, which serves the same API; not against Kubo itself).
        "IPFS_BACKEND": _choice(env, "IPFS_BACKEND", "local", ("local", "kubo")),
        "IPFS_BLOCKSTORE_DIR": _str(env, "IPFS_BLOCKSTORE_DIR", str(INSTANCE_DIR / "ipfs-blocks")),
        "IPFS_API_URL": _str(env, "IPFS_API_URL", "http://127.0.0.1:5001"),
        "IPFS_API_TIMEOUT_SECONDS": _int(env, "IPFS_API_TIMEOUT_SECONDS", 30, 1),
        # --- Audit trail anchoring (app.services.audit) ---
        # Any Ethereum JSON-RPC node; the signing key has no default (anchoring reports it
        # missing instead of anchoring) and ETH_CHAIN_ID must match what the node reports.
        "ETH_RPC_URL": _str(env, "ETH_RPC_URL", "http://127.0.0.1:8545"),
        "ETH_PRIVATE_KEY": _get(env, "ETH_PRIVATE_KEY"),
        "ETH_CHAIN_ID": _int(env, "ETH_CHAIN_ID", 0),
        "ETH_RPC_TIMEOUT_SECONDS": _int(env, "ETH_RPC_TIMEOUT_SECONDS", 10, 1),
        # How long one anchoring waits for its transaction to be mined before trying later.
        "ETH_TX_TIMEOUT_SECONDS": _int(env, "ETH_TX_TIMEOUT_SECONDS", 120, 1),
        # check_blockchain_health: the signer's balance floor, and the newest block's age
        # beyond which the chain counts as stalled (0: off, for chains that mine on demand).
        "ETH_MIN_SIGNER_BALANCE_WEI": _int(env, "ETH_MIN_SIGNER_BALANCE_WEI", 10**16),
        "ETH_MAX_BLOCK_AGE_SECONDS": _int(env, "ETH_MAX_BLOCK_AGE_SECONDS", 600),
        # True when the chain does not outlive the platform (standalone's in-process chain):
        # batches whose chain is gone are then re-anchored and reported as such.
        "ETH_CHAIN_EPHEMERAL": _bool(env, "ETH_CHAIN_EPHEMERAL", False),
        "AUDIT_BATCH_MAX_EVENTS": _int(env, "AUDIT_BATCH_MAX_EVENTS", 10_000, 1),
        # Payloads whose canonical JSON is larger go to the IPFS store; the event keeps the CID.
        "AUDIT_PAYLOAD_INLINE_MAX_BYTES": _int(env, "AUDIT_PAYLOAD_INLINE_MAX_BYTES", 4096, 64),
        # check_blockchain_health flags unanchored events older than this.
        "AUDIT_BACKLOG_MAX_AGE_SECONDS": _int(env, "AUDIT_BACKLOG_MAX_AGE_SECONDS", 600, 1),
        # cleanup_old_blockchain_records archives anchored events older than this.
        "AUDIT_RETENTION_DAYS": _int(env, "AUDIT_RETENTION_DAYS", 365, 1),
        "SOCKETIO_ASYNC_MODE": _choice(env, "SOCKETIO_ASYNC_MODE", "eventlet", ASYNC_MODES),
        # Redis URL carrying Socket.IO messages between processes; defaults to REDIS_URL,
        # "none" for a single process with no queue.
        "SOCKETIO_MESSAGE_QUEUE": _message_queue(env),
        # Pub/sub channel on that queue: deployments sharing one Redis need different ones
        # (channels span Redis databases). The default is Flask-SocketIO's.
        "SOCKETIO_CHANNEL": _str(env, "SOCKETIO_CHANNEL", "flask-socketio"),
        "SOCKETIO_PING_INTERVAL": _int(env, "SOCKETIO_PING_INTERVAL", 25, 1),
        "SOCKETIO_PING_TIMEOUT": _int(env, "SOCKETIO_PING_TIMEOUT", 20, 1),
        "SOCKETIO_MAX_PAYLOAD_BYTES": _int(env, "SOCKETIO_MAX_PAYLOAD_BYTES", 512 * 1024, 1024),
        "WS_MAX_CONNECTIONS": _int(env, "WS_MAX_CONNECTIONS", 12_000, 1),
        # Token buckets "event=rate/burst" (per second), per connection (in the process) and,
        # times WS_USER_RATE_MULTIPLIER, per user (in Redis, across reconnects and processes).
        "WS_RATE_LIMITS": _rate_limits(
            env, "WS_RATE_LIMITS", "behavioral_data=20/40,default=10/20"
        ),
        "WS_USER_RATE_MULTIPLIER": _int(env, "WS_USER_RATE_MULTIPLIER", 3, 1),
        # A connection that has this many events refused within the window is disconnected.
        "WS_FLOOD_MAX_REJECTIONS": _int(env, "WS_FLOOD_MAX_REJECTIONS", 100, 1),
        "WS_FLOOD_WINDOW_SECONDS": _int(env, "WS_FLOOD_WINDOW_SECONDS", 10, 1),
        # token_expiring is sent this long before the access token expires; a socket whose
        # token has expired for longer than the grace period is disconnected.
        "WS_TOKEN_WARNING_SECONDS": _int(env, "WS_TOKEN_WARNING_SECONDS", 60, 1),
        "WS_TOKEN_GRACE_SECONDS": _int(env, "WS_TOKEN_GRACE_SECONDS", 10, 0),
        "WS_MAINTENANCE_INTERVAL_MS": _int(env, "WS_MAINTENANCE_INTERVAL_MS", 1000, 50),
        "WS_PRESENCE_HEARTBEAT_SECONDS": _int(env, "WS_PRESENCE_HEARTBEAT_SECONDS", 10, 1),
        # Missed-event recovery log per room: at most this many events, this many seconds.
        "WS_RECOVERY_MAX_EVENTS": _int(env, "WS_RECOVERY_MAX_EVENTS", 1000, 1),
        "WS_RECOVERY_WINDOW_SECONDS": _int(env, "WS_RECOVERY_WINDOW_SECONDS", 120, 1),
        # --- Real-time connection limits (app.realtime.budgets, README "Security") ---
        # Kept in Redis across reconnects and web processes. Connects "rate/burst" (per
        # second) per user and per client address; a refused connect gets connect_error
        # "rate_limited". Open sockets per user and per login session; beyond either, the
        # connect gets "too_many_connections".
        "WS_CONNECT_RATE_PER_USER": _rate(env, "WS_CONNECT_RATE_PER_USER", "0.5/20"),
        "WS_CONNECT_RATE_PER_ADDRESS": _rate(env, "WS_CONNECT_RATE_PER_ADDRESS", "5/100"),
        "WS_MAX_CONNECTIONS_PER_USER": _int(env, "WS_MAX_CONNECTIONS_PER_USER", 30, 1),
        "WS_MAX_CONNECTIONS_PER_SESSION": _int(env, "WS_MAX_CONNECTIONS_PER_SESSION", 10, 1),
        # Event budgets per client address: WS_RATE_LIMITS times this (per user: times
        # WS_USER_RATE_MULTIPLIER), so many users behind one NAT are not refused.
        "WS_ADDRESS_RATE_MULTIPLIER": _int(env, "WS_ADDRESS_RATE_MULTIPLIER", 20, 1),
        # Caps of one behavioral_data batch.
        "BEHAVIOR_MAX_KEYSTROKES": _int(env, "BEHAVIOR_MAX_KEYSTROKES", 500, 1),
        "BEHAVIOR_MAX_MOUSE_MOVEMENTS": _int(env, "BEHAVIOR_MAX_MOUSE_MOVEMENTS", 2000, 1),
        "BEHAVIOR_MAX_CLICKS": _int(env, "BEHAVIOR_MAX_CLICKS", 200, 1),
        # --- behaviour model training (app.services.behavior.training, app.tasks.ml_tasks) ---
        # Newest telemetry batches of a user a model is trained on.
        "BEHAVIOR_TRAINING_MAX_BATCHES": _int(env, "BEHAVIOR_TRAINING_MAX_BATCHES", 500, 1),
        # Other users' newest batches the population mouse background is built from, and
        # the most actions it keeps (evenly per user).
        "BEHAVIOR_BACKGROUND_MAX_BATCHES": _int(env, "BEHAVIOR_BACKGROUND_MAX_BATCHES", 400, 1),
        "BEHAVIOR_BACKGROUND_MAX_ACTIONS": _int(env, "BEHAVIOR_BACKGROUND_MAX_ACTIONS", 5000, 1),
        # Poisoning guard: batches of a session whose risk reached this score never train a
        # model. The step-up score of the default policy, until policies supply it.
        "BEHAVIOR_STEP_UP_THRESHOLD": _int(env, "BEHAVIOR_STEP_UP_THRESHOLD", 60, 1),
        # train_behavioral_models retrains a user once this many new batches arrived.
        "BEHAVIOR_RETRAIN_MIN_NEW_BATCHES": _int(env, "BEHAVIOR_RETRAIN_MIN_NEW_BATCHES", 20, 1),
        # Users per train_user_behavioral_model fan-out chunk.
        "BEHAVIOR_TRAINING_CHUNK_SIZE": _int(env, "BEHAVIOR_TRAINING_CHUNK_SIZE", 10, 1),
        # Model versions kept per user and kind by cleanup_old_models (the active one always).
        "BEHAVIOR_MODEL_VERSIONS_KEPT": _int(env, "BEHAVIOR_MODEL_VERSIONS_KEPT", 5, 1),
        # The only browser origins Socket.IO accepts (never one taken from the Host header):
        # by default the development frontend and the dashboard this process serves on PORT.
        "WEBSOCKET_CORS_ALLOWED_ORIGINS": _list(
            env, "WEBSOCKET_CORS_ALLOWED_ORIGINS", _own_origins(_int(env, "PORT", 5000, 1))
        ),
        "MAX_CONTENT_LENGTH": _int(env, "MAX_REQUEST_BYTES", 1024 * 1024, 1024),
        "LOG_LEVEL": _choice(
            env, "LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        ),
        "PROXY_FIX_X_FOR": _int(env, "PROXY_FIX_X_FOR", 0),
        # --- HTTP edge: what an unauthenticated peer may hold (app.serving, README) ---
        # A connection has this long to send a request's line and headers (and an idle
        # keep-alive connection this long to start the next request), then it is closed.
        "HTTP_HEADER_TIMEOUT_SECONDS": _int(env, "HTTP_HEADER_TIMEOUT_SECONDS", 10, 1),
        # Open connections per client (TCP peer) address; more are answered 503 and closed.
        # 0: no limit (a reverse proxy in front that limits per client itself).
        "MAX_CONNECTIONS_PER_ADDRESS": _int(env, "MAX_CONNECTIONS_PER_ADDRESS", 1000),
        # An Engine.IO transport (websocket or polling) that has not completed a Socket.IO
        # connect with a valid token within this many seconds is closed.
        "WS_AUTH_TIMEOUT_SECONDS": _int(env, "WS_AUTH_TIMEOUT_SECONDS", 5, 1),
        # /api/health reuses its dependency probe for this long (0: probe every request).
        "HEALTH_CACHE_SECONDS": _int(env, "HEALTH_CACHE_SECONDS", 5),
        # Hops of X-Forwarded-Proto to trust (ProxyFix); HSTS is sent on HTTPS requests only.
        "PROXY_FIX_X_PROTO": _int(env, "PROXY_FIX_X_PROTO", 0),
        "HOST": _str(env, "HOST", "127.0.0.1"),
        "PORT": _int(env, "PORT", 5000, 1),
        "STANDALONE_ADMIN_USERNAME": _str(env, "STANDALONE_ADMIN_USERNAME", "admin"),
        # Where a running standalone platform says how to reach it (flask standalone-info).
        "STANDALONE_STATE_FILE": _str(
            env, "STANDALONE_STATE_FILE", str(INSTANCE_DIR / "standalone.json")
        ),
        # Whether this process serves Socket.IO (set by run.py); others only emit.
        "REALTIME_SERVER": False,
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "JSON_SORT_KEYS": False,
        "TESTING": app_env == "testing",
    }
    config.update(overrides)
    _apply_secret_rules(config)
    return config


def _refuse_development_chain_settings(config: dict[str, Any]) -> None:
    key = (config.get("ETH_PRIVATE_KEY") or "").lower().removeprefix("0x")
    if key in PUBLISHED_DEV_KEYS:
        raise ConfigError(
            "ETH_PRIVATE_KEY is a published development-chain key; use the platform's own key"
        )
    if config.get("ETH_CHAIN_EPHEMERAL"):
        raise ConfigError(
            "ETH_CHAIN_EPHEMERAL is for development chains only: in production a lost "
            "anchor must be reported, not silently re-anchored"
        )


def _apply_secret_rules(config: dict[str, Any]) -> None:
    """Secrets never have a production default: refuse weak or published ones in
    production (app.secret_rules says which), fill in the development ones elsewhere."""
    secrets = {"SECRET_KEY": DEV_SECRET_KEY, "JWT_SECRET_KEY": DEV_JWT_SECRET}
    if config["APP_ENV"] == "production":
        for name in secrets:
            value = config.get(name)
            if not value:
                raise ConfigError(f"{name} is not set; it is required when APP_ENV=production")
            problem = secret_problem(value)
            if problem:
                raise ConfigError(f"{name} {problem}; set a real secret for production")
        if config["SECRET_KEY"] == config["JWT_SECRET_KEY"]:
            raise ConfigError("JWT_SECRET_KEY must differ from SECRET_KEY in production")
        _refuse_development_chain_settings(config)
        return
    for name, dev_value in secrets.items():
        if not config.get(name):
            config[name] = dev_value


def warn_if_development_secrets(config: Mapping[str, Any]) -> None:
    """Say at start, in one line, that this process signs with a published development
    secret (anyone can forge its tokens). Called by the entries: run.py and the worker."""
    published = [
        name
        for name, value in (("SECRET_KEY", DEV_SECRET_KEY), ("JWT_SECRET_KEY", DEV_JWT_SECRET))
        if config.get(name) == value
    ]
    if published:
        print(
            f"warning: {' and '.join(published)} {'is' if len(published) == 1 else 'are'} the "
            f"published development default (APP_ENV={config['APP_ENV']}): anyone can forge "
            "this platform's tokens; set your own (required with APP_ENV=production)",
            flush=True,
        )
