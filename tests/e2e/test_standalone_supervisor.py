"""The standalone platform as an operator meets it: the banner and `flask standalone-info`
say how to reach the embedded parts (and `celery inspect ping` answers there); a child that
is killed is named on the console and comes back; SIGINT and SIGTERM stop everything with
status 0 and no traceback."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from app.standalone.state import process_alive
from tests.e2e.standalone import Standalone, clean_env, start_standalone
from tests.procs import REPO_ROOT, wait_for

STOP_SECONDS = 60


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standalone]:
    started = start_standalone(tmp_path_factory.mktemp("supervised"))
    try:
        started.wait_worker_heartbeat(since=0)
        yield started
    finally:
        started.process.stop()


def venv_command(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def kill_child(platform: Standalone, name: str) -> tuple[int, float]:
    """SIGKILL the child; wait until the supervisor names it and says it is back."""
    pid = platform.state()["children"][name]
    killed_at = time.time()
    os.kill(pid, signal.SIGKILL)
    platform.wait_for_line(f"standalone: the {name} (pid {pid}) exited with signal SIGKILL")

    def back() -> int | None:
        new = platform.state()["children"][name]
        restarted = new != pid and f"the {name} was restarted (pid {new})" in platform.output()
        return new if restarted else None

    return wait_for(back, 90, f"the {name} to be restarted"), killed_at


def rpc(url: str, method: str, *params: object) -> object:
    reply = requests.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=10
    ).json()
    return reply["result"]


def test_the_banner_and_standalone_info_say_how_to_reach_the_embedded_parts(
    platform: Standalone,
) -> None:
    state = platform.state()
    out = platform.output()
    assert f"embedded stand-in at {state['redis_url']}" in out
    assert f"Ethereum test chain at {state['chain_url']}" in out
    assert f"flask audit verify PROOF.json --rpc {state['chain_url']}" in out
    assert state["signer_address"] in out
    inspect = platform.printed(r"(celery -A celery_config\.celery_app --broker \S+ inspect ping)")
    assert state["broker_url"] in inspect

    # The banner's command as an operator types it, in a shell with no standalone settings.
    argv = shlex.split(inspect)
    pong = subprocess.run(
        [venv_command("celery"), *argv[1:]],
        cwd=REPO_ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert pong.returncode == 0 and "pong" in pong.stdout, pong.stdout + pong.stderr

    info = subprocess.run(
        [venv_command("flask"), "standalone-info"],
        cwd=REPO_ROOT,
        env=clean_env(STANDALONE_STATE_FILE=str(platform.state_file)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert info.returncode == 0, info.stdout + info.stderr
    for value in (inspect, state["chain_url"], state["signer_address"], str(state["pid"])):
        assert value in info.stdout

    # The signing key is in the children's environment, nowhere an operator reads.
    environ = Path(f"/proc/{state['children']['Celery worker']}/environ")
    if environ.exists():
        key = dict(item.split("=", 1) for item in environ.read_text().split("\0") if "=" in item)[
            "ETH_PRIVATE_KEY"
        ]
        assert key not in out and key not in info.stdout
        assert key not in platform.state_file.read_text()


def test_a_killed_worker_is_named_restarted_and_works(platform: Standalone) -> None:
    _, killed_at = kill_child(platform, "Celery worker")

    platform.wait_worker_heartbeat(since=killed_at)
    assert "anchored" in platform.run_anchoring()


def test_a_killed_redis_comes_back_on_the_same_url(platform: Standalone) -> None:
    url = platform.state()["redis_url"]

    _, killed_at = kill_child(platform, "embedded Redis")

    assert platform.state()["redis_url"] == url
    platform.wait_healthy()
    platform.wait_worker_heartbeat(since=killed_at)
    assert "anchored" in platform.run_anchoring()  # broker and result backend work again


def test_a_killed_chain_comes_back_funded_and_batches_are_anchored_again(
    platform: Standalone,
) -> None:
    anchored = platform.run_anchoring()["anchored"]
    state = platform.state()

    kill_child(platform, "embedded chain")

    assert platform.state()["chain_url"] == state["chain_url"]
    balance = rpc(state["chain_url"], "eth_getBalance", state["signer_address"], "latest")
    assert int(balance, 16) > 0  # type: ignore[arg-type]
    again = platform.run_anchoring()
    assert anchored and set(anchored) <= set(again["reanchoring"]), again


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_every_child_and_exits_0_without_a_traceback(
    tmp_path: Path, signum: signal.Signals
) -> None:
    platform = start_standalone(tmp_path)
    try:
        platform.wait_worker_heartbeat(since=0)
        platform.run_anchoring()  # the web has read a task result (Celery's AsyncResult)
        children = platform.state()["children"]
        web = platform.process.popen
        if signum == signal.SIGINT:
            os.killpg(web.pid, signum)  # Ctrl-C: to the terminal's foreground group
        else:
            os.kill(web.pid, signum)

        status = web.wait(timeout=STOP_SECONDS)
    finally:
        platform.process.stop()

    out = platform.process.log_path.read_text()
    assert status == 0, out[-3000:]
    assert "Traceback" not in out, out
    assert re.search(rf"standalone: {signum.name} received; stopping the children", out)
    assert out.rstrip().endswith("standalone: stopped"), out[-2000:]
    assert [name for name, pid in children.items() if process_alive(pid)] == []
    assert not platform.state_file.exists()
    assert set(children) == {"embedded Redis", "embedded chain", "Celery worker", "Celery beat"}
