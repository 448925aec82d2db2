"""`python -m core revenue [--by tc1|tc2] [--from DATE] [--to DATE] [--view xero|rules] [--format table|csv]
[--reconcile] [--pack FILE.xlsx]`: revenue by tracking option in the base currency, ex tax, net of credit notes, as in Xero or after
the rules; with --reconcile, next to Xero's own Profit and Loss (exit 1 when a difference is left unexplained);
with --pack, as the partner pack workbook."""
import sys
from datetime import date
from pathlib import Path
from decimal import Decimal

import pandas as pd

from core import connection, pack, reconcile, revenue
from core.statuses import REVENUE, REVENUE_CHOICES
from core.cli import read_database
from core.xero.errors import XeroError

USAGE_ERROR = 2
UNEXPLAINED = 1


def register(subparsers) -> None:
    parser = subparsers.add_parser("revenue", help="revenue by tracking option, as in Xero or after the rules")
    parser.add_argument("--by", choices=("tc1", "tc2"), default="tc1", help="the slot to group by (default tc1)")
    parser.add_argument("--from", dest="date_from", type=date.fromisoformat, metavar="DATE",
                        help="first invoice date counted, YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", type=date.fromisoformat, metavar="DATE",
                        help="last invoice date counted, YYYY-MM-DD")
    parser.add_argument("--view", choices=tuple(revenue.VIEWS), default="xero",
                        help="the options as in Xero now, or after the rules (default xero)")
    parser.add_argument("--format", choices=("table", "csv"), default="table")
    parser.add_argument("--period", choices=revenue.PERIODS,
                        help="one row per period and option instead of one per option")
    parser.add_argument("--drafts", action="store_true", help="count DRAFT and SUBMITTED invoices too")
    parser.add_argument("--currency", action="append", default=[], metavar="CODE",
                        help="only invoices in this currency (repeat for several)")
    parser.add_argument("--reconcile", action="store_true",
                        help="compare the 'as in Xero' figures with Xero's Profit and Loss report, option by option "
                             "(default period: every synced invoice's date); exit 1 when a difference is unexplained")
    parser.add_argument("--pack", metavar="FILE.xlsx",
                        help="write the partner pack (ranking, revenue by month and the cross table, in both views, "
                             "with a chart) to this Excel file")
    parser.set_defaults(handler=run)


def run(args) -> int:
    slot = 1 if args.by == "tc1" else 2
    if args.reconcile:
        return run_reconcile(slot, args)
    try:
        filters = revenue.Filters(date_from=args.date_from, date_to=args.date_to,
                                  statuses=REVENUE_CHOICES if args.drafts else REVENUE,
                                  currencies=tuple(c.upper() for c in args.currency))
    except revenue.InvalidFilter as e:
        print(f"error: {e}", file=sys.stderr)
        return USAGE_ERROR
    with read_database() as con:
        summary = revenue.summary(con, filters)
    if args.pack:
        return write_pack(summary, filters, args.pack)
    table = report(summary, slot, args.view, args.period)
    if args.format == "csv":
        sys.stdout.write(revenue.csv_bytes(table).decode("utf-8-sig"))
    else:
        print(f"Revenue by {summary.slot_names[slot]} ({revenue.VIEWS[args.view]}): {summary.lines:,} lines of "
              f"{', '.join(filters.statuses)} invoices and credit notes{_dates(filters)}, in {summary.base_currency} "
              "ex tax")
        print(revenue.CREDIT_NOTES_NOTE)
        print(fixed_width(table))
    return 0


def write_pack(summary: revenue.Summary, filters: revenue.Filters, file: str) -> int:
    path = Path(file)
    if path.suffix.lower() != ".xlsx":
        print(f"error: the partner pack is an Excel workbook: name it something.xlsx, not {path.name}", file=sys.stderr)
        return USAGE_ERROR
    try:
        path.write_bytes(pack.workbook(summary, filters))
    except OSError as e:
        print(f"error: could not write {path}: {e.strerror}", file=sys.stderr)
        return USAGE_ERROR
    print(f"Wrote the partner pack to {path}: {summary.lines:,} lines, {summary.total:,} {summary.base_currency} "
          f"ex tax ({revenue.NET_OF_CREDIT_NOTES}).")
    return 0


def run_reconcile(slot: int, args) -> int:
    try:
        result = reconcile.reconcile(connection.gateway(), slot, args.date_from, args.date_to)
    except (reconcile.ReconcileError, XeroError) as e:
        print(f"error: {e}", file=sys.stderr)
        return USAGE_ERROR
    table = result.table()
    shown = pd.DataFrame({"Option": table["option"], "Xero's P&L": table["xero"], "Dashboard": table["dashboard"],
                          "Difference": table["difference"], "Explained": table["explained"],
                          "Why": table["explanation"]}, dtype=object)
    if args.format == "csv":
        sys.stdout.write(revenue.csv_bytes(shown).decode("utf-8-sig"))
    else:
        print(f"{result.slot_name}: income in Xero's Profit and Loss against the dashboard's 'as in Xero' revenue, "
              f"{result.date_from} to {result.date_to}, in {result.currency} ex tax. {revenue.CREDIT_NOTES_NOTE}")
        print(fixed_width(shown))
        print(result.summary())
    return UNEXPLAINED if result.unexplained else 0


def report(summary: revenue.Summary, slot: int, view: str, period: str | None) -> pd.DataFrame:
    """The figures of the view with the change the rules would make, per option (or period and option)."""
    figure = "as_in_xero" if view == "xero" else "after_rules"
    money = f"Revenue {summary.base_currency} ({revenue.NET_OF_CREDIT_NOTES})"
    if period:
        rows = revenue.by_period(summary, slot, period, view)
        rows = rows[(rows["as_in_xero"] != 0) | (rows["after_rules"] != 0)]
        return pd.DataFrame({"Period": rows["period"], "Option": rows["option"], money: rows[figure],
                             "Change after rules": rows["difference"]}, dtype=object)
    rows = revenue.ranking(summary, slot, view)
    table = pd.DataFrame({"Option": rows["option"], money: rows[figure], "Share %": rows["share_pct"],
                          "Change after rules": rows["difference"]}, dtype=object)
    table.loc[len(table)] = ["Total", summary.total, Decimal("100.0") if summary.total else None, Decimal("0.00")]
    return table


def fixed_width(table: pd.DataFrame) -> str:
    """Text columns left-aligned, numbers right-aligned with thousands separators."""
    cells = [[_text(v) for v in row] for row in table.itertuples(index=False)]
    numeric = [all(isinstance(v, (Decimal, int)) or v is None for v in table[c]) for c in table.columns]
    widths = [max([len(str(c))] + [len(row[i]) for row in cells]) for i, c in enumerate(table.columns)]
    lines = [[str(c) for c in table.columns]] + cells
    return "\n".join("  ".join(cell.rjust(w) if right else cell.ljust(w)
                               for cell, w, right in zip(line, widths, numeric)).rstrip()
                     for line in lines)


def _text(value) -> str:
    if value is None:
        return ""
    return f"{value:,}" if isinstance(value, Decimal) else str(value)


def _dates(filters: revenue.Filters) -> str:
    if not (filters.date_from or filters.date_to):
        return ""
    return f", {filters.date_from or 'start'} to {filters.date_to or 'today'}"
