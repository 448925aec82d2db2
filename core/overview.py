"""The Overview page's figures: revenue first (this month, quarter and year to date against the same
stretch of the period before), then what was synced, how lines carry each slot's options, what needs attention."""
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

import duckdb
import pandas as pd

from core import revenue, slots

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


class Period(NamedTuple):
    """A period to date (`start` … `end`) and the same stretch of the period before it."""
    name: str
    start: date
    end: date
    before_start: date
    before_end: date


PERIOD_NAMES = ("This month", "This quarter", "Year to date")
# Revenue as in Xero per option of each slot, for every period and its "before", in one pass over the lines.
MONEY = revenue.LINES + """
SELECT grouping(tc2_xero) + 1 AS slot, CASE WHEN grouping(tc2_xero) = 1 THEN tc1_xero ELSE tc2_xero END AS option_id,
       {sums}
FROM lines
GROUP BY GROUPING SETS ((tc1_xero), (tc2_xero))
"""
# {name} is one of money's fixed column names; its dates are bound as ${name}_start and ${name}_end.
WINDOW = "coalesce(sum(amount) FILTER (WHERE date BETWEEN ${name}_start AND ${name}_end), 0)::DECIMAL(18, 2) AS {name}"


def periods(today: date) -> list[Period]:
    """This month, this quarter and the year to date, each next to the same stretch of the period before: from
    its first day to the same day of the month (or that month's last day: 31 March against 28 February)."""
    quarter = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    starts = zip(PERIOD_NAMES, [today.replace(day=1), quarter, today.replace(month=1, day=1)], (1, 3, 12))
    return [Period(name, start, today, _months_before(start, months), _months_before(today, months))
            for name, start, months in starts]


def _months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    first = date(index // 12, index % 12 + 1, 1)
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return first.replace(day=min(day.day, last.day))


@dataclass(frozen=True)
class Money:
    """Revenue as in Xero (ex tax, base currency, net of credit notes) per slot and option, for `periods`."""
    today: date
    currency: str
    slot_names: dict[int, str]
    option_names: dict[str, str]
    periods: tuple[Period, ...]
    by_option: dict[int, pd.DataFrame]  # per slot: option_id, option, now_0, before_0, now_1, before_1, …

    def totals(self, slot: int = 1) -> list[tuple[revenue.Decimal, revenue.Decimal]]:
        """(now, before) for each period, over every option of the slot (both slots add up to the same)."""
        table = self.by_option[slot]
        return [(sum(table[f"now_{i}"], revenue.ZERO), sum(table[f"before_{i}"], revenue.ZERO))
                for i in range(len(self.periods))]

    def unassigned(self, slot: int, period: int = -1) -> revenue.Decimal:
        table = self.by_option[slot]
        return sum(table.loc[table["option_id"].isna(), f"now_{period % len(self.periods)}"], revenue.ZERO)


def money(con: duckdb.DuckDBPyConnection, today: date) -> Money:
    chosen = periods(today)
    windows = {f"{kind}_{i}": (start, end)
               for i, p in enumerate(chosen) for kind, start, end in (("now", p.start, p.end),
                                                                       ("before", p.before_start, p.before_end))}
    sums = ",\n       ".join(WINDOW.format(name=name) for name in windows)
    dates = {f"{name}_{edge}": day for name, window in windows.items() for edge, day in zip(("start", "end"), window)}
    filters = revenue.Filters(date_from=min(p.before_start for p in chosen), date_to=today)
    result = con.execute(MONEY.format(sums=sums), {**revenue.params(filters), **dates})
    rows = pd.DataFrame(result.fetchall(), columns=[d[0] for d in result.description], dtype=object)
    summary_names = dict(con.execute(revenue.OPTION_NAMES).fetchall())
    by_option = {}
    for slot in slots.SLOTS:
        table = rows[rows["slot"] == slot].drop(columns="slot")
        table.insert(1, "option", [revenue.UNASSIGNED if o is None else summary_names.get(o, o)
                                   for o in table["option_id"]])
        order = table.sort_values(by=[f"now_{len(chosen) - 1}", "option"], ascending=[False, True], kind="stable")
        unassigned = order["option_id"].isna()
        by_option[slot] = pd.concat([order[~unassigned], order[unassigned]]).reset_index(drop=True)
    return Money(today, revenue.base_currency(con), revenue.slot_names(con), summary_names, tuple(chosen), by_option)
