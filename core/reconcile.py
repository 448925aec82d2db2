"""The dashboard's revenue against Xero's own Profit and Loss report, option by option.

For a period and a slot, Xero's Profit and Loss split by the slot's tracking category gives the
income of every option (the SummaryRow of each section titled "… Income": Income, Trading Income,
Other Income). Beside it stands the dashboard's "as in Xero" figure: `revenue.summary` with the
statuses the report counts on the accruals basis (AUTHORISED, PAID), every client and currency,
invoices less credit notes. The report's headings are read, never assumed (docs/xero-behaviours.md): a
heading that names an option of the category is that option, "Total" is the total, and the one
heading left is the untagged column.

A difference is explained as far as the data allows. Xero's report counts every posting to its
income accounts, so POSTED manual journals dated in the period whose lines post to one of the
report's income accounts and carry the option are read from Xero and named. What they do not
cover is left unexplained, with what else it can be: bank transactions, prepayments and
overpayments, which the dashboard does not read, or a copy older than Xero's (sync again). Xero is
asked for the manual journals only when some option differs.
"""
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd

from core import revenue, slots, store
from core.xero.gateway import Gateway, parse_day

ZERO = Decimal("0.00")
TOTAL = "Total"
INCOME = "income"  # the report's income sections' titles end with it
AGREES = "Agrees to the cent."
JOURNALS = ("Xero's report also counts {count} manual journal{s} that carry this option: {names}.")
UNEXPLAINED = ("{amount} is not explained: Xero's report also counts bank transactions, prepayments and "
               "overpayments that carry this option, which the dashboard does not read; or the dashboard's copy "
               "is older than Xero's (sync, then check again).")
UNKNOWN_HEADING = "Xero's report has this column, but no option of that name was synced (renamed in Xero?)."
SYNCED_RANGE = "SELECT min(date), max(date) FROM invoices"
OPTION_NAMES = "SELECT name FROM tracking_options WHERE category_id = ?"


class ReconcileError(ValueError):
    """The reconciliation cannot be made; the message says why in plain words."""


@dataclass(frozen=True)
class Row:
    option: str
    xero: Decimal  # Xero's Profit and Loss: income with this option
    dashboard: Decimal  # the dashboard's "as in Xero" revenue
    explained: Decimal  # by the manual journals named in `explanation`
    explanation: str

    @property
    def difference(self) -> Decimal:
        return self.xero - self.dashboard

    @property
    def unexplained(self) -> Decimal:
        return self.difference - self.explained


@dataclass(frozen=True)
class Reconciliation:
    slot_name: str
    currency: str
    date_from: date
    date_to: date
    rows: tuple[Row, ...]  # the options, the untagged column, then the total

    @property
    def unexplained(self) -> list[Row]:
        return [row for row in self.rows[:-1] if row.unexplained]

    @property
    def agrees(self) -> bool:
        return all(not row.difference for row in self.rows)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([{"option": r.option, "xero": r.xero, "dashboard": r.dashboard,
                              "difference": r.difference, "explained": r.explained, "unexplained": r.unexplained,
                              "explanation": r.explanation} for r in self.rows],
                            columns=["option", "xero", "dashboard", "difference", "explained", "unexplained",
                                     "explanation"], dtype=object)

    def summary(self) -> str:
        period = f"{self.date_from} to {self.date_to}"
        if self.agrees:
            return f"Every {self.slot_name} option agrees with Xero's Profit and Loss to the cent, {period}."
        if not self.unexplained:
            return f"Every difference with Xero's Profit and Loss is explained, {period}."
        return (f"{len(self.unexplained)} {self.slot_name} option(s) differ from Xero's Profit and Loss by an "
                f"amount not explained, {period}.")


def synced_range(con) -> tuple[date | None, date | None]:
    """The first and last date of the synced invoices and credit notes: the default period."""
    return con.execute(SYNCED_RANGE).fetchone()


def reconcile(gw: Gateway, slot: int, date_from: date | None = None, date_to: date | None = None, *,
              db: Path | str | None = None) -> Reconciliation:
    """Xero's income per option of the slot's category next to the dashboard's "as in Xero" revenue.

    The database is read first and let go before Xero is asked."""
    with store.connect(db) as con:
        first, last = synced_range(con)
        date_from, date_to = date_from or first, date_to or last
        if date_from is None or date_to is None:
            raise ReconcileError("Nothing is synced yet: sync with Xero first.")
        category_id = slots.current(con)[slot]
        if category_id is None:
            raise ReconcileError(f"Slot {slot} has no tracking category: choose one on Settings.")
        summary = revenue.summary(con, revenue.Filters(date_from=date_from, date_to=date_to))
        option_names = {name for (name,) in con.execute(OPTION_NAMES, [category_id]).fetchall()}
    ranking = revenue.ranking(summary, slot, "xero")
    ours = {summary.name(option): amount for option, amount in zip(ranking["option_id"], ranking["as_in_xero"])}
    income, accounts = income_by_heading(gw.profit_and_loss(date_from, date_to, category_id))
    known = (option_names | set(ours)) - {revenue.UNASSIGNED}
    theirs = {_our_heading(heading, known, income): amount for heading, amount in income.items() if heading != TOTAL}
    differs = any(theirs.get(o, ZERO) != ours.get(o, ZERO) for o in set(theirs) | set(ours))
    journals = _journals(gw, category_id, accounts, date_from, date_to) if differs else {}
    headings = sorted(set(theirs) | set(ours), key=lambda o: (o == revenue.UNASSIGNED, -ours.get(o, ZERO), o))
    rows = [_row(o, theirs.get(o, ZERO), ours.get(o, ZERO), journals.get(o, []), o not in known | {revenue.UNASSIGNED})
            for o in headings]
    total = _row(TOTAL, income.get(TOTAL, sum(theirs.values(), ZERO)), summary.total,
                 [j for found in journals.values() for j in found], False)
    return Reconciliation(summary.slot_names[slot], summary.base_currency, date_from, date_to, (*rows, total))


def income_by_heading(report: dict) -> tuple[dict[str, Decimal], set[str]]:
    """The report's income per column heading (summed over its income sections), and its income accounts' ids."""
    rows = report.get("Rows") or []
    header = next((r for r in rows if r.get("RowType") == "Header"), None)
    if header is None:
        raise ReconcileError("Xero's Profit and Loss report has no header row.")
    headings = [cell.get("Value") or "" for cell in header["Cells"]][1:]
    income = dict.fromkeys(headings, ZERO)
    accounts = set()
    for section in rows:
        if section.get("RowType") != "Section" or not (section.get("Title") or "").lower().endswith(INCOME):
            continue
        for row in section.get("Rows") or []:
            cells = row.get("Cells") or []
            if row.get("RowType") == "SummaryRow":
                for heading, cell in zip(headings, cells[1:]):
                    income[heading] += _money(cell.get("Value"))
            accounts |= {a.get("Value") for a in (cells[0].get("Attributes") or []) if a.get("Id") == "account"} \
                if cells else set()
    return income, accounts


def _our_heading(heading: str, known: set[str], income: dict) -> str:
    """An option's name stays; the one heading naming no option (nor Total) is the untagged column."""
    if heading in known:
        return heading
    unknown = [h for h in income if h not in known and h != TOTAL]
    return revenue.UNASSIGNED if len(unknown) == 1 else heading


def _journals(gw: Gateway, category_id: str, accounts: set[str], date_from: date, date_to: date
              ) -> dict[str, list[tuple[str, Decimal]]]:
    """Option name → (journal, income it adds) for POSTED manual journals in the period on the income accounts."""
    found: dict[str, dict[str, Decimal]] = {}
    for page in gw.manual_journals():
        for journal in page:
            day = parse_day(journal.get("Date"))
            if day is None or not date_from <= day <= date_to:
                continue
            name = f"“{journal.get('Narration') or 'manual journal'}” of {day:%d %b %Y}"
            for line in journal.get("JournalLines") or []:
                if line.get("AccountID") not in accounts:
                    continue
                tag = next((t for t in line.get("Tracking") or [] if t.get("TrackingCategoryID") == category_id), None)
                option = (tag or {}).get("Option") or revenue.UNASSIGNED
                credit = -_money(line.get("LineAmount"))
                found.setdefault(option, {}).setdefault(name, ZERO)
                found[option][name] += credit
    return {option: list(amounts.items()) for option, amounts in found.items()}


def _row(option: str, xero: Decimal, dashboard: Decimal, journals: list[tuple[str, Decimal]],
         unknown_heading: bool) -> Row:
    difference = xero - dashboard
    if not difference:
        return Row(option, xero, dashboard, ZERO, AGREES)
    explained = sum((amount for _, amount in journals), ZERO)
    if not journals or abs(explained) > abs(difference) or explained * difference < 0:
        explained, words = ZERO, []
    else:
        words = [JOURNALS.format(count=len(journals), s="" if len(journals) == 1 else "s",
                                 names=", ".join(f"{name} ({amount:,})" for name, amount in journals))]
    if difference != explained:
        words.append(UNKNOWN_HEADING if unknown_heading else UNEXPLAINED.format(amount=f"{difference - explained:,}"))
    return Row(option, xero, dashboard, explained, " ".join(words))


def _money(value) -> Decimal:
    text = str(value or "").replace(",", "").strip()
    return Decimal(text) if text else ZERO
