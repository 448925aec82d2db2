"""The sandbox's ledger reports: GET /Reports/ProfitAndLoss and GET /ManualJournals (docs/xero-behaviours.md).

The Profit and Loss is computed from the sandbox's own records, on the accruals basis: sales
invoices and bills, sales credit notes (AUTHORISED or PAID, dated in the period) and POSTED
manual journals. Every line posts its amount excluding tax, in the base currency (amount ÷
CurrencyRate, rounded half away from zero line by line, as core/revenue.py reads Xero's rate), to
its account; a REVENUE-class account is income, any other an operating expense. Split by a
tracking category (`trackingCategoryID`) the report has a column per option of that category —
every ACTIVE one, and any other that carries an amount — then "Unassigned" and "Total": Xero's
heading of the untagged column is unconfirmed, so readers must read the headings. Values are
strings, as in Xero's ReportWithRows.
"""
import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from core.sandbox import reads
from core.sandbox.records import CENT, ZERO, date_fields, dec, ms_from_xero, xero_date
from core.sandbox.writes import _tracking

UNASSIGNED = "Unassigned"
TOTAL = "Total"
INCOME, EXPENSES = "Income", "Less Operating Expenses"
COUNTED_STATUSES = {"AUTHORISED", "PAID"}
POSTED = "POSTED"
# Which way each kind of document posts its lines: +1 credits them (income), -1 debits them.
CREDIT_SIDE = {"ACCREC": 1, "ACCPAY": -1, "ACCRECCREDIT": -1, "ACCPAYCREDIT": 1}
JOURNALS = "ManualJournals"


class Posting(NamedTuple):
    account_code: str | None
    credit: Decimal  # in the base currency, ex tax; a debit is negative
    tracking: list[dict]


def manual_journals(state: dict) -> list[dict]:
    return state.setdefault(JOURNALS, [])


def add_manual_journal(state: dict, day: dt.date, lines: list[dict], narration: str, moment_ms: int) -> dict:
    """A POSTED manual journal; each line's Tracking may name its category and option (Name/Option)."""
    journal_lines = []
    for line in lines:
        tracking, errors = _tracking(state["TrackingCategories"], line.get("Tracking") or [])
        if errors:
            raise ValueError("; ".join(errors))
        account = _accounts(state).get(line["AccountCode"], {})
        journal_lines.append({"LineAmount": float(dec(line["LineAmount"])), "AccountCode": line["AccountCode"],
                              **({"AccountID": account["AccountID"]} if account else {}),
                              "Description": line.get("Description", narration), "TaxType": "NONE",
                              "TaxAmount": 0.0, "Tracking": tracking, "IsBlank": False})
    journal = {"ManualJournalID": str(uuid.uuid4()), "Narration": narration, **date_fields("Date", day),
               "LineAmountTypes": "NoTax", "Status": POSTED, "ShowOnCashBasisReports": True, "HasAttachments": False,
               "JournalLines": journal_lines, "UpdatedDateUTC": xero_date(moment_ms)}
    manual_journals(state).append(journal)
    return journal


def get_manual_journals(state: dict, query: dict, headers) -> dict:
    chosen = reads.select(manual_journals(state), id_key="ManualJournalID",
                          modified_since=reads.since_ms(headers.get("If-Modified-Since")),
                          clauses=reads.parse_where(query.get("where")))
    page, size = reads.paging(query)
    if page is None:
        return reads.envelope(JOURNALS, chosen)
    records, pagination = reads.page_of(chosen, page, size)
    return reads.envelope(JOURNALS, records, pagination=pagination)


def profit_and_loss(state: dict, query: dict, *, today: Callable[[], dt.date] = dt.date.today) -> dict:
    date_from, date_to = _period(query, today())
    category = _category(state, query.get("trackingCategoryID"))
    accounts = _accounts(state)
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for posting in _postings(state, date_from, date_to):
        sums[posting.account_code][_column(posting.tracking, category)] += posting.credit
    columns = _columns(category, sums) if category else [f"{date_from:%-d %b %Y} to {date_to:%-d %b %Y}"]

    def account_of(code: str | None) -> dict:
        return accounts.get(code) or {"AccountID": str(uuid.uuid5(uuid.NAMESPACE_OID, f"account:{code}")),
                                      "Name": f"Account {code}", "Class": "REVENUE"}

    income = sorted((c for c in sums if account_of(c)["Class"] == "REVENUE"), key=lambda c: account_of(c)["Name"])
    expenses = sorted((c for c in sums if c not in income), key=lambda c: account_of(c)["Name"])

    def values(code: str, sign: int) -> list[Decimal]:
        per_column = sums[code]
        if category is None:
            return [sign * sum(per_column.values(), ZERO)]
        shown = [sign * per_column.get(column, ZERO) for column, _ in columns[:-1]]
        return shown + [sign * sum(per_column.values(), ZERO)]

    income_rows = {c: values(c, 1) for c in income}
    expense_rows = {c: values(c, -1) for c in expenses}
    total_income, total_expenses = _column_sums(income_rows.values(), columns), _column_sums(expense_rows.values(),
                                                                                             columns)
    headings = [name for _, name in columns] if category else columns
    rows = [{"RowType": "Header", "Cells": [{"Value": ""}] + [{"Value": h} for h in headings]},
            _section(INCOME, income_rows, account_of, "Total Income", total_income),
            {"RowType": "Section", "Title": "", "Rows": [_summary_cells("Gross Profit", total_income, "Row")]}]
    if expense_rows:
        rows.append(_section(EXPENSES, expense_rows, account_of, "Total Operating Expenses", total_expenses))
    net = [i - e for i, e in zip(total_income, total_expenses)]
    rows.append({"RowType": "Section", "Title": "", "Rows": [_summary_cells("Net Profit", net, "Row")]})
    organisation = state["Organisation"]["Name"]
    report = {"ReportID": "ProfitAndLoss", "ReportName": "Profit and Loss", "ReportType": "ProfitAndLoss",
              "ReportTitles": ["Profit & Loss", organisation,
                               f"For the period {date_from:%-d %B %Y} to {date_to:%-d %B %Y}"],
              "ReportDate": f"{today():%-d %B %Y}", "UpdatedDateUTC": xero_date(int(dt.datetime.now(
                  dt.timezone.utc).timestamp() * 1000)), "Fields": [], "Rows": rows}
    return reads.envelope("Reports", [report])


def _period(query: dict, today: dt.date) -> tuple[dt.date, dt.date]:
    """fromDate and toDate (YYYY-MM-DD); Xero's default is the current month."""
    first = today.replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    try:
        date_from = dt.date.fromisoformat(query["fromDate"]) if query.get("fromDate") else first
        date_to = dt.date.fromisoformat(query["toDate"]) if query.get("toDate") else last
    except ValueError:
        raise reads.QueryError("fromDate and toDate must be dates, YYYY-MM-DD.") from None
    if date_from > date_to:
        raise reads.QueryError("fromDate must not be after toDate.")
    return date_from, date_to


def _category(state: dict, category_id: str | None) -> dict | None:
    if not category_id:
        return None
    found = next((c for c in state["TrackingCategories"]
                  if c["TrackingCategoryID"].lower() == category_id.lower() and c["Status"] != "DELETED"), None)
    if found is None:
        raise reads.QueryError(f"Tracking category {category_id} does not exist.")
    return found


def _accounts(state: dict) -> dict[str, dict]:
    return {a["Code"]: a for a in state.get("Accounts") or []}


def _postings(state: dict, date_from: dt.date, date_to: dt.date) -> Iterator[Posting]:
    def within(record: dict) -> bool:
        day = dt.date(1970, 1, 1) + dt.timedelta(milliseconds=ms_from_xero(record["Date"]))
        return date_from <= day <= date_to

    for record in [*state["Invoices"], *(state.get("CreditNotes") or [])]:
        side = CREDIT_SIDE.get(record.get("Type"))
        if side is None or record["Status"] not in COUNTED_STATUSES or not within(record):
            continue
        rate = dec(record.get("CurrencyRate") or 1) or Decimal(1)
        for line in record["LineItems"]:
            yield Posting(line.get("AccountCode"), side * _base(_ex_tax(line, record.get("LineAmountTypes")), rate),
                          line.get("Tracking") or [])
    for journal in manual_journals(state):
        if journal["Status"] != POSTED or not within(journal):
            continue
        for line in journal["JournalLines"]:
            yield Posting(line.get("AccountCode"), -_ex_tax(line, journal.get("LineAmountTypes")),
                          line.get("Tracking") or [])


def _ex_tax(line: dict, amount_types: str | None) -> Decimal:
    amount = dec(line.get("LineAmount") or 0)
    return amount - dec(line.get("TaxAmount") or 0) if amount_types == "Inclusive" else amount


def _base(amount: Decimal, rate: Decimal) -> Decimal:
    return amount if rate == 1 else (amount / rate).quantize(CENT, ROUND_HALF_UP)


def _column(tracking: list[dict], category: dict | None) -> str:
    if category is None:
        return TOTAL
    wanted = category["TrackingCategoryID"].lower()
    entry = next((t for t in tracking if (t.get("TrackingCategoryID") or "").lower() == wanted), None)
    return (entry.get("TrackingOptionID") or "").lower() if entry else UNASSIGNED


def _columns(category: dict, sums) -> list[tuple[str, str]]:
    """(key, heading) of each column: the options, Unassigned, Total."""
    used = {column for per_column in sums.values() for column, amount in per_column.items() if amount}
    options = [(o["TrackingOptionID"].lower(), o["Name"]) for o in category["Options"]
               if o["Status"] == "ACTIVE" or o["TrackingOptionID"].lower() in used]
    return options + [(UNASSIGNED, UNASSIGNED), (TOTAL, TOTAL)]


def _column_sums(rows, columns) -> list[Decimal]:
    rows = list(rows)
    return [sum(column, ZERO) for column in zip(*rows)] if rows else [ZERO] * len(columns)


def _text(amount: Decimal) -> str:
    return f"{amount.quantize(CENT, ROUND_HALF_UP)}"


def _section(title: str, rows: dict[str, list[Decimal]], account_of, summary: str, totals: list[Decimal]) -> dict:
    return {"RowType": "Section", "Title": title, "Rows": [
        {"RowType": "Row", "Cells": [_account_cell(account_of(code), account_of(code)["Name"])]
         + [_account_cell(account_of(code), _text(v)) for v in values]}
        for code, values in rows.items()] + [_summary_cells(summary, totals, "SummaryRow")]}


def _account_cell(account: dict, value: str) -> dict:
    return {"Value": value, "Attributes": [{"Value": account["AccountID"], "Id": "account"}]}


def _summary_cells(title: str, totals: list[Decimal], row_type: str) -> dict:
    return {"RowType": row_type, "Cells": [{"Value": title}] + [{"Value": _text(v)} for v in totals]}
