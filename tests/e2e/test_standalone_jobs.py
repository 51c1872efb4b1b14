"""Standalone mode runs background jobs for real: tasks asynchronously on the embedded
broker, the beat schedule firing, and CPU-heavy work that never stalls Socket.IO."""

from __future__ import annotations

import os
import re
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import socketio
from celery.beat import PersistentScheduler

from app.celery_app import make_celery
from tests.conftest import test_config
from tests.integration.celery_fixtures import start_worker
from tests.procs import Process, free_port, python, wait_for

BURN_SECONDS = 3.0

ENV_TO_DROP = (
    "APP_MODE",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "SOCKETIO_MESSAGE_QUEUE",
)


@dataclass
class Standalone:
    process: Process
    base: str
    redis_url: str
    admin_password: str
    beat_file: Path


def _standalone_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_TO_DROP}
    env.update(
        STANDALONE_DATABASE_URL=f"sqlite:///{tmp_path / 'standalone.sqlite3'}",
        CELERY_BEAT_SCHEDULE_FILE=str(tmp_path / "beat-schedule"),
        STANDALONE_STATE_FILE=str(tmp_path / "standalone.json"),
        PASSWORD_HASH_METHOD="pbkdf2:sha256:1000",
        # The ping probe below samples every 25 ms, above the default 10/s.
        WS_RATE_LIMITS="behavioral_data=20/40,ping=50/50,default=10/20",
    )
    return env


def _age_beat_entry(beat_file: Path, entry: str, age: timedelta) -> None:
    """Record in beat's own schedule file that ``entry`` last ran ``age`` ago, as beat
    would after running for that long, so the entry is due when beat starts."""
    celery = make_celery(test_config(CELERY_BROKER_URL="memory://"))
    scheduler = PersistentScheduler(app=celery, schedule_filename=str(beat_file), lazy=True)
    scheduler.setup_schedule()
    scheduler.schedule[entry].last_run_at = datetime.now(UTC) - age
    scheduler.sync()
    scheduler.close()


@pytest.fixture(scope="module")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standalone]:
    tmp_path = tmp_path_factory.mktemp("standalone")
    env = _standalone_env(tmp_path)
    beat_file = tmp_path / "beat-schedule"
    _age_beat_entry(beat_file, "cleanup_cache", timedelta(hours=7))
    port = free_port()
    process = Process(
        python("run.py", "--standalone", "--port", str(port)), env, tmp_path / "web.log"
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: requests.get(f"{base}/api/health", timeout=2).ok, 90, "standalone web")
        out = process.output()
        redis_url = re.search(r"embedded stand-in at (redis://[\d.:]+)", out)[1]  # type: ignore[index]
        password = re.search(r"with password (\S+)", out)[1]  # type: ignore[index]
        yield Standalone(process, base, redis_url, password, beat_file)
    finally:
        process.stop()


def _admin_headers(standalone: Standalone) -> dict[str, str]:
    login = requests.post(
        f"{standalone.base}/api/auth/login",
        json={"username": "admin", "password": standalone.admin_password},
        timeout=10,
    ).json()
    return {"Authorization": f"Bearer {login['access_token']}", "session": login["session_id"]}


def test_beat_fires_and_tasks_run_asynchronously(standalone: Standalone) -> None:
    headers = _admin_headers(standalone)
    headers.pop("session")

    def cleanup_cache_ran() -> dict | None:
        jobs = requests.get(f"{standalone.base}/api/admin/jobs", headers=headers, timeout=10)
        return jobs.json()["last_runs"].get("app.tasks.cleanup_tasks.cleanup_cache")

    last = wait_for(cleanup_cache_ran, 90, "beat to send the due cleanup_cache")
    assert last["state"] == "SUCCESS"
    jobs = requests.get(f"{standalone.base}/api/admin/jobs", headers=headers, timeout=10).json()
    assert len(jobs["workers"]) == 1
    assert all(depth is not None for depth in jobs["queues"].values())


def test_cpu_heavy_task_does_not_stall_socketio(standalone: Standalone, tmp_path: Path) -> None:
    env = {
        **_standalone_env(tmp_path),
        "APP_MODE": "standalone",
        "REDIS_URL": f"{standalone.redis_url}/0",
        "CELERY_BROKER_URL": f"{standalone.redis_url}/2",
        "CELERY_RESULT_BACKEND": f"{standalone.redis_url}/1",
    }
    client = socketio.Client()
    burner = None
    try:
        # A second worker that knows the probe tasks, on a queue the standalone one ignores.
        burner = start_worker(env, tmp_path, "burner", queues=("probe",))
        headers = _admin_headers(standalone)
        client.connect(
            standalone.base, auth={"token": headers["Authorization"][7:]}, wait_timeout=10
        )
        celery = make_celery(
            test_config(
                CELERY_BROKER_URL=env["CELERY_BROKER_URL"],
                CELERY_RESULT_BACKEND=env["CELERY_RESULT_BACKEND"],
            )
        )
        result = celery.send_task("tests.probe.burn_cpu", args=(BURN_SECONDS,), queue="probe")
        rtts: list[float] = []
        while not result.ready() and len(rtts) < 2000:
            started = time.perf_counter()
            reply = client.call("ping", {"client_ts": 0}, timeout=5)
            assert reply["ok"]
            rtts.append((time.perf_counter() - started) * 1000)
            time.sleep(max(0.0, 0.025 - (time.perf_counter() - started)))  # sampling cadence
        assert result.get(timeout=60) > 0
        assert len(rtts) >= 20, "too few pings while the task ran"
        p99 = statistics.quantiles(rtts, n=100)[98]
        p50 = statistics.median(rtts)
        print(f"pings during the task: {len(rtts)}, p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        # Run on the web process's event loop, the task would hold a ping for its whole
        # 3 s. In a worker process it only competes for the CPU: on two cores that costs
        # some latency (speed is bench/'s business), never a stall of the burn's length.
        assert max(rtts) < BURN_SECONDS * 1000 / 3, (
            f"a ping waited {max(rtts):.0f} ms while a {BURN_SECONDS:.0f} s task ran"
        )
    finally:
        client.disconnect()
        if burner is not None:
            burner.stop()
