"""Smoke run of the real-time benchmark (bench/ws_load.py --quick): both servers, 200
connections, real PostgreSQL and Redis. It checks the benchmark works end to end and writes
every figure, not the figures themselves (those are for bench/RESULTS.md, on a quiet machine).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.services import POSTGRES_ADMIN_URL, REDIS_TEST_URL, require

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_quick_benchmark_measures_both_servers(tmp_path: Path) -> None:
    pg = make_url(POSTGRES_ADMIN_URL)
    require("PostgreSQL", pg.host or "127.0.0.1", pg.port or 5432)
    redis_url = make_url(REDIS_TEST_URL.replace("redis://", "postgresql://"))
    require("Redis", redis_url.host or "127.0.0.1", redis_url.port or 6379)
    out = tmp_path / "ws_load.json"

    run = subprocess.run(
        [sys.executable, "bench/ws_load.py", "--quick", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=200,
    )

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(out.read_text())
    assert {"machine", "settings", "servers", "ratios", "command"} <= results.keys()
    assert set(results["servers"]) == {"platform", "bare"}
    for name, server in results["servers"].items():
        connections = server["connections"]
        assert connections["connected"] == 200, (name, server["errors"])
        assert connections["held_after_hold"] == 200, (name, connections)
        assert connections["failed"] == 0, (name, server["errors"])
        assert connections["server_reported"] == 201, (name, connections)  # + the pinger
        assert connections["connects_per_second"] > 0
        assert server["memory"]["rss_loaded_mib"] > server["memory"]["rss_idle_mib"] > 0
        assert [stage["room_size"] for stage in server["fanout"]] == [100, 200]
        for stage in server["fanout"]:
            assert stage["deliveries"] == stage["room_size"] * stage["emits"] > 0, (name, stage)
            assert 0 < stage["p50_ms"] <= stage["p99_ms"] <= stage["max_ms"]
            assert stage["last_member_p50_ms"] > 0
        assert server["ping"]["idle"]["count"] > 0
        assert server["ping"]["under_load"]["count"] > 0
        assert server["ping"]["under_load"]["p50_ms"] > 0
    assert results["ratios"]["kib_per_connection"] is not None
    assert set(results["ratios"]["fanout"]) == {"100", "200"}
