"""Passwords: the rule for new ones, and hashing that neither blocks nor drowns the process.

The rule follows NIST SP 800-63B 3.1.1.2: 8 to 256 characters, any printable ones (spaces
and Unicode included), checked against what attackers try first rather than composition
rules. zxcvbn (Dropbox's estimator, with its lists of common and breached passwords, names
and words) estimates the guesses a password needs, with the account's own words (username,
email local part) and the platform's name as known to the attacker; below
PASSWORD_MIN_STRENGTH (zxcvbn's 0-4 score) the password is refused with zxcvbn's reason.

Hashing (scrypt in production) costs about 100 ms of CPU. Under eventlet or gevent it would
stop every other request of the process for that long, so it runs on the async library's
OS-thread pool (hashlib releases the GIL), and at most PASSWORD_MAX_CONCURRENT_HASHES run at
once per process: a caller that waits longer than PASSWORD_HASH_WAIT_MS for a slot is turned
away with 503 and Retry-After instead of queueing without bound. Sign-ins from a device or
network the account knows skip that queue (their own sign-in budget bounds them), so an
attack from elsewhere cannot keep the owner out by keeping the slots busy.
"""

from __future__ import annotations

import sys
import threading
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import TypeVar

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from app.errors import ServiceUnavailable, ValidationFailed

T = TypeVar("T")

# The same bounds as the request schemas' NewPassword (app/schemas/common.py).
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
# zxcvbn refuses longer input; a prefix this long that is hard to guess makes the whole so.
_ESTIMATED_PREFIX = 72
# Words of the platform itself, which an attacker of this service tries first.
PLATFORM_WORDS = ("zero trust", "zerotrust", "zero-trust", "zero_trust", "ztplatform")
# A context word shorter than this is too common a substring to refuse on its own (zxcvbn
# still sees it); the password equal to it is refused whatever its length.
_MIN_CONTAINED_WORD = 4
# Compared against when the user does not exist, so both paths cost one hash check.
_DUMMY_HASH = generate_password_hash("not-a-real-password-only-for-timing")

_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def _refused(reason: str) -> ValidationFailed:
    return ValidationFailed(f"password {reason}", code="invalid_password")


def _letters(text: str) -> str:
    """Lower-cased letters and digits only: "Alice.Smith" and "alice smith" compare equal."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _context_words(username: str | None, email: str | None) -> list[tuple[str, str]]:
    words = [(username, "your username")] if username else []
    if email:
        words.append((email.partition("@")[0], "your email address"))
    words.extend((word, "the platform's name") for word in PLATFORM_WORDS)
    return [(word, what) for word, what in words if _letters(word)]


def check_new_password(
    password: str, *, username: str | None = None, email: str | None = None
) -> None:
    """Refuse a new password that breaks the account rule (ValidationFailed saying why,
    never repeating the password). ``username`` and ``email`` are the account's."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise _refused(f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise _refused(f"must be at most {MAX_PASSWORD_LENGTH} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in password):
        raise _refused("must not contain control characters (tabs, line breaks, NUL)")
    if not password.strip():
        raise _refused("must not be only spaces")
    letters = _letters(password)
    context = _context_words(username, email)
    for word, what in context:
        word_letters = _letters(word)
        if letters == word_letters or (
            len(word_letters) >= _MIN_CONTAINED_WORD and word_letters in letters
        ):
            raise _refused(f"must not contain {what}")
    estimate = zxcvbn(password[:_ESTIMATED_PREFIX], user_inputs=[w for w, _ in context])
    if estimate["score"] < current_app.config["PASSWORD_MIN_STRENGTH"]:
        why = estimate["feedback"]["warning"] or "It follows a common pattern."
        raise _refused(f"is too easy to guess: {why} Use a longer passphrase of unrelated words.")


def _patched_by(library: str) -> bool:
    """Whether ``library`` (eventlet or gevent) monkey-patched threading in this process:
    only then does a blocking call stop the whole process rather than one thread."""
    if library == "eventlet" and "eventlet" in sys.modules:
        from eventlet import patcher

        return bool(patcher.is_monkey_patched("thread"))
    if library == "gevent" and "gevent" in sys.modules:
        from gevent import monkey

        return bool(monkey.is_module_patched("threading"))
    return False


def off_event_loop(func: Callable[..., T], *args: object) -> T:
    """``func(*args)`` on an OS thread when the process runs on an event loop
    (SOCKETIO_ASYNC_MODE eventlet or gevent, monkey-patched), so the loop keeps serving;
    a plain call otherwise (threading mode, the CLI, Celery workers)."""
    mode = current_app.config["SOCKETIO_ASYNC_MODE"]
    if mode == "eventlet" and _patched_by("eventlet"):
        from eventlet import tpool

        return tpool.execute(func, *args)  # type: ignore[no-any-return]
    if mode == "gevent" and _patched_by("gevent"):
        import gevent

        return gevent.get_hub().threadpool.spawn(func, *args).get()  # type: ignore[no-any-return]
    return func(*args)


def _semaphore(size: int) -> threading.BoundedSemaphore:
    # Built on first use, after the web entry monkey-patched threading (so it is green).
    with _slots_lock:
        if size not in _slots:
            _slots[size] = threading.BoundedSemaphore(size)
        return _slots[size]


@contextmanager
def hashing_slot() -> Iterator[None]:
    """One of this process's PASSWORD_MAX_CONCURRENT_HASHES slots, or 503 when none frees up
    within PASSWORD_HASH_WAIT_MS."""
    cfg = current_app.config
    slots = _semaphore(cfg["PASSWORD_MAX_CONCURRENT_HASHES"])
    if not slots.acquire(timeout=cfg["PASSWORD_HASH_WAIT_MS"] / 1000):
        raise ServiceUnavailable(
            "Too many passwords are being checked right now; try again in a moment.",
            code="password_checks_busy",
            headers={"Retry-After": "1"},
        )
    try:
        yield
    finally:
        slots.release()


def hash_password(password: str) -> str:
    method = current_app.config["PASSWORD_HASH_METHOD"]
    with hashing_slot():
        return off_event_loop(generate_password_hash, password, method)


def verify_password(password_hash: str | None, password: str, *, bounded: bool = True) -> bool:
    """Whether ``password`` matches (one hash's cost either way, also for no account).
    ``bounded=False`` skips the concurrency bound: for tries from a source familiar to the
    account, which an attack from elsewhere must not queue behind (their own sign-in
    budget bounds them)."""
    with hashing_slot() if bounded else nullcontext():
        if password_hash is None:
            off_event_loop(check_password_hash, _DUMMY_HASH, password)
            return False
        return off_event_loop(check_password_hash, password_hash, password)
