"""The Overview page's figures: what was synced, how lines carry each slot's options, what needs attention."""
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from core import slots

SYNCED = """
SELECT (SELECT count(*) FROM invoices), (SELECT count(*) FROM invoice_lines),
       (SELECT min(date) FROM invoices), (SELECT max(date) FROM invoices)
"""
# Lines per option of one category, as Xero has them now; lines without an option in it come last.
LINES_PER_OPTION = """
SELECT coalesce(O.name, T.option_name) AS option, O.status, count(*) AS lines
FROM line_tracking T LEFT JOIN tracking_options O USING (option_id)
WHERE T.category_id = $category_id AND T.option_id IS NOT NULL
GROUP BY ALL
UNION ALL
SELECT '(none)', '', count(*)
FROM invoice_lines L
WHERE NOT EXISTS (SELECT 1 FROM line_tracking T
                  WHERE T.line_id = L.line_id AND T.category_id = $category_id AND T.option_id IS NOT NULL)
ORDER BY option = '(none)', lines DESC, option
"""
# A locked invoice has "wanted changes" when a rule would change one of its lines.
ATTENTION = """
SELECT count(*) FILTER (WHERE status = 'change') AS lines_to_change,
       count(DISTINCT invoice_id) FILTER (WHERE status = 'change') AS invoices_to_change,
       count(*) FILTER (WHERE status = 'blocked') AS blocked_lines,
       count(DISTINCT invoice_id) FILTER (
           WHERE status = 'locked'
             AND ((tc1_apply AND tc1_current_option_id IS DISTINCT FROM tc1_wanted_option_id)
               OR (tc2_apply AND tc2_current_option_id IS DISTINCT FROM tc2_wanted_option_id))
       ) AS locked_invoices_with_changes
FROM line_rules
"""


@dataclass(frozen=True)
class Synced:
    invoices: int
    lines: int
    first_date: date | None
    last_date: date | None


@dataclass(frozen=True)
class Attention:
    lines_to_change: int
    invoices_to_change: int
    blocked_lines: int
    locked_invoices_with_changes: int


def synced(con: duckdb.DuckDBPyConnection) -> Synced:
    return Synced(*con.execute(SYNCED).fetchone())


def lines_per_option(con: duckdb.DuckDBPyConnection, slot: int) -> pd.DataFrame:
    """Lines per option of the slot's category as Xero has them (columns: option, status, lines)."""
    category_id = slots.current(con)[slot]
    if category_id is None:
        return pd.DataFrame({"option": [], "status": [], "lines": []})
    return con.execute(LINES_PER_OPTION, {"category_id": category_id}).df()


def attention(con: duckdb.DuckDBPyConnection) -> Attention:
    return Attention(*con.execute(ATTENTION).fetchone())
