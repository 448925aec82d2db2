"""While another process writes to the database: wait for it, saying so once, rather than fail.

DuckDB lets one process at a time hold the file (core/store.py). A sync or push from the command
line, or another dashboard, holds it for moments (one batch, one merge); a page or a read-only
command opens it for just its query, and waits those moments out. `store.connect` polls the file
every 0.2 s, so the wait ends within that of the other process letting go.
"""
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import duckdb

from core import store

NOTE = "Xero data is being updated; retrying…"
QUIET_SECONDS = 0.5  # a write this short goes unremarked
GIVE_UP_SECONDS = 60.0  # then store.DatabaseBusy, whose message says to try again


@contextmanager
def connect(path: Path | str | None = None, *, say: Callable[[], object]) -> Iterator[duckdb.DuckDBPyConnection]:
    """`store.connect`, calling `say()` once when another process holds the file for longer than
    QUIET_SECONDS, then trying on until GIVE_UP_SECONDS have passed (store.DatabaseBusy)."""
    with ExitStack() as opened:
        try:
            con = opened.enter_context(store.connect(path, wait_seconds=QUIET_SECONDS))
        except store.DatabaseBusy:
            say()
            con = opened.enter_context(store.connect(path, wait_seconds=GIVE_UP_SECONDS))
        yield con
