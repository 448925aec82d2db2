"""Xero-shaped records for the sandbox and the demo: dates, money and invoice totals.

Records are plain JSON-serialisable dicts with Xero's PascalCase keys. Money is stored as
JSON numbers (floats rounded to 2 places, unit amounts to 4) and computed with Decimal.
"""
import datetime as dt
import re
from email.utils import parsedate_to_datetime
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
UNIT = Decimal("0.0001")
ZERO = Decimal(0)

# UK VAT rates of the tax types the demo org uses (Xero's UK tax type codes).
TAX_RATES = {
    "OUTPUT2": Decimal("0.20"),
    "RROUTPUT": Decimal("0.05"),
    "INPUT2": Decimal("0.20"),
    "ZERORATEDOUTPUT": ZERO,
    "EXEMPTOUTPUT": ZERO,
    "NONE": ZERO,
}
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_MS_JSON = re.compile(r"/Date\((-?\d+)")


def dec(value) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def money(value) -> float:
    return float(dec(value).quantize(CENT, ROUND_HALF_UP))


def unit_amount(value, unitdp: int = 4) -> float:
    return float(dec(value).quantize(UNIT if unitdp == 4 else CENT, ROUND_HALF_UP))


# ---- dates: Xero's MS-JSON form "/Date(1539993600000+0000)/" -------------------------------

def ms_of(moment: dt.datetime | dt.date) -> int:
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime(moment.year, moment.month, moment.day, tzinfo=dt.timezone.utc)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return (moment - EPOCH) // dt.timedelta(milliseconds=1)


def xero_date(ms: int) -> str:
    return f"/Date({ms}+0000)/"


def ms_from_xero(value: str) -> int:
    """Milliseconds of "/Date(1541176290160+0000)/" (or "/Date(1541176290160)/")."""
    return int(_MS_JSON.match(value).group(1))


def iso_of(ms: int, *, zulu: bool = False) -> str:
    moment = EPOCH + dt.timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + ("Z" if zulu else "")


def date_fields(name: str, day: dt.date) -> dict:
    """`Date` and `DateString` (or `DueDate`/`DueDateString`) as Xero writes them."""
    ms = ms_of(day)
    return {name: xero_date(ms), f"{name}String": iso_of(ms)}


def updated_fields(ms: int) -> dict:
    return {"UpdatedDateUTC": xero_date(ms), "UpdatedDateUTCString": iso_of(ms, zulu=True)}


def parse_http_moment(value: str) -> int:
    """Milliseconds of an If-Modified-Since value: ISO 8601 (what the SDK sends) or an HTTP date."""
    value = value.strip()
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = parsedate_to_datetime(value)
    return ms_of(moment)


# ---- totals ------------------------------------------------------------------------------------

def line_gross(line: dict) -> Decimal:
    return dec(line.get("Quantity", 1)) * dec(line.get("UnitAmount", 0))


def line_amount(line: dict) -> Decimal:
    """Quantity × UnitAmount less the discount (a rate in percent, or an amount)."""
    gross = line_gross(line)
    if line.get("DiscountRate") is not None:
        gross = gross * (1 - dec(line["DiscountRate"]) / 100)
    elif line.get("DiscountAmount") is not None:
        gross = gross - dec(line["DiscountAmount"])
    return gross.quantize(CENT, ROUND_HALF_UP)


def line_tax(amount: Decimal, tax_type: str | None, line_amount_types: str) -> Decimal:
    rate = TAX_RATES.get(tax_type or "NONE", ZERO)
    if line_amount_types == "NoTax" or not rate:
        return ZERO
    if line_amount_types == "Inclusive":
        return (amount * rate / (1 + rate)).quantize(CENT, ROUND_HALF_UP)
    return (amount * rate).quantize(CENT, ROUND_HALF_UP)


def settle(invoice: dict) -> dict:
    """Fill LineAmount (and TaxAmount where not given) on every line, then the invoice totals."""
    amount_types = invoice.get("LineAmountTypes", "Exclusive")
    lines_total = tax_total = discount_total = ZERO
    for line in invoice["LineItems"]:
        amount = line_amount(line)
        line["LineAmount"] = float(amount)
        if line.get("TaxAmount") is None:
            line["TaxAmount"] = float(line_tax(amount, line.get("TaxType"), amount_types))
        lines_total += amount
        tax_total += dec(line["TaxAmount"])
        discount_total += line_gross(line).quantize(CENT, ROUND_HALF_UP) - amount
    if amount_types == "Inclusive":
        sub_total, total = lines_total - tax_total, lines_total
    else:
        sub_total, total = lines_total, lines_total + tax_total
    paid, credited = dec(invoice.get("AmountPaid", 0)), dec(invoice.get("AmountCredited", 0))
    invoice.update({
        "SubTotal": float(sub_total), "TotalTax": float(tax_total), "Total": float(total),
        "TotalDiscount": float(discount_total), "IsDiscounted": discount_total != 0,
        "AmountDue": float(total - paid - credited), "AmountPaid": float(paid),
        "AmountCredited": float(credited),
    })
    return invoice


def settle_credit_note(note: dict) -> dict:
    """Fill LineAmount (and TaxAmount where not given) on every line, then the credit note's totals and
    RemainingCredit: the total less what is allocated to invoices and refunded."""
    totals = settle({"LineItems": note["LineItems"], "LineAmountTypes": note.get("LineAmountTypes", "Exclusive")})
    applied = sum((dec(a["Amount"]) for a in note.get("Allocations") or []), ZERO) + \
        sum((dec(p["Amount"]) for p in note.get("Payments") or []), ZERO)
    note.update({"SubTotal": totals["SubTotal"], "TotalTax": totals["TotalTax"], "Total": totals["Total"],
                 "RemainingCredit": float(dec(totals["Total"]) - applied)})
    return note
