"""The change log, for people: who changed what and when, newest first, and its CSV download."""
import csv
import io

import duckdb
import pandas as pd

from core.csv_templates import neutralise

ENTITIES = {"client": "Client", "service": "Service", "team_member": "Team member", "line": "Line override",
            "slot": "Slot map"}
COLUMNS = ["changed_at", "changed_by", "source", "entity", "entity_id", "name", "field", "old_value", "new_value"]
HEADERS = ["When (UTC)", "Who", "Source", "What", "ID", "Name", "Field", "Old", "New"]

# The name people know each entity by, joined from the mirror or the settings where it still exists.
CHANGES = """
SELECT h.changed_at, h.changed_by, h.source, h.entity, h.entity_id,
       coalesce(c.name, i.name, m.name, l.name,
                CASE WHEN h.entity = 'slot' THEN 'Tracking Category ' || h.entity_id END, h.entity_id) AS name,
       h.field, coalesce(h.old_value, '') AS old_value, coalesce(h.new_value, '') AS new_value
FROM change_log h
LEFT JOIN contacts c ON h.entity = 'client' AND c.contact_id = h.entity_id
LEFT JOIN (SELECT code, min(name) AS name FROM items GROUP BY code) i
       ON h.entity = 'service' AND i.code = h.entity_id
LEFT JOIN team_members m ON h.entity = 'team_member' AND CAST(m.member_id AS VARCHAR) = h.entity_id
LEFT JOIN (SELECT l.line_id, coalesce(v.number, v.invoice_id) || ' line ' || (l.position + 1) AS name
           FROM invoice_lines l JOIN invoices v USING (invoice_id)) l
       ON h.entity = 'line' AND l.line_id = h.entity_id
WHERE ($entity IS NULL OR h.entity = $entity) AND ($person IS NULL OR h.changed_by = $person)
ORDER BY h.change_id DESC
LIMIT $limit
"""
PEOPLE = "SELECT DISTINCT changed_by FROM change_log ORDER BY lower(changed_by)"
ENTITIES_LOGGED = "SELECT DISTINCT entity FROM change_log ORDER BY entity"


def changes(con: duckdb.DuckDBPyConnection, entity: str | None = None, person: str | None = None,
            limit: int | None = None) -> pd.DataFrame:
    """The change log, newest first, optionally only one kind of entity and/or one person's changes."""
    return con.execute(CHANGES, {"entity": entity, "person": person, "limit": limit}).df()


def people(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Everyone who has changed something."""
    return [name for (name,) in con.execute(PEOPLE).fetchall()]


def entities(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The kinds of entity the log holds changes of."""
    return [entity for (entity,) in con.execute(ENTITIES_LOGGED).fetchall()]


def csv_bytes(con: duckdb.DuckDBPyConnection, entity: str | None = None, person: str | None = None) -> bytes:
    """The filtered change log as UTF-8 CSV (with a BOM for Excel); a cell that a spreadsheet would
    run as a formula is neutralised."""
    rows = con.execute(CHANGES, {"entity": entity, "person": person, "limit": None}).fetchall()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADERS)
    writer.writerows([neutralise(_text(cell)) for cell in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def _text(cell: object) -> str | None:
    if cell is None:
        return None
    if hasattr(cell, "isoformat"):
        return cell.isoformat(sep=" ", timespec="seconds")
    return str(cell)
