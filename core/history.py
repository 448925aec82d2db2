"""The change log, for people: who changed what and when, newest first, and its CSV download; settings
changes, pushes and undos together in one list (`events`); one push's lines (`push_log`); one invoice
line's own history (`line_history`). Everything names things as people know them, not by their ids."""
from datetime import datetime

import duckdb
import pandas as pd

from core import csv_out, push, push_words, rules, slots, store

ENTITIES = {"client": "Client", "service": "Service", "team_member": "Team member", "line": "Line override",
            "slot": "Slot map"}
# The change log's field names (core/edits.py, core/slots.py) in words; tc1/tc2 get their category's name.
FIELD_WORDS = {"owner": "Owner", "consolidate": "Consolidate lines", "alignment_fee": "Alignment fee",
               "name": "Name", "email": "Email", "note": "Note", "Tracking category": "Tracking category"}
PUSH_KINDS = {"push": "Push", "undo": "Undo"}
RESULT_WORDS = {"landed": "Done in Xero", "conflict": "Skipped: changed in Xero since the last sync",
                "locked": "Left alone: invoice locked", "failed": "Failed", "not sent": "Not sent",
                "planned": "Not sent", "sending": "Being sent", "in doubt": "Xero's answer lost: asking Xero next",
                "not landed": "Did not land (answer lost; Xero asked again)"}
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
       ON h.entity = 'line' AND l.line_id = TRY_CAST(h.entity_id AS UUID)
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
    return csv_out.write(HEADERS, ([_text(cell) for cell in row] for row in rows)).encode("utf-8-sig")


def _text(cell: object) -> str | None:
    if cell is None:
        return None
    if hasattr(cell, "isoformat"):
        return cell.isoformat(sep=" ", timespec="seconds")
    return str(cell)


def field_words(field: str, slot_names: dict[int, str | None]) -> str:
    """"tc2" → "Tracking Category 2 (Department)"; the other fields as people say them."""
    if field in ("tc1", "tc2"):
        slot = int(field[2])
        return slots.label(slot, slot_names.get(slot))
    return FIELD_WORDS.get(field, field.replace("_", " ").capitalize())


def source_words(source: str) -> str:
    if source == "ui":
        return "Dashboard"
    if source == "cli":
        return "Command line"
    if source.startswith("import:"):
        return f"CSV import ({source.removeprefix('import:')})"
    if source.startswith("retire:"):
        return f"Retire option ({source.removeprefix('retire:')})"
    return source


def change_words(field: str, old: str | None, new: str | None) -> str:
    return f"{field}: {old or '(none)'} → {new or '(none)'}"


EVENT_KINDS = {**ENTITIES, **PUSH_KINDS}


def events(con: duckdb.DuckDBPyConnection, kind: str | None = None, person: str | None = None,
           limit: int = 1000) -> list[dict]:
    """Settings changes, pushes and undos, newest first: when, who, from where, what, its name and the
    change in words; `push_id` set on pushes and undos. `kind` an entity of ENTITIES or "push"/"undo"."""
    names = slots.names(con)
    found = []
    if kind not in PUSH_KINDS:
        for row in changes(con, kind, person, limit).to_dict("records"):
            field = field_words(row["field"], names)
            found.append({"when": row["changed_at"], "who": row["changed_by"], "source": source_words(row["source"]),
                          "what": ENTITIES.get(row["entity"], row["entity"]), "name": row["name"],
                          "change": change_words(field, row["old_value"], row["new_value"]), "push_id": None})
    if kind is None or kind in PUSH_KINDS:
        for row in push.history(con, limit):
            if (kind is None or row["kind"] == kind) and (person is None or row["pushed_by"] == person):
                found.append({"when": row["started_at"], "who": row["pushed_by"], "source": "",
                              "what": PUSH_KINDS.get(row["kind"], row["kind"]),
                              "name": row["title"],
                              "change": push.history_words(row), "push_id": row["push_id"]})
    return sorted(found, key=lambda e: e["when"] or datetime.min, reverse=True)[:limit]


# One push's lines as people read them: invoice, line, category, option before → after, what happened.
PUSH_LOG = """
SELECT coalesce(i.number, p.invoice_id) AS invoice, """ + rules.document_noun_sql("i.type") + """ AS document,
       coalesce(c.name, i.contact_id) AS client,
       l.position + 1 AS line, l.description, coalesce(k.name, p.category_id) AS category,
       coalesce(b.name, p.before_option_id) AS before, coalesce(a.name, p.after_option_id) AS after,
       p.result, p.message
FROM push_lines p
LEFT JOIN invoices i ON i.invoice_id = p.invoice_id
LEFT JOIN contacts c ON c.contact_id = i.contact_id
LEFT JOIN invoice_lines l ON l.line_id = p.line_id
LEFT JOIN tracking_categories k ON k.category_id = p.category_id
LEFT JOIN tracking_options b ON b.option_id = p.before_option_id
LEFT JOIN tracking_options a ON a.option_id = p.after_option_id
WHERE p.push_id = $push_id
ORDER BY list_position(['failed', 'not sent', 'sending', 'planned', 'conflict', 'landed', 'locked'], p.result),
         i.number, p.invoice_id, l.position, p.slot
"""
PUSH_LOG_HEADERS = {"invoice": "Invoice", "client": "Client", "line": "Line", "description": "Description",
                    "category": "Tracking category", "before": "Before", "after": "After", "outcome": "Outcome",
                    "message": "Xero's message", "document": "Document"}


def push_log(con: duckdb.DuckDBPyConnection, push_id: int) -> list[dict]:
    """Every line of one push or undo: its option before → after in each category and the outcome, in words."""
    return [{**{k: v for k, v in row.items() if k != "result"}, "outcome": RESULT_WORDS.get(row["result"],
                                                                                           row["result"])}
            for row in store.dicts(con.execute(PUSH_LOG, {"push_id": push_id}))]


def push_log_csv(con: duckdb.DuckDBPyConnection, push_id: int) -> bytes:
    """`push_log` as UTF-8 CSV with a BOM for Excel, formula-like cells neutralised."""
    rows = ([_text(row[key]) for key in PUSH_LOG_HEADERS] for row in push_log(con, push_id))
    return csv_out.write(PUSH_LOG_HEADERS.values(), rows).encode("utf-8-sig")


# A line's own history: its overrides, its client's and its service's settings, and the pushes that touched it.
LINE_HISTORY = """
SELECT h.changed_at AS "when", h.changed_by AS who, h.entity, h.field, h.old_value, h.new_value,
       NULL AS push_id, NULL AS kind, NULL AS undo_of, NULL AS category, NULL AS result
FROM change_log h, (SELECT r.contact_id, l.item_code FROM line_rules r JOIN invoice_lines l USING (line_id)
                    WHERE r.line_id = $line_id) me
WHERE (h.entity = 'line' AND h.entity_id = $line_id) OR (h.entity = 'client' AND h.entity_id = me.contact_id)
   OR (h.entity = 'service' AND h.entity_id = me.item_code)
UNION ALL
SELECT u.started_at, u.pushed_by, NULL, NULL, coalesce(b.name, p.before_option_id), coalesce(a.name, p.after_option_id),
       u.push_id, u.kind, u.undo_of, coalesce(k.name, p.category_id), p.result
FROM push_lines p JOIN pushes u USING (push_id)
LEFT JOIN tracking_categories k ON k.category_id = p.category_id
LEFT JOIN tracking_options b ON b.option_id = p.before_option_id
LEFT JOIN tracking_options a ON a.option_id = p.after_option_id
WHERE p.line_id = $line_id
ORDER BY 1 DESC
"""


def line_history(con: duckdb.DuckDBPyConnection, line_id: str) -> list[dict]:
    """Newest first, in words: who changed this line's override, its client's or its service's settings,
    and each push or undo that sent it (before → after, and what happened)."""
    names = slots.names(con)
    said = []
    for row in store.dicts(con.execute(LINE_HISTORY, {"line_id": line_id})):
        if row["push_id"] is None:
            what = {"line": "This line's override", "client": "The client's settings",
                    "service": "The service's settings"}[row["entity"]]
            change = change_words(field_words(row["field"], names), row["old_value"], row["new_value"])
        else:
            what = push_words.title(row["kind"], row["push_id"], row["undo_of"])
            change = (f"{change_words(row['category'], row['old_value'], row['new_value'])} · "
                      f"{RESULT_WORDS.get(row['result'], row['result'])}")
        said.append({"when": row["when"], "who": row["who"], "what": what, "change": change})
    return said
