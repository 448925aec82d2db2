"""Sales credit notes (ACCRECCREDIT) in the invoice's shape, and back (XERO_NOTES §10).

The mirror keeps credit notes in `invoices` beside the invoices (migration 0009_credit_notes), so
the sync, the rules, the preview and the push read one shape. A credit note differs from an invoice
in its keys (CreditNoteID, CreditNoteNumber) and in what is applied to it: `Allocations` to
invoices, and refunds as `Payments`. In the invoice's shape, what was refunded is `AmountPaid`, what
was allocated `AmountCredited`, and `RemainingCredit` is kept; so the rules' lock (core/rules.py
EDITABLE) holds for both: a PAID, VOIDED or allocated credit note is locked.
"""
from decimal import Decimal

from core.rules import CREDIT_NOTE

ID, NUMBER = "CreditNoteID", "CreditNoteNumber"
ZERO = Decimal(0)


def as_invoice(note: dict) -> dict:
    """A credit note as Xero sent it, in the invoice's shape (money stays as it came)."""
    allocated = sum((Decimal(str(a.get("Amount") or 0)) for a in note.get("Allocations") or []), ZERO)
    refunded = sum((Decimal(str(p.get("Amount") or 0)) for p in note.get("Payments") or []), ZERO)
    shaped = {key: value for key, value in note.items() if key not in (ID, NUMBER)}
    shaped.update({"InvoiceID": note[ID], "InvoiceNumber": note.get(NUMBER), "Type": CREDIT_NOTE,
                   "AmountPaid": refunded, "AmountCredited": allocated, "AmountDue": note.get("RemainingCredit")})
    return shaped


def as_credit_note(update: dict) -> dict:
    """An update built in the invoice's shape (core/push_plan.py) as a POST /CreditNotes element."""
    element = {key: value for key, value in update.items() if key not in ("InvoiceID", "InvoiceNumber")}
    element[ID] = update["InvoiceID"]
    return element


def is_credit_note(record: dict) -> bool:
    return record.get("Type") == CREDIT_NOTE
