"""Try, then believe Xero, on archived options (docs/push-protocol.md §6).

Whether Xero takes back a line that keeps an archived option, when the push re-sends it unchanged,
is unconfirmed (docs/xero-behaviours.md). So such an invoice is not blocked on a guess: the rules record it in
`refusable_invoices` with why Xero **may refuse** it (core/rules.py SENT_BACK), the preview and the push plan
show that as its `change` lines' reason, and the push sends it. When Xero refuses an invoice that carries an
option the mirror holds as not ACTIVE, the refusal is believed: `record` keeps it, in Xero's own words, and the
rules block that invoice (core/rules.py) until it changes in Xero (its UpdatedDateUTC in the mirror) or its options
are ACTIVE again. A push does not send it again meanwhile.
"""
from datetime import UTC, datetime

import duckdb

from core import push_plan, rules

# The options (ids) Xero would not take on a new line: not ACTIVE, or in a category that is not.
INACTIVE_OPTIONS = """
SELECT o.option_id FROM tracking_options o LEFT JOIN tracking_categories k ON k.category_id = o.category_id
WHERE o.status <> 'ACTIVE' OR k.status IS DISTINCT FROM 'ACTIVE'
"""
RECORD = """
INSERT OR REPLACE INTO xero_refusals (invoice_id, updated_utc, option_ids, message, push_id, refused_at)
SELECT unnest($invoice_ids::VARCHAR[]), unnest($updated::TIMESTAMP[]), unnest($options::VARCHAR[][]),
       unnest($messages::VARCHAR[]), $push_id, $now
"""


def inactive_options(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    return frozenset(option_id for (option_id,) in con.execute(INACTIVE_OPTIONS).fetchall())


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
