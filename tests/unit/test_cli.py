"""`flask create-admin`, `create-user`, `change-password` and `seed-demo`, through Flask's
CLI runner."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from app.extensions import db
from app.models import AuditEvent, Device, User, UserSession
from app.services.demo_data import DEMO_USERS
from tests.checks import assert_unchanged, table_rows
from tests.conftest import TEST_PASSWORD, count, make_user, sign_in

PASSWORD = "a long cli password"


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


def invoke(runner: FlaskCliRunner, *args: str, stdin: str | None = None) -> Result:
    return runner.invoke(args=list(args), input=stdin)


def user_named(username: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(User).where(User.username == username))


def can_sign_in(client: FlaskClient, username: str, password: str) -> bool:
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    return response.status_code == 200


@pytest.mark.parametrize(("command", "role"), [("create-admin", "admin"), ("create-user", "user")])
def test_create_account_with_password_on_stdin(
    runner: FlaskCliRunner, client: FlaskClient, command: str, role: str
) -> None:
    result = invoke(
        runner, command, "--username", "Scripted", "--password-stdin", stdin=PASSWORD + "\n"
    )

    assert result.exit_code == 0, result.output
    assert f"created {role} 'scripted'" in result.output
    assert PASSWORD not in result.output
    user = user_named("scripted")
    assert user is not None and user.role == role
    assert (
        db.session.scalar(
            sa.select(AuditEvent.event_type).where(AuditEvent.subject_id == str(user.id))
        )
        == "user_created"
    )
    assert can_sign_in(client, "scripted", PASSWORD)


def test_create_admin_interactively(runner: FlaskCliRunner, client: FlaskClient) -> None:
    result = invoke(runner, "create-admin", stdin=f"operator\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert user_named("operator").role == "admin"
    assert can_sign_in(client, "operator", PASSWORD)


def test_create_user_with_email(runner: FlaskCliRunner) -> None:
    result = invoke(
        runner,
        "create-user",
        "--username",
        "mailer",
        "--email",
        "m@example.org",
        "--password-stdin",
        stdin=PASSWORD,
    )
    assert result.exit_code == 0, result.output
    assert user_named("mailer").email == "m@example.org"


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (["--username", "shorty", "--password-stdin"], "short\n", "at least 8"),
        (["--username", "nopass", "--password-stdin"], "\n", "no password"),
        (["--username", "nopass", "--password-stdin"], "", "no password"),
        (["--password-stdin"], PASSWORD + "\n", "--password-stdin needs --username"),
        (["--username", "x", "--password-stdin"], PASSWORD, "username"),
        (["--username", "Bad Name!", "--password-stdin"], PASSWORD, "username"),
        (["--username", "a" * 65, "--password-stdin"], PASSWORD, "username"),
        (["--username", "o'; DROP TABLE users;--", "--password-stdin"], PASSWORD, "username"),
        (["--username", "mailer", "--email", "nope", "--password-stdin"], PASSWORD, "email"),
        (["--username", "longpw", "--password-stdin"], "p" * 300, "password"),
    ],
)
@pytest.mark.parametrize("command", ["create-admin", "create-user"])
def test_bad_input_exits_non_zero_with_a_clear_message_and_writes_nothing(
    runner: FlaskCliRunner, command: str, args: list[str], stdin: str, says: str
) -> None:
    before = table_rows()
    result = invoke(runner, command, *args, stdin=stdin)
    assert result.exit_code != 0
    assert says in result.output
    assert "Traceback" not in result.output
    assert_unchanged(before)


def test_interactive_password_mismatch_asks_again(runner: FlaskCliRunner) -> None:
    result = invoke(
        runner,
        "create-user",
        "--username",
        "careful",
        stdin=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output.lower()
    assert user_named("careful") is not None


@pytest.mark.parametrize("command", ["create-admin", "create-user"])
def test_duplicate_username_is_refused(runner: FlaskCliRunner, command: str) -> None:
    first = invoke(runner, "create-user", "--username", "taken", "--password-stdin", stdin=PASSWORD)
    assert first.exit_code == 0, first.output
    before = table_rows()

    again = invoke(runner, command, "--username", "TAKEN", "--password-stdin", stdin=PASSWORD)

    assert again.exit_code != 0
    assert "taken" in again.output.lower()
    assert_unchanged(before)


def test_seed_demo_creates_users_devices_and_sessions_once(
    runner: FlaskCliRunner, client: FlaskClient
) -> None:
    first = invoke(runner, "seed-demo")

    assert first.exit_code == 0, first.output
    names = [name for name, *_ in DEMO_USERS]
    assert count(User) == len(names)
    assert count(Device) == len(names)
    assert count(UserSession) == len(names)
    assert {u.role for u in db.session.scalars(sa.select(User))} == {"user", "admin"}
    password = first.output.rsplit("their password: ", 1)[1].strip()
    assert can_sign_in(client, names[0], password)
    before = table_rows()

    second = invoke(runner, "seed-demo")

    assert second.exit_code == 0, second.output
    assert "nothing created" in second.output
    assert_unchanged(before)


def test_seed_demo_keeps_existing_accounts(runner: FlaskCliRunner, client: FlaskClient) -> None:
    name = DEMO_USERS[0][0]
    invoke(runner, "create-user", "--username", name, "--password-stdin", stdin=PASSWORD)

    result = invoke(runner, "seed-demo")

    assert result.exit_code == 0, result.output
    assert name not in result.output.split("their password")[0]
    assert can_sign_in(client, name, PASSWORD)
    assert count(User) == len(DEMO_USERS)


NEW_PASSWORD = "an operator's new password"


def test_change_password_from_stdin_ends_every_session(
    runner: FlaskCliRunner, client: FlaskClient
) -> None:
    user = make_user(username="forgetful")
    signed_in = sign_in(client, user)

    result = invoke(
        runner,
        "change-password",
        "--username",
        "FORGETFUL",
        "--password-stdin",
        stdin=NEW_PASSWORD + "\n",
    )

    assert result.exit_code == 0, result.output
    assert "changed the password of 'forgetful'; 1 session(s) ended" in result.output
    assert NEW_PASSWORD not in result.output
    assert not can_sign_in(client, "forgetful", TEST_PASSWORD)
    assert can_sign_in(client, "forgetful", NEW_PASSWORD)
    assert client.get("/api/auth/me", headers=signed_in.headers).status_code == 401
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.event_type == "password_changed")
    )
    assert event.actor_user_id is None and event.subject_id == str(user.id)
    assert event.payload == {"sessions_ended": 1}


def test_change_password_interactively_asks_twice(
    runner: FlaskCliRunner, client: FlaskClient
) -> None:
    make_user(username="prompted")

    result = invoke(
        runner,
        "change-password",
        "--username",
        "prompted",
        stdin=f"{NEW_PASSWORD}\nsomething else\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
    )

    assert result.exit_code == 0, result.output
    assert "New password" in result.output and "do not match" in result.output.lower()
    assert can_sign_in(client, "prompted", NEW_PASSWORD)


@pytest.mark.parametrize(
    ("args", "stdin", "says"),
    [
        (["--username", "nobody", "--password-stdin"], NEW_PASSWORD, "No user named 'nobody'"),
        (["--username", "holder", "--password-stdin"], "short\n", "at least 8"),
        (["--username", "holder", "--password-stdin"], "p" * 300, "password"),
        (["--username", "holder", "--password-stdin"], "\n", "no password"),
        (["--username", "holder", "--password-stdin"], TEST_PASSWORD, "differ"),
        (["--username", "Bad Name!", "--password-stdin"], NEW_PASSWORD, "username"),
        (["--password-stdin"], NEW_PASSWORD, "--username"),
    ],
    ids=["unknown-user", "too-short", "too-long", "empty", "unchanged", "bad-name", "no-name"],
)
def test_change_password_refusals_exit_non_zero_and_change_nothing(
    runner: FlaskCliRunner, client: FlaskClient, args: list[str], stdin: str, says: str
) -> None:
    signed_in = sign_in(client, make_user(username="holder"))
    before = table_rows()

    result = invoke(runner, "change-password", *args, stdin=stdin)

    assert result.exit_code != 0
    assert says in result.output
    assert "Traceback" not in result.output
    assert_unchanged(before)
    assert client.get("/api/auth/me", headers=signed_in.headers).status_code == 200
