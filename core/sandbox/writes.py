"""The sandbox's write side: POST /Invoices with Xero's update semantics (docs/xero-behaviours.md).

Where Xero's behaviour is unconfirmed the sandbox picks the stricter reading, so the app is
forced to be careful: every field omitted on a sent line is cleared (not kept), an omitted
`LineAmountTypes` falls back to Xero's default `Exclusive`, lines sent without a LineItemID
are recreated with new IDs and placed before the ID'd lines (Xero-NetStandard#374).

What Xero does with an archived option on a line it is sent is unconfirmed (docs/xero-behaviours.md), so
the sandbox plays either reading (`Book.archived`): "refuse" (the default) refuses any line that
carries an archived option (or an option of an archived category); "keep" keeps such an option on a
line that already carried it and refuses only a line newly given one.
"""
import datetime as dt
import uuid
from collections.abc import Callable

from core.sandbox.records import date_fields, iso_of, ms_from_xero, settle, unit_amount, updated_fields

LOCKED_MESSAGES = ["Invoice not of valid status for modification",
                   "This document cannot be edited as it has a payment or credit note allocated to it."]
LOCKED_STATUSES = {"PAID", "VOIDED", "DELETED"}
STATUS_CHANGES = {"DRAFT": {"SUBMITTED", "AUTHORISED", "DELETED"},
                  "SUBMITTED": {"DRAFT", "AUTHORISED", "DELETED"},
                  "AUTHORISED": {"VOIDED"}}
LINE_FIELDS = ("Description", "Quantity", "UnitAmount", "ItemCode", "AccountCode", "TaxType", "TaxAmount",
               "DiscountRate", "DiscountAmount")
INVOICE_FIELDS = ("Reference", "SentToContact", "CurrencyRate", "BrandingThemeID")
MAX_TRACKING = 2
ARCHIVED_READINGS = ("refuse", "keep")
CREATE_ONLY_MESSAGE = "PUT creates invoices: this one already exists (update it with POST)."


class Book:
    """What an update needs to see: the records and how to find them (the server holds the lock)."""

    def __init__(self, state: dict):
        self.state = state
        self.archived = "refuse"  # one of ARCHIVED_READINGS
        self.reindex()

    def reindex(self) -> None:
        self.index = {inv["InvoiceID"].lower(): n for n, inv in enumerate(self.state["Invoices"])}
        self.numbers = {inv.get("InvoiceNumber"): n for n, inv in enumerate(self.state["Invoices"])
                        if inv.get("InvoiceNumber")}

    def invoice(self, invoice_id: str) -> dict | None:
        position = self.index.get(str(invoice_id).lower())
        return None if position is None else self.state["Invoices"][position]

    def put(self, invoice: dict) -> None:
        position = self.index.get(invoice["InvoiceID"].lower())
        if position is None:
            position = len(self.state["Invoices"])
            self.state["Invoices"].append(invoice)
            self.index[invoice["InvoiceID"].lower()] = position
        else:
            self.state["Invoices"][position] = invoice
        if invoice.get("InvoiceNumber"):
            self.numbers[invoice["InvoiceNumber"]] = position


def apply_invoices(book: Book, sent: list[dict], *, unitdp: int, failures: dict[str, str],
                   tick: Callable[[], int], create_only: bool = False) -> list[tuple[dict, list[str]]]:
    """Create or update each sent invoice (with `create_only`, as PUT /Invoices: only create); returns
    (stored invoice or echoed element, errors) per element."""
    results = []
    for element in sent:
        if create_only and (element.get("InvoiceID") or book.numbers.get(element.get("InvoiceNumber"))):
            # UNCONFIRMED text: Xero documents PUT as create-only but not its answer to an existing invoice.
            results.append((element, [CREATE_ONLY_MESSAGE]))
            continue
        stored = _target(book, element)
        if stored is None and element.get("InvoiceID"):
            results.append((element, [f"Invoice with InvoiceID {element['InvoiceID']} could not be found."]))
            continue
        invoice, errors = (_updated(book, stored, element, unitdp, failures) if stored is not None
                           else _created(book, element, unitdp))
        if errors:
            results.append((element, errors))
            continue
        if stored is None or _changed(stored, invoice):
            invoice.update(updated_fields(tick()))
            book.put(invoice)
        else:
            invoice = stored
        results.append((invoice, []))
    return results


def _target(book: Book, element: dict) -> dict | None:
    if element.get("InvoiceID"):
        return book.invoice(element["InvoiceID"])
    position = book.numbers.get(element.get("InvoiceNumber"))
    return None if position is None else book.state["Invoices"][position]


def _changed(before: dict, after: dict) -> bool:
    ignore = {"UpdatedDateUTC", "UpdatedDateUTCString"}
    return {k: v for k, v in before.items() if k not in ignore} != {k: v for k, v in after.items() if k not in ignore}


def _updated(book: Book, stored: dict, element: dict, unitdp: int, failures: dict[str, str]):
    if (stored["Status"] in LOCKED_STATUSES or stored.get("AmountPaid", 0) > 0
            or stored.get("AmountCredited", 0) > 0):
        return None, list(LOCKED_MESSAGES)
    errors = []
    if stored["InvoiceID"].lower() in failures:
        errors.append(failures[stored["InvoiceID"].lower()])
    status = element.get("Status", stored["Status"])
    if status != stored["Status"] and status not in STATUS_CHANGES.get(stored["Status"], ()):
        errors.append(LOCKED_MESSAGES[0])
    invoice = {**stored, "Status": status,
               "LineAmountTypes": element.get("LineAmountTypes") or "Exclusive"}
    invoice.update({key: element[key] for key in INVOICE_FIELDS if key in element})
    errors += _dates(invoice, element)
    lines, line_errors = _lines(book, stored["LineItems"], element.get("LineItems"), unitdp)
    invoice["LineItems"] = lines
    errors += line_errors
    return (None, errors) if errors else (settle(invoice), [])


def _created(book: Book, element: dict, unitdp: int):
    errors = []
    contact = _contact(book, element.get("Contact") or {})
    if contact is None:
        errors.append("A Contact must be specified with either a valid ContactID or Name.")
    kind = element.get("Type")
    if kind not in ("ACCREC", "ACCPAY"):
        errors.append("Invoice Type must be specified.")
    organisation = book.state["Organisation"]
    invoice = {
        "Type": kind, "InvoiceID": str(uuid.uuid4()),
        "InvoiceNumber": element.get("InvoiceNumber") or (_next_number(book) if kind == "ACCREC" else ""),
        "Reference": element.get("Reference", ""),
        "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]} if contact else {},
        "Status": element.get("Status", "DRAFT"), "LineAmountTypes": element.get("LineAmountTypes") or "Exclusive",
        "CurrencyCode": element.get("CurrencyCode", organisation["BaseCurrency"]),
        "CurrencyRate": element.get("CurrencyRate", 1.0), "AmountPaid": 0.0, "AmountCredited": 0.0,
        "HasAttachments": False, "HasErrors": False, "SentToContact": False,
        "Payments": [], "CreditNotes": [], "Prepayments": [], "Overpayments": [],
        **date_fields("Date", dt.date.today()), **date_fields("DueDate", dt.date.today() + dt.timedelta(days=30)),
    }
    if invoice["Status"] not in ("DRAFT", "SUBMITTED", "AUTHORISED"):
        errors.append(LOCKED_MESSAGES[0])
    errors += _dates(invoice, element)
    lines, line_errors = _lines(book, [], element.get("LineItems") or [], unitdp)
    invoice["LineItems"] = lines
    errors += line_errors
    return (None, errors) if errors else (settle(invoice), [])


def _contact(book: Book, given: dict) -> dict | None:
    for contact in book.state["Contacts"]:
        if (given.get("ContactID") and contact["ContactID"].lower() == given["ContactID"].lower()) or \
                (not given.get("ContactID") and given.get("Name") and contact["Name"] == given["Name"]):
            return contact
    return None


def _next_number(book: Book) -> str:
    numbers = [int(n[4:]) for n in book.numbers if n and n.startswith("INV-") and n[4:].isdigit()]
    return f"INV-{max(numbers, default=0) + 1:04d}"


def _dates(invoice: dict, element: dict) -> list[str]:
    errors = []
    for name in ("Date", "DueDate"):
        if element.get(name):
            try:
                invoice.update(date_fields(name, _day(element[name])))
            except ValueError:
                errors.append(f"{name} '{element[name]}' is not a valid date.")
    return errors


def _day(value: str) -> dt.date:
    if value.startswith("/Date("):
        return dt.date.fromisoformat(iso_of(ms_from_xero(value))[:10])
    return dt.date.fromisoformat(value[:10])


def _lines(book: Book, stored_lines: list[dict], sent_lines: list[dict] | None, unitdp: int):
    """Full line replacement: the sent lines become the invoice's lines."""
    if sent_lines is None:
        # UNCONFIRMED (xero.uservoice 50252319): with LineItems omitted, Xero recreates every line.
        sent_lines = [{k: v for k, v in line.items() if k != "LineItemID"} for line in stored_lines]
    known = {line["LineItemID"].lower(): line for line in stored_lines}
    new_lines, kept_lines, errors = [], [], []
    for sent in sent_lines:
        line_id = sent.get("LineItemID")
        if line_id and line_id.lower() not in known:
            # UNCONFIRMED text: Xero's answer to a LineItemID of another document is not documented.
            errors.append(f"The LineItemID {line_id} does not belong to this document.")
            continue
        line = {"LineItemID": line_id or str(uuid.uuid4())}
        line.update({key: sent[key] for key in LINE_FIELDS if sent.get(key) is not None})
        line.setdefault("Quantity", 1.0)
        if "UnitAmount" not in line:
            line["UnitAmount"] = sent.get("LineAmount") or 0.0
        line["UnitAmount"] = unit_amount(line["UnitAmount"], unitdp)
        if line.get("ItemCode") and not any(i["Code"] == line["ItemCode"] for i in book.state["Items"]):
            errors.append(f"Item code '{line['ItemCode']}' is not valid.")
        carried = _carried(known[line_id.lower()]) if line_id and book.archived == "keep" else set()
        tracking, tracking_errors = _tracking(book.state["TrackingCategories"], sent.get("Tracking") or [], carried)
        line["Tracking"] = tracking
        errors += tracking_errors
        (kept_lines if line_id else new_lines).append(line)
    return new_lines + kept_lines, errors


def _carried(line: dict) -> set[tuple[str, str]]:
    """A stored line's (category id, option id) entries, lower case."""
    return {(t["TrackingCategoryID"].lower(), t["TrackingOptionID"].lower()) for t in line.get("Tracking") or []}


def _tracking(categories: list[dict], entries: list[dict],
              carried: frozenset[tuple[str, str]] | set[tuple[str, str]] = frozenset()) -> tuple[list[dict], list[str]]:
    """Resolve entries given by IDs or by Name/Option. Two entries for one category: the last wins. An archived
    option in `carried` (the line had it, under the "keep" reading) is kept."""
    if len(entries) > MAX_TRACKING:
        return [], ["A line item can have a maximum of 2 tracking categories."]
    chosen, errors = {}, []
    for entry in entries:
        resolved = _tracking_entry(categories, entry, carried)
        if isinstance(resolved, str):
            errors.append(resolved)
        else:
            chosen.pop(resolved["TrackingCategoryID"], None)
            chosen[resolved["TrackingCategoryID"]] = resolved
    return list(chosen.values()), errors


def _tracking_entry(categories: list[dict], entry: dict, carried: set[tuple[str, str]]) -> dict | str:
    # UNCONFIRMED texts: Xero's exact messages for unknown and archived options are not public.
    category_id = (entry.get("TrackingCategoryID") or "").lower()
    option_id = (entry.get("TrackingOptionID") or "").lower()
    name, option_name = entry.get("Name") or "", entry.get("Option") or ""
    category = next((c for c in categories if c["Status"] != "DELETED" and (
        c["TrackingCategoryID"].lower() == category_id if category_id else c["Name"].lower() == name.lower())), None)
    if category is None:
        return f"The tracking category '{name or category_id}' does not exist."
    option = next((o for o in category["Options"] if (
        o["TrackingOptionID"].lower() == option_id if option_id else o["Name"].lower() == option_name.lower())), None)
    kept = option is not None and (category["TrackingCategoryID"].lower(), option["TrackingOptionID"].lower()) in carried
    if category["Status"] != "ACTIVE" and not kept:
        return f"The tracking category '{category['Name']}' is archived and cannot be used."
    if option is None or not (option_id or option_name):
        return f"The tracking option '{option_name or option_id}' does not exist in the tracking category " \
               f"'{category['Name']}'."
    if option["Status"] != "ACTIVE" and not kept:
        return f"The tracking option '{option['Name']}' in the tracking category '{category['Name']}' is " \
               f"{option['Status'].lower()} and cannot be used."
    return {"Name": category["Name"], "Option": option["Name"],
            "TrackingCategoryID": category["TrackingCategoryID"], "TrackingOptionID": option["TrackingOptionID"]}
