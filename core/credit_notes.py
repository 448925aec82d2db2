"""Sales credit notes (ACCRECCREDIT) in the invoice's shape, and back (docs/xero-behaviours.md).

The mirror keeps credit notes in `invoices` beside the invoices (migration 0009_credit_notes), so
the sync, the rules, the preview and the push read one shape. A credit note differs from an invoice
in its keys (CreditNoteID, CreditNoteNumber) and in what is applied to it: `Allocations` to
invoices, and refunds as `Payments`. In the invoice's shape, what was refunded is `AmountPaid`, what
was allocated `AmountCredited`, and `RemainingCredit` is kept; so the rules' lock (core/rules.py
EDITABLE) holds for both: a PAID, VOIDED or allocated credit note is locked.
"""
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal

from core.rules import CREDIT_NOTE
from core.xero.gateway import Page

INVOICE = "ACCREC"
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


def invoice_pages(pages: Iterable[Page]) -> Iterator[Page]:
    """Pages of credit notes as pages in the invoice's shape, with Xero's paging figures."""
    for page in pages:
        yield Page([as_invoice(note) for note in page], page.page, page.page_count, page.item_count)


def read(gw, ids_by_type: Mapping[str, Iterable[str]]) -> Iterator[Page]:
    """Xero's current copies of these invoices and credit notes (type → ids), page by page, all in the invoice's
    shape: invoices ≤ 50 ids a call, credit notes ≤ 25 (GET /CreditNotes has no IDs parameter)."""
    invoice_ids, note_ids = list(ids_by_type.get(INVOICE) or ()), list(ids_by_type.get(CREDIT_NOTE) or ())
    if invoice_ids:
        yield from gw.invoices(ids=invoice_ids)
    if note_ids:
        yield from invoice_pages(gw.credit_notes(ids=note_ids))


def read_one(gw, document_id: str, kind: str) -> dict:
    """One invoice or credit note read singly (with every field a list read may leave out), in the invoice's shape."""
    return as_invoice(gw.credit_note(document_id)) if kind == CREDIT_NOTE else gw.invoice(document_id)


def update(gw, updates: list[dict], kind: str, *, idempotency_key: str) -> list[dict]:
    """POST /Invoices or /CreditNotes for one batch of one kind (updates and answers in the invoice's shape)."""
    if kind != CREDIT_NOTE:
        return gw.update_invoices(updates, idempotency_key=idempotency_key)
    answers = gw.update_credit_notes([as_credit_note(u) for u in updates], idempotency_key=idempotency_key)
    return [as_invoice(answer) if answer.get(ID) else answer for answer in answers]
