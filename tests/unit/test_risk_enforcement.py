"""Applying a risk decision to a login session: step-up, termination, allow, report only.

Each enforced decision is kept (policy_decisions) with its outcome for the policy
outcome labelling; a session already in step-up is not notified again on every batch.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import Notification, PolicyDecision, UserSession
from app.services.risk.enforcement import apply_decision
from tests.checks import assert_error, audit_events
from tests.conftest import SignedIn
from tests.risk_support import assessment_for
from tests.unit.sockets import Sockets, names, payloads


def session_of(login: SignedIn) -> UserSession:
    db.session.expire_all()
    session = db.session.get(UserSession, uuid.UUID(login.session_id))
    assert session is not None
    return session


def decisions(login: SignedIn) -> list[PolicyDecision]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(PolicyDecision)
            .where(PolicyDecision.session_id == uuid.UUID(login.session_id))
            .order_by(PolicyDecision.id)
        )
    )


def test_step_up_marks_the_session_notifies_its_sockets_and_is_kept(
    client: FlaskClient, sockets: Sockets, account: SignedIn
) -> None:
    socket = sockets.open(account.access_token)
    socket.drain()
    session = session_of(account)
    assessment = assessment_for(session, 72)

    done = apply_decision(session, assessment, "step_up")

    assert done.applied and done.action == "step_up"
    session = session_of(account)
    assert session.needs_step_up and session.step_up_failures == 0 and session.is_active
    [notification] = payloads(socket.drain(), "notification")
    assert notification["kind"] == "step_up_required"
    assert notification["session_id"] == account.session_id
    assert notification["title"] and notification["message"]
    assert notification["factors"][0]["name"] == "new_network"
    [row] = decisions(account)
    assert (row.id, row.decision, row.risk_score, row.outcome) == (
        done.decision_id,
        "step_up",
        72.0,
        None,
    )
    assert row.policy_id is None and row.reasons[0]["name"] == "new_network"
    [event] = audit_events("risk_step_up_required")
    assert event.subject_id == account.session_id and event.payload["score"] == 72.0
    stored = db.session.scalars(
        sa.select(Notification).where(Notification.user_id == account.user_id)
    ).all()
    assert [(n.audience, n.kind) for n in stored] == [("user", "step_up_required")]
    me = client.get("/api/auth/me", headers=account.headers).get_json()
    assert me["session"]["step_up_required"] is True


def test_a_session_already_in_step_up_is_not_notified_again(
    sockets: Sockets, account: SignedIn
) -> None:
    socket = sockets.open(account.access_token)
    apply_decision(session_of(account), assessment_for(session_of(account), 65), "step_up")
    socket.drain()

    again = apply_decision(session_of(account), assessment_for(session_of(account), 70), "step_up")

    assert not again.applied
    assert "notification" not in names(socket.drain())
    assert len(decisions(account)) == 1
    assert len(audit_events("risk_step_up_required")) == 1


def test_terminate_ends_the_session_tells_its_sockets_and_the_admins(
    client: FlaskClient, sockets: Sockets, account: SignedIn, admin_login: SignedIn
) -> None:
    socket = sockets.open(account.access_token)
    admin_socket = sockets.open(admin_login.access_token)
    assert admin_socket.call("join_admin_room", {})["ok"]
    socket.drain()
    admin_socket.drain()
    session = session_of(account)

    done = apply_decision(session, assessment_for(session, 91), "terminate")

    assert done.applied
    session = session_of(account)
    assert (session.status, session.termination_reason) == ("terminated", "risk_terminated")
    assert session.refresh_jti is None
    [ended] = payloads(socket.drain(), "session_terminated")
    assert (ended["session_id"], ended["reason"]) == (account.session_id, "risk_terminated")
    assert not socket.is_connected()
    [note] = payloads(admin_socket.drain(), "admin_notification")
    assert note["kind"] == "session_terminated_by_risk"
    assert (note["user_id"], note["session_id"], note["score"]) == (
        account.user_id,
        account.session_id,
        91.0,
    )
    assert note["username"] == account.username and note["factors"][0]["name"] == "new_network"
    [row] = decisions(account)
    assert (row.decision, row.outcome) == ("terminate", "terminated")
    assert audit_events("risk_session_terminated")[0].subject_id == account.session_id
    assert_error(client.get("/api/auth/me", headers=account.headers), 401, "session_ended")
    refreshed = client.post("/api/auth/refresh", json={"refresh_token": account.refresh_token})
    assert_error(refreshed, 401)


def test_terminate_labels_an_open_step_up_and_does_nothing_on_an_ended_session(
    account: SignedIn,
) -> None:
    apply_decision(session_of(account), assessment_for(session_of(account), 61), "step_up")
    apply_decision(session_of(account), assessment_for(session_of(account), 90), "terminate")

    again = apply_decision(
        session_of(account), assessment_for(session_of(account), 99), "terminate"
    )

    assert not again.applied
    rows = decisions(account)
    assert [(r.decision, r.outcome) for r in rows] == [
        ("step_up", "terminated"),
        ("terminate", "terminated"),
    ]
    assert len(audit_events("risk_session_terminated")) == 1


def test_allow_changes_nothing(sockets: Sockets, account: SignedIn) -> None:
    socket = sockets.open(account.access_token)
    socket.drain()

    done = apply_decision(session_of(account), assessment_for(session_of(account), 10), "allow")

    assert (done.applied, done.decision_id) == (False, None)
    assert not session_of(account).needs_step_up
    assert decisions(account) == [] and socket.drain() == []


@pytest.mark.parametrize("decision", ["step_up", "terminate"])
def test_a_decision_not_enforced_is_only_recorded(
    sockets: Sockets, account: SignedIn, decision: str
) -> None:
    socket = sockets.open(account.access_token)
    socket.drain()

    done = apply_decision(
        session_of(account), assessment_for(session_of(account), 95), decision, enforced=False
    )

    assert not done.applied
    session = session_of(account)
    assert session.is_active and not session.needs_step_up
    [row] = decisions(account)
    assert (row.decision, row.outcome) == (decision, "report_only")
    assert socket.drain() == []


def test_an_unknown_decision_is_refused(account: SignedIn) -> None:
    with pytest.raises(ValueError, match="not one of"):
        apply_decision(session_of(account), assessment_for(session_of(account), 50), "deny")


def test_the_operator_command_steps_a_session_up_once(app: Flask, account: SignedIn) -> None:
    runner = app.test_cli_runner()

    first = runner.invoke(args=["risk", "step-up", account.session_id])
    again = runner.invoke(args=["risk", "step-up", account.session_id])
    unknown = runner.invoke(args=["risk", "step-up", str(uuid.uuid4())])

    assert first.exit_code == 0 and "now in step-up" in first.output
    assert again.exit_code == 0 and "already in step-up" in again.output
    assert unknown.exit_code != 0 and "no active session" in unknown.output
    assert session_of(account).needs_step_up
    assert [row.decision for row in decisions(account)] == ["step_up"]
