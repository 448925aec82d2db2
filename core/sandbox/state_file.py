"""The sandbox's state file, shared by every process that serves it: one demo Xero.

In demo mode the dashboard, the command line and a second dashboard each run a sandbox server of
their own on the same state file (core/connection.py `demo_sandbox()`). They stay one Xero because
a sandbox with a state file answers every request under an exclusive lock on a lock file beside
it (`fcntl.flock`): it first reloads the state if another process wrote it since, and writes the
state back before letting go if the request changed it.

Whether the file changed is told by a generation stamp that each writer leaves in the lock file:
two quick writes can leave a file's size, mtime and even inode number as they were.
"""
import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.config import ConfigError

GENERATION_BYTES = 32


class StateFile:
    """A JSON state file and its lock file (`NAME.lock`). Read and write it only inside `locked()`."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._fd: int | None = None
        self._seen: bytes | None = None  # the generation this process last read or wrote

    @contextmanager
    def locked(self) -> Iterator["StateFile"]:
        """Hold the file against every other process (not against other threads: the sandbox's own lock does that)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._fd = fd
            yield self
        finally:
            self._fd = None
            os.close(fd)  # lets go of the lock

    def exists(self) -> bool:
        return self.path.exists()

    def changed(self) -> bool:
        """Whether another process wrote the state since this one last read or wrote it."""
        return self._generation() != self._seen

    def read(self) -> dict:
        self._seen = self._generation()
        return load(self.path)

    def write(self, state: dict) -> None:
        write_json(self.path, state)
        self._seen = uuid.uuid4().hex.encode()
        os.pwrite(self._held(), self._seen, 0)

    def _generation(self) -> bytes:
        return os.pread(self._held(), GENERATION_BYTES, 0)

    def _held(self) -> int:
        if self._fd is None:
            raise RuntimeError(f"{self.path} is read or written outside StateFile.locked()")
        return self._fd


def write_json(path: Path, state: dict) -> None:
    """Write `state` whole or not at all: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(state, separators=(",", ":")))
    os.replace(temporary, path)


class DamagedState(ConfigError):
    """A saved sandbox state that cannot be loaded; the message names the file and what to do."""


STATE_LISTS = ("TrackingCategories", "Contacts", "Items", "Invoices")


def load(path: Path | str) -> dict:
    """The state saved in `path` (the demo organisation's file); DamagedState when it is not one."""
    try:
        state = json.loads(Path(path).read_bytes())
    except OSError as e:
        raise _damaged(path, f"it cannot be read: {e.strerror}") from None
    except ValueError:
        raise _damaged(path, "it is not JSON") from None
    if not isinstance(state, dict) or not all(isinstance(state.get(key), list) for key in STATE_LISTS):
        raise _damaged(path, "it does not hold an organisation's records")
    credentials = state.get("Credentials")
    if not isinstance(credentials, dict) or not all(isinstance(credentials.get(key), str)
                                                    for key in ("ClientID", "ClientSecret")):
        raise _damaged(path, "it holds no sandbox credentials")
    return state


def _damaged(path: Path | str, why: str) -> DamagedState:
    return DamagedState(f"The demo organisation's saved state {path} is damaged ({why}): delete it to start the "
                        "demo organisation afresh.")
