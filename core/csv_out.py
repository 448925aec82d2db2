"""The one CSV writer every export uses, and the one formula neutraliser.

A text cell a spreadsheet would run as a formula gets a leading `'`: OWASP's "CSV injection" advice.
Lines end in CRLF; None is an empty cell; numbers and dates are written as str() prints them.
"""
import csv
import io
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str | None) -> str:
    if cell is None:
        return ""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def un_neutralise(cell: str) -> str:
    """Undo `neutralise`, so that an export imported back changes nothing."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def write(headers: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    """The headers and rows as CSV text, every text cell neutralised; the caller encodes it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in headers])
    writer.writerows([_cell(cell) for cell in row] for row in rows)
    return out.getvalue()


def _cell(cell: object) -> str:
    """Text neutralised, None empty; a number or date as str() prints it (a Decimal exactly), never neutralised."""
    return neutralise(cell) if cell is None or isinstance(cell, str) else str(cell)
