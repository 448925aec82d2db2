"""Xero → the DuckDB mirror: organisation, tracking categories, contacts, items, sales invoices and sales
credit notes (kept beside the invoices, in their shape: core/credit_notes.py).

Every page Xero sends is typed into a stage table as it arrives (compact, and money never
passes through floats). The stage is a scratch DuckDB file beside the database, deleted after
the sync, so the database itself is not held while Xero is read: the dashboard and a push go
on working. Only when all reads have succeeded is the mirror rewritten from the stage, in one
short transaction. So a Xero failure half-way leaves the previous mirror as it was. A database
mirrors one organisation: a connection to another is refused before anything is written. The first sync (or `full=True`) reads everything; later ones read what changed since
the latest UpdatedDateUTC seen per entity (If-Modified-Since).
"""
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import duckdb
import pyarrow as pa

from core import config, credit_notes, push, rules, store
from core.xero.errors import XeroBadResponse
from core.xero.gateway import Gateway, Page

INCREMENTAL_ENTITIES = ("contacts", "items", "invoices", "credit_notes")
ALLOCATIONS = ("Payments", "CreditNotes", "Prepayments", "Overpayments", "Allocations")
DOCUMENT_TYPES = ("ACCREC", rules.CREDIT_NOTE)

Progress = Callable[[str, int, int | None], None]

# --- SQL: every statement the sync runs. Values are bound ($name or ?), never formatted in. Formatted in are
# only names from this module's COLUMNS and KEYS or rules.SETTINGS_TABLES, each quoted by store.identifier, the
# stage's column types read from the mirror's own catalog, and {scope}, one of the conditions of _deletion_scope.

HELD_ORGANISATION = "SELECT organisation_id, name FROM organisation LIMIT 1"
COLUMN_TYPES = """
SELECT column_name, data_type FROM duckdb_columns()
WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?
ORDER BY column_index"""
MODIFIED_SINCE = "SELECT entity, modified_since FROM sync_state WHERE modified_since IS NOT NULL"
SETTINGS_ROWS = "SELECT * FROM {table}"

# The scratch database: a stage table typed like each mirror table ({columns}: name and type, from the mirror),
# the settings the rules read, and Xero's "/Date(ms)/" moments read by a macro.
CREATE_STAGE_TABLE = "CREATE TABLE {table} ({columns})"
CREATE_SETTINGS_TABLE = "CREATE TABLE {table} AS SELECT * FROM settings_rows"
XERO_MOMENT = r"""
CREATE OR REPLACE TEMP MACRO xero_moment(s) AS
    epoch_ms(CAST(nullif(regexp_extract(s, '/Date\((-?\d+)', 1), '') AS BIGINT))"""

# Each page, registered as `page`, into its stage table, typed as the mirror's.
STAGE = {
    "organisation": "INSERT INTO organisation BY NAME SELECT * FROM page",
    "tracking_categories": "INSERT INTO tracking_categories BY NAME SELECT * FROM page",
    "tracking_options": "INSERT INTO tracking_options BY NAME SELECT * FROM page",
    "contacts": """
INSERT INTO contacts BY NAME
SELECT contact_id, name, status, xero_moment(updated_utc) AS updated_utc FROM page""",
    "items": """
INSERT INTO items BY NAME
SELECT item_id, code, name, xero_moment(updated_utc) AS updated_utc FROM page""",
    "invoices": """
INSERT INTO invoices BY NAME
SELECT invoice_id, number, contact_id,
       CAST(xero_moment(date) AS DATE) AS date, CAST(xero_moment(due_date) AS DATE) AS due_date,
       status, line_amount_types, currency_code,
       CAST(coalesce(currency_rate, '1') AS DECIMAL(18, 10)) AS currency_rate,
       CAST(sub_total AS DECIMAL(18, 2)) AS sub_total, CAST(total_tax AS DECIMAL(18, 2)) AS total_tax,
       CAST(total AS DECIMAL(18, 2)) AS total, CAST(amount_due AS DECIMAL(18, 2)) AS amount_due,
       CAST(coalesce(amount_paid, '0') AS DECIMAL(18, 2)) AS amount_paid,
       CAST(coalesce(amount_credited, '0') AS DECIMAL(18, 2)) AS amount_credited,
       has_allocations, xero_moment(updated_utc) AS updated_utc,
       type, CAST(remaining_credit AS DECIMAL(18, 2)) AS remaining_credit
FROM page""",
    "invoice_lines": """
INSERT INTO invoice_lines BY NAME
SELECT line_id, invoice_id, position, description, item_code, account_code,
       CAST(quantity AS DECIMAL(18, 4)) AS quantity, CAST(unit_amount AS DECIMAL(18, 4)) AS unit_amount,
       CAST(line_amount AS DECIMAL(18, 2)) AS line_amount, tax_type,
       CAST(tax_amount AS DECIMAL(18, 2)) AS tax_amount,
       CAST(discount_rate AS DECIMAL(9, 4)) AS discount_rate,
       CAST(discount_amount AS DECIMAL(18, 2)) AS discount_amount
FROM page""",
    "line_tracking": "INSERT INTO line_tracking BY NAME SELECT * FROM page",
}
# The records staged on an earlier page that came again (registered as `repeated`), out of the stage.
UNSTAGE = {
    "contacts": "DELETE FROM contacts WHERE contact_id IN (SELECT id FROM repeated)",
    "invoices": """
DELETE FROM line_tracking WHERE line_id IN (
    SELECT line_id FROM invoice_lines WHERE invoice_id IN (SELECT id FROM repeated));
DELETE FROM invoice_lines WHERE invoice_id IN (SELECT id FROM repeated);
DELETE FROM invoices WHERE invoice_id IN (SELECT id FROM repeated)""",
}
REPEATED_KEY = "SELECT {keys} FROM {table} GROUP BY ALL HAVING count(*) > 1 LIMIT 1"
# Newest invoice first, in the scratch file while the database is free: the merge appends them in this order, and
# the rules keep the lines' order (core/rules.py INSERT_ALL), so the preview's newest pages read few row groups.
ORDER_STAGE_LINES = """
CREATE TABLE ordered_lines AS
SELECT l.* FROM invoice_lines l LEFT JOIN invoices i USING (invoice_id)
ORDER BY i.date DESC NULLS LAST, i.number DESC NULLS LAST, l.invoice_id, l.position;
DROP TABLE invoice_lines;
ALTER TABLE ordered_lines RENAME TO invoice_lines"""

# The merge, with the scratch database attached as `stage`, one table at a time. DuckDB deletes and re-inserts
# of indexed rows are slow (tens of seconds per million), so only what differs is touched: rows gone from Xero
# within {scope}, rows whose values changed, rows that are new.
ATTACH_STAGE = "ATTACH ? AS stage (READ_ONLY)"
DETACH_STAGE = "DETACH stage"
OTHER_ORGANISATION = """
SELECT held.name, connected.name FROM organisation AS held, stage.organisation AS connected
WHERE held.organisation_id <> connected.organisation_id"""
DELETE_GONE = """
DELETE FROM {table} AS t WHERE ({scope}) AND NOT EXISTS (SELECT 1 FROM stage.{table} AS s WHERE {key_match})"""
UPDATE_CHANGED = """
UPDATE {table} AS t SET {assignments} FROM stage.{table} AS s
WHERE {key_match} AND ({t_columns}) IS DISTINCT FROM ({s_columns})"""
INSERT_NEW = """
INSERT INTO {table} SELECT s.* FROM stage.{table} AS s
WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {key_match})"""
STAGED_LINES_AND_INVOICES = """
SELECT (SELECT count(*) FROM stage.invoice_lines), coalesce((SELECT list(invoice_id) FROM stage.invoices), [])"""
ENTITY_STATS = """
SELECT 'organisation' AS entity, count(*) AS row_count, NULL AS latest FROM organisation
UNION ALL SELECT 'tracking_categories', count(*), NULL FROM tracking_categories
UNION ALL SELECT 'contacts', count(*), max(updated_utc) FROM contacts
UNION ALL SELECT 'items', count(*), max(updated_utc) FROM items
UNION ALL SELECT 'invoices', count(*), max(updated_utc) FROM invoices WHERE type IS DISTINCT FROM 'ACCRECCREDIT'
UNION ALL SELECT 'credit_notes', count(*), max(updated_utc) FROM invoices WHERE type = 'ACCRECCREDIT'"""
SAVE_STATE = """
INSERT OR REPLACE INTO sync_state (entity, modified_since, synced_at, row_count, api_calls)
VALUES ($entity, $modified_since, $synced_at, $row_count, $api_calls)"""
RECORD_RUN = """
INSERT INTO sync_runs (started_at, finished_at, kind, outcome, api_calls, message)
VALUES ($started_at, $finished_at, $kind, $outcome, $api_calls, $message)"""


class OtherOrganisation(config.ConfigError):
    """The database mirrors another Xero organisation than the one connected: nothing is synced into it."""


@dataclass(frozen=True)
class SyncResult:
    full: bool
    counts: dict[str, int]  # records received this run, per entity (and "lines")
    api_calls: int
    seconds: float
    calls_per_entity: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        c = self.counts
        return (f"Synced {c['invoices']:,} invoices and {c['credit_notes']:,} credit notes ({c['lines']:,} lines), "
                f"{c['contacts']:,} contacts, "
                f"{c['items']:,} items, {c['tracking_categories']:,} tracking categories "
                f"in {self.seconds:.1f} s using {self.api_calls:,} API calls")


def sync(gw: Gateway, *, db: Path | str | None = None, full: bool = False,
         progress: Progress | None = None) -> SyncResult:
    """Mirror the organisation into the database `db` (default: the configured one).

    Raises XeroError (nothing written but the failed run) when Xero fails, and OtherOrganisation (nothing
    written at all) when the database holds another organisation. The database is held only for a short
    read before and the merge after, never while Xero is read (docs/architecture.md, "The database, held for
    moments")."""
    db = Path(db) if db else config.db_path()
    push.settle_in_doubt_unless_running(gw, db=db)
    started, clock, calls_before = _now(), time.perf_counter(), gw.api_calls
    with store.connect(db, purpose="sync: read state") as con:
        since = {} if full else _modified_since(con)
        held = con.execute(HELD_ORGANISATION).fetchone()
        types = {table: con.execute(COLUMN_TYPES, [table]).fetchall() for table in COLUMNS}
        settings = None if since else _settings(con)
    kind = "incremental" if since else "full"
    scratch = db.with_name(f"{db.stem}.sync-{os.getpid()}.duckdb")
    try:
        with _scratch(scratch, types) as stage:
            counts, calls = _read_all(stage, gw, since, held, progress or _no_progress)
            _refuse_repeated_keys(stage)
            stage.execute(ORDER_STAGE_LINES)
            if settings:
                _build_rules(stage, settings)
        with store.connect(db, purpose="sync: merge") as con:
            result = _merge(con, scratch, since, kind, started, calls, settings.version if settings else None,
                            lambda: SyncResult(kind == "full", counts, gw.api_calls - calls_before,
                                               time.perf_counter() - clock, calls))
        return result
    except OtherOrganisation:
        raise
    except Exception as error:
        with store.connect(db, purpose="sync: record failure") as con, store.transaction(con):
            _record_run(con, started, kind, "failed", gw.api_calls - calls_before, str(error))
        raise
    finally:
        for leftover in (scratch, scratch.with_name(scratch.name + ".wal")):
            leftover.unlink(missing_ok=True)


@contextmanager
def _scratch(path: Path, types: dict[str, list[tuple[str, str]]]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A scratch database beside the mirror, with an empty stage table typed like each mirror table:
    the pages go there, on disk, while the mirror is free for everyone else."""
    stage = duckdb.connect(str(path), config=store.SCRATCH_CONFIG)
    try:
        for table, columns in types.items():
            stage.execute(CREATE_STAGE_TABLE.format(
                table=store.identifier(table),
                columns=", ".join(f"{store.identifier(name)} {kind}" for name, kind in columns)))
        stage.execute(XERO_MOMENT)
        yield stage
    finally:
        stage.close()


def _merge(con, scratch: Path, since: dict[str, datetime], kind: str, started: datetime,
           calls: dict[str, int], rules_version: int | None, result: Callable[[], SyncResult]) -> SyncResult:
    """The stage into the mirror, with the sync state, the rules and the run's record: one transaction.

    `rules_version`: the data version of the settings the stage's own rules were built with, if it has them."""
    con.execute(ATTACH_STAGE, [str(scratch)])
    try:
        with store.transaction(con):
            _refuse_other_organisation(con.execute(OTHER_ORGANISATION).fetchone())
            touched = _write_mirror(con, since)
            _save_state(con, started, calls)
            _refresh_rules(con, touched, full=kind == "full",
                           built=rules_version is not None and rules_version == store.data_version(con))
            done = result()
            _record_run(con, started, kind, "ok", done.api_calls, done.summary())
        return done
    finally:
        con.execute(DETACH_STAGE)


class _Settings(NamedTuple):
    version: int  # the database's data version when they were read
    tables: dict[str, pa.Table]


def _settings(con) -> _Settings:
    """The settings the rules read, to decide every line in the scratch file while the database is free."""
    reader = con.cursor()  # a relation's own connection: `con` may hold a result not fetched to its end
    return _Settings(store.data_version(con),
                     {table: reader.sql(SETTINGS_ROWS.format(table=store.identifier(table))).to_arrow_table()
                      for table in rules.SETTINGS_TABLES})


def _build_rules(stage, settings: _Settings) -> None:
    """A full stage is the whole mirror to be: its rules are decided here, outside the merge, which takes them
    if the settings have not changed meanwhile (else it decides them itself)."""
    for table, rows in settings.tables.items():
        stage.register("settings_rows", rows)
        try:
            stage.execute(CREATE_SETTINGS_TABLE.format(table=store.identifier(table)))
        finally:
            stage.unregister("settings_rows")
    rules.build(stage)


# --- reading -------------------------------------------------------------------------------

def _read_all(stage, gw: Gateway, since: dict[str, datetime], held: tuple[str, str] | None, progress: Progress):
    counts, calls = {}, {}

    def read(entity: str, reader: Callable[[], int]) -> None:
        before = gw.api_calls
        try:
            counts[entity] = reader()
        except (KeyError, TypeError, AttributeError) as error:
            raise XeroBadResponse(f"Xero sent {entity.replace('_', ' ')} in a shape we cannot read "
                                  f"({type(error).__name__}: {error}).") from None
        calls[entity] = gw.api_calls - before

    def read_organisation() -> int:
        connected = _organisation_row(gw.organisation())
        if held and held[0] != connected[0]:
            _refuse_other_organisation((held[1], connected[1]))
        return _stage(stage, "organisation", [connected])

    read("organisation", read_organisation)
    read("tracking_categories", lambda: _read_tracking(stage, gw, progress))
    read("contacts", lambda: _read_contacts(stage, gw.contacts(since.get("contacts")), progress))
    read("items", lambda: _read_items(stage, gw, since.get("items"), progress))
    lines = [0]
    seen: set[str] = set()
    read("invoices", lambda: _read_documents(stage, "invoices", gw.invoices(since.get("invoices")), progress,
                                             lines, seen))
    read("credit_notes", lambda: _read_documents(
        stage, "credit_notes", credit_notes.invoice_pages(gw.credit_notes(since.get("credit_notes"))), progress,
        lines, seen))
    counts["lines"] = lines[0]
    return counts, calls


def _refuse_other_organisation(other: tuple[str, str] | None) -> None:
    """Another organisation's contacts and invoices must never land in this one's mirror and settings.

    `other`: the names of the organisation held and of the one connected, when they differ."""
    if other:
        held, connected = other
        raise OtherOrganisation(
            f"This database holds the data of ‘{held}’, but the connection to Xero is to ‘{connected}’. Nothing was "
            f"synced. To work with {connected}, start the app with a database file of its own (set "
            f"TRACKING_DB=/path/to/another.duckdb; its first sync fills it); to go on with {held}, connect to it "
            "again.")


def _read_tracking(con, gw: Gateway, progress: Progress) -> int:
    categories = gw.tracking_categories()
    _stage(con, "tracking_categories", [
        (c["TrackingCategoryID"], c["Name"], c["Status"], position) for position, c in enumerate(categories)])
    _stage(con, "tracking_options", [
        (o["TrackingOptionID"], c["TrackingCategoryID"], o["Name"], o["Status"])
        for c in categories for o in c.get("Options") or []])
    progress("tracking_categories", len(categories), len(categories))
    return len(categories)


def _read_items(con, gw: Gateway, modified_since, progress: Progress) -> int:
    items = gw.items(modified_since)
    _stage(con, "items", [(i["ItemID"], i["Code"], i.get("Name"), i.get("UpdatedDateUTC")) for i in items])
    progress("items", len(items), len(items))
    return len(items)


def _read_contacts(con, pages, progress: Progress) -> int:
    done, seen = 0, set()
    for page in pages:
        rows = [(c["ContactID"], c["Name"], c.get("ContactStatus"), c.get("UpdatedDateUTC")) for c in page]
        _unstage_repeats(con, "contacts", seen, [row[0] for row in rows])
        _stage(con, "contacts", rows)
        done += len(page)
        progress("contacts", done, page.item_count)
    return done


def _read_documents(con, entity: str, pages: Iterator[Page], progress: Progress, lines: list[int],
                    seen: set[str]) -> int:
    """Invoices, or credit notes in the invoice's shape, page by page into the stage's invoice tables."""
    done = 0
    for page in pages:
        invoices, invoice_lines, tracking = _invoice_rows(page)
        _unstage_repeats(con, "invoices", seen, [row[0] for row in invoices])
        _stage(con, "invoices", invoices)
        _stage(con, "invoice_lines", invoice_lines)
        _stage(con, "line_tracking", tracking)
        done += len(page)
        lines[0] += len(invoice_lines)
        progress(entity, done, page.item_count)
    return done


def _refuse_repeated_keys(stage) -> None:
    """The mirror's big tables have no unique index (core/store.py): two records with one key are refused here."""
    for table, keys in KEYS.items():
        repeated = stage.execute(REPEATED_KEY.format(
            table=store.identifier(table), keys=", ".join(map(store.identifier, keys)))).fetchone()
        if repeated:
            raise XeroBadResponse(f"Xero sent records that contradict each other: two {table.replace('_', ' ')} "
                                  f"with the key {', '.join(map(str, repeated))}.")


# --- Xero records → rows (strings for money and dates; the stage SQL types them) --------------

COLUMNS = {
    "organisation": ("organisation_id", "name", "base_currency", "country_code"),
    "tracking_categories": ("category_id", "name", "status", "position"),
    "tracking_options": ("option_id", "category_id", "name", "status"),
    "contacts": ("contact_id", "name", "status", "updated_utc"),
    "items": ("item_id", "code", "name", "updated_utc"),
    "invoices": ("invoice_id", "number", "contact_id", "date", "due_date", "status", "line_amount_types",
                 "currency_code", "currency_rate", "sub_total", "total_tax", "total", "amount_due",
                 "amount_paid", "amount_credited", "has_allocations", "updated_utc", "type", "remaining_credit"),
    "invoice_lines": ("line_id", "invoice_id", "position", "description", "item_code", "account_code",
                      "quantity", "unit_amount", "line_amount", "tax_type", "tax_amount",
                      "discount_rate", "discount_amount"),
    "line_tracking": ("line_id", "category_id", "option_id", "category_name", "option_name"),
}
TYPES = {"position": pa.int32(), "has_allocations": pa.bool_()}
KEYS = {"organisation": ("organisation_id",), "tracking_categories": ("category_id",),
        "tracking_options": ("option_id",), "contacts": ("contact_id",), "items": ("item_id",),
        "invoices": ("invoice_id",), "invoice_lines": ("line_id",), "line_tracking": ("line_id", "category_id")}
# Tracking before lines: an incremental sync finds the tracking to drop through the mirror's lines.
MERGE_ORDER = ("organisation", "tracking_categories", "tracking_options", "contacts", "items",
               "line_tracking", "invoice_lines", "invoices")
MERGE_STEPS = {"delete_gone": DELETE_GONE, "update_changed": UPDATE_CHANGED, "insert_new": INSERT_NEW}
RULES_SCOPED_LINES = 5000  # beyond this many changed lines one refresh of all lines is quicker
ENTITY_OF = {"tracking_options": "tracking_categories", "invoice_lines": "invoices", "line_tracking": "invoices"}
# An incremental page holds every line of each invoice in it: their other lines are gone.
STAGED_INVOICES = "SELECT invoice_id FROM stage.invoices"
INCREMENTAL_SCOPES = {
    "invoice_lines": f"t.invoice_id IN ({STAGED_INVOICES})",
    "line_tracking": f"t.line_id IN (SELECT line_id FROM invoice_lines WHERE invoice_id IN ({STAGED_INVOICES}))",
}


def _organisation_row(org: dict) -> tuple:
    return org["OrganisationID"], org["Name"], org.get("BaseCurrency"), org.get("CountryCode")


def _text(value) -> str | None:
    return None if value is None else str(value)


def _invoice_rows(page: list[dict]) -> tuple[list, list, list]:
    invoices, lines, tracking = [], [], []
    for invoice in page:
        if invoice.get("Type", "ACCREC") not in DOCUMENT_TYPES:
            continue
        invoice_id = invoice["InvoiceID"]
        invoices.append((
            invoice_id, invoice.get("InvoiceNumber"), (invoice.get("Contact") or {}).get("ContactID"),
            invoice.get("Date"), invoice.get("DueDate"), invoice.get("Status"), invoice.get("LineAmountTypes"),
            invoice.get("CurrencyCode"), _text(invoice.get("CurrencyRate")), _text(invoice.get("SubTotal")),
            _text(invoice.get("TotalTax")), _text(invoice.get("Total")), _text(invoice.get("AmountDue")),
            _text(invoice.get("AmountPaid")), _text(invoice.get("AmountCredited")),
            any(invoice.get(kind) for kind in ALLOCATIONS), invoice.get("UpdatedDateUTC"),
            invoice.get("Type", "ACCREC"), _text(invoice.get("RemainingCredit"))))
        for position, line in enumerate(invoice.get("LineItems") or []):
            line_id = line["LineItemID"]
            lines.append((
                line_id, invoice_id, position, line.get("Description"), line.get("ItemCode"),
                line.get("AccountCode"), _text(line.get("Quantity")), _text(line.get("UnitAmount")),
                _text(line.get("LineAmount")), line.get("TaxType"), _text(line.get("TaxAmount")),
                _text(line.get("DiscountRate")), _text(line.get("DiscountAmount"))))
            for tag in line.get("Tracking") or []:
                tracking.append((line_id, tag["TrackingCategoryID"], tag.get("TrackingOptionID"),
                                 tag.get("Name"), tag.get("Option")))
    return invoices, lines, tracking


def _unstage_repeats(con, entity: str, seen: set[str], ids: list[str]) -> None:
    """A record edited while Xero pages through a list can move to a later page and come twice:
    the later copy wins."""
    repeated = seen.intersection(ids)
    seen.update(ids)
    if not repeated:
        return
    con.register("repeated", pa.table({"id": pa.array(sorted(repeated), pa.string())}))
    try:
        con.execute(UNSTAGE[entity])
    finally:
        con.unregister("repeated")


def _stage(con, table: str, rows: list[tuple]) -> int:
    if not rows:
        return 0
    columns = COLUMNS[table]
    try:
        page = pa.table({name: pa.array(values, TYPES.get(name, pa.string()))
                         for name, values in zip(columns, zip(*rows))})
        con.register("page", page)
        con.execute(STAGE[table])
    except (pa.ArrowException, duckdb.ConversionException, duckdb.InvalidInputException,
            duckdb.ConstraintException) as error:
        reason = str(error).splitlines()[0]  # DuckDB's next lines quote our SQL
        raise XeroBadResponse(f"Xero sent {table.replace('_', ' ')} we cannot read: {reason}") from None
    finally:
        con.unregister("page")
    return len(rows)


# --- writing -------------------------------------------------------------------------------

def _write_mirror(con, since: dict[str, datetime]) -> dict[tuple[str, str], int]:
    """Merge every stage table into the mirror; returns the rows touched per (table, step)."""
    touched = {}
    try:
        for table in MERGE_ORDER:
            for step in MERGE_STEPS:
                sql = _merge_sql(step, table, _deletion_scope(table, since))
                touched[table, step] = con.execute(sql).fetchone()[0]
    except duckdb.ConstraintException as error:
        raise XeroBadResponse(f"Xero sent records that contradict each other: {error}") from None
    return touched


def _refresh_rules(con, touched: dict[tuple[str, str], int], *, full: bool, built: bool) -> None:
    """Recompute the rules of the lines this sync changed, or of every line when that is simpler; or, after a
    full sync whose stage has its rules `built` with the settings in force, take those."""
    if not any(touched.values()):
        return
    if built:
        rules.take(con, "stage")
        return
    lines, invoice_ids = con.execute(STAGED_LINES_AND_INVOICES).fetchone()
    everything = (full or lines > RULES_SCOPED_LINES or touched["invoice_lines", "delete_gone"]
                  or any(touched[table, step] for table in ("tracking_categories", "tracking_options")
                         for step in MERGE_STEPS))
    if everything:
        rules.refresh(con)
    else:
        rules.refresh_for(con, invoice_ids=invoice_ids)  # no line is gone: the invoices' lines are all there


def _deletion_scope(table: str, since: dict[str, datetime]) -> str:
    """Which mirror rows this sync has seen all of, so that those it did not get are gone from Xero."""
    if ENTITY_OF.get(table, table) not in since:
        return "true"
    return INCREMENTAL_SCOPES.get(table, "false")


def _merge_sql(step: str, table: str, scope: str) -> str:
    keys = [store.identifier(k) for k in KEYS[table]]
    values = [store.identifier(c) for c in COLUMNS[table] if c not in KEYS[table]]
    return MERGE_STEPS[step].format(
        table=store.identifier(table), scope=scope,
        key_match=" AND ".join(f"s.{k} = t.{k}" for k in keys),
        assignments=", ".join(f"{c} = s.{c}" for c in values),
        t_columns=", ".join(f"t.{c}" for c in values), s_columns=", ".join(f"s.{c}" for c in values))


def _save_state(con, started: datetime, calls: dict[str, int]) -> None:
    for entity, row_count, latest in con.execute(ENTITY_STATS).fetchall():
        modified_since = (latest or started) if entity in INCREMENTAL_ENTITIES else None
        con.execute(SAVE_STATE, {"entity": entity, "modified_since": modified_since, "synced_at": started,
                                 "row_count": row_count, "api_calls": calls.get(entity, 0)})


def _record_run(con, started: datetime, kind: str, outcome: str, api_calls: int, message: str) -> None:
    con.execute(RECORD_RUN, {"started_at": started, "finished_at": _now(), "kind": kind,
                             "outcome": outcome, "api_calls": api_calls, "message": message})


def _modified_since(con) -> dict[str, datetime]:
    return {entity: moment.replace(tzinfo=UTC)
            for entity, moment in con.execute(MODIFIED_SINCE).fetchall()
            if entity in INCREMENTAL_ENTITIES}


def _now() -> datetime:
    """UTC, naive: how the database stores moments."""
    return datetime.now(UTC).replace(tzinfo=None)


def _no_progress(entity: str, done: int, total: int | None) -> None:
    pass
