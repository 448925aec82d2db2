"""The form beside the Clients, Services and Team grids: one record's saved values, each dropdown's
choices, what a draft would change, and which rule really decides a client's lines.

A dropdown offers "None" and the active options; an option a record still carries after it was
archived in Xero is offered too, by name with "(archived)", so the form shows what is set (saving
it unchanged keeps it; core/edits.py refuses to set it anew). A client's effective rules are
read from the source labels the rules stored for its lines (`line_rules`), not worked out again.
"""
from collections.abc import Mapping
from typing import Any

import duckdb

from core import catalog, edits, rules, settings_tables
from core.push_words import plural

RECORDS = {
    "client": """SELECT c.name, s.owner_id, s.tc1_option_id, s.tc2_option_id, coalesce(s.consolidate, false)
                 AS consolidate FROM contacts c LEFT JOIN client_settings s USING (contact_id)
                 WHERE c.contact_id = $key""",
    "service": """SELECT coalesce(i.name, i.code) AS name, s.tc2_option_id, coalesce(s.alignment_fee, false)
                  AS alignment_fee FROM (SELECT code, min(name) AS name FROM items GROUP BY code) i
                  LEFT JOIN services s ON s.item_code = i.code WHERE i.code = $key""",
    "team_member": "SELECT name, email, tc2_option_id FROM team_members WHERE member_id = $key",
}

# Per slot, the client's lines grouped by the rule that decided them (its source label), the option it
# gives, and the service that label points at.
CLIENT_RULES = f"""
WITH mine AS (
    SELECT r.*, w1.name AS tc1_wanted_name, w2.name AS tc2_wanted_name, l.item_code,
           coalesce(i.name, l.item_code) AS service, coalesce(sv.alignment_fee, false) AS fee
    FROM line_rules r JOIN invoice_lines l USING (line_id)
    {rules.JOIN_WANTED}
    LEFT JOIN (SELECT code, min(name) AS name FROM items GROUP BY code) i ON i.code = l.item_code
    LEFT JOIN services sv ON sv.item_code = l.item_code
    WHERE r.contact_id = $contact_id
)
SELECT 1 AS slot, tc1_source AS source, tc1_wanted_name AS option, NULL AS service, count(*) AS lines
FROM mine GROUP BY ALL
UNION ALL
SELECT 2, tc2_source, tc2_wanted_name, CASE WHEN tc2_source = 'service' OR fee THEN service END, count(*)
FROM mine GROUP BY ALL
ORDER BY slot, source IN ('client', 'owner', 'none', 'consolidated'), service, lines DESC
"""
# Sources that decide some lines (named first) and those that decide "everything else".
GENERAL = {"client": "client", "owner": "owner", "none": "none", "consolidated": "consolidated"}


def record(con: duckdb.DuckDBPyConnection, kind: str, key: Any) -> dict | None:
    """A client's (contact ID), service's (item code) or team member's (member id) saved values."""
    rows = con.execute(RECORDS[kind], {"key": key})
    names = [d[0] for d in rows.description]
    found = rows.fetchone()
    return dict(zip(names, found)) if found else None


def option_choices(con: duckdb.DuckDBPyConnection, slot: int, current: str | None = None) -> dict[str, str | None]:
    """Label → option id for a slot's dropdown: "None", the active options, and `current` if it is not active."""
    choices = settings_tables.slot_options(con, slot)
    if current is not None and current not in choices.values():
        _, name, status = catalog.read(con).options.get(current, (None, current, "DELETED"))
        choices[f"{name} ({status.lower()})"] = current
    return choices


def label_of(choices: Mapping[str, Any], value: Any) -> str:
    """The label a dropdown shows for a saved value."""
    return next(label for label, chosen in choices.items() if chosen == value)


def unsaved(saved: Mapping[str, Any], draft: Mapping[str, Any]) -> list[str]:
    """What a draft changes, field by field ("Owner: Ann Smith → Bob Jones"); both map labels to shown values."""
    return [f"{field}: {_shown(saved[field])} → {_shown(value)}" for field, value in draft.items()
            if value != saved[field]]


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "(none)" if value in (None, "") else str(value)


def client_rules(con: duckdb.DuckDBPyConnection, contact_id: str, slot_names: Mapping[int, str]) -> dict[int, str]:
    """Slot → which rule decides the client's lines, e.g. "Tax return → Tax (service); everything else →
    Advisory (client)", from the rules' stored verdicts; and a note when the client's own option decides none."""
    groups = con.execute(CLIENT_RULES, {"contact_id": contact_id}).fetchall()
    saved = record(con, "client", contact_id) or {}
    said = {}
    for slot in (1, 2):
        mine = _services_together([(source, option, service, lines)
                                   for s, source, option, service, lines in groups if s == slot])
        if not mine:
            said[slot] = "no invoice lines yet."
            continue
        only_general = all(source in GENERAL and service is None for source, _, service, _ in mine)
        text = "; ".join(_rule(slot, source, option, service, lines,
                               "every line" if only_general else "everything else")
                         for source, option, service, lines in mine) + "."
        own = saved.get(f"tc{slot}_option_id")
        if own is not None and not any(source == "client" for source, *_ in mine):
            name = catalog.read(con).option_name(own)
            text += f" The client's own {slot_names[slot]} ({name}) decides none of its lines."
        said[slot] = text
    return said


def _services_together(groups: list[tuple]) -> list[tuple]:
    """The services that give the same option named together: "Tax return, VAT return → Tax (service)"."""
    merged: dict[tuple, list] = {}
    for source, option, service, lines in groups:
        key = (source, option, service is None)
        merged.setdefault(key, [source, option, [], 0])
        merged[key][2] += [service] if service is not None else []
        merged[key][3] += lines
    return [(source, option, ", ".join(services) or None, lines) for source, option, services, lines in merged.values()]


def _rule(slot: int, source: str, option: str | None, service: str | None, lines: int, rest: str) -> str:
    given = option or "no option"
    if source == "service":
        return f"{service} → {given} (service)"
    if source == "owner" and service is not None:
        return f"{service} → {given} (owner's, as an alignment fee)"
    if source == "none" and service is not None:
        return f"{service} → no option (an alignment fee; the owner has none, Xero's stays)"
    if source == "line":
        return f"{plural(lines, 'line')} → {option or 'None'} (the line's own override)"
    if source == "consolidated" and slot == 1:
        return f"{plural(lines, 'line')} → {option or 'None'} (consolidated: the invoice's first line's override)"
    if source == "consolidated":
        return f"{rest} → no option (consolidated lines: Xero's stays)"
    if source == "none":
        return f"{rest} → no option (Xero's stays)"
    return f"{rest} → {given} ({source})"


