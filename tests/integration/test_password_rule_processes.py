"""Finding 5 of the security review (issue 12) against real processes: `password`,
`12345678`, eight spaces, eight NULs and a password equal to the username were accepted,
for an admin from the CLI too. Now a real server's REST API and the real `flask` CLI
refuse them, saying why without repeating the password, and accept a good passphrase."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flask import Flask

from tests.conftest import TEST_PASSWORD, make_user
from tests.e2e.servers import WebServer, start_servers, web_settings
from tests.integration.test_processes import REFUSAL_SECONDS, clean_env
from tests.procs import REPO_ROOT, python

USERNAME = "eleanor.vance"
GOOD = "velvet otter climbs granite"
# (password, what the refusal says)
WEAK = [
    ("password", "too easy to guess"),
    ("12345678", "too easy to guess"),
    (" " * 8, "only spaces"),
    ("\x00" * 8, "control characters"),
    (USERNAME, "your username"),
]


@pytest.fixture
def server(tmp_path: Path, pg_schema_url: str, redis_url: str) -> Iterator[WebServer]:
    settings = web_settings(
        pg_schema_url,
        redis_url,
        "Rq4-Lx8Vn2Kd7Tb1Zw5Hm9Fc3Gs6Pj0Ye_A",
        "eventlet",
        SOCKETIO_MESSAGE_QUEUE="none",
    )
    [web] = start_servers(tmp_path, web=settings)
    yield web
    web.stop()


def bearer(server: WebServer, username: str, password: str) -> dict[str, str]:
    response = requests.post(
        f"{server.url}/api/auth/login",
        json={"username": username, "password": password},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_the_rest_api_of_a_real_server_refuses_weak_passwords(
    app: Flask, server: WebServer
) -> None:
    admin = make_user("admin")
    headers = bearer(server, admin.username, TEST_PASSWORD)
    for password, says in WEAK:
        response = requests.post(
            f"{server.url}/api/admin/users",
            json={"username": USERNAME, "password": password, "role": "admin"},
            headers=headers,
            timeout=10,
        )
        assert response.status_code == 400, (password, response.text)
        error = response.json()["error"]
        assert error["code"] == "invalid_password" and says in error["message"]
        assert repr(password) not in response.text

    created = requests.post(
        f"{server.url}/api/admin/users",
        json={"username": USERNAME, "password": GOOD},
        headers=headers,
        timeout=10,
    )
    assert created.status_code == 201, created.text

    own = bearer(server, USERNAME, GOOD)
    for password, says in WEAK:
        changed = requests.post(
            f"{server.url}/api/auth/password",
            json={"current_password": GOOD, "new_password": password},
            headers=own,
            timeout=10,
        )
        assert changed.status_code == 400 and says in changed.json()["error"]["message"]
    changed = requests.post(
        f"{server.url}/api/auth/password",
        json={"current_password": GOOD, "new_password": "saffron kettle under moonlight"},
        headers=own,
        timeout=10,
    )
    assert changed.status_code == 200, changed.text


def flask_cli(pg_schema_url: str, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        python("-m", "flask", *args),
        cwd=REPO_ROOT,
        env=clean_env(DATABASE_URL=pg_schema_url, PASSWORD_HASH_METHOD="pbkdf2:sha256:1000"),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=REFUSAL_SECONDS,
        check=False,
    )


def test_the_flask_cli_refuses_weak_passwords_for_an_admin(app: Flask, pg_schema_url: str) -> None:
    for password, says in WEAK:
        result = flask_cli(
            pg_schema_url,
            "create-admin",
            "--username",
            USERNAME,
            "--password-stdin",
            stdin=password + "\n",
        )
        output = result.stdout + result.stderr
        assert result.returncode != 0 and says in output, (password, output)
        assert repr(password) not in output

    created = flask_cli(
        pg_schema_url, "create-admin", "--username", USERNAME, "--password-stdin", stdin=GOOD
    )
    assert created.returncode == 0, created.stdout + created.stderr

    refused = flask_cli(
        pg_schema_url,
        "change-password",
        "--username",
        USERNAME,
        "--password-stdin",
        stdin="12345678",
    )
    assert refused.returncode != 0 and "too easy to guess" in refused.stdout + refused.stderr
