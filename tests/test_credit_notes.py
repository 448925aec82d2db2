"""Sales credit notes in Xero's shape: the sandbox's reads and lock rules, and the gateway's reads and updates,
through the real xero-python SDK."""
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from core.xero.gateway import CREDIT_NOTE_IDS_PER_CALL, Call, Gateway, XeroError
from core.xero.sandbox_credit_notes import LOCKED_MESSAGES
from tests.test_gateway import api_calls, config_for


@pytest.fixture
def gw(sandbox):
    return Gateway(config_for(sandbox), sleep=lambda seconds: None)


def notes(sandbox, **wanted) -> list[dict]:
    def fits(note):
        return all(test(note.get(key)) if callable(test) else note.get(key) == test for key, test in wanted.items())
    return [n for n in sandbox.state["CreditNotes"] if fits(n)]


def editable(sandbox) -> dict:
    return notes(sandbox, Status="AUTHORISED", Allocations=[], Payments=[])[0]


def sent_back(note: dict, tracking=None) -> dict:
    """The update the push sends: every line whole, only the tracking changed when `tracking` is given."""
    fields = ("LineItemID", "Description", "Quantity", "UnitAmount", "ItemCode", "AccountCode", "TaxType", "TaxAmount",
              "DiscountRate", "DiscountAmount", "LineAmount")
    return {"CreditNoteID": note["CreditNoteID"], "Type": note["Type"], "LineAmountTypes": note["LineAmountTypes"],
            "LineItems": [{**{f: line[f] for f in fields if f in line},
                           "Tracking": line["Tracking"] if tracking is None else tracking}
                          for line in note["LineItems"]]}


def partner(sandbox, name: str) -> dict:
    category = sandbox.state["TrackingCategories"][0]
    option = next(o for o in category["Options"] if o["Name"] == name)
    return {"TrackingCategoryID": category["TrackingCategoryID"], "TrackingOptionID": option["TrackingOptionID"]}


def test_the_demo_has_credit_notes_of_every_kind(sandbox):
    kinds = {(n["Status"], bool(n["Allocations"]), bool(n["Payments"])) for n in sandbox.state["CreditNotes"]}
    assert {("AUTHORISED", False, False), ("AUTHORISED", True, False), ("PAID", True, False), ("PAID", False, True),
            ("DRAFT", False, False), ("VOIDED", False, False)} <= kinds
    assert all(n["Type"] == "ACCRECCREDIT" for n in sandbox.state["CreditNotes"])
    counted = [i for i in sandbox.state["Invoices"] if i["Type"] == "ACCREC" and i["Status"] in ("AUTHORISED", "PAID")]
    credited = [n for n in sandbox.state["CreditNotes"] if n["Status"] in ("AUTHORISED", "PAID")]

    def value(records):
        return sum(Decimal(str(r["SubTotal"])) / Decimal(str(r["CurrencyRate"])) for r in records)
    assert Decimal("0.05") <= value(credited) / value(counted) <= Decimal("0.08")
    allocated = next(n for n in sandbox.state["CreditNotes"] if n["Allocations"])
    invoice = sandbox.invoice(allocated["Allocations"][0]["Invoice"]["InvoiceID"])
    assert invoice["AmountCredited"] >= allocated["Allocations"][0]["Amount"]


def test_credit_notes_are_read_by_page_with_their_lines(gw, sandbox):
    pages = list(gw.credit_notes())
    assert [len(p) for p in pages] == [len(sandbox.state["CreditNotes"])]
    assert all(n["LineItems"] and n["Type"] == "ACCRECCREDIT" for n in pages[0])
    assert isinstance(pages[0][0]["Total"], Decimal)
    assert api_calls(gw) == [Call("GET", "/CreditNotes", 200)]


def test_credit_notes_are_re_read_by_id_twenty_five_a_call(gw, sandbox):
    ids = [n["CreditNoteID"] for n in sandbox.state["CreditNotes"][:30]]
    read = [n["CreditNoteID"] for page in gw.credit_notes(ids=ids) for n in page]
    assert sorted(read) == sorted(ids)
    assert len(api_calls(gw)) == -(-len(ids) // CREDIT_NOTE_IDS_PER_CALL) == 2
    assert gw.credit_note(ids[0])["LineItems"]


def test_if_modified_since_returns_only_later_changes(gw, sandbox):
    note = editable(sandbox)
    since = datetime.now(UTC) - timedelta(seconds=1)
    assert [n for page in gw.credit_notes(since) for n in page] == []
    gw.update_credit_notes([sent_back(note, [partner(sandbox, "Ben Okafor")])], idempotency_key="cn-1")
    assert [n["CreditNoteID"] for page in gw.credit_notes(since) for n in page] == [note["CreditNoteID"]]


def test_an_update_replaces_the_lines_tracking_and_keeps_the_amounts(gw, sandbox):
    note = editable(sandbox)
    wanted = [partner(sandbox, "Clara Singh")]
    [answer] = gw.update_credit_notes([sent_back(note, wanted)], idempotency_key="cn-2")
    assert not answer.get("HasErrors") and answer["Total"] == Decimal(str(note["Total"]))
    stored = gw.credit_note(note["CreditNoteID"])
    assert [line["LineItemID"] for line in stored["LineItems"]] == [line["LineItemID"] for line in note["LineItems"]]
    assert [(t["TrackingOptionID"], t["Option"]) for t in stored["LineItems"][0]["Tracking"]] == [
        (wanted[0]["TrackingOptionID"], "Clara Singh")]


@pytest.mark.parametrize("kind, message", [
    ({"Status": "PAID"}, LOCKED_MESSAGES["status"]),
    ({"Status": "VOIDED"}, LOCKED_MESSAGES["status"]),
    ({"Status": "AUTHORISED", "Allocations": lambda a: bool(a)}, LOCKED_MESSAGES["allocated"]),
])
def test_paid_voided_and_allocated_credit_notes_are_refused_the_others_kept(gw, sandbox, kind, message):
    locked, good = notes(sandbox, **kind)[0], editable(sandbox)
    before = json.loads(json.dumps(locked))
    answers = gw.update_credit_notes([sent_back(locked, []), sent_back(good, [])], idempotency_key=f"cn-{message}")
    assert [(a.get("HasErrors", False), [e["Message"] for e in a.get("ValidationErrors") or []]) for a in answers] == [
        (True, [message]), (False, [])]
    assert notes(sandbox, CreditNoteID=locked["CreditNoteID"])[0] == before


def test_a_retried_update_reuses_its_idempotency_key(gw, sandbox):
    note = editable(sandbox)
    sandbox.fail_next(503, path="/CreditNotes")
    first = gw.update_credit_notes([sent_back(note, [partner(sandbox, "Emma Walsh")])], idempotency_key="cn-3")
    again = gw.update_credit_notes([sent_back(note, [partner(sandbox, "Emma Walsh")])], idempotency_key="cn-3")
    assert [c.status for c in api_calls(gw)] == [503, 200, 200]
    assert again[0]["UpdatedDateUTC"] == first[0]["UpdatedDateUTC"]
    with pytest.raises(XeroError, match="is used with a different request"):
        gw.update_credit_notes([sent_back(note, [])], idempotency_key="cn-3")


def test_more_than_fifty_credit_notes_per_update_is_a_programming_error(gw):
    with pytest.raises(ValueError):
        gw.update_credit_notes([{"CreditNoteID": str(n)} for n in range(51)], idempotency_key="k")


def test_a_credit_note_in_the_invoices_shape_and_back(sandbox):
    from core import credit_notes, push_plan

    allocated = notes(sandbox, Allocations=lambda a: bool(a))[0]
    refunded = notes(sandbox, Payments=lambda p: bool(p))[0]
    shaped = credit_notes.as_invoice(allocated)
    assert (shaped["InvoiceID"], shaped["InvoiceNumber"], shaped["Type"]) == (
        allocated["CreditNoteID"], allocated["CreditNoteNumber"], "ACCRECCREDIT")
    assert shaped["AmountCredited"] == Decimal(str(allocated["Allocations"][0]["Amount"])) and not shaped["AmountPaid"]
    assert credit_notes.as_invoice(refunded)["AmountPaid"] == Decimal(str(refunded["Total"]))
    note = editable(sandbox)
    category = sandbox.state["TrackingCategories"][0]["TrackingCategoryID"]
    wanted = {note["LineItems"][0]["LineItemID"]: {category: partner(sandbox, "Ben Okafor")["TrackingOptionID"]}}
    element = credit_notes.as_credit_note(push_plan.build_update(credit_notes.as_invoice(note), wanted))
    assert element["CreditNoteID"] == note["CreditNoteID"] and "InvoiceID" not in element
    assert [line["LineItemID"] for line in element["LineItems"]] == [line["LineItemID"] for line in note["LineItems"]]


def test_invoices_and_credit_notes_read_and_updated_in_one_shape(gw, sandbox):
    from core import credit_notes, push_plan

    note, invoice = editable(sandbox), next(i for i in sandbox.state["Invoices"] if i["Status"] == "DRAFT")
    read = {d["InvoiceID"]: d for page in credit_notes.read(gw, {"ACCREC": [invoice["InvoiceID"]],
                                                                  "ACCRECCREDIT": [note["CreditNoteID"]]})
            for d in page}
    assert {i: d["Type"] for i, d in read.items()} == {invoice["InvoiceID"]: "ACCREC", note["CreditNoteID"]: "ACCRECCREDIT"}
    single = credit_notes.read_one(gw, note["CreditNoteID"], "ACCRECCREDIT")
    assert single["InvoiceNumber"] == note["CreditNoteNumber"]
    category = sandbox.state["TrackingCategories"][0]["TrackingCategoryID"]
    wanted = {line["LineItemID"]: {category: partner(sandbox, "Farid Haddad")["TrackingOptionID"]}
              for line in single["LineItems"]}
    sent = push_plan.build_update(single, wanted)
    [answer] = credit_notes.update(gw, [sent], "ACCRECCREDIT", idempotency_key="cn-shape")
    assert push_plan.verify(sent, single, answer) == []
    assert answer["InvoiceID"] == note["CreditNoteID"]
