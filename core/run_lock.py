"""Whether a push or undo (or an autopilot pass) is running on a database: an OS file lock beside it.

A push or undo holds `fcntl.flock` on `<db stem>.push.lock` for its whole run, and writes who holds it
into the file; an autopilot pass holds `<db stem>.autopilot.lock` the same way. The kernel lets go of the lock when the process ends, however it ends (kill -9
included), so a push still 'running' in the log while the lock is free belongs to a dead process
(core/push.py finalises it as interrupted). The autopilot asks `running()` before a pass.

flock locks belong to an open file, not to a process: two threads of one process exclude each
other as two processes do.
"""
import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core import config

POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as they wrote it when they took it (empty when they had not yet)."""
    who: str = "someone"
    what: str = "push"
    since: str = "a moment ago"
    pid: int | None = None


class Busy(Exception):
    """Another push or undo is running on this database."""

    def __init__(self, holder: Holder):
        super().__init__(f"A {holder.what} by {holder.who} is running on this database (since {holder.since}). "
                         "Only one push or undo runs at a time: try again when it has finished.")
        self.holder = holder


PUSH, AUTOPILOT = "push", "autopilot"  # the locks there are


def lock_path(db: Path | str | None = None, lock: str = PUSH) -> Path:
    db = Path(db) if db else config.db_path()
    return db.with_name(f"{db.stem}.{lock}.lock")


@contextmanager
def hold(db: Path | str | None = None, *, who: str, what: str = "push", wait_seconds: float = 0.0,
         lock: str = PUSH) -> Iterator[None]:
    """Hold the lock for the block, waiting up to `wait_seconds` for it; Busy when someone else keeps it."""
    path = lock_path(db, lock)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_seconds
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise Busy(_holder(path))
            time.sleep(POLL_SECONDS)
        since = f"{datetime.now(UTC):%d %b %Y %H:%M} UTC"
        _write(fd, {"who": who, "what": what, "since": since, "pid": os.getpid()})
        try:
            yield
        finally:
            _write(fd, {})
    finally:
        os.close(fd)  # closing the file lets go of the lock


def running(db: Path | str | None = None) -> Holder | None:
    """Who is running a push or undo on this database, or None when nobody is."""
    path = lock_path(db)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDWR)
    try:
        if _try_lock(fd):
            return None
        return _holder(path)
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _write(fd: int, holder: dict) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(holder).encode(), 0)


def _holder(path: Path) -> Holder:
    try:
        written = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        written = {}
    return Holder(**{k: v for k, v in written.items() if k in Holder.__dataclass_fields__})
