"""The operator commands of the seed's "Starting Celery" and "Monitoring Celery" sections,
run as written from the repository root, and the tasks that report on the system."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from celery import Celery
from flask import Flask

from app.extensions import db
from app.models import Notification, SystemHealthReport
from tests.integration.celery_fixtures import Worker, wait_for_heartbeat
from tests.procs import REPO_ROOT, Process, wait_for

CELERY = str(Path(sys.executable).parent / "celery")
APP = ["-A", "celery_config.celery_app"]


def run_celery(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [CELERY, *APP, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_inspect_commands(worker_env: dict[str, str], worker: Worker) -> None:
    registered = run_celery(worker_env, "inspect", "registered", "--timeout", "5")
    for task in ("cleanup_expired_sessions", "generate_system_health_report", "cleanup_cache"):
        assert f"app.tasks.cleanup_tasks.{task}" in registered
    assert "->" in run_celery(worker_env, "inspect", "active", "--timeout", "5")
    assert "->" in run_celery(worker_env, "inspect", "scheduled", "--timeout", "5")


def test_events_dump_shows_task_events(
    worker_env: dict[str, str], worker: Worker, celery: Celery, tmp_path: Path
) -> None:
    events = Process([CELERY, *APP, "events", "--dump"], worker_env, tmp_path / "events.log")
    try:
        wait_for(lambda: "heartbeat:" in events.output(), 30, "worker heartbeats")
        celery.send_task("tests.probe.add", args=(2, 3)).get(timeout=30)
        wait_for(
            lambda: "tests.probe.add" in events.output() and " succeeded" in events.output(),
            30,
            "the task-succeeded event",
        )
    finally:
        events.stop()


def test_start_celery_script_runs_worker_and_beat_and_stops_both(
    worker_env: dict[str, str], celery: Celery, tmp_path: Path
) -> None:
    env = {**worker_env, "CELERY_BEAT_SCHEDULE_FILE": str(tmp_path / "beat-schedule")}
    script = Process(["./start_celery.sh", "-c", "1", "-l", "info"], env, tmp_path / "sc.log")
    try:
        wait_for(lambda: "ready." in script.output(), 60, "the worker of start_celery.sh")
        wait_for(lambda: "beat: Starting" in script.output(), 60, "beat of start_celery.sh")
        assert celery.send_task("app.tasks.cleanup_tasks.cleanup_old_notifications").get(
            timeout=30
        ) == {"deleted": 0}
        script.popen.send_signal(signal.SIGTERM)
        assert script.popen.wait(timeout=60) in (0, -signal.SIGTERM, 143)
        leftovers = subprocess.run(
            ["pgrep", "-f", str(tmp_path / "beat-schedule")], capture_output=True, text=True
        ).stdout.split()
        assert leftovers == []
    finally:
        script.stop()


def test_health_report_task_stores_and_announces(
    app: Flask, celery: Celery, worker: Worker
) -> None:
    celery.send_task("app.tasks.cleanup_tasks.cleanup_cache").get(timeout=30)
    wait_for_heartbeat(worker)
    outcome = celery.send_task("app.tasks.cleanup_tasks.generate_system_health_report").get(
        timeout=60
    )
    report = db.session.get(SystemHealthReport, outcome["report_id"])
    assert report is not None and report.status == outcome["status"]
    body = report.report
    assert body["dependencies"]["database"]["ok"] and body["dependencies"]["redis"]["ok"]
    assert body["dependencies"]["broker"]["ok"]
    assert set(body["jobs"]["queues"]) == {
        "ml_queue",
        "blockchain_queue",
        "policy_queue",
        "default",
    }
    assert worker.node_name in body["jobs"]["workers"]
    assert "app.tasks.cleanup_tasks.cleanup_cache" in body["jobs"]["last_runs"]
    assert body["cache"]["connected"] is True
    notes = db.session.scalars(
        sa.select(Notification).where(Notification.kind == "system_health_report")
    ).all()
    assert [n.audience for n in notes] == ["admin"]
