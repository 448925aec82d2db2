"""The assignment rules: which tracking option every ACCREC invoice line should carry, and why.

One SQL query over the mirror and the app-owned settings decides every line at once; its
result is materialised in `line_rules`, which the preview, push and revenue read.

| slot | precedence (first that applies wins)                                          |
|------|-------------------------------------------------------------------------------|
| TC1  | line override → consolidated client: the invoice's first line's own override → client TC1 → none |
| TC2  | line override → consolidated client: none → alignment-fee line: owner's TC2 or none → service TC2 → client TC2 → owner's TC2 → none |

A slot whose rule gives no option is not applied (`tcS_apply` false): the push leaves what
Xero has. Only an explicit line override of "None" clears a slot. A consolidated client's
lines all take the first line's TC1; as the client's TC1 is the same for every line, that
only differs from the plain chain when the first line has its own TC1 override, and those
lines are labelled `consolidated`.

Status: `locked` (the invoice cannot be edited) beats `blocked` (slot map invalid, or a
wanted option that is not ACTIVE in its slot's category), which beats `same` / `change`.

`refresh` and `refresh_for` write `line_rules` but open no transaction of their own: call
them inside the writer's `store.transaction(con)`, so the rules change together with the
data they follow. Whoever changes the slot map or the tracking categories calls `refresh`.
"""
from collections.abc import Iterable

import duckdb

SOURCES = ("line", "client", "service", "owner", "consolidated", "none")
STATUSES = ("same", "change", "blocked", "locked")
EDITABLE_INVOICE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED")

# The rules, for the lines chosen by {scope} (a WHERE clause over invoice_lines L and invoices I).
RULES_SELECT = """
WITH
slot_pick AS (  -- the configured slot map, or else the first two active categories in Xero's order
    SELECT slot, category_id FROM slots
    UNION ALL
    SELECT row_number() OVER (ORDER BY position, category_id) AS slot, category_id
    FROM tracking_categories
    WHERE status = 'ACTIVE' AND NOT EXISTS (SELECT 1 FROM slots)
    QUALIFY slot <= 2
),
slot_map AS (
    SELECT s1.category_id AS tc1_category_id, s2.category_id AS tc2_category_id,
           c1.name AS tc1_category_name, c2.name AS tc2_category_name,
           nullif(concat_ws('; ',
               CASE WHEN s1.category_id IS NULL THEN 'Slot 1 has no tracking category'
                    WHEN c1.category_id IS NULL THEN 'Slot 1''s tracking category no longer exists in Xero'
                    WHEN c1.status <> 'ACTIVE' THEN 'Slot 1''s tracking category ''' || c1.name
                                                    || ''' is ' || lower(c1.status) || ' in Xero' END,
               CASE WHEN s2.category_id IS NULL THEN 'Slot 2 has no tracking category'
                    WHEN c2.category_id IS NULL THEN 'Slot 2''s tracking category no longer exists in Xero'
                    WHEN c2.status <> 'ACTIVE' THEN 'Slot 2''s tracking category ''' || c2.name
                                                    || ''' is ' || lower(c2.status) || ' in Xero' END,
               CASE WHEN s1.category_id = s2.category_id
                    THEN 'Slots 1 and 2 map to the same tracking category '''
                         || coalesce(c1.name, s1.category_id) || '''' END
           ), '') AS slot_problem
    FROM (SELECT 1) AS one
    LEFT JOIN slot_pick s1 ON s1.slot = 1
    LEFT JOIN slot_pick s2 ON s2.slot = 2
    LEFT JOIN tracking_categories c1 ON c1.category_id = s1.category_id
    LEFT JOIN tracking_categories c2 ON c2.category_id = s2.category_id
),
current1 AS (
    SELECT line_id, option_id, option_name FROM line_tracking
    WHERE category_id = (SELECT tc1_category_id FROM slot_map)
),
current2 AS (
    SELECT line_id, option_id, option_name FROM line_tracking
    WHERE category_id = (SELECT tc2_category_id FROM slot_map)
),
first_line_tc1 AS (  -- invoices whose first line has its own TC1 override, and that override
    SELECT L.invoice_id, O.tc1_option_id
    FROM line_overrides O JOIN invoice_lines L USING (line_id)
    WHERE O.tc1_override AND NOT EXISTS (
        SELECT 1 FROM invoice_lines F WHERE F.invoice_id = L.invoice_id AND F.position < L.position)
),
decided AS (
    SELECT L.line_id, L.invoice_id, I.contact_id, L.position, L.line_amount,
           I.number AS invoice_number, I.date AS invoice_date, I.status AS invoice_status,
           CASE WHEN I.status NOT IN ('DRAFT', 'SUBMITTED', 'AUTHORISED')
                    THEN 'Invoice is ' || I.status || ' in Xero and cannot be edited'
                WHEN I.amount_paid > 0
                    THEN 'Invoice has ' || I.amount_paid || ' paid and cannot be edited'
                WHEN I.amount_credited > 0
                    THEN 'Invoice has ' || I.amount_credited || ' credited and cannot be edited'
                WHEN I.has_allocations
                    THEN 'Invoice has a prepayment or overpayment allocated and cannot be edited'
           END AS locked_reason,
           CASE WHEN O.tc1_override THEN 'line'
                WHEN C.consolidate AND F.invoice_id IS NOT NULL THEN 'consolidated'
                WHEN C.tc1_option_id IS NOT NULL THEN 'client'
                ELSE 'none' END AS tc1_source,
           CASE WHEN O.tc1_override THEN O.tc1_option_id
                WHEN C.consolidate AND F.invoice_id IS NOT NULL THEN F.tc1_option_id
                ELSE C.tc1_option_id END AS tc1_wanted_option_id,
           CASE WHEN O.tc2_override THEN 'line'
                WHEN C.consolidate THEN 'consolidated'
                WHEN S.alignment_fee THEN CASE WHEN M.tc2_option_id IS NULL THEN 'none' ELSE 'owner' END
                WHEN S.tc2_option_id IS NOT NULL THEN 'service'
                WHEN C.tc2_option_id IS NOT NULL THEN 'client'
                WHEN M.tc2_option_id IS NOT NULL THEN 'owner'
                ELSE 'none' END AS tc2_source,
           CASE WHEN O.tc2_override THEN O.tc2_option_id
                WHEN C.consolidate THEN NULL
                WHEN S.alignment_fee THEN M.tc2_option_id
                ELSE coalesce(S.tc2_option_id, C.tc2_option_id, M.tc2_option_id) END AS tc2_wanted_option_id
    FROM invoice_lines L
    JOIN invoices I USING (invoice_id)
    LEFT JOIN client_settings C ON C.contact_id = I.contact_id
    LEFT JOIN team_members M ON M.member_id = C.owner_id
    LEFT JOIN services S ON S.item_code = L.item_code
    LEFT JOIN line_overrides O ON O.line_id = L.line_id
    LEFT JOIN first_line_tc1 F ON F.invoice_id = L.invoice_id AND C.consolidate
    {scope}
),
checked AS (
    SELECT d.*, m.tc1_category_id, m.tc2_category_id,
           c1.option_id AS tc1_current_option_id,
           coalesce(oc1.name, c1.option_name) AS tc1_current_name,
           w1.name AS tc1_wanted_name,
           d.tc1_source IN ('line', 'consolidated') OR d.tc1_wanted_option_id IS NOT NULL AS tc1_apply,
           c2.option_id AS tc2_current_option_id,
           coalesce(oc2.name, c2.option_name) AS tc2_current_name,
           w2.name AS tc2_wanted_name,
           d.tc2_source = 'line' OR d.tc2_wanted_option_id IS NOT NULL AS tc2_apply,
           coalesce(m.slot_problem, nullif(concat_ws('; ',
               CASE WHEN d.tc1_wanted_option_id IS NULL THEN NULL
                    WHEN w1.option_id IS NULL
                        THEN 'The wanted ' || m.tc1_category_name || ' option no longer exists in Xero'
                    WHEN w1.category_id <> m.tc1_category_id
                        THEN 'Option ''' || w1.name || ''' belongs to another category, not '
                             || m.tc1_category_name
                    WHEN w1.status <> 'ACTIVE'
                        THEN 'Option ''' || w1.name || ''' is ' || lower(w1.status) || ' in Xero' END,
               CASE WHEN d.tc2_wanted_option_id IS NULL THEN NULL
                    WHEN w2.option_id IS NULL
                        THEN 'The wanted ' || m.tc2_category_name || ' option no longer exists in Xero'
                    WHEN w2.category_id <> m.tc2_category_id
                        THEN 'Option ''' || w2.name || ''' belongs to another category, not '
                             || m.tc2_category_name
                    WHEN w2.status <> 'ACTIVE'
                        THEN 'Option ''' || w2.name || ''' is ' || lower(w2.status) || ' in Xero' END
           ), '')) AS blocked_reason
    FROM decided d
    CROSS JOIN slot_map m
    LEFT JOIN current1 c1 ON c1.line_id = d.line_id
    LEFT JOIN current2 c2 ON c2.line_id = d.line_id
    LEFT JOIN tracking_options oc1 ON oc1.option_id = c1.option_id
    LEFT JOIN tracking_options oc2 ON oc2.option_id = c2.option_id
    LEFT JOIN tracking_options w1 ON w1.option_id = d.tc1_wanted_option_id
    LEFT JOIN tracking_options w2 ON w2.option_id = d.tc2_wanted_option_id
)
SELECT line_id, invoice_id, contact_id, position, line_amount,
       invoice_number, invoice_date, invoice_status,
       tc1_category_id, tc1_current_option_id, tc1_current_name,
       tc1_wanted_option_id, tc1_wanted_name, tc1_source, tc1_apply,
       tc2_category_id, tc2_current_option_id, tc2_current_name,
       tc2_wanted_option_id, tc2_wanted_name, tc2_source, tc2_apply,
       CASE WHEN locked_reason IS NOT NULL THEN 'locked'
            WHEN blocked_reason IS NOT NULL THEN 'blocked'
            WHEN (NOT tc1_apply OR tc1_current_option_id IS NOT DISTINCT FROM tc1_wanted_option_id)
             AND (NOT tc2_apply OR tc2_current_option_id IS NOT DISTINCT FROM tc2_wanted_option_id)
                THEN 'same'
            ELSE 'change' END AS status,
       coalesce(locked_reason, blocked_reason) AS reason
FROM checked
"""

ALL_LINES = ""
SCOPED_LINES = "WHERE L.line_id IN (SELECT line_id FROM rules_scope)"

# The lines an edit can touch: a client's lines, an item's lines, the lines of the clients a
# team member owns, and every line of an invoice one of whose lines changed (a consolidated
# invoice's first line decides the others' TC1).
CREATE_SCOPE = """
CREATE OR REPLACE TEMP TABLE rules_scope AS
SELECT L.line_id
FROM invoice_lines L JOIN invoices I USING (invoice_id)
WHERE list_contains($contact_ids::VARCHAR[], I.contact_id)
   OR list_contains($item_codes::VARCHAR[], L.item_code)
   OR I.contact_id IN (SELECT contact_id FROM client_settings WHERE list_contains($member_ids::INTEGER[], owner_id))
   OR L.invoice_id IN (SELECT invoice_id FROM invoice_lines WHERE list_contains($line_ids::VARCHAR[], line_id))
"""
DELETE_ALL = "DELETE FROM line_rules"
# also the given lines gone from the mirror
DELETE_SCOPED = """
DELETE FROM line_rules
WHERE line_id IN (SELECT line_id FROM rules_scope) OR list_contains($line_ids::VARCHAR[], line_id)
"""
DROP_SCOPE = "DROP TABLE rules_scope"
INSERT = "INSERT INTO line_rules BY NAME "


def refresh(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute the rules for every line. Call inside the writer's transaction."""
    con.execute(DELETE_ALL)
    con.execute(INSERT + RULES_SELECT.format(scope=ALL_LINES))


def refresh_for(con: duckdb.DuckDBPyConnection, *, contact_ids: Iterable[str] = (),
                item_codes: Iterable[str] = (), member_ids: Iterable[int] = (),
                line_ids: Iterable[str] = ()) -> None:
    """Recompute the rules for the lines an edit of these clients, items, members or lines touches.

    Call inside the writer's transaction, after the edit.
    """
    line_ids = list(line_ids)
    con.execute(CREATE_SCOPE, {"contact_ids": list(contact_ids), "item_codes": list(item_codes),
                               "member_ids": list(member_ids), "line_ids": line_ids})
    con.execute(DELETE_SCOPED, {"line_ids": line_ids})
    con.execute(INSERT + RULES_SELECT.format(scope=SCOPED_LINES))
    con.execute(DROP_SCOPE)
