"""Standalone mode's audit trail for real: `run.py --standalone` anchors events on its
in-process chain through its own worker, proofs verify with `flask audit verify` against
that chain, and after a restart (a new chain) the old batches are anchored again."""

from __future__ import annotations

import json
import os
import queue
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from tests.procs import REPO_ROOT, Process, free_port, python, wait_for

ENV_TO_DROP = (
    "APP_MODE",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "ETH_RPC_URL",
    "ETH_PRIVATE_KEY",
    "ETH_CHAIN_ID",
    "SOCKETIO_MESSAGE_QUEUE",
)


@dataclass
class Platform:
    process: Process
    base: str
    chain_url: str

    def call(self, method: str, path: str, headers: dict[str, str], **kw: Any) -> requests.Response:
        return requests.request(method, f"{self.base}{path}", headers=headers, timeout=30, **kw)


def start(tmp_path: Path, run: str) -> Platform:
    env = {k: v for k, v in os.environ.items() if k not in ENV_TO_DROP}
    env.update(
        STANDALONE_DATABASE_URL=f"sqlite:///{tmp_path / 'standalone.sqlite3'}",
        CELERY_BEAT_SCHEDULE_FILE=str(tmp_path / "beat-schedule"),
        IPFS_BLOCKSTORE_DIR=str(tmp_path / "ipfs"),
        STANDALONE_STATE_FILE=str(tmp_path / f"standalone-{run}.json"),
        PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",
    )
    port = free_port()
    process = Process(
        python("run.py", "--standalone", "--port", str(port)), env, tmp_path / f"web-{run}.log"
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(f"{base}/api/health", timeout=2).ok, 90, "standalone web")
    except TimeoutError:
        process.stop()
        raise AssertionError(process.output()[-3000:]) from None
    chain = re.search(r"Ethereum test chain at (http://[\d.:]+)", process.output())
    assert chain, process.output()[-3000:]
    return Platform(process, base, chain[1])


@pytest.fixture
def platforms() -> Iterator[list[Platform]]:
    started: list[Platform] = []
    yield started
    for platform in started:
        platform.process.stop()


def run_task(platform: Platform, headers: dict[str, str], path: str, body: Any) -> Any:
    """POST a task-queueing admin route, then wait on its status route for the result."""
    queued = platform.call("POST", path, headers, json=body)
    assert queued.status_code == 202, queued.text

    def finished() -> dict[str, Any] | None:
        state = platform.call("GET", queued.json()["status_url"], headers).json()
        return state if state["state"] in ("SUCCESS", "FAILURE") else None

    state = wait_for(finished, 60, f"the task behind {path}")
    assert state["state"] == "SUCCESS", state
    return state["result"]


def verify_cli(proof: dict[str, Any], rpc: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"proof-{proof['anchor']['tx_hash'][2:10]}.json"
    path.write_text(json.dumps(proof))
    flask = Path(sys.executable).with_name("flask")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "FLASK_APP": "app:create_app"}
    return subprocess.run(
        [str(flask), "audit", "verify", str(path), "--rpc", rpc],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_standalone_anchors_proves_and_reanchors_after_restart(
    platforms: list[Platform], tmp_path: Path
) -> None:
    first = start(tmp_path, "first")
    platforms.append(first)
    password = re.search(r"with password (\S+)", first.process.output())[1]  # type: ignore[index]

    def admin(platform: Platform) -> dict[str, str]:
        login = platform.call(
            "POST", "/api/auth/login", {}, json={"username": "admin", "password": password}
        )
        assert login.status_code == 200, login.text
        return {"Authorization": f"Bearer {login.json()['access_token']}"}

    headers = admin(first)
    events = first.call("GET", "/api/admin/audit/events?event_type=login_succeeded", headers)
    event_id = events.json()["events"][0]["id"]
    assert first.call("GET", f"/api/audit/events/{event_id}/proof", headers).status_code == 409

    anchored = run_task(first, headers, "/api/admin/audit/anchor", {})
    assert anchored["anchored"], anchored
    proof = first.call("GET", f"/api/audit/events/{event_id}/proof", headers).json()
    checked = verify_cli(proof, first.chain_url, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    first.process.stop()  # the chain ends with it
    second = start(tmp_path, "second")
    platforms.append(second)
    headers = admin(second)
    gone = verify_cli(proof, second.chain_url, tmp_path)
    assert gone.returncode == 1 and "not mined on this chain" in gone.stdout, gone.stdout

    again = run_task(second, headers, "/api/admin/audit/anchor", {})
    assert again["reanchoring"] == [proof["batch"]["id"]], again
    new_proof = second.call("GET", f"/api/audit/events/{event_id}/proof", headers).json()
    assert new_proof["anchor"]["tx_hash"] != proof["anchor"]["tx_hash"]
    checked = verify_cli(new_proof, second.chain_url, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = run_task(second, headers, "/api/admin/audit/verifications", {})
    assert report["ok"], report
    batch = second.call("GET", f"/api/admin/audit/batches/{proof['batch']['id']}", headers).json()
    assert [h["tx_hash"] for h in batch["anchor_history"]] == [proof["anchor"]["tx_hash"]]

    # Tampering with the database behind the platform's back: the worker's verification
    # names the event and the admin room hears of it (worker → Redis queue → Socket.IO).
    alerts: queue.Queue[dict[str, Any]] = queue.Queue()
    client = socketio.Client()
    client.on("admin_notification", alerts.put)
    client.connect(second.base, auth={"token": headers["Authorization"][7:]}, wait_timeout=10)
    try:
        assert client.call("join_admin_room", {}, timeout=10)["ok"]
        with sqlite3.connect(tmp_path / "standalone.sqlite3") as database:
            database.execute(
                "UPDATE audit_events SET payload = ? WHERE id = ?", ('{"forged": true}', event_id)
            )
        report = run_task(second, headers, "/api/admin/audit/verifications", {})
        assert not report["ok"]
        named = {(f["event_id"], f["reason"]) for f in report["failures"] if f["event_id"]}
        assert named == {(event_id, "content_modified")}
        assert {f["reason"] for f in report["failures"] if not f["event_id"]} == {"root_mismatch"}
        alert = alerts.get(timeout=30)
        while alert.get("kind") != "audit_integrity_failure":
            alert = alerts.get(timeout=30)
        assert alert["failures"][0]["event_id"] == event_id
    finally:
        client.disconnect()
