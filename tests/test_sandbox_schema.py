"""Every kind of response the sandbox serves matches the component schemas of Xero's OpenAPI spec.

The record schemas are made strict (no properties beyond the spec's), so a misspelt or
invented field name fails; the envelopes stay open because Xero adds Id/Status/ProviderName/
DateTimeUTC, which the spec does not list. Bodies are read raw through the SDK
(`_preload_content=False`).
"""
import datetime
import json
from pathlib import Path

import pytest
import yaml
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from xero_python.accounting import (CreditNote, CreditNotes, Invoice, Invoices, LineAmountTypes, LineItem,
                                    LineItemTracking)
from xero_python.exceptions import AccountingBadRequestException, HTTPStatusException, RateLimitException

SPEC_FILE = Path(__file__).resolve().parents[2] / "shared" / "xero-openapi" / "xero_accounting.yaml"
if not SPEC_FILE.exists():
    pytest.skip(f"Xero's OpenAPI spec is not at {SPEC_FILE}", allow_module_level=True)
STRICT = ["Invoice", "LineItem", "LineItemTracking", "Pagination", "TrackingCategory", "TrackingOption",
          "Contact", "Item", "Purchase", "Organisation", "Payment", "Error", "ValidationError", "CreditNote",
          "Allocation", "ManualJournal", "ManualJournalLine", "ReportWithRow", "ReportRows", "ReportRow", "ReportCell",
          "ReportAttribute"]
# Not Element: Xero's error elements are whole invoices (Xero-Java#171), checked as Invoice below.


@pytest.fixture(scope="module")
def registry():
    spec = yaml.load(SPEC_FILE.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    schemas = spec["components"]["schemas"]
    for name in STRICT:
        schemas[name]["additionalProperties"] = False
    # Xero sends these (see the getInvoices examples in the spec) but the Invoice schema omits them.
    for name in ("Invoice", "CreditNote", "ManualJournal"):
        schemas[name]["properties"].update({"DateString": {"type": "string"}, "DueDateString": {"type": "string"}})
    return Registry().with_resource("urn:xero", Resource.from_contents(spec, default_specification=DRAFT4))


@pytest.fixture(scope="module")
def valid(registry):
    validators = {}

    def check(body: bytes | dict, schema: str) -> dict:
        document = json.loads(body) if isinstance(body, bytes) else body
        if schema not in validators:
            validators[schema] = OAS30ReadValidator({"$ref": f"urn:xero#/components/schemas/{schema}"},
                                                    registry=registry, format_checker=oas30_format_checker)
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validators[schema].iter_errors(document)]
        assert not errors, errors[:5]
        return document
    return check


def raw(call, *args, **kwargs) -> bytes:
    return call("", *args, _preload_content=False, **kwargs).data


def variety(state: dict) -> list[str]:
    """Invoices covering every kind the demo has: type, status, part-paid, currency, amount type,
    discount rate, discount amount, tracking."""
    seen = {}
    for invoice in state["Invoices"]:
        lines = invoice["LineItems"]
        kinds = [invoice["Type"], invoice["Status"], invoice["AmountPaid"] > 0, invoice["CurrencyCode"],
                 invoice["LineAmountTypes"], any("DiscountRate" in l for l in lines),
                 any("DiscountAmount" in l for l in lines), any(l["Tracking"] for l in lines)]
        for kind in enumerate(kinds):
            seen.setdefault(kind, invoice["InvoiceID"])
    return list(dict.fromkeys(seen.values()))


def test_invoice_lists_paged_and_unpaged(sandbox, xero_api, valid):
    ids = variety(sandbox.state)
    paged = valid(raw(xero_api.get_invoices, i_ds=ids, page=1, page_size=1000, unitdp=4), "Invoices")
    assert len(paged["Invoices"]) == len(ids) and paged["pagination"]["itemCount"] == len(ids)
    unpaged = valid(raw(xero_api.get_invoices, i_ds=ids), "Invoices")
    assert len(unpaged["Invoices"]) == len(ids) and all(i["LineItems"] == [] for i in unpaged["Invoices"])


def test_single_invoice(sandbox, xero_api, valid):
    for invoice_id in variety(sandbox.state):
        body = valid(raw(xero_api.get_invoice, invoice_id), "Invoices")
        assert body["Invoices"][0]["InvoiceID"] == invoice_id


@pytest.mark.parametrize("call, schema, kwargs", [
    ("get_tracking_categories", "TrackingCategories", {"include_archived": True}),
    ("get_tracking_categories", "TrackingCategories", {}),
    ("get_contacts", "Contacts", {"page": 1, "include_archived": True}),
    ("get_items", "Items", {}),
    ("get_organisations", "Organisations", {}),
])
def test_settings_and_contacts(xero_api, valid, call, schema, kwargs):
    body = valid(raw(getattr(xero_api, call), **kwargs), schema)
    assert body[schema] and body["Status"] == "OK"


def _update(sandbox) -> Invoices:
    state = sandbox.state
    draft = next(i for i in state["Invoices"] if i["Type"] == "ACCREC" and i["Status"] == "DRAFT")
    paid = next(i for i in state["Invoices"] if i["Status"] == "PAID")
    department = state["TrackingCategories"][1]
    lines = [LineItem(line_item_id=line["LineItemID"], description=line["Description"], quantity=line["Quantity"],
                      unit_amount=line["UnitAmount"], item_code=line["ItemCode"], account_code=line["AccountCode"],
                      tax_type=line["TaxType"], discount_rate=line.get("DiscountRate"),
                      discount_amount=line.get("DiscountAmount"),
                      tracking=[LineItemTracking(tracking_category_id=department["TrackingCategoryID"],
                                                 tracking_option_id=department["Options"][0]["TrackingOptionID"])])
             for line in draft["LineItems"]]
    return Invoices(invoices=[
        Invoice(invoice_id=draft["InvoiceID"], line_amount_types=LineAmountTypes(draft["LineAmountTypes"]),
                line_items=lines),
        Invoice(invoice_id=paid["InvoiceID"], line_items=[]),
    ])


def test_per_invoice_update_results(sandbox, xero_api, valid):
    body = valid(raw(xero_api.update_or_create_invoices, _update(sandbox), summarize_errors=False, unitdp=4),
                 "Invoices")
    assert [i["StatusAttributeString"] for i in body["Invoices"]] == ["OK", "ERROR"]


def test_idempotency_conflict_body(sandbox, xero_api, valid):
    update = _update(sandbox)
    xero_api.update_or_create_invoices("", update, summarize_errors=False, idempotency_key="key-1")
    with pytest.raises(AccountingBadRequestException) as caught:
        xero_api.update_or_create_invoices("", Invoices(invoices=update.invoices[:1]), summarize_errors=False,
                                           idempotency_key="key-1")
    assert valid(caught.value.body, "Error")["Message"] == "Idempotency Key: key-1 is used with a different request."


def test_unauthorised_body(sandbox, xero_api):
    """The spec has no component for 401s; this is the shape Xero's gateway answers with."""
    sandbox.expire_tokens()
    with pytest.raises(HTTPStatusException) as caught:
        xero_api.get_organisations("")
    body = json.loads(caught.value.body)
    assert caught.value.status == 401
    assert {k: body[k] for k in ("Type", "Title", "Status", "Detail")} == {
        "Type": None, "Title": "Unauthorized", "Status": 401, "Detail": "AuthenticationUnsuccessful"}


def credit_note_variety(state: dict) -> list[str]:
    """Credit notes covering every kind the demo has: status, allocated, refunded, currency, amount type, tracking."""
    seen = {}
    for note in state["CreditNotes"]:
        kinds = [note["Status"], bool(note["Allocations"]), bool(note["Payments"]), note["CurrencyCode"],
                 note["LineAmountTypes"], any(line["Tracking"] for line in note["LineItems"])]
        for kind in enumerate(kinds):
            seen.setdefault(kind, note["CreditNoteID"])
    return list(dict.fromkeys(seen.values()))


def by_ids(ids: list[str]) -> str:
    return " OR ".join(f'CreditNoteID==Guid("{i}")' for i in ids)


def test_credit_note_lists_paged_and_unpaged(sandbox, xero_api, valid):
    ids = credit_note_variety(sandbox.state)
    paged = valid(raw(xero_api.get_credit_notes, where=by_ids(ids), page=1, page_size=1000, unitdp=4), "CreditNotes")
    assert sorted(n["CreditNoteID"] for n in paged["CreditNotes"]) == sorted(ids)
    assert all(n["LineItems"] for n in paged["CreditNotes"]) and paged["pagination"]["itemCount"] == len(ids)
    unpaged = valid(raw(xero_api.get_credit_notes, where='Type=="ACCRECCREDIT"'), "CreditNotes")
    assert len(unpaged["CreditNotes"]) == len(sandbox.state["CreditNotes"])
    assert all(n["LineItems"] == [] for n in unpaged["CreditNotes"])


def test_single_credit_note(sandbox, xero_api, valid):
    for note_id in credit_note_variety(sandbox.state):
        assert valid(raw(xero_api.get_credit_note, note_id), "CreditNotes")["CreditNotes"][0]["CreditNoteID"] == note_id


def _credit_note_update(sandbox) -> CreditNotes:
    notes = sandbox.state["CreditNotes"]
    editable = next(n for n in notes if n["Status"] == "AUTHORISED" and not n["Allocations"])
    allocated = next(n for n in notes if n["Allocations"])
    lines = [LineItem(line_item_id=line["LineItemID"], description=line["Description"], quantity=line["Quantity"],
                      unit_amount=line["UnitAmount"], item_code=line.get("ItemCode"), account_code=line["AccountCode"],
                      tax_type=line["TaxType"], tracking=[]) for line in editable["LineItems"]]
    update = CreditNotes(credit_notes=[
        CreditNote(credit_note_id=editable["CreditNoteID"], line_amount_types=LineAmountTypes(editable["LineAmountTypes"]),
                   line_items=lines),
        CreditNote(credit_note_id=allocated["CreditNoteID"], line_items=[])])
    return update


def test_credit_note_update_results(sandbox, xero_api, valid):
    body = valid(raw(xero_api.update_or_create_credit_notes, _credit_note_update(sandbox), summarize_errors=False,
                     unitdp=4), "CreditNotes")
    assert [n["StatusAttributeString"] for n in body["CreditNotes"]] == ["OK", "ERROR"]


@pytest.mark.parametrize(("update", "build", "element"), [
    ("update_or_create_invoices", _update, "Invoice"),
    ("update_or_create_credit_notes", _credit_note_update, "CreditNote"),
])
def test_validation_error_body(sandbox, xero_api, valid, update, build, element):
    with pytest.raises(AccountingBadRequestException) as caught:
        getattr(xero_api, update)("", build(sandbox))
    body = valid(caught.value.body, "Error")
    assert body["Type"] == "ValidationException" and len(body["Elements"]) == 1
    valid(body["Elements"][0], element)


def test_rate_limit_body(sandbox, xero_api):
    """The spec has no component for 429s either: Xero's gateway answers in the shape of its 401s."""
    xero_api.api_client.rest_client.pool_manager.connection_pool_kw["retries"] = False
    sandbox.fail_next(429, retry_after=5)
    with pytest.raises(RateLimitException) as caught:
        xero_api.get_organisations("")
    body = json.loads(caught.value.body)
    assert caught.value.headers["Retry-After"] == "5" and caught.value.rate_limit == "minute"
    assert {k: body[k] for k in ("Type", "Title", "Status")} == {"Type": None, "Title": "Too Many Requests",
                                                                 "Status": 429}


def test_profit_and_loss_by_two_tracking_options(sandbox, xero_api, valid):
    partner, department = sandbox.state["TrackingCategories"][:2]
    body = valid(raw(xero_api.get_report_profit_and_loss, from_date="2026-01-01", to_date="2026-12-31",
                     tracking_category_id=partner["TrackingCategoryID"],
                     tracking_option_id=partner["Options"][0]["TrackingOptionID"],
                     tracking_category_id2=department["TrackingCategoryID"],
                     tracking_option_id2=department["Options"][0]["TrackingOptionID"]), "ReportWithRows")
    assert body["Reports"][0]["Rows"][0]["RowType"] == "Header"


def test_profit_and_loss_by_tracking_category(sandbox, xero_api, valid):
    partner = sandbox.state["TrackingCategories"][0]
    body = valid(raw(xero_api.get_report_profit_and_loss, from_date="2026-01-01", to_date="2026-03-31",
                     tracking_category_id=partner["TrackingCategoryID"]), "ReportWithRows")
    header, income = body["Reports"][0]["Rows"][:2]
    assert [c["Value"] for c in header["Cells"]] == ["", *(o["Name"] for o in partner["Options"]), "Unassigned", "Total"]
    assert income["Title"] == "Income" and income["Rows"][-1]["RowType"] == "SummaryRow"


def test_profit_and_loss_and_manual_journals(sandbox, xero_api, valid):
    sandbox.add_manual_journal(datetime.date(2026, 2, 1), [
        {"AccountCode": "200", "LineAmount": -120, "Tracking": [{"Name": "Partner", "Option": "Ben Okafor"}]},
        {"AccountCode": "429", "LineAmount": 120}])
    valid(raw(xero_api.get_report_profit_and_loss, from_date="2026-02-01", to_date="2026-02-28"), "ReportWithRows")
    journals = valid(raw(xero_api.get_manual_journals, page=1), "ManualJournals")["ManualJournals"]
    assert [line["LineAmount"] for line in journals[0]["JournalLines"]] == [-120, 120]
