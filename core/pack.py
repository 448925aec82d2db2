"""The partner pack: the Revenue page's figures as one Excel workbook, written with XlsxWriter.

For the filters of the page (or of `python -m core revenue --pack`): an "About" sheet saying what the
figures are; per slot, the ranking of its options (as in Xero, after rules, difference, share); per
slot and view, revenue by month and option with a native stacked column chart; per view, the TC1 ×
TC2 cross table. Amounts are numbers with the base currency's format, and every total is a SUM
formula carrying its value, so the workbook reads right before Excel recalculates it.
"""
import io
import re
from datetime import date

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from core import revenue

SHEET_NAME_LENGTH = 31
VIEW_WORDS = {"xero": "in Xero", "rules": "after rules"}  # short enough for a sheet's name
CHART_COLUMN_WIDTH = 16


def workbook(summary: revenue.Summary, filters: revenue.Filters, *, made: date | None = None) -> bytes:
    """The partner pack as .xlsx bytes."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    styles = _styles(book, summary.base_currency)
    _about(book, styles, summary, filters, made or date.today())
    for slot in revenue.SLOTS:
        _ranking(book, styles, summary, slot)
    for slot in revenue.SLOTS:
        for view in revenue.VIEWS:
            _by_month(book, styles, summary, slot, view)
    for view in revenue.VIEWS:
        _cross(book, styles, summary, view)
    book.close()
    return out.getvalue()


def sheet_names(summary: revenue.Summary) -> dict[str, str]:
    """What each sheet is called, by what it holds (`ranking 1`, `months 2 rules`, `cross xero`…)."""
    names = {"about": "About"}
    for slot in revenue.SLOTS:
        names[f"ranking {slot}"] = f"Ranking {summary.slot_names[slot]}"
    for slot in revenue.SLOTS:
        for view, words in VIEW_WORDS.items():
            names[f"months {slot} {view}"] = f"{summary.slot_names[slot]} months, {words}"
    for view, words in VIEW_WORDS.items():
        names[f"cross {view}"] = f"Cross table, {words}"
    taken: set[str] = set()
    for key, name in names.items():
        names[key] = _unique(re.sub(r"[\[\]:*?/\\]", "-", name)[:SHEET_NAME_LENGTH], taken)
    return names


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{name[:SHEET_NAME_LENGTH - len(str(n)) - 1]} {n}"
    taken.add(candidate.lower())
    return candidate


def _styles(book, currency: str) -> dict:
    money = f'#,##0.00 "{currency}";-#,##0.00 "{currency}"'
    return {"money": book.add_format({"num_format": money}),
            "total": book.add_format({"num_format": money, "bold": True, "top": 1}),
            "bold": book.add_format({"bold": True}),
            "head": book.add_format({"bold": True, "bottom": 1, "text_wrap": True}),
            "title": book.add_format({"bold": True, "font_size": 14}),
            "share": book.add_format({"num_format": "0.0"})}


def _about(book, styles, summary: revenue.Summary, filters: revenue.Filters, made: date) -> None:
    sheet = book.add_worksheet(sheet_names(summary)["about"])
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 1, 90)
    sheet.write(0, 0, "Partner pack: revenue by tracking option", styles["title"])
    facts = [("Made on", f"{made:%d %B %Y}"),
             ("Invoice dates", f"{filters.date_from or 'the first'} to {filters.date_to or 'the last'}"),
             ("Invoice statuses", ", ".join(filters.statuses)),
             ("Clients", f"{len(filters.contact_ids)} chosen" if filters.contact_ids else "all"),
             ("Currencies", ", ".join(filters.currencies) or "all"),
             ("Credit notes", revenue.CREDIT_NOTES_NOTE),
             ("Amounts", revenue.CONVERSION_NOTE.format(base=summary.base_currency)),
             ("Views", "As in Xero: the options the lines carry in Xero now. After rules: the options they would "
                       "carry once the rules are pushed."),
             ("Total revenue", float(summary.total))]
    for row, (label, value) in enumerate(facts, 2):
        sheet.write(row, 0, label, styles["bold"])
        sheet.write(row, 1, value, styles["money"] if isinstance(value, float) else None)


def _ranking(book, styles, summary: revenue.Summary, slot: int) -> None:
    sheet = book.add_worksheet(sheet_names(summary)[f"ranking {slot}"])
    table = revenue.ranking(summary, slot, "xero")
    headers = [summary.slot_names[slot], revenue.VIEWS["xero"], revenue.VIEWS["rules"], "Difference",
               f"Share % ({revenue.VIEWS['xero']})"]
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 4, CHART_COLUMN_WIDTH)
    sheet.write_row(0, 0, headers, styles["head"])
    for row, record in enumerate(table.to_dict("records"), 1):
        sheet.write(row, 0, record["option"])
        for column, key in enumerate(("as_in_xero", "after_rules", "difference"), 1):
            sheet.write_number(row, column, float(record[key]), styles["money"])
        if record["share_pct"] is not None:
            sheet.write_number(row, 4, float(record["share_pct"]), styles["share"])
    last = len(table)
    sheet.write(last + 1, 0, "Total", styles["bold"])
    for column, key in enumerate(("as_in_xero", "after_rules", "difference"), 1):
        _total(sheet, styles, last + 1, column, 1, last, sum(table[key], revenue.ZERO))


def _by_month(book, styles, summary: revenue.Summary, slot: int, view: str) -> None:
    sheet_name = sheet_names(summary)[f"months {slot} {view}"]
    sheet = book.add_worksheet(sheet_name)
    months = revenue.by_period(summary, slot, "month", view)
    column = "as_in_xero" if view == "xero" else "after_rules"
    grid = months.pivot_table(index="period", columns="option", values=column, aggfunc="sum", sort=False)
    options = [o for o in revenue.ranking(summary, slot, view)["option"] if o in grid.columns]
    grid = grid.reindex(columns=options).sort_index()
    sheet.set_column(0, 0, 12)
    sheet.set_column(1, len(options) + 1, CHART_COLUMN_WIDTH)
    sheet.write_row(0, 0, ["Month", *options, "Total"], styles["head"])
    for row, (period, amounts) in enumerate(grid.iterrows(), 1):
        sheet.write(row, 0, period)
        values = [revenue.ZERO if pd.isna(v) else v for v in amounts]
        for col, value in enumerate(values, 1):
            sheet.write_number(row, col, float(value), styles["money"])
        _total(sheet, styles, row, len(options) + 1, None, None, sum(values, revenue.ZERO), across=(1, len(options)))
    last = len(grid)
    sheet.write(last + 1, 0, "Total", styles["bold"])
    for col in range(1, len(options) + 2):
        key = options[col - 1] if col <= len(options) else None
        value = sum((v for v in (grid[key] if key else grid.sum(axis=1)) if not pd.isna(v)), revenue.ZERO)
        _total(sheet, styles, last + 1, col, 1, last, value)
    if last and options:
        chart = book.add_chart({"type": "column", "subtype": "stacked"})
        for col, option in enumerate(options, 1):
            chart.add_series({"name": [sheet_name, 0, col], "categories": [sheet_name, 1, 0, last, 0],
                              "values": [sheet_name, 1, col, last, col]})
        chart.set_title({"name": f"Revenue by {summary.slot_names[slot]} · {revenue.VIEWS[view]}"})
        chart.set_y_axis({"name": f"{summary.base_currency}, ex tax", "num_format": "#,##0"})
        chart.set_size({"width": 900, "height": 420})
        sheet.insert_chart(last + 3, 1, chart)


def _cross(book, styles, summary: revenue.Summary, view: str) -> None:
    sheet = book.add_worksheet(sheet_names(summary)[f"cross {view}"])
    table = revenue.cross_table(summary, view)
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, len(table.columns), CHART_COLUMN_WIDTH)
    sheet.write_row(0, 0, [table.index.name, *table.columns], styles["head"])
    for row, (label, amounts) in enumerate(table.iterrows(), 1):
        is_total = label == "Total" and row == len(table)
        sheet.write(row, 0, label, styles["bold"] if is_total else None)
        for col, value in enumerate(amounts, 1):
            if is_total:
                _total(sheet, styles, row, col, 1, row - 1, value)
            elif col == len(table.columns):
                _total(sheet, styles, row, col, None, None, value, across=(1, col - 1))
            else:
                sheet.write_number(row, col, float(value), styles["money"])


def _total(sheet, styles, row: int, col: int, first_row: int | None, last_row: int | None, value, *,
           across: tuple[int, int] | None = None) -> None:
    """A SUM of the cells above (rows first_row…last_row) or to the left (columns `across`), with its value."""
    if across:
        cells = f"{xl_rowcol_to_cell(row, across[0])}:{xl_rowcol_to_cell(row, across[1])}"
    elif first_row is not None and last_row is not None and last_row >= first_row:
        cells = f"{xl_rowcol_to_cell(first_row, col)}:{xl_rowcol_to_cell(last_row, col)}"
    else:
        sheet.write_number(row, col, float(value), styles["total"])
        return
    sheet.write_formula(row, col, f"=SUM({cells})", styles["total"] if not across else styles["money"], float(value))
