"""Step-up and termination by risk on a real web process.

An operator's `flask risk step-up` (run here by the test process playing a worker: no
Socket.IO server, it emits through the Redis message queue) puts a session into step-up;
the browser's socket is told, the admin route refuses until the password is confirmed.
Three wrong passwords end a session, also when they arrive at once.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.models import LoginAttempt, UserSession
from tests.conftest import TEST_PASSWORD, SignedIn
from tests.e2e.clients import WAIT_SECONDS
from tests.e2e.conftest import Accounts, Clients, Platform
from tests.e2e.servers import WebServer, start_servers, web_settings

pytestmark = pytest.mark.integration
GUESSES = 10


@pytest.fixture(scope="module")
def server(platform: Platform) -> Iterator[WebServer]:
    base = (platform.database_url, platform.redis_url, platform.jwt_secret, "eventlet")
    [web] = start_servers(platform.log_dir, **{"step-up": web_settings(*base)})
    yield web
    web.stop()


def force_step_up(worker: Flask, login: SignedIn) -> None:
    result = worker.test_cli_runner().invoke(args=["risk", "step-up", login.session_id])
    assert result.exit_code == 0, result.output
    assert "now in step-up" in result.output


def confirm(server: WebServer, login: SignedIn, password: str) -> requests.Response:
    return requests.post(
        f"{server.url}/api/auth/step-up",
        json={"password": password},
        headers=login.headers,
        timeout=WAIT_SECONDS,
    )


def admin_users(server: WebServer, login: SignedIn) -> requests.Response:
    return requests.get(f"{server.url}/api/admin/users", headers=login.headers, timeout=30)


def me(server: WebServer, login: SignedIn) -> requests.Response:
    return requests.get(f"{server.url}/api/auth/me", headers=login.headers, timeout=30)


def code(response: requests.Response) -> str:
    return str(response.json()["error"]["code"])


def test_a_session_in_step_up_is_told_refused_and_cleared_by_its_password(
    server: WebServer, worker: Flask, accounts: Accounts, clients: Clients
) -> None:
    admin = accounts.login(server, "admin")
    socket = clients.connect(server, admin.access_token)
    assert admin_users(server, admin).status_code == 200

    force_step_up(worker, admin)

    note = socket.wait_for("notification", lambda data: data["kind"] == "step_up_required")
    assert note["session_id"] == admin.session_id and note["title"] and note["message"]
    refused = admin_users(server, admin)
    assert (refused.status_code, code(refused)) == (403, "step_up_required")
    assert me(server, admin).status_code == 200
    passed = confirm(server, admin, TEST_PASSWORD)
    assert passed.status_code == 200, passed.text
    assert passed.json()["session"]["step_up_required"] is False
    assert admin_users(server, admin).status_code == 200
    cleared = socket.wait_for("notification", lambda data: data["kind"] == "step_up_passed")
    assert cleared["session_id"] == admin.session_id
    assert socket.sio.connected


def test_three_wrong_passwords_end_the_session_and_its_token(
    server: WebServer, worker: Flask, accounts: Accounts, clients: Clients
) -> None:
    user = accounts.login(server)
    socket = clients.connect(server, user.access_token)
    force_step_up(worker, user)
    socket.wait_for("notification")

    codes = [code(confirm(server, user, f"wrong guess {n}")) for n in range(3)]

    assert codes == ["invalid_credentials", "invalid_credentials", "step_up_failed"]
    ended = socket.wait_for("session_terminated")
    assert (ended["session_id"], ended["reason"]) == (user.session_id, "step_up_failed")
    assert socket.disconnected.wait(WAIT_SECONDS)
    refused = me(server, user)
    assert (refused.status_code, code(refused)) == (401, "session_ended")


def test_wrong_passwords_sent_at_once_get_three_checks_at_most(
    server: WebServer, worker: Flask, accounts: Accounts
) -> None:
    user = accounts.login(server)
    force_step_up(worker, user)
    start = threading.Barrier(GUESSES)

    def guess(n: int) -> requests.Response:
        start.wait(WAIT_SECONDS)
        return confirm(server, user, f"concurrent guess {n}")

    with ThreadPoolExecutor(GUESSES) as pool:
        responses = list(pool.map(guess, range(GUESSES)))

    codes = sorted(code(r) for r in responses)
    assert codes.count("invalid_credentials") == 2, codes
    assert set(codes) <= {"invalid_credentials", "step_up_failed", "session_ended"}, codes
    with worker.app_context():
        checked = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.user_id == user.user_id, LoginAttempt.success.is_(False))
        )
        session = db.session.get(UserSession, uuid.UUID(user.session_id))
        assert session is not None
        assert (session.status, session.termination_reason) == ("terminated", "step_up_failed")
        db.session.remove()
    assert checked == 3
    assert me(server, user).status_code == 401
