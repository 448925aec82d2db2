"""What the Clients, Services and Team pages show: their tables, a client's lines, and the choices of their
dropdowns (label → the value core/edits.py takes, from core/catalog.py's catalog)."""
from typing import Any

import duckdb
import pandas as pd

from core import catalog, preview
from core.catalog import NONE_CHOICE, UNSET

# An option by name, "(archived)" after it when Xero no longer offers it.
OPTION_LABEL = "coalesce({o}.name || CASE WHEN {o}.status <> 'ACTIVE' THEN ' (' || lower({o}.status) || ')' ELSE '' END, 'None')"
CLIENTS_TABLE = f"""
SELECT c.contact_id, c.name AS client, coalesce(m.name, 'None') AS owner,
       {OPTION_LABEL.format(o="o1")} AS tc1, {OPTION_LABEL.format(o="o2")} AS tc2,
       coalesce(s.consolidate, false) AS consolidate
FROM contacts c
LEFT JOIN client_settings s USING (contact_id)
LEFT JOIN team_members m ON m.member_id = s.owner_id
LEFT JOIN tracking_options o1 ON o1.option_id = s.tc1_option_id
LEFT JOIN tracking_options o2 ON o2.option_id = s.tc2_option_id
WHERE contains(lower(c.name), lower($search))
ORDER BY c.name, c.contact_id
LIMIT $limit
"""
CLIENT_COUNT = "SELECT count(*) FROM contacts WHERE contains(lower(name), lower(?))"
SERVICES_TABLE = f"""
SELECT i.code AS item_code, coalesce(i.name, '') AS service, {OPTION_LABEL.format(o="o")} AS tc2,
       coalesce(s.alignment_fee, false) AS alignment_fee
FROM (SELECT code, min(name) AS name FROM items GROUP BY code) i
LEFT JOIN services s ON s.item_code = i.code
LEFT JOIN tracking_options o ON o.option_id = s.tc2_option_id
WHERE contains(lower(i.code || ' ' || coalesce(i.name, '')), lower($search))
ORDER BY i.code
"""
TEAM_TABLE = f"""
SELECT m.member_id, m.name, coalesce(m.email, '') AS email, {OPTION_LABEL.format(o="o")} AS tc2,
       (SELECT count(*) FROM client_settings s WHERE s.owner_id = m.member_id) AS clients
FROM team_members m LEFT JOIN tracking_options o ON o.option_id = m.tc2_option_id
ORDER BY m.name
"""
CLIENT_LINE_COLUMNS = ["invoice_number", "invoice_date", "invoice_status", "description", "line_amount",
                       "tc1_current_name", "tc1_wanted_name", "tc1_source",
                       "tc2_current_name", "tc2_wanted_name", "tc2_source", "status", "reason"]


def clients_table(con: duckdb.DuckDBPyConnection, search: str = "", limit: int = 500) -> pd.DataFrame:
    """Clients with their owner and slot options by name ("None" when unset, "(archived)" after an option Xero
    no longer offers), for the Clients page."""
    return con.execute(CLIENTS_TABLE, {"search": search.strip(), "limit": limit}).df()


def client_count(con: duckdb.DuckDBPyConnection, search: str = "") -> int:
    return con.execute(CLIENT_COUNT, [search.strip()]).fetchone()[0]


def services_table(con: duckdb.DuckDBPyConnection, search: str = "") -> pd.DataFrame:
    """Every item code with its TC2 option by name and its alignment-fee flag."""
    return con.execute(SERVICES_TABLE, {"search": search.strip()}).df()


def team_table(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Team members with their TC2 option by name and how many clients each owns."""
    return con.execute(TEAM_TABLE).df()


def client_lines(con: duckdb.DuckDBPyConnection, contact_id: str) -> pd.DataFrame:
    """The preview lines of one client's invoices (the first page of them), newest invoice first."""
    return pd.DataFrame(preview.lines(con, preview.Filters(contact_id=contact_id)), columns=CLIENT_LINE_COLUMNS)


def slot_options(con: duckdb.DuckDBPyConnection, slot: int) -> dict[str, str | None]:
    """"None" and the active options of the slot's category, name → option id: a select box's choices."""
    return {NONE_CHOICE: None, **catalog.read(con).active_options(slot)}


KEEP_CHOICE = "Keep as it is"
CLEAR_CHOICE = "None (clears it in Xero)"


def override_options(con: duckdb.DuckDBPyConnection, slot: int) -> dict[str, Any]:
    """A line override's choices for a slot, name → value for `set_line_overrides`: keep the
    lines' current override (UNSET), an explicit "None" (None), or an active option (its id)."""
    return {KEEP_CHOICE: UNSET, CLEAR_CHOICE: None, **catalog.read(con).active_options(slot)}


def owner_options(con: duckdb.DuckDBPyConnection) -> dict[str, int | None]:
    """"None" and the team members, name → member id."""
    members = catalog.read(con).members
    return {NONE_CHOICE: None, **{name: member for member, name in sorted(members.items(), key=lambda m: m[1].lower())}}

