"""Settings: the seed's defaults, typed parsing that names the culprit, production secrets,
and `.env` under the environment."""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from app import config as config_module
from app.config import (
    DEV_JWT_SECRET,
    DEV_SECRET_KEY,
    PUBLISHED_DEV_KEYS,
    STANDALONE_DATABASE_DEFAULT,
    ConfigError,
    database_url,
    load_config,
    read_environment,
    redis_url_from,
    warn_if_development_secrets,
)
from app.secret_rules import secret_problem

# Fixed random values (secrets.token_urlsafe(32)): "s" * 40 no longer passes the rules.
STRONG = "Jf0yq3Vd8rWkz2N_LbXh5sTg9pUeAc7mR1oQi4HvYnE"
STRONG_JWT = "T6wZ-kP2cNd9xGm4Ra7LsV0bYq3HjEu8Fi1oWtQz5Xe"


def test_defaults_are_the_seeds() -> None:
    config = load_config({})
    assert config["REDIS_URL"] == "redis://localhost:6379/0"
    assert config["CELERY_BROKER_URL"] == "amqp://guest:guest@localhost:5672//"
    assert config["CELERY_RESULT_BACKEND"] == "redis://localhost:6379/1"
    assert config["APP_MODE"] == "services"
    assert config["APP_ENV"] == "development"
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    assert config["JWT_ACCESS_TOKEN_SECONDS"] == 900
    assert config["MAX_CONTENT_LENGTH"] > 0


def test_redis_url_is_built_from_the_seeds_parts() -> None:
    env = {"REDIS_HOST": "cache.internal", "REDIS_PORT": "6380", "REDIS_DB": "4"}
    assert redis_url_from(env) == "redis://cache.internal:6380/4"
    assert load_config(env)["REDIS_URL"] == "redis://cache.internal:6380/4"


def test_redis_password_is_quoted_into_the_url() -> None:
    password = "p@ss:w/rd#?% x"
    url = redis_url_from({"REDIS_HOST": "h", "REDIS_PASSWORD": password})
    parts = urlsplit(url)
    assert (parts.hostname, parts.port, parts.path) == ("h", 6379, "/0")
    assert parts.username == ""
    assert unquote(parts.password or "") == password


def test_redis_url_wins_over_the_parts() -> None:
    env = {"REDIS_URL": "redis://other:1234/9", "REDIS_HOST": "ignored", "REDIS_PORT": "x"}
    assert load_config(env)["REDIS_URL"] == "redis://other:1234/9"


def test_dev_secrets_are_filled_outside_production() -> None:
    config = load_config({"APP_ENV": "development"})
    assert config["SECRET_KEY"] == DEV_SECRET_KEY
    assert config["JWT_SECRET_KEY"] == DEV_JWT_SECRET


def test_production_accepts_real_secrets() -> None:
    config = load_config(
        {"APP_ENV": "production", "SECRET_KEY": STRONG, "JWT_SECRET_KEY": STRONG_JWT}
    )
    assert (config["SECRET_KEY"], config["JWT_SECRET_KEY"]) == (STRONG, STRONG_JWT)


@pytest.mark.parametrize("name", ["SECRET_KEY", "JWT_SECRET_KEY"])
@pytest.mark.parametrize(
    ("value", "says"),
    [
        (None, "not set"),
        ("", "not set"),
        ("   ", "not set"),
        ("short-secret", "at least 32"),
        (DEV_SECRET_KEY, "published in the code"),
        (DEV_JWT_SECRET, "published in the code"),
        (DEV_SECRET_KEY.upper(), "published in the code"),
        (DEV_JWT_SECRET[::-1], "published in the code"),
        ("x" + DEV_JWT_SECRET + "x", "published in the code"),
        (DEV_SECRET_KEY[3:40], "published in the code"),
        ("changeme" * 4, "published in the code"),
        ("0x" + sorted(PUBLISHED_DEV_KEYS)[0], "published in the code"),
        ("a" * 32, "repeats"),
        ("k3Y!" * 9, "repeats"),
        ("qwertyuiopasdfghjklzxcvbnm123456", "entropy"),
        ("abcdefghijklmnopqrstuvwxyz0123456789", "entropy"),
        ("1111111122222222333333334444444455", "entropy"),
    ],
)
def test_production_refuses_missing_published_or_weak_secrets(
    name: str, value: str | None, says: str
) -> None:
    env = {"APP_ENV": "production", "SECRET_KEY": STRONG, "JWT_SECRET_KEY": STRONG_JWT}
    if value is None:
        del env[name]
    else:
        env[name] = value
    with pytest.raises(ConfigError) as raised:
        load_config(env)
    message = str(raised.value)
    assert message.startswith(f"{name} ")
    assert says in message
    assert value is None or not value.strip() or value not in message  # never echoed


def test_production_refuses_one_secret_for_both() -> None:
    with pytest.raises(ConfigError, match="must differ"):
        load_config({"APP_ENV": "production", "SECRET_KEY": STRONG, "JWT_SECRET_KEY": STRONG})


def test_random_secrets_of_32_bytes_pass() -> None:
    for _ in range(50):
        value = secrets.token_urlsafe(32)
        assert secret_problem(value) is None, value
        assert secret_problem(secrets.token_hex(32)) is None


def test_development_secrets_are_announced_once(capsys: pytest.CaptureFixture[str]) -> None:
    warn_if_development_secrets(load_config({"APP_ENV": "development"}))
    [line] = capsys.readouterr().out.splitlines()
    assert "SECRET_KEY and JWT_SECRET_KEY are the published development default" in line
    warn_if_development_secrets(load_config({"SECRET_KEY": STRONG, "JWT_SECRET_KEY": STRONG_JWT}))
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ({"ETH_PRIVATE_KEY": "0x" + sorted(PUBLISHED_DEV_KEYS)[0]}, "published"),
        ({"ETH_PRIVATE_KEY": sorted(PUBLISHED_DEV_KEYS)[1].upper()}, "published"),
        ({"ETH_CHAIN_EPHEMERAL": "true"}, "development chains only"),
    ],
)
def test_production_refuses_development_chain_settings(setting: dict[str, str], says: str) -> None:
    env = {"APP_ENV": "production", "SECRET_KEY": STRONG, "JWT_SECRET_KEY": STRONG_JWT}
    with pytest.raises(ConfigError, match=says):
        load_config({**env, **setting})
    load_config(setting)  # fine outside production (tests and Hardhat use them)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REDIS_PORT", "six"),
        ("REDIS_PORT", "0"),
        ("REDIS_DB", "-1"),
        ("JWT_ACCESS_TOKEN_SECONDS", "15m"),
        ("MAX_REQUEST_BYTES", "1.5"),
        ("LOGIN_MAX_FAILURES_PER_USER", "five"),
        ("PORT", "http"),
        ("APP_MODE", "cloud"),
        ("APP_ENV", "prod"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_malformed_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({name: value})
    assert name in str(raised.value)
    assert value in str(raised.value)


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("OFF", False), ("1", True)])
def test_booleans_parse_the_usual_spellings(raw: str, expected: bool) -> None:
    assert config_module._bool({"FLAG": raw}, "FLAG", not expected) is expected
    assert config_module._bool({}, "FLAG", expected) is expected


def test_malformed_boolean_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="SOME_FLAG"):
        config_module._bool({"SOME_FLAG": "perhaps"}, "SOME_FLAG", False)


def test_values_are_trimmed_and_case_insensitive_choices_normalised() -> None:
    config = load_config({"APP_MODE": " Standalone ", "LOG_LEVEL": "debug", "REDIS_PORT": " 7 "})
    assert config["APP_MODE"] == "standalone"
    assert config["LOG_LEVEL"] == "DEBUG"
    assert config["REDIS_URL"] == "redis://localhost:7/0"


def test_standalone_uses_its_own_sqlite_database_not_database_url() -> None:
    services_env = {"DATABASE_URL": "postgresql+psycopg://db.example/zt"}
    standalone = load_config({**services_env, "APP_MODE": "standalone"})
    assert standalone["SQLALCHEMY_DATABASE_URI"] == STANDALONE_DATABASE_DEFAULT
    assert STANDALONE_DATABASE_DEFAULT.startswith("sqlite:///")
    moved = load_config(
        {"APP_MODE": "standalone", "STANDALONE_DATABASE_URL": "sqlite:////tmp/zt.sqlite3"}
    )
    assert moved["SQLALCHEMY_DATABASE_URI"] == "sqlite:////tmp/zt.sqlite3"
    assert load_config(services_env)["SQLALCHEMY_DATABASE_URI"] == services_env["DATABASE_URL"]


def test_dotenv_file_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# comment\n"
        "REDIS_HOST=from-dotenv\n"
        "REDIS_PORT=6390\n"
        "CELERY_BROKER_URL=amqp://u:p@dotenv:5672//\n"
        'SECRET_KEY="quoted value from dotenv"\n'
    )
    monkeypatch.setenv("REDIS_PORT", "6391")
    monkeypatch.delenv("REDIS_HOST", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)

    env = read_environment(dotenv)
    config = load_config(env)

    assert env["REDIS_HOST"] == "from-dotenv"
    assert config["REDIS_URL"] == "redis://from-dotenv:6391/0"
    assert config["CELERY_BROKER_URL"] == "amqp://u:p@dotenv:5672//"
    assert config["SECRET_KEY"] == "quoted value from dotenv"


def test_missing_dotenv_file_is_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_HOST", "env-only")
    env = read_environment(tmp_path / "absent.env")
    assert env["REDIS_HOST"] == "env-only"


def test_overrides_apply_last_and_still_face_the_secret_rules() -> None:
    config = load_config({}, REDIS_URL="redis://override:1/2")
    assert config["REDIS_URL"] == "redis://override:1/2"
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        load_config(
            {"APP_ENV": "production", "SECRET_KEY": STRONG, "JWT_SECRET_KEY": STRONG_JWT},
            JWT_SECRET_KEY="",
        )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgres://u:p%40ss@db.example:5433/zt",
            "postgresql+psycopg://u:p%40ss@db.example:5433/zt",
        ),
        (
            "postgresql://db.example/zt?sslmode=require",
            "postgresql+psycopg://db.example/zt?sslmode=require",
        ),
        ("postgresql+psycopg://db.example/zt", "postgresql+psycopg://db.example/zt"),
        ("PostgreSQL://db.example/zt", "postgresql+psycopg://db.example/zt"),
    ],
)
def test_database_url_spellings_operators_are_handed_map_to_the_installed_driver(
    given: str, expected: str
) -> None:
    assert database_url(given) == expected
    assert load_config({"DATABASE_URL": given})["SQLALCHEMY_DATABASE_URI"] == expected


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("mysql://root@db/zt", "unsupported driver 'mysql'"),
        ("postgresql+psycopg2://db/zt", "unsupported driver 'postgresql+psycopg2'"),
        ("postgresql+asyncpg://db/zt", "unsupported driver"),
        ("db.example:5432/zt", "is not a database URL"),
    ],
)
def test_other_database_urls_are_one_configuration_error_naming_the_setting(
    given: str, says: str
) -> None:
    with pytest.raises(ConfigError, match=r"^DATABASE_URL") as raised:
        load_config({"DATABASE_URL": given})
    assert says in str(raised.value)
    assert "\n" not in str(raised.value)
    with pytest.raises(ConfigError, match=r"^STANDALONE_DATABASE_URL"):
        load_config({"APP_MODE": "standalone", "STANDALONE_DATABASE_URL": given})


def test_a_passed_step_up_must_leave_the_session_below_the_step_up_threshold() -> None:
    assert load_config({"STEP_UP_PASSED_RISK_SCORE": "59"})["STEP_UP_PASSED_RISK_SCORE"] == 59
    with pytest.raises(ConfigError, match="STEP_UP_PASSED_RISK_SCORE must be <= 59"):
        load_config({"STEP_UP_PASSED_RISK_SCORE": "60"})
