"""The saved Xero connection: one JSON file outside the database, readable by its owner only.

It holds the token set (access and refresh token), the organisation chosen, and the pending
"Connect to Xero" attempts (state → PKCE verifier) while the browser is away at Xero. Every
change is made under an inter-process lock (`locked`) and written whole to a temporary file
that replaces the old one, so a reader never sees half a file and a crash never loses the
refresh token that Xero has already rotated. Nothing here ever prints a value from the file.
"""
import fcntl
import json
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

OWNER_ONLY = 0o600

log = logging.getLogger(__name__)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """One holder at a time across threads, browser sessions and processes (flock on a lock file beside it).

    The token file itself is replaced on every write, so the lock lives on a separate file that stays put.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(_lock_path(path), os.O_RDWR | os.O_CREAT, OWNER_ONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def read(path: Path) -> dict:
    """The file's contents ({} when there is none); group or other permissions are taken away first."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return {}
    with os.fdopen(fd, "rb") as f:
        _owner_only(f.fileno(), path)
        try:
            data = json.loads(f.read() or b"{}")
        except ValueError:
            log.warning("The saved Xero connection in %s is not readable JSON; treating it as absent.", path)
            return {}
    return data if isinstance(data, dict) else {}


def write(path: Path, data: dict) -> None:
    """Replace the file atomically with `data`, created owner-only whatever the umask; {} deletes it."""
    if not data:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, OWNER_ONLY)
    try:
        os.fchmod(fd, OWNER_ONLY)  # the umask can only take bits away, but a pre-existing file keeps its mode
        with os.fdopen(fd, "wb") as f:
            f.write(json.dumps(data, separators=(",", ":")).encode())
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)


def _owner_only(fd: int, path: Path) -> None:
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    if mode & ~OWNER_ONLY:
        log.warning("The saved Xero connection %s was readable by others (mode %o); made it owner-only.", path, mode)
        os.fchmod(fd, OWNER_ONLY)


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")
