"""The password rule (NIST SP 800-63B) in its one place, through every way to set one:
admin REST creation, a user's own change, and the CLI's create-admin, create-user and
change-password. Refusals say why and never repeat the password."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.errors import ServiceUnavailable, ValidationFailed
from app.services import passwords
from app.services.passwords import check_new_password, hashing_slot, verify_password
from tests.checks import assert_error, assert_unchanged, table_rows
from tests.conftest import REPO_ROOT, TEST_PASSWORD, SignedIn, app_in_context, make_user

GOOD_PASSPHRASE = "velvet otter climbs granite"
USERNAME = "margaret.h"
EMAIL = "quartermaster@example.org"
# (password, what the refusal says); the username and email are the account's.
WEAK = [
    ("password", "too easy to guess"),
    ("12345678", "too easy to guess"),
    ("password123", "too easy to guess"),
    ("        ", "only spaces"),
    ("\x00" * 8, "control characters"),
    ("tab\there-is-long", "control characters"),
    (USERNAME, "your username"),
    ("Margaret.H.1990", "your username"),
    ("quartermaster!", "your email address"),
    ("ZeroTrust2024!", "the platform's name"),
    ("qwertyuiop", "too easy to guess"),
    ("aaaaaaaaaaaa", "too easy to guess"),
    ("short", "at least 8"),
    ("p" * 257, "at most 256"),
]


def echoed(password: str, text: str) -> bool:
    """Whether ``text`` repeats ``password`` (the word "password" itself may appear)."""
    if not password.strip():
        return repr(password) in text
    return repr(password) in text or (password != "password" and password in text)


@pytest.mark.parametrize(("password", "says"), WEAK)
def test_the_rule_refuses_weak_passwords_saying_why(app: Flask, password: str, says: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_new_password(password, username=USERNAME, email=EMAIL)
    assert refused.value.code == "invalid_password"
    assert says in refused.value.message
    assert not echoed(password, refused.value.message)


@pytest.mark.parametrize(
    "password",
    [GOOD_PASSPHRASE, "correct horse battery", "Mörkö lentää yli järven", "x7#Lq9!vTz2&"],
)
def test_the_rule_accepts_hard_to_guess_passwords(app: Flask, password: str) -> None:
    check_new_password(password, username=USERNAME, email=EMAIL)


@pytest.mark.parametrize(("password", "says"), WEAK[:11])
def test_admin_rest_creation_refuses_weak_passwords(
    client: FlaskClient, admin_login: SignedIn, password: str, says: str
) -> None:
    before = table_rows()
    response = client.post(
        "/api/admin/users",
        json={"username": USERNAME, "password": password, "email": EMAIL, "role": "admin"},
        headers=admin_login.headers,
    )
    error = assert_error(response, 400, "invalid_password")
    assert says in error["message"]
    assert not echoed(password, response.get_data(as_text=True))
    assert_unchanged(before)


def test_admin_rest_creation_accepts_a_good_passphrase(
    client: FlaskClient, admin_login: SignedIn
) -> None:
    response = client.post(
        "/api/admin/users",
        json={"username": USERNAME, "password": GOOD_PASSPHRASE, "email": EMAIL},
        headers=admin_login.headers,
    )
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize(("password", "says"), WEAK[:6])
def test_changing_ones_own_password_refuses_weak_ones(
    client: FlaskClient, user_login: SignedIn, password: str, says: str
) -> None:
    response = client.post(
        "/api/auth/password",
        json={"current_password": TEST_PASSWORD, "new_password": password},
        headers=user_login.headers,
    )
    assert says in assert_error(response, 400, "invalid_password")["message"]


def test_changing_to_ones_own_username_is_refused(client: FlaskClient, app: Flask) -> None:
    user = make_user(username="longusername7")
    signed = client.post(
        "/api/auth/login", json={"username": user.username, "password": TEST_PASSWORD}
    ).get_json()
    response = client.post(
        "/api/auth/password",
        json={"current_password": TEST_PASSWORD, "new_password": "LongUserName7"},
        headers={"Authorization": f"Bearer {signed['access_token']}"},
    )
    assert "your username" in assert_error(response, 400, "invalid_password")["message"]


@pytest.mark.parametrize("command", ["create-admin", "create-user"])
@pytest.mark.parametrize(("password", "says"), WEAK[:10])
def test_cli_creation_refuses_weak_passwords(
    app: Flask, command: str, password: str, says: str
) -> None:
    before = table_rows()
    result = app.test_cli_runner().invoke(
        args=[command, "--username", USERNAME, "--email", EMAIL, "--password-stdin"],
        input=password + "\n",
    )
    assert result.exit_code != 0
    assert says in result.output
    assert not echoed(password, result.output)
    assert_unchanged(before)


def test_cli_change_password_refuses_weak_passwords(app: Flask) -> None:
    make_user(username=USERNAME, email=EMAIL)
    for password, says in WEAK[:10]:
        result = app.test_cli_runner().invoke(
            args=["change-password", "--username", USERNAME, "--password-stdin"],
            input=password + "\n",
        )
        assert result.exit_code != 0 and says in result.output, (password, result.output)
    accepted = app.test_cli_runner().invoke(
        args=["change-password", "--username", USERNAME, "--password-stdin"],
        input=GOOD_PASSPHRASE + "\n",
    )
    assert accepted.exit_code == 0, accepted.output


def test_hashes_beyond_the_bound_are_refused_quickly(base_config: dict[str, object]) -> None:
    """At most PASSWORD_MAX_CONCURRENT_HASHES at once; the next waits PASSWORD_HASH_WAIT_MS
    for a slot and is then refused (503), instead of queueing without bound."""
    settings = {**base_config, "PASSWORD_MAX_CONCURRENT_HASHES": 1, "PASSWORD_HASH_WAIT_MS": 100}
    with app_in_context(settings) as app:
        user = make_user()
        held, release = threading.Event(), threading.Event()

        def hold_the_only_slot() -> None:
            with app.app_context(), hashing_slot():
                held.set()
                release.wait(10)

        holder = threading.Thread(target=hold_the_only_slot)
        holder.start()
        try:
            assert held.wait(5)
            started = time.monotonic()
            with pytest.raises(ServiceUnavailable) as refused:
                verify_password(None, "anything")
            assert time.monotonic() - started < 2
            assert refused.value.headers["Retry-After"] == "1"

            response = app.test_client().post(
                "/api/auth/login", json={"username": user.username, "password": "wrong"}
            )
            assert_error(response, 503, "password_checks_busy")
            assert response.headers["Retry-After"] == "1"
        finally:
            release.set()
            holder.join(10)
        # The refused tries were given back: the budget of five checks is whole.
        client = app.test_client()
        wrong = {"username": user.username, "password": "wrong"}
        assert [client.post("/api/auth/login", json=wrong).status_code for _ in range(6)] == [
            *[401] * 5,
            429,
        ]


def test_outside_an_event_loop_hashing_is_a_plain_call(app: Flask) -> None:
    assert passwords.off_event_loop(threading.get_ident) == threading.get_ident()


# Run in a fresh interpreter: the probe monkey-patches, as run.py does, then blocks an OS
# thread for 0.5 s in off_event_loop while a green thread ticks every 10 ms.
_LOOP_PROBE = """
import sys
mode = sys.argv[1]
if mode == "eventlet":
    import eventlet
    eventlet.monkey_patch()
    blocking_sleep = eventlet.patcher.original("time").sleep
    spawn, green_sleep = eventlet.spawn, eventlet.sleep
else:
    import gevent
    from gevent import monkey
    monkey.patch_all()
    blocking_sleep = monkey.get_original("time", "sleep")
    spawn, green_sleep = gevent.spawn, gevent.sleep
from flask import Flask
from app.services.passwords import off_event_loop
ticks = []
def tick():
    while True:
        ticks.append(1)
        green_sleep(0.01)
spawn(tick)
app = Flask("probe")
app.config["SOCKETIO_ASYNC_MODE"] = mode
with app.app_context():
    off_event_loop(blocking_sleep, 0.5)
print(len(ticks))
"""


@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_under_an_event_loop_hashing_leaves_the_loop_running(mode: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _LOOP_PROBE, mode],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=REPO_ROOT,
    )
    # A blocking call on the loop itself would let no tick through for 0.5 s.
    assert int(result.stdout.split()[-1]) >= 10, result.stdout + result.stderr
