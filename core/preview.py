"""The preview: what the rules would do to each line, filtered, totalled, paged and exported.

Everything reads `line_rules` (materialised by `core.rules`), so a page of rows or the totals
cost one scan of that table, and the names people read are joined onto one page only.
"""
from dataclasses import dataclass, fields
from datetime import date

import duckdb

from core import csv_out, rules, statuses, store

PAGE_SIZE = 500


@dataclass(frozen=True)
class Filters:
    """Which lines to show; None means any. `source` matches either slot's source label."""
    contact_id: str | None = None
    invoice_id: str | None = None
    invoice_number: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    invoice_status: str | None = None
    line_status: str | None = None
    source: str | None = None
    unassigned_in: int | None = None  # lines that count as revenue (AUTHORISED, PAID) with no option in this slot


# One condition per filter; a filter that is set adds its condition, its value as a parameter.
CONDITIONS = {
    "contact_id": "r.contact_id = $contact_id",
    "invoice_id": "r.invoice_id = $invoice_id",
    "invoice_number": "r.invoice_number = $invoice_number",
    "date_from": "r.invoice_date >= $date_from",
    "date_to": "r.invoice_date <= $date_to",
    "invoice_status": "r.invoice_status = $invoice_status",
    "line_status": "r.status = $line_status",
    "source": "(r.tc1_source = $source OR r.tc2_source = $source)",
    "unassigned_in": f"""(r.invoice_status IN ({statuses.sql_list(statuses.REVENUE)})
                         AND CASE $unassigned_in WHEN 1 THEN r.tc1_current_option_id
                                                 ELSE r.tc2_current_option_id END IS NULL)""",
}
LINE_ORDER = "r.invoice_date DESC, r.invoice_number DESC, r.invoice_id, r.position"

TOTALS = "SELECT r.status, count(*) FROM line_rules r {where} GROUP BY r.status"
TOTALS_BY_SOURCE = """
SELECT 1 AS slot, r.tc1_source AS source, count(*) FROM line_rules r {where} GROUP BY r.tc1_source
UNION ALL
SELECT 2, r.tc2_source, count(*) FROM line_rules r {where} GROUP BY r.tc2_source
ORDER BY slot, source
"""
# The columns of a preview row, in the order people read them (the CSV and the command line too).
LINE_COLUMNS = f"""
    r.invoice_number, {rules.document_noun_sql("r.invoice_type")} AS document, c.name AS client_name, r.invoice_date, r.invoice_status, r.position,
    r.description, r.line_amount,
    r.tc1_current_name, w1.name AS tc1_wanted_name, r.tc1_source,
    r.tc2_current_name, w2.name AS tc2_wanted_name, r.tc2_source,
    r.status, {rules.SHOWN_REASON} AS reason
"""
LINE_KEYS = """
    r.line_id, r.invoice_id, r.contact_id,
    r.tc1_current_option_id, r.tc1_wanted_option_id, r.tc1_apply,
    r.tc2_current_option_id, r.tc2_wanted_option_id, r.tc2_apply,
    r.status = 'change' AND r.tc1_apply AND r.tc1_current_option_id IS DISTINCT FROM r.tc1_wanted_option_id
        AS tc1_changes,
    r.status = 'change' AND r.tc2_apply AND r.tc2_current_option_id IS DISTINCT FROM r.tc2_wanted_option_id
        AS tc2_changes,
    r.status = 'change' AND x.invoice_id IS NOT NULL AS may_be_refused
"""
# A page in two steps, each reading little: the page's rows picked by rowid from the few columns
# the filters and the order read, then only those rows read whole.
LINES = f"""
SELECT {LINE_COLUMNS}, {LINE_KEYS}
FROM line_rules r
LEFT JOIN contacts c ON c.contact_id = r.contact_id
{rules.JOIN_REFUSABLE}
{rules.JOIN_WANTED}
WHERE r.rowid IN (SELECT r.rowid FROM line_rules r {{where}} ORDER BY {LINE_ORDER} LIMIT $limit OFFSET $offset)
ORDER BY {LINE_ORDER}
"""
EXPORT = f"""
SELECT {LINE_COLUMNS}
FROM line_rules r
LEFT JOIN contacts c ON c.contact_id = r.contact_id
{rules.JOIN_REFUSABLE}
{rules.JOIN_WANTED}
{{where}}
ORDER BY {LINE_ORDER}
"""
INVOICES = """
WITH grouped AS (
    SELECT r.invoice_id, any_value(r.invoice_number) AS invoice_number, any_value(r.contact_id) AS contact_id,
           any_value(r.invoice_date) AS invoice_date, any_value(r.invoice_status) AS invoice_status,
           count(*) AS lines, sum(r.line_amount) AS amount,
           count(*) FILTER (r.status = 'same') AS same, count(*) FILTER (r.status = 'change') AS change,
           count(*) FILTER (r.status = 'blocked') AS blocked, count(*) FILTER (r.status = 'locked') AS locked,
           any_value(r.reason) FILTER (r.status = 'locked') AS locked_reason
    FROM line_rules r {where}
    GROUP BY r.invoice_id
)
SELECT g.invoice_id, g.invoice_number, c.name AS client_name, g.invoice_date, g.invoice_status,
       g.lines, g.amount, g.same, g.change, g.blocked, g.locked, g.locked_reason
FROM grouped g LEFT JOIN contacts c ON c.contact_id = g.contact_id
ORDER BY g.invoice_date DESC, g.invoice_number DESC, g.invoice_id
LIMIT $limit OFFSET $offset
"""
INVOICE_COUNT = "SELECT count(DISTINCT r.invoice_id) FROM line_rules r {where}"
# One line with the names its source labels point at, for core/explain.py.
LINE_DETAIL = f"""
SELECT {LINE_COLUMNS}, {LINE_KEYS},
       k1.name AS tc1_category_name, k2.name AS tc2_category_name,
       l.item_code, i.name AS service_name, coalesce(sv.alignment_fee, false) AS alignment_fee,
       m.name AS owner_name, coalesce(s.consolidate, false) AS consolidate, o.note AS override_note
FROM line_rules r
JOIN invoice_lines l ON l.line_id = r.line_id
LEFT JOIN contacts c ON c.contact_id = r.contact_id
{rules.JOIN_REFUSABLE}
{rules.JOIN_WANTED}
LEFT JOIN tracking_categories k1 ON k1.category_id = {rules.slot_category_sql(1)}
LEFT JOIN tracking_categories k2 ON k2.category_id = {rules.slot_category_sql(2)}
LEFT JOIN (SELECT code, min(name) AS name FROM items GROUP BY code) i ON i.code = l.item_code
LEFT JOIN services sv ON sv.item_code = l.item_code
LEFT JOIN client_settings s ON s.contact_id = r.contact_id
LEFT JOIN team_members m ON m.member_id = s.owner_id
LEFT JOIN line_overrides o ON o.line_id = r.line_id
WHERE r.line_id = $line_id
"""
CLIENTS = """
SELECT c.contact_id, c.name FROM contacts c
WHERE c.contact_id IN (SELECT contact_id FROM invoices)
ORDER BY c.name, c.contact_id
"""


def _where(filters: Filters) -> tuple[str, dict]:
    params = {f.name: getattr(filters, f.name) for f in fields(filters) if getattr(filters, f.name) is not None}
    return ("WHERE " + " AND ".join(CONDITIONS[name] for name in params) if params else ""), params


def totals(con: duckdb.DuckDBPyConnection, filters: Filters = Filters()) -> dict[str, int]:
    """Lines by status, every status present (0 when none)."""
    where, params = _where(filters)
    counts = dict(con.execute(TOTALS.format(where=where), params).fetchall())
    return {status: counts.get(status, 0) for status in rules.STATUSES}


def totals_by_source(con: duckdb.DuckDBPyConnection, filters: Filters = Filters()) -> dict[tuple[int, str], int]:
    """Lines by (slot, source label), for the labels that occur."""
    where, params = _where(filters)
    rows = con.execute(TOTALS_BY_SOURCE.format(where=where), params).fetchall()
    return {(slot, source): n for slot, source, n in rows}


def lines(con: duckdb.DuckDBPyConnection, filters: Filters = Filters(), *,
          limit: int = PAGE_SIZE, offset: int = 0) -> list[dict]:
    """One page of preview rows (amounts as Decimal), newest invoice first, lines in invoice order.

    Besides the columns people read, each row carries the ids (line, invoice, client, options)
    and `tcS_changes`: whether a push would write that slot (only on `change` lines, as the push plan).
    A `change` line of an invoice Xero may refuse (core/refusals.py) has `may_be_refused` true, and why as
    its reason.
    """
    where, params = _where(filters)
    return store.dicts(con.execute(LINES.format(where=where), {**params, "limit": limit, "offset": offset}))


def page(con: duckdb.DuckDBPyConnection, filters: Filters, number: int) -> list[dict]:
    """Page `number` (from 1) of `lines`, PAGE_SIZE rows a page."""
    return lines(con, filters, limit=PAGE_SIZE, offset=PAGE_SIZE * (number - 1))


def count(con: duckdb.DuckDBPyConnection, filters: Filters = Filters()) -> int:
    return sum(totals(con, filters).values())


def invoices(con: duckdb.DuckDBPyConnection, filters: Filters = Filters(), *,
             limit: int = PAGE_SIZE, offset: int = 0) -> list[dict]:
    """Invoices with at least one line the filters select, with those lines counted by status."""
    where, params = _where(filters)
    return store.dicts(con.execute(INVOICES.format(where=where), {**params, "limit": limit, "offset": offset}))


def invoice_page(con: duckdb.DuckDBPyConnection, filters: Filters, number: int) -> list[dict]:
    """Page `number` (from 1) of `invoices`, PAGE_SIZE invoices a page."""
    return invoices(con, filters, limit=PAGE_SIZE, offset=PAGE_SIZE * (number - 1))


def invoice_count(con: duckdb.DuckDBPyConnection, filters: Filters = Filters()) -> int:
    where, params = _where(filters)
    return con.execute(INVOICE_COUNT.format(where=where), params).fetchone()[0]


def line_detail(con: duckdb.DuckDBPyConnection, line_id: str) -> dict | None:
    """One line as `lines` gives it, with its categories' names and the names its source labels point
    at (service, owner, alignment fee, consolidation, override note); None when there is no such line."""
    found = store.dicts(con.execute(LINE_DETAIL, {"line_id": line_id}))
    return found[0] if found else None


def slot_cell(row: dict, slot: int) -> str:
    """A slot as the grid shows it: "Tax → Audit" where the rules want another option, else what Xero has."""
    now, wanted = row[f"tc{slot}_current_name"], row[f"tc{slot}_wanted_name"]
    if not row[f"tc{slot}_apply"] or row[f"tc{slot}_current_option_id"] == row[f"tc{slot}_wanted_option_id"]:
        return now or ""
    return f"{now or '(none)'} → {wanted or '(none)'}"


def clients(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(contact_id, name) of the clients that have invoices, by name: the client filter's choices."""
    return con.execute(CLIENTS).fetchall()


def export_rows(con: duckdb.DuckDBPyConnection, filters: Filters = Filters()) -> tuple[list[str], list[tuple]]:
    """Every line the filters select (not only one page): the column names and the rows."""
    where, params = _where(filters)
    result = con.execute(EXPORT.format(where=where), params)
    names = [d[0] for d in result.description]
    return names, result.fetchall()


def csv_bytes(con: duckdb.DuckDBPyConnection, filters: Filters = Filters()) -> bytes:
    """The lines the filters select as UTF-8 CSV, safe to open in Excel.

    A text cell a spreadsheet would run as a formula gets a leading apostrophe, as in every export
    (core/csv_out.py); amounts stay numbers.
    """
    return csv_out.write(*export_rows(con, filters)).encode("utf-8")
