"""The DuckDB store: the only module that creates tables.

DuckDB lets one process at a time hold the file read-write, and the dashboard and
`python -m core sync` from cron must be able to run side by side. So nothing holds the
file longer than one operation: `connect()` opens it (waiting a little for another
process to let go), runs pending migrations, and closes it again. Inside one process,
threads share DuckDB's database instance, so a connection per operation is also the
thread-safe "cursor per thread".

Every write goes through `transaction()`, which bumps `data_version`; caches of query
results are keyed on that counter.

When the environment names a file in HOLD_LOG_VARIABLE, every `connect()` appends how long it
held the database (open to close) to that file, so `python -m core bench lock` can report the
longest hold of any process.
"""
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import duckdb

from core import config

LOCK_WAIT_SECONDS = 15.0
HOLD_LOG_VARIABLE = "TRACKING_HOLD_LOG"
# DuckDB's own default is 80% of the machine's memory; past this it spills joins and sorts to disk,
# which keeps a process under 512 MB with a million lines (`python -m core bench rules`; tests/test_memory.py).
# 448 MB peaked at 507-520 MB; 432 MB at 484-497 MB, at the same refresh and sync merge (416 MB: the refresh
# 1.50 s against 1.46 s).
# Extensions are never fetched or loaded behind our back: opening an SQLite file would otherwise
# download DuckDB's sqlite extension from the internet.
DUCKDB_CONFIG = {"memory_limit": "432MB", "autoinstall_known_extensions": False,
                 "autoload_known_extensions": False}
# A scratch database beside this one (a sync's stage, a push's copy) lives on disk; a small buffer keeps the
# process's own memory down.
SCRATCH_CONFIG = {"memory_limit": "256MB"}
NO_COMPACTION = "SET max_vacuum_tasks = 0"  # for this database instance: every connection of the process that shares it
DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file
SQLITE_MAGIC = b"SQLite format 3\x00"
DATABASE_SETTING = "set TRACKING_DB to another file"


class DatabaseBusy(Exception):
    """Another process holds the database file for longer than we are willing to wait."""


class DatabaseUnusable(config.ConfigError):
    """The database file cannot be used as it is (a directory, not a DuckDB file, not writable…)."""


class NewerDatabase(DatabaseUnusable):
    """The database was written by a newer Tracking Desk: this one leaves it alone."""


# An ordered list of named steps. Never edit an applied step: append a new one.
MIGRATIONS: list[tuple[str, str]] = [
    ("0001_mirror", """
        CREATE TABLE organisation (
            organisation_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL,
            base_currency VARCHAR NOT NULL, country_code VARCHAR);
        CREATE TABLE tracking_categories (
            category_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, status VARCHAR NOT NULL,
            position INTEGER NOT NULL);
        CREATE TABLE tracking_options (
            option_id VARCHAR PRIMARY KEY, category_id VARCHAR NOT NULL, name VARCHAR NOT NULL,
            status VARCHAR NOT NULL);
        CREATE TABLE contacts (
            contact_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, status VARCHAR,
            updated_utc TIMESTAMP);
        CREATE TABLE items (
            item_id VARCHAR PRIMARY KEY, code VARCHAR NOT NULL, name VARCHAR,
            updated_utc TIMESTAMP);
        CREATE TABLE invoices (
            invoice_id VARCHAR PRIMARY KEY, number VARCHAR, contact_id VARCHAR NOT NULL,
            date DATE, due_date DATE, status VARCHAR NOT NULL, line_amount_types VARCHAR,
            currency_code VARCHAR NOT NULL, currency_rate DECIMAL(18, 10) NOT NULL DEFAULT 1,
            sub_total DECIMAL(18, 2), total_tax DECIMAL(18, 2), total DECIMAL(18, 2),
            amount_due DECIMAL(18, 2), amount_paid DECIMAL(18, 2) NOT NULL DEFAULT 0,
            amount_credited DECIMAL(18, 2) NOT NULL DEFAULT 0,
            has_allocations BOOLEAN NOT NULL DEFAULT false,
            updated_utc TIMESTAMP NOT NULL);
        CREATE TABLE invoice_lines (
            line_id VARCHAR PRIMARY KEY, invoice_id VARCHAR NOT NULL, position INTEGER NOT NULL,
            description VARCHAR, item_code VARCHAR, account_code VARCHAR,
            quantity DECIMAL(18, 4), unit_amount DECIMAL(18, 4), line_amount DECIMAL(18, 2),
            tax_type VARCHAR, tax_amount DECIMAL(18, 2),
            discount_rate DECIMAL(9, 4), discount_amount DECIMAL(18, 2));
        CREATE TABLE line_tracking (
            line_id VARCHAR NOT NULL, category_id VARCHAR NOT NULL, option_id VARCHAR,
            category_name VARCHAR, option_name VARCHAR,
            PRIMARY KEY (line_id, category_id));
        CREATE INDEX invoice_lines_invoice ON invoice_lines (invoice_id);
        CREATE INDEX invoices_contact ON invoices (contact_id);
    """),
    ("0002_app_owned", """
        CREATE SEQUENCE team_member_ids START 1;
        CREATE SEQUENCE change_ids START 1;
        CREATE SEQUENCE push_ids START 1;
        CREATE TABLE data_version (version BIGINT NOT NULL);
        INSERT INTO data_version VALUES (0);
        CREATE TABLE slots (
            slot INTEGER PRIMARY KEY CHECK (slot IN (1, 2)), category_id VARCHAR NOT NULL);
        CREATE TABLE team_members (
            member_id INTEGER PRIMARY KEY DEFAULT nextval('team_member_ids'),
            name VARCHAR NOT NULL UNIQUE, email VARCHAR, tc2_option_id VARCHAR);
        CREATE TABLE client_settings (
            contact_id VARCHAR PRIMARY KEY, owner_id INTEGER,
            tc1_option_id VARCHAR, tc2_option_id VARCHAR,
            consolidate BOOLEAN NOT NULL DEFAULT false);
        CREATE TABLE services (
            item_code VARCHAR PRIMARY KEY, tc2_option_id VARCHAR,
            alignment_fee BOOLEAN NOT NULL DEFAULT false);
        -- A slot's override is present when its flag is true; with a NULL option it clears the slot.
        CREATE TABLE line_overrides (
            line_id VARCHAR PRIMARY KEY,
            tc1_override BOOLEAN NOT NULL DEFAULT false, tc1_option_id VARCHAR,
            tc2_override BOOLEAN NOT NULL DEFAULT false, tc2_option_id VARCHAR,
            note VARCHAR);
        CREATE TABLE change_log (
            change_id BIGINT PRIMARY KEY DEFAULT nextval('change_ids'),
            changed_at TIMESTAMP NOT NULL DEFAULT now(), changed_by VARCHAR NOT NULL,
            source VARCHAR NOT NULL, entity VARCHAR NOT NULL, entity_id VARCHAR NOT NULL,
            field VARCHAR NOT NULL, old_value VARCHAR, new_value VARCHAR);
        CREATE TABLE pushes (
            push_id BIGINT PRIMARY KEY DEFAULT nextval('push_ids'),
            kind VARCHAR NOT NULL DEFAULT 'push', undo_of BIGINT,
            started_at TIMESTAMP NOT NULL DEFAULT now(), finished_at TIMESTAMP,
            pushed_by VARCHAR NOT NULL, invoices_planned INTEGER NOT NULL DEFAULT 0,
            invoices_landed INTEGER NOT NULL DEFAULT 0, invoices_failed INTEGER NOT NULL DEFAULT 0,
            invoices_conflict INTEGER NOT NULL DEFAULT 0, lines_changed INTEGER NOT NULL DEFAULT 0,
            api_calls INTEGER NOT NULL DEFAULT 0, outcome VARCHAR, message VARCHAR);
        CREATE TABLE push_lines (
            push_id BIGINT NOT NULL, invoice_id VARCHAR NOT NULL, line_id VARCHAR NOT NULL,
            slot INTEGER NOT NULL, category_id VARCHAR,
            before_option_id VARCHAR, after_option_id VARCHAR,
            result VARCHAR NOT NULL, message VARCHAR,
            PRIMARY KEY (push_id, line_id, slot));
        CREATE TABLE sync_state (
            entity VARCHAR PRIMARY KEY, modified_since TIMESTAMP, synced_at TIMESTAMP,
            row_count INTEGER, api_calls INTEGER);
        CREATE TABLE sync_runs (
            started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP, kind VARCHAR NOT NULL,
            outcome VARCHAR NOT NULL, api_calls INTEGER, message VARCHAR);
    """),
    # Written only by core/rules.py: the rules' verdict for every line (no keys: rewritten in bulk).
    ("0003_line_rules", """
        CREATE TABLE line_rules (
            line_id VARCHAR NOT NULL, invoice_id VARCHAR NOT NULL, contact_id VARCHAR NOT NULL,
            position INTEGER NOT NULL, line_amount DECIMAL(18, 2),
            invoice_number VARCHAR, invoice_date DATE, invoice_status VARCHAR NOT NULL,
            tc1_category_id VARCHAR, tc1_current_option_id VARCHAR, tc1_current_name VARCHAR,
            tc1_wanted_option_id VARCHAR, tc1_wanted_name VARCHAR,
            tc1_source VARCHAR NOT NULL, tc1_apply BOOLEAN NOT NULL,
            tc2_category_id VARCHAR, tc2_current_option_id VARCHAR, tc2_current_name VARCHAR,
            tc2_wanted_option_id VARCHAR, tc2_wanted_name VARCHAR,
            tc2_source VARCHAR NOT NULL, tc2_apply BOOLEAN NOT NULL,
            status VARCHAR NOT NULL, reason VARCHAR);
    """),
    # The preview's page reads one table: a lookup of 500 descriptions by line id cost it ~25 ms.
    ("0004_line_rules_description", "ALTER TABLE line_rules ADD COLUMN description VARCHAR"),
    # A batch whose answer was lost is 'in doubt' until re-read from Xero (core/push.py settle_in_doubt);
    # `resolved_at` keeps which lines were, once resolved. A killed run ends 'interrupted'.
    ("0005_push_in_doubt", """
        ALTER TABLE pushes ADD COLUMN invoices_not_sent INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE pushes ADD COLUMN invoices_in_doubt INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE pushes ADD COLUMN invoices_not_landed INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE push_lines ADD COLUMN resolved_at TIMESTAMP;
    """),
    # Written only by core/autopilot.py: its policy (one row), every invoice it knows of and what it did
    # with it, and one row per pass.
    ("0006_autopilot", """
        CREATE SEQUENCE autopilot_pass_ids START 1;
        CREATE TABLE autopilot_policy (
            policy INTEGER PRIMARY KEY CHECK (policy = 1), enabled BOOLEAN NOT NULL,
            statuses VARCHAR[] NOT NULL, daily_calls INTEGER NOT NULL,
            switched_on_at TIMESTAMP, changed_by VARCHAR NOT NULL, changed_at TIMESTAMP NOT NULL);
        CREATE TABLE autopilot_invoices (
            invoice_id VARCHAR PRIMARY KEY, state VARCHAR NOT NULL, first_seen_at TIMESTAMP NOT NULL,
            seen_updated_utc TIMESTAMP, pass_id BIGINT, push_id BIGINT, reason VARCHAR);
        CREATE TABLE autopilot_passes (
            pass_id BIGINT PRIMARY KEY DEFAULT nextval('autopilot_pass_ids'),
            started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP, outcome VARCHAR NOT NULL,
            new_invoices INTEGER NOT NULL DEFAULT 0, tagged INTEGER NOT NULL DEFAULT 0,
            already_right INTEGER NOT NULL DEFAULT 0, left_for_person INTEGER NOT NULL DEFAULT 0,
            api_calls INTEGER NOT NULL DEFAULT 0, summary VARCHAR, next_pass_at TIMESTAMP);
    """),
    # Sales credit notes live beside the invoices, told apart by `type` (ACCREC or ACCRECCREDIT), so
    # the rules, preview, push and revenue read one table. For a credit note `amount_paid` is what was
    # refunded, `amount_credited` what was allocated to invoices, `remaining_credit` what is left.
    # 0011 copies `invoices` without its defaults: a row written without a type (only tests do) reads as ACCREC.
    ("0009_credit_notes", """
        ALTER TABLE invoices ADD COLUMN type VARCHAR DEFAULT 'ACCREC';
        ALTER TABLE invoices ADD COLUMN remaining_credit DECIMAL(18, 2);
        ALTER TABLE line_rules ADD COLUMN invoice_type VARCHAR DEFAULT 'ACCREC';
    """),
    # A push counts the locked invoices and lines it leaves alone instead of logging each line: at a million
    # lines that log was ~900,000 rows per push. The Push page lists locked lines from the plan (core/push.py).
    ("0010_push_locked_counts", """
        ALTER TABLE pushes ADD COLUMN invoices_locked INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE pushes ADD COLUMN lines_locked INTEGER NOT NULL DEFAULT 0;
    """),
    # The big mirror tables without PRIMARY KEY or other indexes: keeping DuckDB's index of a million lines
    # up to date cost the sync's merge tens of seconds. Their keys stay unique through the sync, which
    # refuses a stage with a repeated key (core/sync.py) and merges by key; scans use DuckDB's zone maps.
    ("0011_mirror_without_indexes", """
        CREATE TABLE unindexed_invoices AS FROM invoices;
        CREATE TABLE unindexed_invoice_lines AS FROM invoice_lines;
        CREATE TABLE unindexed_line_tracking AS FROM line_tracking;
        DROP TABLE invoices;
        DROP TABLE invoice_lines;
        DROP TABLE line_tracking;
        ALTER TABLE unindexed_invoices RENAME TO invoices;
        ALTER TABLE unindexed_invoice_lines RENAME TO invoice_lines;
        ALTER TABLE unindexed_line_tracking RENAME TO line_tracking;
        ALTER TABLE invoices ALTER COLUMN invoice_id SET NOT NULL;
        ALTER TABLE invoices ALTER COLUMN contact_id SET NOT NULL;
        ALTER TABLE invoices ALTER COLUMN status SET NOT NULL;
        ALTER TABLE invoices ALTER COLUMN currency_code SET NOT NULL;
        ALTER TABLE invoices ALTER COLUMN currency_rate SET NOT NULL;
        ALTER TABLE invoices ALTER COLUMN currency_rate SET DEFAULT 1;
        ALTER TABLE invoices ALTER COLUMN amount_paid SET NOT NULL;
        ALTER TABLE invoices ALTER COLUMN amount_paid SET DEFAULT 0;
        ALTER TABLE invoices ALTER COLUMN amount_credited SET NOT NULL;
        ALTER TABLE invoices ALTER COLUMN amount_credited SET DEFAULT 0;
        ALTER TABLE invoices ALTER COLUMN has_allocations SET NOT NULL;
        ALTER TABLE invoices ALTER COLUMN has_allocations SET DEFAULT false;
        ALTER TABLE invoices ALTER COLUMN updated_utc SET NOT NULL;
        ALTER TABLE invoice_lines ALTER COLUMN line_id SET NOT NULL;
        ALTER TABLE invoice_lines ALTER COLUMN invoice_id SET NOT NULL;
        ALTER TABLE invoice_lines ALTER COLUMN position SET NOT NULL;
        ALTER TABLE line_tracking ALTER COLUMN line_id SET NOT NULL;
        ALTER TABLE line_tracking ALTER COLUMN category_id SET NOT NULL;
    """),
    # Invoices Xero refused because they carry an option that is not ACTIVE (docs/push-protocol.md, section 6): in
    # Xero's own words, with the invoice's UpdatedDateUTC then and those options. The rules block such an
    # invoice while it is unchanged in Xero and one of the options is still not ACTIVE (core/rules.py).
    ("0015_xero_refusals", """
        CREATE TABLE xero_refusals (
            invoice_id VARCHAR PRIMARY KEY,
            updated_utc TIMESTAMP,
            option_ids VARCHAR[] NOT NULL,
            message VARCHAR NOT NULL,
            push_id BIGINT,
            refused_at TIMESTAMP NOT NULL
        );
    """),
    # Written only by core/rules.py, with `line_rules`: the invoices a push would send back with an option that
    # is not ACTIVE, and why Xero may refuse them (docs/push-protocol.md, section 6).
    ("0016_refusable_invoices", """
        CREATE TABLE refusable_invoices (invoice_id VARCHAR NOT NULL, reason VARCHAR NOT NULL);
    """),
    # A narrower `line_rules`, 0.25-0.3 s off a refresh at a million lines (`python -m core bench rules`): the
    # wanted options' names and the slots' categories are read where they are kept (core/rules.py JOIN_WANTED and
    # slot_category_sql), and the labels the rules give are ENUMs, a byte a line where a string cost ~0.03 s a
    # column (values: rules.SOURCES and rules.STATUSES, which tests/test_store.py holds them to).
    ("0017_line_rules_narrow", """
        ALTER TABLE line_rules DROP COLUMN tc1_category_id;
        ALTER TABLE line_rules DROP COLUMN tc2_category_id;
        ALTER TABLE line_rules DROP COLUMN tc1_wanted_name;
        ALTER TABLE line_rules DROP COLUMN tc2_wanted_name;
        CREATE TYPE rule_source AS ENUM ('line', 'client', 'service', 'owner', 'consolidated', 'none');
        CREATE TYPE line_status AS ENUM ('same', 'change', 'blocked', 'locked');
        ALTER TABLE line_rules ALTER COLUMN tc1_source TYPE rule_source;
        ALTER TABLE line_rules ALTER COLUMN tc2_source TYPE rule_source;
        ALTER TABLE line_rules ALTER COLUMN status TYPE line_status;
    """),
    # Xero's line ids, GUIDs, as UUIDs (16 bytes, not 36 characters) in the two tables the rules join a million lines
    # with: the rules for every line 0.31-0.33 s against 0.38-0.42 s, a full sync's merge 1.5 s against 1.8 s
    # (`python -m core bench rules`, `bench lock`). Elsewhere line ids stay strings: docs/architecture.md.
    ("0018_line_ids_uuid", """
        ALTER TABLE invoice_lines ALTER COLUMN line_id TYPE UUID;
        ALTER TABLE line_tracking ALTER COLUMN line_id TYPE UUID;
    """),
]

_migrated: set[Path] = set()


HAS_MIGRATIONS_TABLE = ("SELECT count(*) > 0 FROM duckdb_tables() "
                        "WHERE schema_name = 'main' AND table_name = 'schema_migrations'")
APPLIED = "SELECT name FROM schema_migrations"
DATABASE_FILE = "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"


def applied_migrations(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The names of the steps applied to this database: its schema version."""
    if not con.execute(HAS_MIGRATIONS_TABLE).fetchone()[0]:
        return set()
    return {name for (name,) in con.execute(APPLIED).fetchall()}


def check_version(con: duckdb.DuckDBPyConnection) -> None:
    """Refuse a database holding a step this app does not know: a newer Tracking Desk wrote it.

    Checked before anything is written, so the newer app finds its database as it left it."""
    unknown = applied_migrations(con) - {name for name, _ in MIGRATIONS}
    if unknown:
        path = con.execute(DATABASE_FILE).fetchone()[0] or "in memory"
        raise NewerDatabase(f"The database {path} was written by a newer Tracking Desk (schema step "
                            f"{max(unknown)}); upgrade first. Nothing was changed.")


def apply_migrations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the pending steps, each in a transaction with its record; returns their names.

    Raises NewerDatabase, writing nothing, when the database is ahead of this app."""
    check_version(con)
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                "(name VARCHAR PRIMARY KEY, applied_at TIMESTAMP DEFAULT now())")
    done = applied_migrations(con)
    applied = []
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations (name) VALUES (?)", [name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


def _is_lock_error(error: duckdb.Error) -> bool:
    # "Unique file handle conflict": another thread of this process is opening or closing the file.
    message = str(error).lower()
    return "lock" in message or "unique file handle conflict" in message


def _check_file(path: Path) -> None:
    """Refuse, in one sentence, a database path DuckDB could not use, before DuckDB tries."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatabaseUnusable(f"The folder for the database {path} cannot be created ({e.strerror}): "
                               f"{DATABASE_SETTING}.") from None
    if path.is_dir():
        raise DatabaseUnusable(f"The database {path} is a folder, not a file: {DATABASE_SETTING}, "
                               f"e.g. {path / 'tracking.duckdb'}.")
    if not path.exists():
        return
    if not path.is_file():
        raise DatabaseUnusable(f"The database {path} is not a regular file (a device or a pipe): {DATABASE_SETTING}.")
    try:
        with path.open("rb") as f:
            header = f.read(16)
    except OSError as e:
        raise DatabaseUnusable(f"The database {path} cannot be read ({e.strerror}): give this user access to it, "
                               f"or {DATABASE_SETTING}.") from None
    if header.startswith(SQLITE_MAGIC):
        raise DatabaseUnusable(f"The database {path} is an SQLite file, not a Tracking Desk database: "
                               f"{DATABASE_SETTING} (a new one is created there).")
    if header[8:12] != DUCKDB_MAGIC:
        raise DatabaseUnusable(f"The database {path} is not a Tracking Desk database (not a DuckDB file): "
                               f"{DATABASE_SETTING} (a new one is created there), or move this file away.")


def _unusable(path: Path, error: duckdb.Error) -> DatabaseUnusable:
    reason = str(error).splitlines()[0].removeprefix("IO Error: ")
    if "permission denied" in reason.lower():
        return DatabaseUnusable(f"The database {path} cannot be opened for writing (permission denied): give this "
                                f"user write access to it and its folder, or {DATABASE_SETTING}.")
    return DatabaseUnusable(f"The database {path} cannot be opened ({reason[:200]}): {DATABASE_SETTING}.")


def _open(path: Path, wait_seconds: float) -> tuple[duckdb.DuckDBPyConnection, float]:
    """A connection, and when the attempt that got it began (time.time(): the file is held from then on)."""
    _check_file(path)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            attempt = time.time()
            return duckdb.connect(str(path), config=DUCKDB_CONFIG), attempt
        except (duckdb.IOException, duckdb.ResourceInUseException) as e:
            if not _is_lock_error(e):
                raise _unusable(path, e) from None
            if time.monotonic() >= deadline:
                raise DatabaseBusy(
                    f"The database {path.name} is in use by another program (a sync or push from the "
                    f"command line, or another dashboard) and stayed busy for {wait_seconds:.0f} s. "
                    "Try again when it has finished.") from None
            time.sleep(0.2)


@contextmanager
def connect(path: Path | str | None = None, *, wait_seconds: float = LOCK_WAIT_SECONDS, purpose: str = "query",
            compact: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the database for one operation, migrated to the current schema, and close it after.

    `purpose` names the operation in the hold log (see the module's docstring). Closing after a write
    checkpoints, and a checkpoint also compacts the row groups that have deleted rows: `compact=False` leaves
    that to the next write that allows it, for a run of small writes that must each hold the file briefly (a
    push's batches: every 20th or so compacted line_rules and line_tracking, 0.2-0.3 s)."""
    path = Path(path) if path else config.db_path()
    con, opened = _open(path, wait_seconds)
    try:
        if path not in _migrated:
            apply_migrations(con)
            _migrated.add(path)
        if not compact:
            con.execute(NO_COMPACTION)
        yield con
    finally:
        con.close()
        _log_hold(purpose, opened)


class Hold(NamedTuple):
    pid: int
    opened: float  # time.time()
    seconds: float
    purpose: str


def _log_hold(purpose: str, opened: float) -> None:
    if log := os.environ.get(HOLD_LOG_VARIABLE):
        with open(log, "a") as out:  # one short append: whole lines, even from several processes
            out.write(f"{os.getpid()}\t{opened:.6f}\t{time.time() - opened:.6f}\t{purpose}\n")


def holds(log: Path | str) -> list[Hold]:
    """The hold log's records, in the order the holds ended."""
    rows = [line.split("\t") for line in Path(log).read_text().splitlines() if line]
    return [Hold(int(pid), float(opened), float(seconds), purpose) for pid, opened, seconds, purpose in rows]


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One all-or-nothing write: commits and bumps `data_version`, or rolls back on any error."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("UPDATE data_version SET version = version + 1")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


# Keys compared as text: a line id is a UUID in the mirror and a string elsewhere (migration 0018).
DELETE_AT = """DELETE FROM {table}
    WHERE rowid IN (SELECT unnest($rows::BIGINT[])) AND {key}::VARCHAR IN (SELECT unnest($keys::VARCHAR[]))"""
DELETE_KEYS = "DELETE FROM {table} WHERE {key}::VARCHAR IN (SELECT unnest($keys::VARCHAR[]))"


def delete_at(con: duckdb.DuckDBPyConnection, table: str, key: str, keys: list[str], rows: list[int]) -> None:
    """Delete every row of `table` whose `key` is among `keys`, which were found at `rows` (their rowids) and
    nothing since has added: read by position, a few row groups, instead of a scan of the whole table (a push's
    batch: core/landed_rules.py). Any not found there (moved by a compaction) are deleted by key."""
    names = {"table": identifier(table), "key": identifier(key)}
    (found,), = con.execute(DELETE_AT.format(**names), {"rows": rows, "keys": keys}).fetchall()
    if found != len(rows):
        con.execute(DELETE_KEYS.format(**names), {"keys": keys})


def mirror_line_ids(param: str) -> str:
    """SQL for the line ids bound to `param` as strings, typed as the mirror keeps them (UUID, migration 0018), for
    `invoice_lines.line_id IN (...)`. A string that is not a GUID matches no line."""
    return f"SELECT TRY_CAST(unnest({param}::VARCHAR[]) AS UUID)"


def data_version(con: duckdb.DuckDBPyConnection) -> int:
    (version,), = con.execute("SELECT version FROM data_version").fetchall()  # fetched to its end: `con` is free
    return version


def identifier(name: str) -> str:
    """`name` quoted as a DuckDB identifier: how a table or column name from a fixed list is spliced into SQL
    (values are always bound as parameters, never spliced)."""
    return '"' + name.replace('"', '""') + '"'


def dicts(result: duckdb.DuckDBPyConnection) -> list[dict]:
    """The rows of an executed query as dicts, column name → value."""
    names = [d[0] for d in result.description]
    return [dict(zip(names, row)) for row in result.fetchall()]


def base_currency(con: duckdb.DuckDBPyConnection) -> str | None:
    """The organisation's base currency, e.g. "NZD"; None before the first sync."""
    row = con.execute("SELECT base_currency FROM organisation LIMIT 1").fetchone()
    return row[0] if row else None


def last_sync(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the last sync started; None when the database has never been synced."""
    (last,), = con.execute("SELECT max(synced_at) FROM sync_state").fetchall()
    return last
