"""Revenue of sales invoices, net of sales credit notes, by tracking option: as it stands in Xero, and as it
would after the rules.

A credit note's lines count negative, at the credit note's date, in both views. Every figure is in
the organisation's base currency and excludes tax:
- a line's revenue is its LineAmount, less its TaxAmount when the invoice's amounts are
  tax-inclusive (`LineAmountTypes` "Inclusive"); "Exclusive" and "NoTax" amounts are ex-tax already;
- a foreign-currency line is converted with its invoice's CurrencyRate (`base_amount_sql`) and
  rounded to the cent, line by line, so every total below is an exact sum of the same cents.

One DuckDB pass (`SUMMARY`, grouping sets) sums the lines by month and option for each slot and
view, and by TC1 × TC2 for each view. The chart, the ranking and the cross table are pure functions
of that small `Summary`; only the drill-down into one option goes back to the lines (`DRILL`).
A line with no option in a slot counts in the "Unassigned" bucket (option id None).

"As in Xero" is the option the line carries now in the slot's category; "after rules" is the
option `line_rules` wants when it would write that slot (`tcS_apply`), else the current one. Both
come from `line_rules`, so both views always read the same slot map as the rules.
"""
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple

import duckdb
import pandas as pd

from core import csv_out, rules, slots, store
from core.statuses import REVENUE, REVENUE_CHOICES

VIEWS = {"xero": "As in Xero", "rules": "After rules"}
PERIODS = ("month", "quarter")
SLOTS = (1, 2)
UNASSIGNED = "Unassigned"
NO_DATE = "No date"
ZERO = Decimal("0.00")


class InvalidFilter(ValueError):
    """A filter that cannot be applied; the message says why in plain words."""


def base_amount_sql(amount: str, rate: str) -> str:
    """SQL for `amount` (in the invoice's currency) in the base currency, exact to the cent.

    Xero documents CurrencyRate as the rate from the base currency to the invoice's currency:
    1 unit of base currency = `rate` units of the invoice's currency, so
    base amount = amount / rate. (docs/xero-behaviours.md: the direction is not confirmed against a real
    organisation; this function is the one place to change if it is the other way round.)
    Base-currency invoices carry a rate of 1; a missing or zero rate is read as 1.

    DuckDB divides DECIMALs in floating point, so the division is done on whole numbers: cents
    times 10^10 over the rate times 10^10 (its DECIMAL(18,10) scale), rounded half away from zero.
    """
    amount, rate = f"({amount})", f"({rate})"
    cents, rate_units = f"CAST({amount} * 100 AS HUGEINT)", f"CAST({rate} * 10000000000 AS HUGEINT)"
    return f"""CASE WHEN {rate} = 1 OR {rate} IS NULL OR {rate} = 0 THEN CAST({amount} AS DECIMAL(18, 2))
        ELSE CAST(CAST((2 * {cents} * 10000000000 + sign({cents}) * {rate_units}) // (2 * {rate_units})
                       AS DECIMAL(18, 0)) * 0.01 AS DECIMAL(18, 2)) END"""


CREDIT_NOTES_NOTE = ("Sales credit notes are included: their lines count negative, at the credit note's date, "
                     "in both views.")
NET_OF_CREDIT_NOTES = "net of credit notes"
CONVERSION_NOTE = (CREDIT_NOTES_NOTE + " Amounts exclude tax and are in the organisation's base currency. An invoice "
                   "or credit note in another currency is converted with its own currency rate from Xero, read as "
                   "1 {base} = rate × invoice currency, so base amount = amount ÷ rate "
                   "(rounded to the cent, line by line).")
# The exported CSVs' headers say what the money columns hold.
EXPORT_HEADERS = {"as_in_xero": f"as_in_xero ({NET_OF_CREDIT_NOTES})",
                  "after_rules": f"after_rules ({NET_OF_CREDIT_NOTES})",
                  "amount": f"amount ({NET_OF_CREDIT_NOTES})"}


# Every line the filters keep, with its revenue (negative on a credit note) and its option for each
# slot and view. `line_rules` holds every invoice and credit-note line with its current option per slot (from line_tracking, for the slot map
# the rules read) and what the rules want. Only tax-inclusive invoices' lines need their tax from
# invoice_lines: they are read in a branch of their own, so the other lines pay for no join.
# VOIDED and DELETED invoices never pass the status filter.
LINES_OF = """
    SELECT R.line_id, R.invoice_id, I.number, I.date, I.status, I.contact_id, I.currency_code, I.type,
           CASE WHEN I.type = '""" + rules.CREDIT_NOTE + """' THEN -({amount}) ELSE {amount} END AS amount,
           R.tc1_current_option_id AS tc1_xero,
           CASE WHEN R.tc1_apply THEN R.tc1_wanted_option_id ELSE R.tc1_current_option_id END AS tc1_rules,
           R.tc2_current_option_id AS tc2_xero,
           CASE WHEN R.tc2_apply THEN R.tc2_wanted_option_id ELSE R.tc2_current_option_id END AS tc2_rules
    FROM line_rules R
    JOIN invoices I USING (invoice_id)
    {join}
    WHERE I.line_amount_types {amount_types}
      AND list_contains($statuses::VARCHAR[], I.status)
      AND ($date_from::DATE IS NULL OR I.date >= $date_from::DATE)
      AND ($date_to::DATE IS NULL OR I.date <= $date_to::DATE)
      AND (len($contact_ids::VARCHAR[]) = 0 OR list_contains($contact_ids::VARCHAR[], I.contact_id))
      AND (len($currencies::VARCHAR[]) = 0 OR list_contains($currencies::VARCHAR[], I.currency_code))
"""
LINES = "WITH lines AS (" + LINES_OF.format(
    amount=base_amount_sql("R.line_amount", "I.currency_rate"), join="",
    amount_types="IS DISTINCT FROM 'Inclusive'",
) + "    UNION ALL" + LINES_OF.format(
    amount=base_amount_sql("R.line_amount - coalesce(L.tax_amount, 0)", "I.currency_rate"),
    join="LEFT JOIN invoice_lines L USING (line_id)", amount_types="= 'Inclusive'",
) + ")\n"
# Six sums in one pass: by month and option for each slot and view, and TC1 × TC2 for each view,
# from the lines summed once by month and all four options. `totals` names the sum a row belongs
# to: an option column, or `cross_xero` / `cross_rules`.
SUMMARY = LINES + """,
cube AS (
    SELECT date_trunc('month', date)::DATE AS month, tc1_xero, tc1_rules, tc2_xero, tc2_rules,
           coalesce(sum(amount), 0) AS amount, count(*) AS lines
    FROM lines
    GROUP BY ALL
)
SELECT CASE WHEN grouping(month) = 1 THEN 'cross_' || CASE WHEN grouping(tc1_xero) = 0 THEN 'xero' ELSE 'rules' END
            WHEN grouping(tc1_xero) = 0 THEN 'tc1_xero' WHEN grouping(tc1_rules) = 0 THEN 'tc1_rules'
            WHEN grouping(tc2_xero) = 0 THEN 'tc2_xero' ELSE 'tc2_rules' END AS totals,
       month, tc1_xero, tc1_rules, tc2_xero, tc2_rules,
       sum(amount)::DECIMAL(18, 2) AS amount, sum(lines)::BIGINT AS lines
FROM cube
GROUP BY GROUPING SETS ((month, tc1_xero), (month, tc1_rules), (month, tc2_xero), (month, tc2_rules),
                        (tc1_xero, tc2_xero), (tc1_rules, tc2_rules))
"""
# The drill-down into one option: its invoices ({option} is a column of `lines` in OPTION_COLUMNS).
DRILL = LINES + """
SELECT X.invoice_id, X.number,
       """ + rules.document_noun_sql("X.type") + """ AS kind,
       X.date, X.contact_id, coalesce(C.name, X.contact_id) AS client, X.status,
       X.currency_code, count(*) AS lines, coalesce(sum(X.amount), 0)::DECIMAL(18, 2) AS amount
FROM lines X LEFT JOIN contacts C ON C.contact_id = X.contact_id
WHERE X.{option} IS NOT DISTINCT FROM $option
GROUP BY ALL
ORDER BY date DESC NULLS LAST, number, invoice_id
"""
OPTION_COLUMNS = {(slot, view): f"tc{slot}_{view}" for slot in SLOTS for view in VIEWS}
OPTION_NAMES = """
SELECT option_id, name FROM tracking_options
UNION ALL
SELECT DISTINCT option_id, option_name FROM line_tracking
WHERE option_id IS NOT NULL AND option_name IS NOT NULL
  AND option_id NOT IN (SELECT option_id FROM tracking_options)
"""
CHOICES = {
    "clients": """SELECT DISTINCT I.contact_id, coalesce(C.name, I.contact_id) AS name
                  FROM invoices I LEFT JOIN contacts C USING (contact_id) ORDER BY lower(name), contact_id""",
    "currencies": "SELECT DISTINCT currency_code FROM invoices ORDER BY currency_code",
}


@dataclass(frozen=True)
class Filters:
    """Which invoices count: dates inclusive; no clients / currencies means all of them."""
    date_from: date | None = None
    date_to: date | None = None
    statuses: tuple[str, ...] = REVENUE
    contact_ids: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()

    def __post_init__(self):
        wrong = [s for s in self.statuses if s not in REVENUE_CHOICES]
        if wrong:
            raise InvalidFilter(f"Revenue counts only {', '.join(REVENUE_CHOICES)} invoices, not "
                                f"{', '.join(wrong)}.")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InvalidFilter(f"The start date {self.date_from} is after the end date {self.date_to}.")


class Sum(NamedTuple):
    """Revenue of the lines sharing a month (None in a cross sum) and one or two options."""
    month: date | None
    option: str | None
    tc2_option: str | None  # the TC2 option in a cross sum
    amount: Decimal
    lines: int


@dataclass(frozen=True)
class Summary:
    """The filtered revenue, summed by month and option; everything on the page derives from it.

    `months[(slot, view)]` sums by month and that slot's option in the view; `cross[view]` by
    TC1 option × TC2 option.
    """
    base_currency: str
    slot_names: dict[int, str]
    option_names: dict[str, str]
    months: dict[tuple[int, str], tuple[Sum, ...]]
    cross: dict[str, tuple[Sum, ...]]

    @property
    def total(self) -> Decimal:
        return sum((s.amount for s in self.months[1, "xero"]), ZERO)

    @property
    def lines(self) -> int:
        return sum(s.lines for s in self.months[1, "xero"])

    def name(self, option_id: str | None) -> str:
        return UNASSIGNED if option_id is None else self.option_names.get(option_id, option_id)


def params(filters: Filters) -> dict:
    """The query parameters of `LINES` for these filters."""
    return {"statuses": list(filters.statuses), "date_from": filters.date_from, "date_to": filters.date_to,
            "contact_ids": list(filters.contact_ids), "currencies": list(filters.currencies)}


def base_currency(con: duckdb.DuckDBPyConnection) -> str:
    """The currency revenue is in, as people read it (before the first sync there is none yet)."""
    return store.base_currency(con) or "base currency"


def slot_names(con: duckdb.DuckDBPyConnection) -> dict[int, str]:
    """slot → its category's name, or "Tracking Category N" while the slot has none."""
    return {slot: name or f"Tracking Category {slot}" for slot, name in slots.names(con).items()}


def summary(con: duckdb.DuckDBPyConnection, filters: Filters = Filters()) -> Summary:
    """The filtered lines' revenue by month and option for both slots and views, and TC1 × TC2."""
    sums = defaultdict(list)
    result = con.execute(SUMMARY, params(filters))
    for totals, month, tc1_xero, tc1_rules, tc2_xero, tc2_rules, amount, lines in result.fetchall():
        options = {"tc1_xero": tc1_xero, "tc1_rules": tc1_rules, "tc2_xero": tc2_xero, "tc2_rules": tc2_rules}
        if totals.startswith("cross_"):
            view = totals.removeprefix("cross_")
            sums[view].append(Sum(None, options[f"tc1_{view}"], options[f"tc2_{view}"], amount, lines))
        else:
            sums[totals].append(Sum(month, options[totals], None, amount, lines))
    return Summary(base_currency(con), slot_names(con), dict(con.execute(OPTION_NAMES).fetchall()),
                   months={key: tuple(sums[column]) for key, column in OPTION_COLUMNS.items()},
                   cross={view: tuple(sums[view]) for view in VIEWS})


def _check(slot: int, view: str) -> str:
    if (slot, view) not in OPTION_COLUMNS:
        raise InvalidFilter(f"Choose slot 1 or 2 and view {' or '.join(VIEWS)}, not {slot!r} / {view!r}.")
    return OPTION_COLUMNS[slot, view]


def period_label(month: date | None, period: str) -> str:
    if month is None:
        return NO_DATE
    if period == "quarter":
        return f"{month.year} Q{(month.month - 1) // 3 + 1}"
    return f"{month:%Y-%m}"


def _totals(summary: Summary, slot: int, key=lambda s: None) -> dict:
    """(key, option) → [as in Xero, after rules], summed over the slot's month sums."""
    totals = defaultdict(lambda: [ZERO, ZERO])
    for i, view in enumerate(VIEWS):
        for s in summary.months[slot, view]:
            totals[key(s), s.option][i] += s.amount
    return totals


def _order(summary: Summary, slot: int, view: str) -> list[str | None]:
    """The slot's options in either view, largest first in `view`, Unassigned last."""
    totals = {}
    for each in VIEWS:
        for s in summary.months[slot, each]:
            totals[s.option] = totals.get(s.option, ZERO) + (s.amount if each == view else ZERO)
    return sorted(totals, key=lambda o: (o is None, -totals[o], summary.name(o).casefold(), o or ""))


def ranking(summary: Summary, slot: int, view: str = "xero") -> pd.DataFrame:
    """One row per option of the slot: revenue as in Xero, after rules, the difference, and the
    view's share of the total in percent; largest first in the chosen view, Unassigned last."""
    _check(slot, view)
    totals = {option: amounts for (_, option), amounts in _totals(summary, slot).items()}
    grand = summary.total
    rows = []
    for option in _order(summary, slot, view):
        xero, rules = totals[option]
        figure = xero if view == "xero" else rules
        share = (figure * 100 / grand).quantize(Decimal("0.1")) if grand else None
        rows.append({"option_id": option, "option": summary.name(option), "as_in_xero": xero,
                     "after_rules": rules, "difference": rules - xero, "share_pct": share})
    return pd.DataFrame(rows, columns=["option_id", "option", "as_in_xero", "after_rules", "difference",
                                       "share_pct"], dtype=object)


def moved(ranking: pd.DataFrame) -> Decimal:
    """How much revenue the rules move between the options of a `ranking` (net, per option)."""
    return sum((d for d in ranking["difference"] if d > 0), ZERO)


def by_period(summary: Summary, slot: int, period: str = "month", view: str = "xero") -> pd.DataFrame:
    """Revenue per period and option of the slot (both views and the difference), periods in order,
    options in the ranking's order."""
    _check(slot, view)
    if period not in PERIODS:
        raise InvalidFilter(f"Choose the period {' or '.join(PERIODS)}, not {period!r}.")
    totals = _totals(summary, slot, key=lambda s: s.month and period_label(s.month, period))
    rank = {option: i for i, option in enumerate(_order(summary, slot, view))}
    keys = sorted(totals, key=lambda k: (k[0] is None, k[0] or "", rank[k[1]]))
    rows = [{"period": label or NO_DATE, "option_id": option, "option": summary.name(option),
             "as_in_xero": totals[label, option][0], "after_rules": totals[label, option][1],
             "difference": totals[label, option][1] - totals[label, option][0]}
            for label, option in keys]
    return pd.DataFrame(rows, columns=["period", "option_id", "option", "as_in_xero", "after_rules", "difference"],
                        dtype=object)


def cross_table(summary: Summary, view: str = "xero") -> pd.DataFrame:
    """TC1 options (rows) × TC2 options (columns) in the view, with a Total row and column."""
    _check(1, view)
    totals = defaultdict(lambda: ZERO)
    for s in summary.cross[view]:
        totals[s.option, s.tc2_option] += s.amount
    present = {1: {r for r, _ in totals}, 2: {c for _, c in totals}}
    rows, columns = ([o for o in _order(summary, slot, view) if o in present[slot]] for slot in SLOTS)
    body = [[totals[r, c] for c in columns] for r in rows]
    body = [row + [sum(row, ZERO)] for row in body]
    body.append([sum(column, ZERO) for column in zip(*body)] or [ZERO])
    index = pd.Index([summary.name(r) for r in rows] + ["Total"],
                     name=f"{summary.slot_names[1]} \\ {summary.slot_names[2]}", dtype=object)
    return pd.DataFrame(body, index=index, columns=[summary.name(c) for c in columns] + ["Total"], dtype=object)


class Drill(NamedTuple):
    """One option's clients (largest first) and invoices (newest first), with the revenue of the
    option's lines on each."""
    clients: pd.DataFrame
    invoices: pd.DataFrame


def drill(con: duckdb.DuckDBPyConnection, filters: Filters, slot: int, view: str, option_id: str | None) -> Drill:
    """The clients and invoices whose lines carry this option (None: Unassigned) in the view."""
    result = con.execute(DRILL.format(option=_check(slot, view)), {**params(filters), "option": option_id})
    invoices = pd.DataFrame(result.fetchall(), columns=[d[0] for d in result.description], dtype=object)
    totals = {}
    for contact_id, client, lines, amount in invoices[["contact_id", "client", "lines", "amount"]].itertuples(
            index=False):
        count, line_count, total = totals.get((contact_id, client), (0, 0, ZERO))
        totals[contact_id, client] = (count + 1, line_count + lines, total + amount)
    rows = sorted(((*client, *figures) for client, figures in totals.items()),
                  key=lambda row: (-row[4], row[1].casefold(), row[0]))
    clients = pd.DataFrame(rows, columns=["contact_id", "client", "invoices", "lines", "amount"], dtype=object)
    return Drill(clients, invoices.drop(columns="contact_id"))


@dataclass(frozen=True)
class Choices:
    """What the page's widgets offer: the slots' names, clients (id, name) and currencies."""
    slot_names: dict[int, str]
    clients: tuple[tuple[str, str], ...]
    currencies: tuple[str, ...]


def choices(con: duckdb.DuckDBPyConnection) -> Choices:
    return Choices(slot_names(con), tuple(con.execute(CHOICES["clients"]).fetchall()),
                   tuple(c for (c,) in con.execute(CHOICES["currencies"]).fetchall()))


def csv_bytes(table: pd.DataFrame, *, index: bool = False) -> bytes:
    """A table as CSV for Excel: UTF-8 with a BOM, text cells that look like formulas neutralised,
    money written exactly as its Decimal value; headers say the money is net of credit notes."""
    frame = table.reset_index() if index else table
    headers = [EXPORT_HEADERS.get(str(c), str(c)) for c in frame.columns]
    if index:
        headers[0] = f"{headers[0]} ({NET_OF_CREDIT_NOTES})"
    rows = ([None if isinstance(v, float) and v != v else v for v in row] for row in frame.itertuples(index=False))
    return csv_out.write(headers, rows).encode("utf-8-sig")
