"""The standalone supervisor on small real child processes: restarts with backoff within a
budget, then stops everything with a non-zero status; a signal stops the children, a
second one without waiting. (tests/e2e/test_standalone_supervisor.py: the real platform.)"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.standalone.children import ChildProcess
from app.standalone.supervisor import RestartBudget, Supervisor

SLEEPER = "import time; time.sleep(120)"


def child(name: str, code: str) -> ChildProcess:
    return ChildProcess(name, [sys.executable, "-c", code])


def in_thread(target: Callable[..., Any], *args: Any) -> None:
    threading.Thread(target=target, args=args, daemon=True).start()


def serve_forever() -> None:
    threading.Event().wait()


@pytest.fixture
def restore_signal_handlers() -> Iterator[None]:
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def signal_after(seconds: float, signum: int) -> None:
    threading.Timer(seconds, os.kill, (os.getpid(), signum)).start()


def test_the_budget_doubles_the_wait_and_then_runs_out() -> None:
    budget = RestartBudget(limit=5, window=300, first=0.5, longest=4)

    delays = [budget.delay_after_death(now) for now in (0, 1, 2, 3, 4, 5)]

    assert delays == [0.5, 1, 2, 4, 4, None]


def test_deaths_older_than_the_window_are_forgotten() -> None:
    budget = RestartBudget(limit=2, window=60, first=1, longest=8)

    assert [budget.delay_after_death(now) for now in (0, 10)] == [1, 2]
    assert budget.delay_after_death(100) == 1  # both earlier deaths are out of the window


def test_a_dying_child_is_restarted_until_its_budget_is_spent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def budget() -> RestartBudget:
        return RestartBudget(limit=2, window=60, first=0.01, longest=0.01)

    supervisor = Supervisor([], budget=budget)
    steady = child("steady job", SLEEPER)
    supervisor.start_jobs([child("flaky job", "raise SystemExit(3)"), steady])

    status = supervisor.run(serve_forever, in_thread, time.sleep)

    assert status == 1
    lines = capsys.readouterr().out.splitlines()
    exits = [line for line in lines if "flaky job (pid" in line]
    assert len(exits) == 2, lines
    assert all("exited with status 3; restarting it in 0.01 s" in line for line in exits)
    assert lines[-1] == (
        "standalone: the flaky job exited with status 3, more than 2 times within 60 s; "
        "stopping everything"
    )
    assert not steady.running  # stopped with the rest


def test_the_server_ending_stops_the_platform(capsys: pytest.CaptureFixture[str]) -> None:
    supervisor = Supervisor([])
    job = child("job", SLEEPER)
    supervisor.start_jobs([job])

    def serve() -> None:
        raise OSError("address already in use")

    assert supervisor.run(serve, in_thread, time.sleep) == 1
    assert "the web server stopped: OSError: address already in use" in capsys.readouterr().out
    assert not job.running


@pytest.mark.usefixtures("restore_signal_handlers")
def test_a_signal_stops_every_child_and_exits_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    service, job = child("service", SLEEPER), child("job", SLEEPER)
    supervisor = Supervisor([service])
    supervisor.install_signal_handlers()
    supervisor.start_services()
    supervisor.start_jobs([job])
    signal_after(0.3, signal.SIGTERM)

    status = supervisor.run(serve_forever, in_thread, time.sleep)

    assert status == 0
    assert not service.running and not job.running
    assert service.process.returncode == job.process.returncode == -signal.SIGTERM  # type: ignore[union-attr]
    assert "standalone: SIGTERM received; stopping the children" in capsys.readouterr().out


@pytest.mark.usefixtures("restore_signal_handlers")
def test_a_second_signal_kills_what_ignores_the_first() -> None:
    stubborn = child(
        "stubborn job",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)",
    )
    supervisor = Supervisor([])
    supervisor.install_signal_handlers()
    supervisor.start_jobs([stubborn])
    signal_after(0.3, signal.SIGINT)
    signal_after(1.0, signal.SIGINT)
    started = time.monotonic()

    assert supervisor.run(serve_forever, in_thread, time.sleep) == 0

    assert stubborn.process.returncode == -signal.SIGKILL  # type: ignore[union-attr]
    assert time.monotonic() - started < 5  # not the 10 s a stop would wait for it
