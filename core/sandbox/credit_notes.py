"""The sandbox's sales credit notes (docs/xero-behaviours.md), as pure functions over the sandbox's state.

GET /CreditNotes lists them in their stored order: paged with page/pageSize (lines only when
paged, as for invoices), If-Modified-Since and `where` — Xero's spec gives this endpoint no `IDs`
parameter, so re-reading a set of credit notes is a `where` of `CreditNoteID==Guid("…")` clauses
joined by OR, which the sandbox reads too. GET /CreditNotes/{id} returns one with its lines.
POST /CreditNotes updates them with the invoices' rules (writes: the sent lines replace
the held ones, omitted fields are cleared). Which credit notes Xero lets an app edit is
unconfirmed; the sandbox takes the strict reading: PAID, VOIDED or DELETED ones, and any with
an allocation or a refund, are refused.
"""
import json
from collections.abc import Callable

from core.sandbox import reads
from core.sandbox.records import settle_credit_note, updated_fields
from core.sandbox.writes import Book, _changed, _dates, _lines

KEY = "CreditNotes"
ID = "CreditNoteID"
LOCKED_STATUSES = {"PAID", "VOIDED", "DELETED"}
# UNCONFIRMED texts: Xero's answers to an update of a locked credit note are not documented.
LOCKED_MESSAGES = {"status": "Credit Note not of valid status for modification",
                   "allocated": "This document cannot be edited as it has a payment or credit note allocated to it."}
NOTE_FIELDS = ("Reference", "SentToContact", "CurrencyRate", "BrandingThemeID")


def notes(state: dict) -> list[dict]:
    return state.setdefault(KEY, [])


def find(state: dict, note_id: str) -> dict | None:
    wanted = str(note_id).lower()
    return next((n for n in notes(state) if n[ID].lower() == wanted), None)


def is_locked(note: dict) -> str | None:
    """Why Xero refuses to change this credit note, or None."""
    if note["Status"] in LOCKED_STATUSES:
        return LOCKED_MESSAGES["status"]
    if note.get("Allocations") or note.get("Payments"):
        return LOCKED_MESSAGES["allocated"]
    return None


def get_list(state: dict, query: dict, headers) -> dict:
    alternatives = reads.parse_where_alternatives(query.get("where"))
    chosen = reads.select(notes(state), id_key=ID, modified_since=reads.since_ms(headers.get("If-Modified-Since")),
                          keep=(lambda n: reads.matches_any(n, alternatives)) if alternatives else None)
    page, size = reads.paging(query)
    unitdp = reads.unitdp_of(query)
    if page is None:
        return reads.envelope(KEY, [reads.invoice_view(n, lines=False, list_form=True, unitdp=unitdp) for n in chosen])
    records, pagination = reads.page_of(chosen, page, size)
    return reads.envelope(KEY, [reads.invoice_view(n, lines=True, list_form=True, unitdp=unitdp) for n in records],
                          pagination=pagination)


def get_one(state: dict, note_id: str, query: dict) -> dict | None:
    note = find(state, note_id)
    if note is None:
        return None
    return reads.envelope(KEY, [reads.invoice_view(note, lines=True, list_form=False, unitdp=reads.unitdp_of(query))])


def post(state: dict, book: Book, route: list[str], query: dict, body: bytes, *, failures: dict[str, str],
         tick: Callable[[], int], changed: Callable[[], None]) -> tuple[int, dict]:
    """POST /CreditNotes (or /CreditNotes/{id}): (HTTP status, body). The Idempotency-Key is the sandbox's."""
    try:
        sent = json.loads(body or b"{}").get(KEY)
        if not isinstance(sent, list) or not all(isinstance(s, dict) for s in sent):
            raise ValueError
    except (ValueError, AttributeError):
        return 400, {"ErrorNumber": 14, "Type": "PostDataInvalidException",
                     "Message": "The request body is not a valid {\"CreditNotes\": [...]} document."}
    if route:
        sent = [{**sent[0], ID: route[0]}] if sent else []
    unitdp = reads.unitdp_of(query)
    results = [_apply(state, book, element, unitdp, failures, tick) for element in sent]
    if any(not errors for _, errors in results):
        changed()
    elements = [_result_element(record, errors, unitdp) for record, errors in results]
    if query.get("summarizeErrors", "true").lower() == "false":
        return 200, reads.envelope(KEY, elements)
    failed = [element for element, (_, errors) in zip(elements, results) if errors]
    if failed:
        return 400, _validation_error("A validation exception occurred", failed)
    return 200, reads.envelope(KEY, elements)


def _apply(state, book, element, unitdp, failures, tick) -> tuple[dict, list[str]]:
    stored = find(state, element.get(ID) or "")
    if stored is None:
        # The app only updates credit notes; creating one is not part of this sandbox.
        return element, [f"Credit note with CreditNoteID {element.get(ID)} could not be found."]
    locked = is_locked(stored)
    if locked:
        return element, [locked]
    errors = [failures[stored[ID].lower()]] if stored[ID].lower() in failures else []
    if element.get("Status", stored["Status"]) != stored["Status"]:
        errors.append(LOCKED_MESSAGES["status"])
    note = {**stored, "LineAmountTypes": element.get("LineAmountTypes") or "Exclusive"}
    note.update({key: element[key] for key in NOTE_FIELDS if key in element})
    errors += _dates(note, element)
    note["LineItems"], line_errors = _lines(book, stored["LineItems"], element.get("LineItems"), unitdp)
    errors += line_errors
    if errors:
        return element, errors
    settle_credit_note(note)
    if _changed(stored, note):
        note.update(updated_fields(tick()))
        notes(state)[notes(state).index(stored)] = note
        return note, []
    return stored, []


def _result_element(record: dict, errors: list[str], unitdp: int) -> dict:
    if errors:
        return {**record, "HasErrors": True, "StatusAttributeString": "ERROR",
                "ValidationErrors": [{"Message": message} for message in errors]}
    return {**reads.invoice_view(record, lines=True, list_form=False, unitdp=unitdp), "StatusAttributeString": "OK"}


def _validation_error(message: str, elements: list[dict] | None = None) -> dict:
    return {"ErrorNumber": 10, "Type": "ValidationException", "Message": message, "Elements": elements or []}
