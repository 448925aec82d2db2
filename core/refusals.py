"""Try, then believe Xero, on archived options (docs/push-protocol.md §6).

Whether Xero takes back a line that keeps an archived option, when the push re-sends it unchanged,
is unconfirmed (docs/xero-behaviours.md). So such an invoice is not blocked on a guess: the preview and the
push plan mark it **may be refused** (`may_be_refused`, worked out when read, from the mirror), and
the push sends it. When Xero refuses an invoice that carries an option the mirror holds as not
ACTIVE, the refusal is believed: `record` keeps it, in Xero's own words, and the rules block that
invoice (core/rules.py) until it changes in Xero (its UpdatedDateUTC in the mirror) or its options
are ACTIVE again. A push does not send it again meanwhile.
"""
from collections.abc import Iterable
from datetime import UTC, datetime

import duckdb

from core import push_plan, rules

# The options (ids) Xero would not take on a new line: not ACTIVE, or in a category that is not.
INACTIVE_OPTIONS = """
SELECT o.option_id FROM tracking_options o LEFT JOIN tracking_categories k ON k.category_id = o.category_id
WHERE o.status <> 'ACTIVE' OR k.status IS DISTINCT FROM 'ACTIVE'
"""
# Per invoice with a `change` line: the first line a push would send back still carrying an option that is
# not ACTIVE (an entry in a slot the push rewrites on that line is not sent back), and how many more.
MAY_BE_REFUSED = """
WITH kept AS (
    SELECT r.invoice_id, r.position,
           CASE WHEN k.status <> 'ACTIVE'
                THEN 'option ''' || o.name || ''' of the ' || lower(k.status) || ' category ''' || k.name || ''''
                ELSE lower(o.status) || ' option ''' || o.name || ''' (' || k.name || ')' END AS entry
    FROM tracking_options o
    JOIN tracking_categories k ON k.category_id = o.category_id
    JOIN line_tracking t ON t.option_id = o.option_id AND t.category_id = o.category_id
    JOIN line_rules r ON r.line_id = t.line_id
    WHERE (o.status <> 'ACTIVE' OR k.status <> 'ACTIVE')
      AND ($ids::VARCHAR[] IS NULL OR list_contains($ids::VARCHAR[], r.invoice_id))
      AND NOT (r.status = 'change' AND (r.tc1_apply AND t.category_id = r.tc1_category_id
                                        OR r.tc2_apply AND t.category_id = r.tc2_category_id))
)
SELECT invoice_id,
       'Xero may refuse this invoice: line ' || arg_min(position + 1 || ' keeps ' || entry, position)
       || CASE WHEN count(*) = 2 THEN ' (and 1 more line like it)'
               WHEN count(*) > 2 THEN ' (and ' || (count(*) - 1) || ' more lines like it)' ELSE '' END AS reason
FROM kept
WHERE invoice_id IN (SELECT invoice_id FROM line_rules WHERE status = 'change'
                     AND ($ids::VARCHAR[] IS NULL OR list_contains($ids::VARCHAR[], invoice_id)))
GROUP BY invoice_id
"""
RECORD = """
INSERT OR REPLACE INTO xero_refusals (invoice_id, updated_utc, option_ids, message, push_id, refused_at)
SELECT unnest($invoice_ids::VARCHAR[]), unnest($updated::TIMESTAMP[]), unnest($options::VARCHAR[][]),
       unnest($messages::VARCHAR[]), $push_id, $now
"""


def inactive_options(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    return frozenset(option_id for (option_id,) in con.execute(INACTIVE_OPTIONS).fetchall())


def may_be_refused(con: duckdb.DuckDBPyConnection, invoice_ids: Iterable[str] | None = None) -> dict[str, str]:
    """{invoice id: why Xero may refuse it} for the invoices with a `change` (of `invoice_ids`, when given)."""
    ids = None if invoice_ids is None else list(invoice_ids)
    return dict(con.execute(MAY_BE_REFUSED, {"ids": ids}).fetchall())


def carried_inactive(update: dict, inactive: frozenset[str]) -> list[str]:
    """The options not ACTIVE that an invoice update sends (sorted), for telling a refusal for them."""
    return sorted({option for line in update["LineItems"] for option in push_plan.tracking_of(line).values()
                   if option in inactive})


def record(con: duckdb.DuckDBPyConnection, refused: list[dict], push_id: int) -> None:
    """Keep Xero's refusals (dicts: invoice_id, updated_utc, option_ids, message) and block those invoices
    in the rules. Call inside the writer's transaction."""
    if not refused:
        return
    con.execute(RECORD, {"invoice_ids": [r["invoice_id"] for r in refused],
                         "updated": [r["updated_utc"] for r in refused],
                         "options": [r["option_ids"] for r in refused],
                         "messages": [r["message"] for r in refused],
                         "push_id": push_id, "now": datetime.now(UTC).replace(tzinfo=None)})
    rules.refresh_for(con, invoice_ids=[r["invoice_id"] for r in refused])
