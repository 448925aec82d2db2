"""The assignment rules: which tracking option every ACCREC invoice line should carry, and why.

One SQL query over the mirror and the app-owned settings decides every line at once; its
result is materialised in `line_rules`, which the preview, push and revenue read.

TC1: line override → consolidated client: the invoice's first line's own TC1 override →
client TC1 → none. TC2: line override → consolidated client: none → alignment-fee line: the
owner's TC2 or none → service TC2 → client TC2 → owner's TC2 → none.

A slot whose rule gives no option is not applied (`tcS_apply` false): the push leaves what
Xero has. Only an explicit line override of "None" clears a slot. A consolidated client's
lines all take the first line's TC1; as the client's TC1 is the same for every line, that
only differs from the plain chain when the first line has its own TC1 override, and those
lines are labelled `consolidated`.

Sales credit notes (ACCRECCREDIT) sit in `invoices` beside the invoices and follow the same rules.

Editable, for both: status DRAFT, SUBMITTED or AUTHORISED with nothing applied to it — for an
invoice no payment, credit note, prepayment or overpayment; for a credit note nothing allocated
to an invoice and nothing refunded (`EDITABLE`, `LOCKED_REASON`). So a PAID, VOIDED or
allocated credit note is locked, an AUTHORISED one with nothing allocated can be edited.

Status: `locked` (the invoice cannot be edited) beats `blocked` (slot map invalid, a wanted
option that is not ACTIVE in its slot's category, an invoice Xero refused for an option that is
still not ACTIVE and that has not changed in Xero since (table xero_refusals), or a `change` on
an invoice Xero would refuse back whole: see SENT_BACK), which beats `same` / `change`. The invoices
Xero may refuse, and why, are in `refusable_invoices`: readers show it as their `change` lines' reason
(JOIN_REFUSABLE, SHOWN_REASON).

`refresh` and `refresh_for` write `line_rules` but open no transaction of their own: call
them inside the writer's `store.transaction(con)`, so the rules change together with the
data they follow. Whoever changes the slot map or the tracking categories calls `refresh`.
"""
from collections.abc import Iterable
from typing import TYPE_CHECKING

import duckdb

from core import statuses, store

if TYPE_CHECKING:  # only named: landed_rules imports this module, and pyarrow, ~30 MB more for every process
    from core import landed_rules

SOURCES = ("line", "client", "service", "owner", "consolidated", "none")
STATUSES = ("same", "change", "blocked", "locked")
CREDIT_NOTE = "ACCRECCREDIT"
REFUSED = "Xero refused this invoice: "  # how a block for Xero's refusal begins (core/refusals.py)

# Whether Xero's API lets the app change a document (an `invoices` row), and if not why, in SQL over
# the columns of `invoices` (prefix {t}): the one statement of the lock rules ({editable}: statuses.EDITABLE).
EDITABLE = """({t}status IN ({editable}) AND {t}amount_paid = 0
               AND {t}amount_credited = 0 AND NOT {t}has_allocations)"""
LOCKED_REASON = """CASE
    WHEN {t}status NOT IN ({editable})
        THEN {noun} || ' is ' || {t}status || ' in Xero and cannot be edited'
    WHEN {t}amount_paid > 0
        THEN {noun} || ' has ' || {t}amount_paid
             || CASE WHEN {credit} THEN ' refunded' ELSE ' paid' END || ' and cannot be edited'
    WHEN {t}amount_credited > 0
        THEN {noun} || ' has ' || {t}amount_credited
             || CASE WHEN {credit} THEN ' allocated to invoices' ELSE ' credited' END || ' and cannot be edited'
    WHEN {t}has_allocations
        THEN CASE WHEN {credit} THEN 'Credit note has an allocation'
                  ELSE 'Invoice has a prepayment or overpayment allocated' END || ' and cannot be edited'
END"""


def editable_sql(alias: str = "") -> str:
    return EDITABLE.format(t=f"{alias}." if alias else "", editable=statuses.sql_list(statuses.EDITABLE))


def document_noun_sql(type_column: str = "type") -> str:
    """SQL naming a document for people from its type column: 'Invoice' or 'Credit note'."""
    return f"CASE WHEN {type_column} = '{CREDIT_NOTE}' THEN 'Credit note' ELSE 'Invoice' END"


def locked_reason_sql(alias: str = "") -> str:
    t = f"{alias}." if alias else ""
    return LOCKED_REASON.format(t=t, editable=statuses.sql_list(statuses.EDITABLE), credit=f"{t}type = '{CREDIT_NOTE}'",
                                noun=document_noun_sql(f"{t}type"))


# The rules, for the lines in the table {lines}, whose current tracking is in the table {tracking}.
SLOT_MAP = """
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
)
"""
RULES_SELECT = "WITH" + SLOT_MAP + """,
current1 AS (  -- each line's option in slot 1 now, named as Xero names it now
    SELECT t.line_id, t.option_id, coalesce(o.name, t.option_name) AS option_name
    FROM {tracking} t LEFT JOIN tracking_options o ON o.option_id = t.option_id
    WHERE t.category_id = (SELECT tc1_category_id FROM slot_map)
),
current2 AS (
    SELECT t.line_id, t.option_id, coalesce(o.name, t.option_name) AS option_name
    FROM {tracking} t LEFT JOIN tracking_options o ON o.option_id = t.option_id
    WHERE t.category_id = (SELECT tc2_category_id FROM slot_map)
),
tc1_overrides AS (
    SELECT L.invoice_id, L.position, O.tc1_option_id
    FROM {lines} L JOIN line_overrides O ON O.line_id = L.line_id AND O.tc1_override
),
first_positions AS (  -- of the invoices with a TC1 override
    SELECT F.invoice_id, min(F.position) AS position
    FROM {lines} F JOIN (SELECT DISTINCT invoice_id FROM tc1_overrides) t ON t.invoice_id = F.invoice_id
    GROUP BY F.invoice_id
),
first_line_tc1 AS (  -- invoices whose first line has its own TC1 override, and that override
    SELECT t.invoice_id, t.tc1_option_id
    FROM tc1_overrides t JOIN first_positions f ON f.invoice_id = t.invoice_id AND f.position = t.position
),
refusals AS (  -- Xero's refusals in force: an option the invoice carried is still not ACTIVE
    SELECT x.invoice_id, any_value(x.updated_utc) AS updated_utc, any_value(x.message) AS message
    FROM (SELECT invoice_id, updated_utc, message, unnest(option_ids) AS option_id FROM xero_refusals) x
    LEFT JOIN tracking_options o ON o.option_id = x.option_id
    LEFT JOIN tracking_categories k ON k.category_id = o.category_id
    WHERE o.status IS DISTINCT FROM 'ACTIVE' OR k.status IS DISTINCT FROM 'ACTIVE'
    GROUP BY x.invoice_id
),
invoice_facts AS (  -- per invoice, not per line: why it is locked, if it is, and Xero's refusal in force
    SELECT i.invoice_id, contact_id, number, date, status, type, {locked_reason} AS locked_reason,
           '{refused}' || x.message AS refused_reason
    FROM {invoices} i
    LEFT JOIN refusals x ON x.invoice_id = i.invoice_id AND x.updated_utc IS NOT DISTINCT FROM i.updated_utc
),
wanted_options AS (  -- per option and slot, not per line: its name, and why it cannot be written there
    SELECT m.slot, o.option_id, o.name,
           CASE WHEN o.category_id <> m.category_id
                    THEN 'Option ''' || o.name || ''' belongs to another category, not ' || m.category_name
                WHEN o.status <> 'ACTIVE'
                    THEN 'Option ''' || o.name || ''' is ' || lower(o.status) || ' in Xero' END AS problem
    FROM tracking_options o
    CROSS JOIN (SELECT 1 AS slot, tc1_category_id AS category_id, tc1_category_name AS category_name FROM slot_map
                UNION ALL
                SELECT 2, tc2_category_id, tc2_category_name FROM slot_map) m
),
decided AS (
    SELECT L.line_id, L.invoice_id, I.contact_id, L.position, L.description, L.line_amount,
           c1.option_id AS tc1_current_option_id, c1.option_name AS tc1_current_name,
           c2.option_id AS tc2_current_option_id, c2.option_name AS tc2_current_name,
           I.number AS invoice_number, I.date AS invoice_date, I.status AS invoice_status, I.locked_reason,
           I.refused_reason,
           coalesce(I.type, 'ACCREC') AS invoice_type,
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
    -- Only LEFT JOINs, the lines first (every line has its invoice: sync writes them together).
    -- DuckDB keeps their order and builds each hash table on the right-hand side; an INNER JOIN
    -- (or a filter it can read as one) lets it move the invoices below the tracking joins, and its
    -- estimate of lines x invoices (about the invoices' count) then builds on the million lines.
    -- No join condition beyond the keys: an extra condition made it estimate 2 rows.
    FROM {lines} L
    LEFT JOIN current1 c1 ON c1.line_id = L.line_id
    LEFT JOIN current2 c2 ON c2.line_id = L.line_id
    LEFT JOIN invoice_facts I ON I.invoice_id = L.invoice_id
    LEFT JOIN client_settings C ON C.contact_id = I.contact_id
    LEFT JOIN team_members M ON M.member_id = C.owner_id
    LEFT JOIN services S ON S.item_code = L.item_code
    LEFT JOIN line_overrides O ON O.line_id = L.line_id
    LEFT JOIN first_line_tc1 F ON F.invoice_id = L.invoice_id
),
checked AS (
    SELECT d.*,
           d.tc1_source IN ('line', 'consolidated') OR d.tc1_wanted_option_id IS NOT NULL AS tc1_apply,
           d.tc2_source = 'line' OR d.tc2_wanted_option_id IS NOT NULL AS tc2_apply,
           coalesce(m.slot_problem, nullif(concat_ws('; ',
               CASE WHEN d.tc1_wanted_option_id IS NULL THEN NULL
                    WHEN w1.option_id IS NULL
                        THEN 'The wanted ' || m.tc1_category_name || ' option no longer exists in Xero'
                    ELSE w1.problem END,
               CASE WHEN d.tc2_wanted_option_id IS NULL THEN NULL
                    WHEN w2.option_id IS NULL
                        THEN 'The wanted ' || m.tc2_category_name || ' option no longer exists in Xero'
                    ELSE w2.problem END
           ), '')) AS blocked_reason
    FROM decided d
    CROSS JOIN slot_map m
    LEFT JOIN wanted_options w1 ON w1.slot = 1 AND w1.option_id = d.tc1_wanted_option_id
    LEFT JOIN wanted_options w2 ON w2.slot = 2 AND w2.option_id = d.tc2_wanted_option_id
)
SELECT line_id::VARCHAR AS line_id, invoice_id, contact_id, position, description, line_amount,
       invoice_number, invoice_date, invoice_status, invoice_type,
       tc1_current_option_id, tc1_current_name, tc1_wanted_option_id, tc1_source, tc1_apply,
       tc2_current_option_id, tc2_current_name, tc2_wanted_option_id, tc2_source, tc2_apply,
       CASE WHEN locked_reason IS NOT NULL THEN 'locked'
            WHEN blocked_reason IS NOT NULL THEN 'blocked'
            WHEN unchanged THEN 'same'
            WHEN refused_reason IS NOT NULL THEN 'blocked'
            ELSE 'change' END AS status,
       coalesce(locked_reason, blocked_reason, CASE WHEN NOT unchanged THEN refused_reason END) AS reason
FROM (SELECT *, (NOT tc1_apply OR tc1_current_option_id IS NOT DISTINCT FROM tc1_wanted_option_id)
                AND (NOT tc2_apply OR tc2_current_option_id IS NOT DISTINCT FROM tc2_wanted_option_id) AS unchanged
      FROM checked)
"""

# Xero refuses a whole invoice update when any line it gets back carries an option that no longer
# exists, or more than 2 tracking entries, and the push sends every line back whole. So a `change`
# line is blocked when, after the push, a line of its invoice would still carry one: that line's
# entries, less the slots the push rewrites on `change` lines (`tcS_apply`), plus what it writes.
# Only entries that are not ACTIVE, or of a category beyond the two slots, can cause it, so only
# those are looked at. An archived option kept on a line blocks nothing: whether Xero takes it back
# is unconfirmed (docs/xero-behaviours.md), so the push tries and believes Xero's answer (docs/push-protocol.md
# §6). Such an invoice's `change` lines stay `change`, and the invoice goes in `refusable_invoices` with why
# Xero may refuse it (it begins MAY_BE_REFUSED; the preview and the push plan show it). A table of its own, not
# an UPDATE of `line_rules`: updating rows a refresh has just written made its commit rewrite them, 0.3 s at
# a million lines (`python -m core bench rules`). A refusal blocks the invoice (`refusals` above) until it
# changes in Xero or the options are ACTIVE again (core/refusals.py).
MAY_BE_REFUSED = "Xero may refuse this invoice: "
SENT_BACK = "CREATE OR REPLACE TEMP TABLE sent_back_verdicts AS WITH" + SLOT_MAP + """,
fine AS (  -- the tags Xero takes back without a word: ACTIVE options of the slots' ACTIVE categories
    SELECT o.option_id, o.category_id
    FROM tracking_options o
    JOIN tracking_categories k ON k.category_id = o.category_id
    JOIN slot_map m ON o.category_id IN (m.tc1_category_id, m.tc2_category_id)
    WHERE o.status = 'ACTIVE' AND k.status = 'ACTIVE'
),
odd_entries AS (
    SELECT t.line_id,
           CASE t.category_id WHEN m.tc1_category_id THEN 1 WHEN m.tc2_category_id THEN 2 END AS slot,
           CASE WHEN k.category_id IS NULL
                    THEN 'an option of a tracking category that no longer exists in Xero'
                WHEN o.option_id IS NULL OR o.category_id <> t.category_id
                    THEN 'a ' || k.name || ' option that no longer exists in Xero'
           END AS unreturnable,
           CASE WHEN o.category_id <> t.category_id THEN NULL
                WHEN k.status <> 'ACTIVE'
                    THEN 'option ''' || o.name || ''' of the ' || lower(k.status) || ' category ''' || k.name || ''''
                WHEN o.status <> 'ACTIVE' THEN lower(o.status) || ' option ''' || o.name || ''' (' || k.name || ')'
           END AS inactive
    FROM {tracking} t
    ANTI JOIN fine f ON f.option_id = t.option_id AND f.category_id = t.category_id
    CROSS JOIN slot_map m
    LEFT JOIN tracking_categories k ON k.category_id = t.category_id
    LEFT JOIN tracking_options o ON o.option_id = t.option_id
),
kept AS (  -- the odd entries with their line's verdict: whether the push sends them back, and the slots after it
    SELECT r.invoice_id, r.line_id, r.position, d.slot IS NULL AS beyond_slots, d.unreturnable, d.inactive,
           NOT (r.status = 'change' AND (r.tc1_apply AND d.slot IS NOT DISTINCT FROM 1
                                         OR r.tc2_apply AND d.slot IS NOT DISTINCT FROM 2)) AS sent_back,
           CASE WHEN r.status = 'change' AND r.tc1_apply THEN r.tc1_wanted_option_id IS NOT NULL
                ELSE r.tc1_current_option_id IS NOT NULL END::INTEGER
           + CASE WHEN r.status = 'change' AND r.tc2_apply THEN r.tc2_wanted_option_id IS NOT NULL
                  ELSE r.tc2_current_option_id IS NOT NULL END::INTEGER AS slot_entries
    FROM odd_entries d JOIN {rules} r USING (line_id)
),
after_push AS (  -- per line: the entries it sends back that Xero will not or may not take, and how many it ends with
    SELECT any_value(invoice_id) AS invoice_id, any_value(position) AS position,
           string_agg(unreturnable, ' and ' ORDER BY unreturnable) FILTER (sent_back) AS unreturnable,
           min(inactive) FILTER (sent_back) AS inactive, count(inactive) FILTER (sent_back) AS inactive_entries,
           count(*) FILTER (beyond_slots) + any_value(slot_entries) AS entries
    FROM kept
    GROUP BY line_id
),
lines_sent_back AS (
    SELECT *, unreturnable IS NOT NULL OR entries > 2 AS refused FROM after_push
)
-- per invoice: the first line Xero would refuse, or else may refuse, and how many more
SELECT invoice_id, count(*) FILTER (refused) - 1 AS more_refused, sum(inactive_entries) - 1 AS more_inactive,
       arg_min('Line ' || (position + 1) || ' of this invoice ' || CASE
                   WHEN unreturnable IS NOT NULL THEN 'carries ' || unreturnable
                        || '; Xero will not take it back — remove it in Xero first'
                   ELSE 'would carry ' || entries || ' tracking categories; Xero takes at most 2 on a line'
                        || ' — remove one in Xero first' END,
               position) FILTER (refused) AS refused,
       arg_min('line ' || (position + 1) || ' keeps ' || inactive, position) FILTER (inactive IS NOT NULL) AS inactive
FROM lines_sent_back
GROUP BY invoice_id
HAVING count(*) FILTER (refused) > 0 OR count(inactive) > 0
"""
MORE_LINES_LIKE_IT = """CASE WHEN {n} = 1 THEN ' (and 1 more line like it)'
                            WHEN {n} > 1 THEN ' (and ' || {n} || ' more lines like it)' ELSE '' END"""
BLOCK_REFUSED = """
UPDATE {rules}
SET status = 'blocked', reason = v.refused || """ + MORE_LINES_LIKE_IT.format(n="v.more_refused") + """
FROM sent_back_verdicts v
WHERE {rules}.invoice_id = v.invoice_id AND {rules}.status = 'change' AND v.refused IS NOT NULL
"""
REFUSABLE_ROWS = f"""
SELECT invoice_id, '{MAY_BE_REFUSED}' || inactive || {MORE_LINES_LIKE_IT.format(n="more_inactive")} AS reason
FROM sent_back_verdicts WHERE refused IS NULL AND inactive IS NOT NULL
"""
RECORD_REFUSABLE = "INSERT INTO refusable_invoices BY NAME " + REFUSABLE_ROWS
BUILD_REFUSABLE = "CREATE TABLE refusable_invoices AS " + REFUSABLE_ROWS
DROP_SENT_BACK = "DROP TABLE sent_back_verdicts"
# How a reader of `line_rules r` shows a line's reason: a `change` line's is why Xero may refuse its invoice.
JOIN_REFUSABLE = "LEFT JOIN refusable_invoices x ON x.invoice_id = r.invoice_id"
SHOWN_REASON = "CASE WHEN r.status = 'change' THEN x.reason ELSE r.reason END"
# `line_rules` keeps the wanted options' ids but not their names, nor the slots' categories (one pair for every
# line): each string column cost a refresh ~0.03 s at a million lines (`python -m core bench rules`). A reader of
# `line_rules r` names the wanted options with JOIN_WANTED (w1.name, w2.name) and finds a slot's category with
# `slot_category_sql`, from the slot map the rules were decided with: whoever changes it refreshes them.
JOIN_WANTED = """LEFT JOIN tracking_options w1 ON w1.option_id = r.tc1_wanted_option_id
LEFT JOIN tracking_options w2 ON w2.option_id = r.tc2_wanted_option_id"""


def slot_category_sql(slot: int) -> str:
    """SQL for the category id in a slot: a scalar, worked out once per query. Joined as a table, the slot map
    turned DuckDB's join of the push plan with the invoices round (its count of locked lines: 1.0 s against 0.27 s
    at a million lines, `python -m core bench lock`)."""
    return f"(WITH{SLOT_MAP}SELECT category_id FROM slot_pick WHERE slot = {int(slot)})"

ALL_LINES = {"lines": "invoice_lines", "tracking": "line_tracking", "invoices": "invoices", "rules": "line_rules",
             "locked_reason": locked_reason_sql(), "refused": REFUSED}
# A few invoices: their lines and tracking copied once and decided in a table of their own, so
# that no step reads more than those.
SCOPED_LINES = {"lines": "rules_scope", "tracking": "scoped_tracking", "invoices": "scoped_invoices",
                "rules": "scoped_rules", "locked_reason": locked_reason_sql(), "refused": REFUSED}

# The lines an edit can touch, always whole invoices (a consolidated invoice's first line decides
# the others' TC1; one line's tracking can block the others'): a client's invoices, the invoices
# with an item, the invoices of the clients a team member owns, the invoices of changed lines,
# invoices by id (a push's landed batch: no look-up of the lines' invoices in the whole mirror).
# One part per kind of id given.
SCOPE_PARTS = {
    "invoice_ids": "SELECT unnest($invoice_ids::VARCHAR[])",
    "contact_ids": "SELECT invoice_id FROM invoices WHERE contact_id IN (SELECT unnest($contact_ids::VARCHAR[]))",
    "item_codes": "SELECT invoice_id FROM invoice_lines WHERE item_code IN (SELECT unnest($item_codes::VARCHAR[]))",
    "member_ids": """SELECT invoice_id FROM invoices WHERE contact_id IN (
        SELECT contact_id FROM client_settings WHERE owner_id IN (SELECT unnest($member_ids::INTEGER[])))""",
    "line_ids": f"SELECT invoice_id FROM invoice_lines WHERE line_id IN ({store.mirror_line_ids('$line_ids')})",
}
# The scope's rows are picked by rowid from the one column the filter reads, then read whole: a filtered scan of
# every column of a million lines cost a push batch's refresh ~35 ms, this ~9 ms (`python -m core bench lock`).
CREATE_SCOPE = """CREATE OR REPLACE TEMP TABLE rules_scope AS
    SELECT * FROM invoice_lines WHERE rowid IN (SELECT rowid FROM invoice_lines WHERE invoice_id IN ({parts}))"""
# By invoice: a scan of line_rules' invoice ids is a third of one of its line ids.
DELETE_SCOPED = """DELETE FROM line_rules WHERE invoice_id IN (SELECT DISTINCT invoice_id FROM rules_scope);
    DELETE FROM refusable_invoices WHERE invoice_id IN (SELECT DISTINCT invoice_id FROM rules_scope)"""
DELETE_GONE = "DELETE FROM line_rules WHERE line_id IN (SELECT unnest($line_ids::VARCHAR[]))"
CREATE_SCOPED_TRACKING = """CREATE OR REPLACE TEMP TABLE scoped_tracking AS
    SELECT * FROM line_tracking WHERE line_id IN (SELECT line_id FROM rules_scope)"""
CREATE_SCOPED_INVOICES = """CREATE OR REPLACE TEMP TABLE scoped_invoices AS
    SELECT * FROM invoices
    WHERE rowid IN (SELECT rowid FROM invoices WHERE invoice_id IN (SELECT invoice_id FROM rules_scope))"""
CREATE_SCOPED_RULES = "CREATE OR REPLACE TEMP TABLE scoped_rules AS "
INSERT_SCOPED_RULES = "INSERT INTO line_rules BY NAME SELECT * FROM scoped_rules"
DROP_SCOPE = "DROP TABLE rules_scope; DROP TABLE scoped_tracking; DROP TABLE scoped_invoices; DROP TABLE scoped_rules"
DELETE_ALL = "DELETE FROM line_rules; DELETE FROM refusable_invoices"
# Written in the lines' stored order, which the sync makes newest invoice first (core/sync.py ORDER_STAGE_LINES),
# the order the preview reads them in: a page of the newest lines then reads a few row groups, as DuckDB skips
# those whose invoice dates cannot make the page. No ORDER BY: sorting a million verdicts cost a refresh half its
# time and a third of its memory (`python -m core bench rules`), and the order only speeds pages, it is never
# what a page shows (core/preview.py orders every read).
INSERT_ALL = "INSERT INTO line_rules BY NAME " + RULES_SELECT.format(**ALL_LINES)
# The app-owned tables the rules read besides the mirror: with copies of them, another database holding a
# whole mirror (a sync's scratch file) decides every line as this one would.
SETTINGS_TABLES = ("slots", "client_settings", "team_members", "services", "line_overrides", "xero_refusals")
BUILD = "CREATE TABLE line_rules AS " + RULES_SELECT.format(**ALL_LINES)
TAKE = DELETE_ALL + """;
    INSERT INTO line_rules BY NAME SELECT * FROM {schema}.line_rules;
    INSERT INTO refusable_invoices BY NAME SELECT * FROM {schema}.refusable_invoices"""
# Some invoices' rules, decided in a push's copy (`take_for`).
DELETE_REFUSABLE = "DELETE FROM refusable_invoices WHERE invoice_id IN (SELECT unnest($invoice_ids::VARCHAR[]))"
INSERT_DECIDED = ("INSERT INTO line_rules BY NAME SELECT * FROM decided_rules",
                  "INSERT INTO refusable_invoices BY NAME SELECT * FROM decided_refusable")


def refresh(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute the rules for every line. Call inside the writer's transaction."""
    con.execute(DELETE_ALL)
    con.execute(INSERT_ALL)
    check_sent_back(con, ALL_LINES, RECORD_REFUSABLE)


def build(con: duckdb.DuckDBPyConnection) -> None:
    """Decide every line into a new table `line_rules`, in a database that holds a whole mirror and copies of
    SETTINGS_TABLES: a sync does so in its scratch file, without holding the database (see `take`)."""
    con.execute(BUILD)
    check_sent_back(con, ALL_LINES, BUILD_REFUSABLE)


def take(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Replace every line's rules by those `build` made in the attached database `schema`: right when the
    mirror now equals that database's and the settings are those it was given. Call inside the writer's
    transaction."""
    con.execute(TAKE.format(schema=schema))


def take_for(con: duckdb.DuckDBPyConnection, invoice_ids: list[str], decided: "landed_rules.Decided") -> None:
    """Replace these invoices' rules by those `refresh_for` decided in a push's copy (core/landed_rules.py), from
    the same rows and settings. Call inside the writer's transaction."""
    store.delete_at(con, "line_rules", "invoice_id", invoice_ids, decided.rules_rows)
    con.execute(DELETE_REFUSABLE, {"invoice_ids": invoice_ids})
    con.register("decided_rules", decided.rules)
    con.register("decided_refusable", decided.refusable)
    try:
        for sql in INSERT_DECIDED:
            con.execute(sql)
    finally:
        con.unregister("decided_rules")
        con.unregister("decided_refusable")


def refresh_for(con: duckdb.DuckDBPyConnection, *, contact_ids: Iterable[str] = (),
                item_codes: Iterable[str] = (), member_ids: Iterable[int] = (),
                line_ids: Iterable[str] = (), invoice_ids: Iterable[str] = ()) -> None:
    """Recompute the rules for the lines an edit of these clients, items, members, lines or invoices touches.

    Call inside the writer's transaction, after the edit.
    """
    ids = {"contact_ids": list(contact_ids), "item_codes": list(item_codes), "member_ids": list(member_ids),
           "line_ids": list(line_ids), "invoice_ids": list(invoice_ids)}
    given = {kind: values for kind, values in ids.items() if values}
    if not given:
        return
    con.execute(CREATE_SCOPE.format(parts=" UNION ".join(SCOPE_PARTS[kind] for kind in given)), given)
    con.execute(DELETE_SCOPED)
    if ids["line_ids"]:  # lines gone from the mirror are in no scope
        con.execute(DELETE_GONE, {"line_ids": ids["line_ids"]})
    con.execute(CREATE_SCOPED_TRACKING)
    con.execute(CREATE_SCOPED_INVOICES)
    con.execute(CREATE_SCOPED_RULES + RULES_SELECT.format(**SCOPED_LINES))
    check_sent_back(con, SCOPED_LINES, RECORD_REFUSABLE)
    con.execute(INSERT_SCOPED_RULES)
    con.execute(DROP_SCOPE)


def check_sent_back(con: duckdb.DuckDBPyConnection, names: dict[str, str], record_refusable: str) -> None:
    """Block the `change` lines of the invoices Xero would refuse back whole, and record those it may refuse."""
    con.execute(SENT_BACK.format(**names))
    con.execute(BLOCK_REFUSED.format(**names))
    con.execute(record_refusable)
    con.execute(DROP_SENT_BACK)
