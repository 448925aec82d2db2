"""The rules of the invoices a push lands, decided while the database is free (docs/push-protocol.md §6).

Deciding a landed batch's rules inside its hold (`rules.refresh_for`) took ~65 of the ~150 ms a batch result held
the file at 100,000 invoices (`python -m core bench lock`): each of its steps scans the whole mirror for the batch's
rows. So a push first copies what the rules read about its invoices (their rows of the mirror, and the tables the
rules read whole) into a scratch file beside the database, and decides every line there. Each landed batch is
mirrored into the copy and decided there with the same SQL, before its hold; the hold then only swaps the
decided rows in (`rules.take_for`), deleting the rows they replace where the copy saw them (`store.delete_at`).

The copy is right while every write to the database since it was taken is the push's own: each of the push's
transactions checks the data version (`in_step`). Once another writer has moved it (an edit on a page, a sync),
the copy is dropped and every later batch is decided in its hold, as before. A push sends each invoice once, so
its own writes (results, the mirror of what landed, Xero's refusals) never change what the copy holds of an
invoice still to be decided.
"""
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import duckdb
import pyarrow as pa

from core import config, rules, store

# The copy: the tables the rules read whole, and of the mirror's lines only the push's invoices' rows, written
# straight into the scratch file attached as `push_copy` ({table}: from WHOLE_TABLES or INVOICES_ROWS, quoted).
WHOLE_TABLES = rules.SETTINGS_TABLES + ("tracking_categories", "tracking_options")
ATTACH_COPY = "ATTACH ? AS push_copy"
DETACH_COPY = "DETACH push_copy"
COPY_WHOLE = "CREATE TABLE push_copy.{table} AS SELECT * FROM {table}"
COPY_ROWS = "CREATE TABLE push_copy.{table} AS {rows}"
INVOICES_ROWS = {
    "invoices": "SELECT * FROM invoices WHERE invoice_id IN (SELECT unnest($invoice_ids::VARCHAR[]))",
    "invoice_lines": "SELECT * FROM invoice_lines WHERE invoice_id IN (SELECT unnest($invoice_ids::VARCHAR[]))",
    "line_tracking": """SELECT * FROM line_tracking WHERE line_id IN (
        SELECT line_id FROM invoice_lines WHERE invoice_id IN (SELECT unnest($invoice_ids::VARCHAR[])))""",
    # where their rows of line_tracking and line_rules sit in the database, for a batch's hold to delete them
    # there (store.delete_at): a scan of a million keys cost it 10-30 ms a table, more with every batch
    "database_tracking_rows": """SELECT rowid AS row_id, line_id FROM line_tracking WHERE line_id IN (
        SELECT line_id FROM invoice_lines WHERE invoice_id IN (SELECT unnest($invoice_ids::VARCHAR[])))""",
    "database_rules_rows": """SELECT rowid AS row_id, invoice_id FROM line_rules
        WHERE invoice_id IN (SELECT unnest($invoice_ids::VARCHAR[]))""",
}
DECIDED = "SELECT * FROM {table} WHERE invoice_id IN (SELECT unnest($invoice_ids::VARCHAR[]))"
DATABASE_ROWS = """SELECT coalesce(list(row_id), []) FROM {table}
    WHERE {key}::VARCHAR IN (SELECT unnest($keys::VARCHAR[]))"""


@dataclass(frozen=True)
class Copy:
    con: duckdb.DuckDBPyConnection  # the scratch database
    version: int  # the data version of the database when it holds what the copy holds


class Decided(NamedTuple):
    rules: pa.Table  # rows of `line_rules`
    refusable: pa.Table  # rows of `refusable_invoices`
    rules_rows: list[int]  # where the invoices' rows of `line_rules` sit in the database
    tracking_rows: list[int]  # where the lines' rows of `line_tracking` sit in the database


@contextmanager
def taken(db: Path | str | None, invoice_ids: list[str]) -> Iterator[Copy]:
    """A copy of what the rules read about these invoices, every line decided, in a scratch file deleted after."""
    db = Path(db) if db else config.db_path()
    path = db.with_name(f"{db.stem}.push-{os.getpid()}.duckdb")
    _remove(path)  # left by a killed push of a process with the same id
    try:
        with store.connect(db, purpose="push: copy what the rules read") as con:
            version = store.data_version(con)
            con.execute(ATTACH_COPY, [str(path)])
            try:
                for table in WHOLE_TABLES:
                    con.execute(COPY_WHOLE.format(table=store.identifier(table)))
                for table, rows in INVOICES_ROWS.items():
                    con.execute(COPY_ROWS.format(table=store.identifier(table), rows=rows),
                                {"invoice_ids": invoice_ids})
            finally:
                con.execute(DETACH_COPY)
        scratch = duckdb.connect(str(path), config=store.SCRATCH_CONFIG)
        try:
            rules.build(scratch)
            yield Copy(scratch, version)
        finally:
            scratch.close()
    finally:
        _remove(path)


def in_step(copy: Copy | None, con: duckdb.DuckDBPyConnection) -> Copy | None:
    """In one of the push's own transactions, before it commits: the copy, in step with the database once it
    commits; None when another writer has moved the database since the copy's last step."""
    version = store.data_version(con)
    if copy is None or version != copy.version:
        return None
    return Copy(copy.con, version + 1)  # store.transaction adds 1 as it commits


def decided(copy: Copy, invoice_ids: list[str], line_ids: list[str]) -> Decided:
    """These invoices' rows of `line_rules` and `refusable_invoices` in the copy, and where the rows they replace
    in the database sit: the invoices' rules and these lines' tracking."""
    def rows(table: str) -> pa.Table:
        return copy.con.sql(DECIDED.format(table=table), params={"invoice_ids": invoice_ids}).to_arrow_table()

    def database_rows(table: str, key: str, keys: list[str]) -> list[int]:
        (found,), = copy.con.execute(DATABASE_ROWS.format(table=table, key=key), {"keys": keys}).fetchall()
        return found

    return Decided(rows("line_rules"), rows("refusable_invoices"),
                   database_rows("database_rules_rows", "invoice_id", invoice_ids),
                   database_rows("database_tracking_rows", "line_id", line_ids))


def _remove(path: Path) -> None:
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
