"""`make run` works on a fresh clone: `make install` builds .venv from
backend/requirements.txt alone (no test or lint tools), `make run` starts the standalone
platform from it, every dependency is healthy, a worker heartbeat is seen and a task runs
on the worker; then Ctrl-C stops everything, run.py exiting 0 without a traceback.

A missing runtime dependency (as `packaging` was: kombu's Redis transport imports it, and
the test venv only had it through pytest) fails here rather than on a user's machine.

The clone is the checkout's tracked and new files (edits included) copied to a temporary
directory: nothing is written into the repository, and the platform's instance/ is the
clone's own. pip uses its cache as a user's would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from app.standalone.state import process_alive
from tests.e2e.standalone import Standalone, clean_env
from tests.procs import REPO_ROOT, Process, free_port
from tests.services import IN_CI

INSTALL_SECONDS = 900
STOP_SECONDS = 60


def require_tool(name: str) -> None:
    if shutil.which(name) is None:
        message = f"{name} is not installed"
        if IN_CI:
            pytest.fail(f"{message}; CI needs it for the fresh-install test")
        pytest.skip(message)


def shell_path() -> str:
    """PATH as in a user's shell: without the virtualenv this test runs from."""
    venvs = {Path(sys.executable).parent, Path(os.environ.get("VIRTUAL_ENV", "/nonexistent"))}
    entries = os.environ.get("PATH", "").split(os.pathsep)
    kept = [e for e in entries if Path(e) not in venvs and Path(e).parent not in venvs]
    return os.pathsep.join(kept)


def fresh_clone(dest: Path) -> None:
    """What `git clone` of this checkout would give, with its uncommitted edits."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split(b"\0")):
        source = REPO_ROOT / os.fsdecode(name)
        if not (source.is_file() or source.is_symlink()):
            continue  # deleted in the working tree
        target = dest / os.fsdecode(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)


@pytest.mark.timeout(INSTALL_SECONDS + 300)
def test_make_run_on_a_fresh_clone(tmp_path: Path) -> None:
    for tool in ("git", "make"):
        require_tool(tool)
    clone = tmp_path / "clone"
    fresh_clone(clone)
    env = clean_env(PATH=shell_path())

    install = subprocess.run(
        ["make", "install"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_SECONDS,
    )
    assert install.returncode == 0, (install.stdout + install.stderr)[-5000:]
    venv_python = clone / ".venv" / "bin" / "python"
    dev_tool = subprocess.run([venv_python, "-c", "import pytest"], capture_output=True)
    assert dev_tool.returncode != 0, "the runtime venv should not have the test tools"

    port = free_port()
    process = Process(["make", "run"], {**env, "PORT": str(port)}, tmp_path / "run.log", cwd=clone)
    platform = Standalone(process, f"http://127.0.0.1:{port}", clone / "instance/standalone.json")
    try:
        platform.wait_healthy()
        platform.wait_worker_heartbeat(since=0)
        assert "anchored" in platform.run_anchoring()
        state = platform.state()
        chain = requests.post(
            state["chain_url"],
            json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
            timeout=10,
        ).json()
        assert int(chain["result"], 16) == state["chain_id"]

        os.killpg(process.popen.pid, signal.SIGINT)  # Ctrl-C in the terminal running make
        status = process.popen.wait(timeout=STOP_SECONDS)
    finally:
        process.stop()

    out = process.log_path.read_text()
    # GNU make ends itself with the SIGINT it got once its recipe has ended, as a command
    # interrupted by Ctrl-C should; had run.py exited non-zero, make would say "Error N".
    assert status in (0, -signal.SIGINT), out[-3000:]
    assert "make: ***" not in out, out[-3000:]
    assert "Traceback" not in out, out
    assert [name for name, pid in state["children"].items() if process_alive(pid)] == []
