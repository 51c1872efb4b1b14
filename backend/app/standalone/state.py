"""What a running standalone platform tells operators, kept in a small JSON file.

The web process writes it (STANDALONE_STATE_FILE, by default instance/standalone.json) at
start and after every restart of a child, and removes it when it stops; ``flask
standalone-info`` reads it. It holds addresses and process ids, never a secret: the
signer's address is there, its private key is not.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Replace the file in one step, so that a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    partial.replace(path)


def read_state(path: Path) -> dict[str, Any] | None:
    """The state in the file, or None when there is no (readable) file."""
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def remove_state(path: Path, pid: int) -> None:
    """Remove the file if it is this process's (a newer platform may have replaced it)."""
    state = read_state(path)
    if state is not None and state.get("pid") == pid:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True
