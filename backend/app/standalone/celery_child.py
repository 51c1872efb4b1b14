"""Standalone mode's Celery worker or beat: the ``celery`` command, ending with its parent.

    python -m app.standalone.celery_child -A celery_config.celery_app worker ...

Orphaned, it stops as after a ``kill``: a worker finishes the task in hand first.
"""

from __future__ import annotations

import os
import signal

from app.standalone.lifeline import end_with_parent


def _stop_self() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


def main() -> None:
    end_with_parent(_stop_self)
    from celery.__main__ import main as celery_main

    celery_main()


if __name__ == "__main__":
    main()
