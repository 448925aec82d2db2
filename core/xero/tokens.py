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
from typing import Any

from core.config import ConfigError

OWNER_ONLY = 0o600
NUMBER = (int, float)
# What each part of the file must hold: field → type. Anything else means the file was edited by hand or
# damaged; reading on would fail later, deep in a refresh, so it is refused here in one sentence.
CONNECTION = {"access_token": str, "refresh_token": str, "client_id": str, "expires_at": NUMBER,
              "refreshed_at": NUMBER}
CONNECTION_OPTIONAL = {"connected_at": NUMBER, "tenant_id": str, "tenant_name": str, "organisations": list}
PENDING = {"verifier": str, "redirect_uri": str, "expires_at": NUMBER}

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


class DamagedTokenFile(ConfigError):
    """The saved connection cannot be read as one: the message names the file and what to do."""


def read(path: Path) -> dict:
    """The file's contents ({} when there is none); group or other permissions are taken away first.

    Raises DamagedTokenFile when the file is not one this module wrote (never quoting a value from it)."""
    if path.is_dir():
        raise _damaged(path, "it is a folder, not a file", "remove the folder (or set XERO_TOKEN_FILE to a file)")
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise _damaged(path, f"it cannot be read: {e.strerror}", "give this user access to it") from None
    with os.fdopen(fd, "rb") as f:
        _owner_only(f.fileno(), path)
        try:
            data = json.loads(f.read() or b"{}")
        except ValueError:
            raise _damaged(path, "it is not JSON", "delete it") from None
    problem = _shape_problem(data)
    if problem:
        raise _damaged(path, problem, "delete it")
    return data


def _shape_problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "it does not hold a JSON object"
    connection, pending = data.get("connection"), data.get("pending", {})
    if connection is not None:
        problem = _fields_problem(connection, CONNECTION, CONNECTION_OPTIONAL)
        if problem:
            return f"its connection {problem}"
    if not isinstance(pending, dict):
        return "its pending attempts are not a JSON object"
    for attempt in pending.values():
        problem = _fields_problem(attempt, PENDING, {})
        if problem:
            return f"a pending attempt {problem}"
    return None


def _fields_problem(record: Any, required: dict, optional: dict) -> str | None:
    if not isinstance(record, dict):
        return "is not a JSON object"
    for name, kind in {**required, **optional}.items():
        if name not in record:
            if name in required:
                return f"has no {name}"
        elif not isinstance(record[name], kind) and not (name in optional and record[name] is None):
            return f"has a {name} of the wrong kind"
    return None


def _damaged(path: Path, why: str, fix: str) -> DamagedTokenFile:
    return DamagedTokenFile(f"The saved Xero connection {path} is unusable ({why}): {fix}, then press Connect to "
                            "Xero on the Settings page again.")


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
