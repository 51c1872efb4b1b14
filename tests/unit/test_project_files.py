"""The files operators read and run stay true to the code: .env.example, compose, Makefile."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from app.config import load_config
from tests.conftest import REPO_ROOT
from websocket_config import socketio_options

SETTING_READ = re.compile(
    r'_(?:get|str|int|bool|choice|list|rate_limits|rate)\(\s*env,\s*"([A-Z0-9_]+)"'
)


def settings_read_by_config() -> set[str]:
    source = (REPO_ROOT / "backend/app/config.py").read_text()
    return set(SETTING_READ.findall(source))


def test_env_example_lists_every_setting() -> None:
    documented = set(
        re.findall(r"^#?\s*([A-Z0-9_]+)=", (REPO_ROOT / ".env.example").read_text(), re.M)
    )
    read = settings_read_by_config()
    assert len(read) > 30
    assert read - documented == set(), "settings missing from .env.example"
    assert documented - read == set(), ".env.example lists settings nobody reads"


def test_compose_declares_the_system_and_uses_real_settings() -> None:
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"redis", "rabbitmq", "postgres", "web", "worker", "beat", "flower"} <= set(services)
    for name in ("worker", "beat", "flower"):
        assert services[name]["command"][:3] == ["celery", "-A", "celery_config.celery_app"]
    env = services["web"]["environment"]
    assert set(env) <= settings_read_by_config()
    # Secrets are required from the operator, never defaulted.
    assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert env["JWT_SECRET_KEY"].startswith("${JWT_SECRET_KEY:?")


def test_make_help_lists_the_two_commands() -> None:
    out = subprocess.run(
        ["make", "-s", "help"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"^\s+run\s+", out, re.M)
    assert re.search(r"^\s+test\s+", out, re.M)


def test_socketio_options_follow_the_settings() -> None:
    config = load_config(
        {
            "SOCKETIO_ASYNC_MODE": "gevent",
            "WEBSOCKET_CORS_ALLOWED_ORIGINS": "https://a.example, https://b.example",
            "SOCKETIO_MESSAGE_QUEUE": "redis://127.0.0.1:6379/3",
        }
    )
    options = socketio_options(config)
    assert options["async_mode"] == "gevent"
    assert options["message_queue"] == "redis://127.0.0.1:6379/3"
    allowed = options["cors_allowed_origins"]
    environ = {"wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1:5000"}
    assert allowed("https://a.example", environ) and allowed("https://b.example/", environ)
    assert not allowed("http://127.0.0.1:5000", environ)  # not listed: Host does not count
    assert not allowed("https://evil.example", environ)
    assert not allowed("http://evil.example", {**environ, "HTTP_HOST": "evil.example"})


@pytest.mark.parametrize(
    ("env", "dashboard"),
    [({}, "http://127.0.0.1:5000"), ({"PORT": "8042"}, "http://localhost:8042")],
)
def test_the_default_origins_are_the_frontend_and_the_dashboard_on_port(
    env: dict[str, str], dashboard: str
) -> None:
    allowed = socketio_options(load_config(env))["cors_allowed_origins"]
    assert allowed("http://localhost:3000", {}) and allowed(dashboard, {})
    assert not allowed("http://localhost:5001", {})


def test_celery_app_routes_task_modules_to_their_queues() -> None:
    from celery_config import celery_app

    conf = celery_app.conf
    assert {q.name for q in conf.task_queues} == {
        "ml_queue",
        "blockchain_queue",
        "policy_queue",
        "default",
    }
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_routes["app.tasks.ml_tasks.*"] == {"queue": "ml_queue"}
