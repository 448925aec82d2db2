"""Sales credit notes in Xero's shape: the sandbox's reads and lock rules, and the gateway's reads and updates,
through the real xero-python SDK."""
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from core.xero.errors import XeroError
from core.xero.gateway import CREDIT_NOTE_IDS_PER_CALL, Call, Gateway
from core.sandbox.credit_notes import LOCKED_MESSAGES
from tests.conftest import config_for
from tests.test_gateway import api_calls


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


# --- the push ---------------------------------------------------------------------------------------

@pytest.fixture
def demo_org(db_path, sandbox):
    """The demo practice synced and seeded: its rules want changes on invoices and on credit notes."""
    from core import rules, store, sync
    from core.sandbox import demo

    gw = Gateway(config_for(sandbox), sleep=lambda seconds: None)
    sync.sync(gw, db=db_path, full=True)
    with store.connect(db_path) as con:
        demo.seed_settings(con, sandbox.state)
        with store.transaction(con):
            rules.refresh(con)
    return gw, db_path


def xero_tracking(sandbox, note_id: str) -> dict[str, dict]:
    from core import push_plan

    return {line["LineItemID"]: push_plan.tracking_of(line) for line in notes(sandbox, CreditNoteID=note_id)[0]["LineItems"]}


def test_the_plan_holds_editable_credit_notes_and_names_the_locked_ones(demo_org, sandbox):
    from core import push, store

    gw, db = demo_org
    with store.connect(db) as con:
        rows = [r for r in push.plan(con) if r["type"] == "ACCRECCREDIT"]
        table = push.plan_table(con)
    by_status = {n["CreditNoteID"]: n for n in sandbox.state["CreditNotes"]}
    eligible = {r["invoice_id"] for r in rows if r["eligible"]}
    locked = {r["invoice_id"]: r["reason"] for r in rows if not r["eligible"]}
    assert eligible and locked
    assert all(by_status[i]["Status"] in ("DRAFT", "AUTHORISED") and not by_status[i]["Allocations"]
               and not by_status[i]["Payments"] for i in eligible)
    assert all(reason.startswith("Credit note ") for reason in locked.values())
    assert {by_status[i]["Status"] for i in locked} >= {"PAID", "VOIDED"}
    assert set(table.loc[table["invoice"].str.startswith("CN-"), "document"]) == {"Credit note"}


def test_a_credit_note_is_pushed_through_credit_notes_logged_and_undone(demo_org, sandbox):
    from core import push, store
    from tests.test_push import TESTER

    gw, db = demo_org
    with store.connect(db) as con:
        row = next(r for r in push.plan(con) if r["type"] == "ACCRECCREDIT" and r["eligible"])
    before = xero_tracking(sandbox, row["invoice_id"])
    calls = len(gw.calls)

    result = push.push(gw, by=TESTER, invoice_numbers=[row["number"]], db=db)

    assert [(o.number, o.document, o.result) for o in result.invoices] == [(row["number"], "Credit note", "landed")]
    assert [(c.method, c.endpoint) for c in gw.calls[calls:] if not c.is_token and c.endpoint != "/Invoices"] == [
        ("GET", "/CreditNotes"), ("POST", "/CreditNotes")]
    assert xero_tracking(sandbox, row["invoice_id"])[row["line_id"]].get(row["category_id"]) == row["wanted_option_id"]
    assert push.push(gw, by=TESTER, invoice_numbers=[row["number"]], db=db).push_id is None  # nothing left to send
    with store.connect(db) as con:
        assert [(o.document, o.result) for o in push.invoice_results(con, result.push_id)] == [("Credit note", "landed")]

    undone = push.undo(gw, result.push_id, by=TESTER, db=db)
    assert [(o.document, o.result) for o in undone.invoices] == [("Credit note", "landed")]
    assert xero_tracking(sandbox, row["invoice_id"]) == before


def test_a_whole_push_batches_invoices_and_credit_notes_apart(demo_org, sandbox):
    import math

    from core import push, store
    from tests.test_push import TESTER

    gw, db = demo_org
    with store.connect(db) as con:
        plan = push.plan(con)
        refusable = {i for (i,) in con.execute("SELECT invoice_id FROM refusable_invoices").fetchall()}
    eligible = {kind: {r["invoice_id"] for r in plan if r["eligible"] and r["type"] == kind}
                for kind in ("ACCREC", "ACCRECCREDIT")}
    calls = len(gw.calls)
    result = push.push(gw, by=TESTER, db=db)
    posts = [c.endpoint for c in gw.calls[calls:] if c.method == "POST" and not c.is_token]
    assert posts.count("/Invoices") == math.ceil(len(eligible["ACCREC"]) / 50)
    assert posts.count("/CreditNotes") == math.ceil(len(eligible["ACCRECCREDIT"]) / 50)
    landed = {o.invoice_id for o in result.invoices if o.result == "landed"}
    # the sandbox refuses, as a strict Xero would, those that keep an archived option: blocked from then on
    assert eligible["ACCRECCREDIT"] - refusable <= landed
    assert {o.invoice_id for o in result.invoices if o.result == "failed"} <= refusable
    assert push.push(gw, by=TESTER, db=db).push_id is None


def test_preview_and_push_take_a_credit_note_number(demo_org, capsys, monkeypatch):
    from core import push, store
    from core.__main__ import main

    gw, db = demo_org
    with store.connect(db) as con:
        number = next(r["number"] for r in push.plan(con) if r["type"] == "ACCRECCREDIT" and r["eligible"])
    monkeypatch.setattr("core.connection.gateway", lambda: gw)
    assert main(["preview", "--invoice", number, "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {line["invoice_number"] for line in shown} == {number} and {line["document"] for line in shown} == {
        "Credit note"}
    assert main(["push", "--dry-run", "--invoice", number]) == 0
    assert number in capsys.readouterr().out
    assert main(["push", "--invoice", "CN-9999"]) == 2
    assert "No synced sales invoice or credit note has the number CN-9999" in capsys.readouterr().err
