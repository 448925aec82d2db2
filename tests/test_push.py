"""Push to Xero: the plan, the update built from Xero's copy, and pushes against the sandbox through the SDK."""
import copy
import csv
import datetime as dt
import io
import math
from decimal import Decimal

import pytest

from core import access, preview, push, push_plan, rules, store, sync
from core.__main__ import main
from core.config import XeroConfig
from core.xero.gateway import Gateway
from core.sandbox.records import date_fields, settle, updated_fields
from core.sandbox.writes import ARCHIVED_READINGS
from tests.line_ids import line_id, line_name

P, D, OLD = "cat-partner", "cat-department", "cat-region"
ANN, BOB, GONE = "opt-ann", "opt-bob", "opt-gone"
TAX, AUDIT = "opt-tax", "opt-audit"
NORTH = "opt-north"
TESTER = access.Actor("tester", None, access.Role.ADMIN)


# --- unit: the update is Xero's copy with only Tracking changed ----------------------------------

def xero_invoice(**changes) -> dict:
    """An invoice as GET /Invoices/{id} returns it (money as Decimal, as the gateway parses it)."""
    invoice = {
        "Type": "ACCREC", "InvoiceID": "inv-1", "InvoiceNumber": "INV-1", "Reference": "May",
        "Contact": {"ContactID": "acme", "Name": "Acme Ltd"}, "Status": "AUTHORISED",
        "LineAmountTypes": "Inclusive", "CurrencyCode": "GBP", "SubTotal": Decimal("150.00"),
        "TotalTax": Decimal("30.00"), "Total": Decimal("180.00"), "UpdatedDateUTC": "/Date(1700000000000+0000)/",
        "LineItems": [
            {"LineItemID": "l1", "Description": "Audit — year end", "Quantity": Decimal("2.5000"),
             "UnitAmount": Decimal("48.1234"), "ItemCode": "AUD", "AccountCode": "200", "TaxType": "OUTPUT2",
             "TaxAmount": Decimal("20.05"), "DiscountRate": Decimal("10.00"), "LineAmount": Decimal("108.28"),
             "Tracking": [{"TrackingCategoryID": P, "TrackingOptionID": BOB, "Name": "Partner", "Option": "Bob"},
                          {"TrackingCategoryID": D, "TrackingOptionID": TAX, "Name": "Department", "Option": "Tax"}]},
            {"LineItemID": "l2", "Description": "Expenses", "Quantity": Decimal("1.0000"),
             "UnitAmount": Decimal("50.0000"), "AccountCode": "260", "TaxType": "OUTPUT2",
             "TaxAmount": Decimal("7.50"), "DiscountAmount": Decimal("5.00"), "LineAmount": Decimal("45.00"),
             "Tracking": []},
        ],
    }
    invoice.update(changes)
    return invoice


def without_tracking(invoice: dict) -> dict:
    return {**invoice, "LineItems": [{k: v for k, v in line.items() if k != "Tracking"}
                                     for line in invoice["LineItems"]]}


def test_the_update_sends_every_line_with_all_its_fields_and_only_the_tracking_changed():
    invoice = xero_invoice()
    update = push_plan.build_update(invoice, {"l1": {P: ANN}, "l2": {D: AUDIT}})
    assert update == {
        "InvoiceID": "inv-1", "Type": "ACCREC", "Status": "AUTHORISED", "LineAmountTypes": "Inclusive",
        "Contact": {"ContactID": "acme"},
        "LineItems": [
            {**without_tracking(invoice)["LineItems"][0],
             "Tracking": [{"TrackingCategoryID": D, "TrackingOptionID": TAX, "Name": "Department", "Option": "Tax"},
                          {"TrackingCategoryID": P, "TrackingOptionID": ANN}]},
            {**without_tracking(invoice)["LineItems"][1],
             "Tracking": [{"TrackingCategoryID": D, "TrackingOptionID": AUDIT}]},
        ]}
    assert invoice == xero_invoice()  # Xero's copy is left as it was


def test_an_explicit_none_removes_that_category_only():
    update = push_plan.build_update(xero_invoice(), {"l1": {D: None}})
    assert update["LineItems"][0]["Tracking"] == [
        {"TrackingCategoryID": P, "TrackingOptionID": BOB, "Name": "Partner", "Option": "Bob"}]
    assert update["LineItems"][1]["Tracking"] == []


def test_a_line_missing_from_xeros_copy_is_refused():
    with pytest.raises(ValueError):
        push_plan.build_update(xero_invoice(), {"l9": {P: ANN}})


@pytest.mark.parametrize("line, hides", [
    ({"Quantity": Decimal(2), "UnitAmount": Decimal("10.005"), "LineAmount": Decimal("20.01")}, False),
    ({"Quantity": Decimal(3), "UnitAmount": Decimal("0.0050"), "LineAmount": Decimal("0.02")}, False),  # 0.015 up
    ({"Quantity": Decimal(-3), "UnitAmount": Decimal("0.0050"), "LineAmount": Decimal("-0.02")}, False),
    ({"Quantity": Decimal(1), "UnitAmount": Decimal(50), "LineAmount": Decimal(45)}, True),  # a hidden amount
    ({"Quantity": Decimal(1), "UnitAmount": Decimal(50), "LineAmount": Decimal(45),
      "DiscountRate": Decimal(10)}, False),  # explained by its rate
    ({"Quantity": Decimal("2.5"), "UnitAmount": Decimal("48.1234"), "LineAmount": Decimal("108.28"),
      "DiscountRate": Decimal(10)}, False),  # 108.27765, rounded
    ({"Quantity": Decimal(1), "UnitAmount": Decimal(50), "LineAmount": Decimal(40),
      "DiscountRate": Decimal(10)}, True),  # a rate and an amount besides
    ({"Quantity": Decimal(1), "UnitAmount": Decimal(50), "LineAmount": Decimal(50),
      "DiscountRate": Decimal(0)}, False),
    ({"UnitAmount": Decimal(50), "LineAmount": Decimal(50)}, False),  # no quantity: Xero's default 1
    ({"Quantity": Decimal(1), "LineAmount": Decimal(50)}, True),  # nothing to explain it by
])
def test_a_list_copy_that_may_lack_a_discount_amount_is_read_again(line, hides):
    assert push_plan.may_hide_discount({"LineItems": [{"LineItemID": "l1", **line}]}) is hides


def test_verify_accepts_an_answer_with_the_tracking_landed_and_nothing_else_changed():
    before = xero_invoice()
    sent = push_plan.build_update(before, {"l1": {P: ANN}})
    answer = copy.deepcopy({**before, **sent, "UpdatedDateUTC": "/Date(1700000009000+0000)/"})
    answer["LineItems"][0]["Tracking"] = [
        {"TrackingCategoryID": P, "TrackingOptionID": ANN, "Name": "Partner", "Option": "Ann"},
        {"TrackingCategoryID": D, "TrackingOptionID": TAX, "Name": "Department", "Option": "Tax"}]
    answer["LineItems"][0]["Quantity"] = Decimal("2.5")  # the same number, written differently
    assert push_plan.verify(sent, before, answer) == []


@pytest.mark.parametrize("spoil, problem", [
    (lambda a: a["LineItems"][0].update(LineItemID="new-id"), "same lines"),
    (lambda a: a["LineItems"].pop(), "same lines"),
    (lambda a: a["LineItems"][1].update(LineAmount=Decimal("50.00")), "line l2: LineAmount changed"),
    (lambda a: a["LineItems"][1].update(DiscountAmount=Decimal("0")), "line l2: DiscountAmount changed"),
    (lambda a: a["LineItems"][0].update(Tracking=[]), "line l1: the tracking did not land"),
    (lambda a: a.update(Total=Decimal("185.00")), "invoice Total changed from 180.00 to 185.00"),
    (lambda a: a.update(HasErrors=True, ValidationErrors=[{"Message": "Account code '999' is not valid."}]),
     "Account code '999' is not valid."),
])
def test_verify_reports_every_kind_of_mismatch(spoil, problem):
    before = xero_invoice()
    sent = push_plan.build_update(before, {"l1": {P: ANN}})
    answer = copy.deepcopy({**before, **sent})
    spoil(answer)
    assert any(problem in p for p in push_plan.verify(sent, before, answer))


# --- a small practice in the sandbox --------------------------------------------------------------

STAMP = 1_767_000_000_000  # 2025-12-29, UpdatedDateUTC of every invoice at the start


def tag(category: str, option: str) -> dict:
    names = {P: "Partner", D: "Department", OLD: "Region", ANN: "Ann", BOB: "Bob", GONE: "Gone",
             TAX: "Tax", AUDIT: "Audit", NORTH: "North"}
    return {"Name": names[category], "Option": names[option], "TrackingCategoryID": category,
            "TrackingOptionID": option}


def line(name: str, description: str = "Bookkeeping", quantity=1, unit=100, *, tracking=(), **fields) -> dict:
    return {"LineItemID": line_id(name), "Description": description, "Quantity": quantity, "UnitAmount": unit,
            "AccountCode": "200", "TaxType": "OUTPUT2", "Tracking": list(tracking), **fields}


def invoice(number: int, contact: str, lines: list[dict], *, status="AUTHORISED", paid=0.0, currency="GBP",
            amount_types="Exclusive") -> dict:
    record = {"Type": "ACCREC", "InvoiceID": f"inv-{number}", "InvoiceNumber": f"INV-{number:04d}",
              "Reference": "", "Contact": {"ContactID": contact, "Name": contact.title()},
              **date_fields("Date", dt.date(2025, 11, 1) + dt.timedelta(days=number % 28)),
              **date_fields("DueDate", dt.date(2025, 12, 15)), "Status": status, "LineAmountTypes": amount_types,
              "LineItems": lines, "CurrencyCode": currency, "CurrencyRate": 1.0 if currency == "GBP" else 1.25,
              "AmountPaid": paid, "AmountCredited": 0.0, "HasAttachments": False, "HasErrors": False,
              "Payments": [], "CreditNotes": [], "Prepayments": [], "Overpayments": [],
              **updated_fields(STAMP + number)}
    return settle(record)


def practice(extra_invoices: int = 0) -> dict:
    """Acme wants Ann, Beta wants Ann + Tax, Gamma wants Bob; a few invoices are locked."""
    invoices = [
        invoice(1, "acme", [
            line("1a", "Audit — year end", 2.5, 48.1234, DiscountRate=10.0, ItemCode="AUD",
                 tracking=[tag(P, BOB), tag(D, TAX)]),
            line("1b", "=Expenses", 1, 50, DiscountAmount=5.0, TaxAmount=7.5),
            line("1c", "Already right", tracking=[tag(P, ANN)])], amount_types="Inclusive"),
        invoice(2, "beta", [line("2a", "Payroll: März", 3.5, 12.3456, tracking=[tag(P, GONE)])], status="DRAFT"),
        invoice(3, "acme", [line("3a", tracking=[tag(P, BOB)])], status="PAID", paid=120.0),
        invoice(4, "beta", [line("4a")], paid=10.0),
        invoice(5, "gamma", [line("5a", tracking=[tag(D, AUDIT)]), line("5b", "Tax return", TaxType="NONE")],
                status="SUBMITTED", amount_types="NoTax"),
        invoice(6, "gamma", [line("6a", tracking=[tag(P, BOB)])]),  # already as wanted
        invoice(7, "acme", [line("7a")], status="PAID", paid=120.0, currency="USD"),
    ]
    invoices += [invoice(100 + n, "gamma", [line(f"x{n}", f"Service {n}", tracking=[tag(D, AUDIT)])])
                 for n in range(extra_invoices)]
    option = lambda option_id, name, status="ACTIVE": {"TrackingOptionID": option_id, "Name": name, "Status": status}
    return {
        "Credentials": {"ClientID": "TEST-CLIENT", "ClientSecret": "test-secret"},
        "Organisation": {"OrganisationID": "org", "Name": "Test Practice", "BaseCurrency": "GBP", "CountryCode": "GB",
                         "OrganisationStatus": "ACTIVE", "Version": "UK"},
        "TrackingCategories": [
            {"TrackingCategoryID": P, "Name": "Partner", "Status": "ACTIVE",
             "Options": [option(ANN, "Ann"), option(BOB, "Bob"), option(GONE, "Gone", "ARCHIVED")]},
            {"TrackingCategoryID": D, "Name": "Department", "Status": "ACTIVE",
             "Options": [option(TAX, "Tax"), option(AUDIT, "Audit")]},
            {"TrackingCategoryID": OLD, "Name": "Region", "Status": "ARCHIVED", "Options": [option(NORTH, "North")]}],
        "Contacts": [{"ContactID": c, "Name": c.title(), "ContactStatus": "ACTIVE", **updated_fields(STAMP)}
                     for c in ("acme", "beta", "gamma")],
        "Items": [{"ItemID": "item-aud", "Code": "AUD", "Name": "Audit", **updated_fields(STAMP)}],
        "Invoices": invoices,
    }


SETTINGS = [
    "INSERT INTO slots VALUES (1, 'cat-partner'), (2, 'cat-department')",
    """INSERT INTO client_settings (contact_id, tc1_option_id, tc2_option_id) VALUES
       ('acme', 'opt-ann', NULL), ('beta', 'opt-ann', 'opt-tax'), ('gamma', 'opt-bob', NULL)""",
]


class Org:
    """A sandbox organisation synced into a temporary database, with the rules' settings in place."""

    def __init__(self, con, box, db=None):
        self.con, self.box, self.db = con, box, db  # db: None for TRACKING_DB
        self.gw = gateway(box)

    def sync(self):
        return sync.sync(self.gw, db=self.db)

    def xero(self, invoice_id: str) -> dict:
        return self.box.invoice(invoice_id)

    def tracking(self, invoice_id: str) -> dict[str, dict]:
        return {line_name(l["LineItemID"]): push_plan.tracking_of(l) for l in self.xero(invoice_id)["LineItems"]}

    def posts(self) -> int:
        """Updates that reached the sandbox (a request still waiting for its answer not counted)."""
        return sum(r.method == "POST" and r.path.lower().endswith("/invoices") for r in self.box.requests)

    def push(self, **kwargs):
        return push.push(self.gw, by=TESTER, db=self.db, **kwargs)

    def undo(self, push_id: int):
        return push.undo(self.gw, push_id, by=TESTER, db=self.db)


def gateway(box) -> Gateway:
    return Gateway(XeroConfig(box.client_id, box.client_secret, "", box.api_url, box.identity_url),
                   sleep=lambda seconds: None)


def start_org(con, box) -> Org:
    """`box` (a sandbox) synced into `con`, with the clients' settings and the rules in place."""
    org = Org(con, box)
    org.sync()
    with store.transaction(con):
        for statement in SETTINGS:
            con.execute(statement)
        rules.refresh(con)
    return org


@pytest.fixture(params=ARCHIVED_READINGS)
def reading(request) -> str:
    """How the sandbox plays Xero with an archived option on a line it is sent (unconfirmed: both are tried)."""
    return request.param


@pytest.fixture
def org(con, start_sandbox, reading):
    box = start_sandbox(practice())
    box.set_archived_reading(reading)
    return start_org(con, box)


@pytest.fixture
def big_org(con, start_sandbox):
    """120 more invoices that each want a change: three batches."""
    return start_org(con, start_sandbox(practice(extra_invoices=120)))


def xero_except_tracking(invoice: dict) -> dict:
    ignore = {"UpdatedDateUTC", "UpdatedDateUTCString"}
    return without_tracking({k: v for k, v in invoice.items() if k not in ignore})


# --- the plan ----------------------------------------------------------------------------------

def test_the_plan_lists_eligible_and_locked_changes_with_old_and_new_options(org):
    plan = push.plan(org.con)
    assert push.plan_counts(org.con) == {"invoices": 3, "lines": 5, "locked_invoices": 3, "locked_lines": 3,
                                         "refused_invoices": 0, "irreversible_changes": 1}
    assert {(r["number"], line_name(r["line_id"]), r["slot"], r["current_name"], r["wanted_name"], r["eligible"])
            for r in plan} == {
        ("INV-0001", "1a", 1, "Bob", "Ann", True), ("INV-0001", "1b", 1, None, "Ann", True),
        ("INV-0002", "2a", 1, "Gone", "Ann", True), ("INV-0002", "2a", 2, None, "Tax", True),
        ("INV-0005", "5b", 1, None, "Bob", True), ("INV-0005", "5a", 1, None, "Bob", True),
        ("INV-0003", "3a", 1, "Bob", "Ann", False), ("INV-0004", "4a", 1, None, "Ann", False),
        ("INV-0004", "4a", 2, None, "Tax", False), ("INV-0007", "7a", 1, None, "Ann", False)}
    table = push.plan_table(org.con).to_dict("records")
    assert table[0] == {"invoice": "INV-0001", "document": "Invoice", "client": "Acme", "line": 1, "description": "Audit — year end",
                        "tc1": "Partner: Bob → Ann", "tc2": "",
                        "state": "will change", "reason": "", "undo": ""}
    assert table[2] == {"invoice": "INV-0002", "document": "Invoice", "client": "Beta", "line": 1, "description": "Payroll: März",
                        "tc1": "Partner: Gone → Ann",
                        "tc2": "Department: (none) → Tax",
                        "state": "will change", "reason": "",
                        "undo": "undo could not put back 'Gone': it is archived in Xero"}
    assert [r["state"] for r in table].count("locked") == 3
    assert len(push.plan_table(org.con, 2)) == 2


def test_the_plan_can_be_limited_to_some_invoices_and_names_unknown_numbers(org):
    assert push.plan_counts(org.con, invoice_numbers=["INV-0002"]) == {
        "invoices": 1, "lines": 1, "locked_invoices": 0, "locked_lines": 0, "refused_invoices": 0,
        "irreversible_changes": 1}
    with pytest.raises(push.PushError, match="INV-9999"):
        push.plan(org.con, invoice_numbers=["INV-0002", "INV-9999"])


# --- pushing -----------------------------------------------------------------------------------

def test_a_push_changes_only_the_tracking_and_the_preview_shows_same_without_a_sync(org):
    before = {i["InvoiceID"]: copy.deepcopy(i) for i in org.box.state["Invoices"]}
    result = org.push()
    assert result.outcome == "complete" and result.problems == []
    assert {(o.number, o.result, o.lines) for o in result.invoices} == {
        ("INV-0001", "landed", 2), ("INV-0002", "landed", 1), ("INV-0005", "landed", 2)}
    assert result.count("locked") == 3  # INV-0003, INV-0004 and INV-0007: counted, never sent
    after = {i["InvoiceID"]: i for i in org.box.state["Invoices"]}
    assert {i: xero_except_tracking(a) for i, a in after.items()} == {
        i: xero_except_tracking(b) for i, b in before.items()}
    assert org.tracking("inv-1") == {"1a": {P: ANN, D: TAX}, "1b": {P: ANN}, "1c": {P: ANN}}
    assert org.tracking("inv-2") == {"2a": {P: ANN, D: TAX}}
    assert org.tracking("inv-5") == {"5a": {D: AUDIT, P: BOB}, "5b": {P: BOB}}
    for locked in ("inv-3", "inv-4", "inv-7"):
        assert after[locked] == before[locked]
    statuses = dict(org.con.execute("SELECT status, count(*) FROM line_rules GROUP BY ALL").fetchall())
    assert statuses == {"same": 7, "locked": 3}


def test_locked_invoices_are_never_sent_and_the_second_push_sends_nothing(org, monkeypatch):
    sent = []
    update = org.gw.update_invoices
    monkeypatch.setattr(org.gw, "update_invoices",
                        lambda invoices, **kw: sent.extend(i["InvoiceID"] for i in invoices) or update(invoices, **kw))
    org.push()
    assert sorted(sent) == ["inv-1", "inv-2", "inv-5"]
    requests = len(org.box.requests)
    again = org.push()
    assert (again.push_id, again.outcome, again.api_calls, again.count("locked")) == (None, "nothing to do", 0, 3)
    assert len(org.box.requests) == requests
    org.sync()
    assert push.plan_counts(org.con)["invoices"] == 0


def test_the_push_log_records_who_what_before_after_and_the_calls(org):
    result = org.push()
    row = org.con.execute("""SELECT kind, pushed_by, invoices_planned, invoices_landed, invoices_failed,
                                    invoices_conflict, lines_changed, api_calls, outcome, finished_at IS NOT NULL
                             FROM pushes WHERE push_id = ?""", [result.push_id]).fetchone()
    assert row == ("push", "tester", 3, 3, 0, 0, 5, result.api_calls, "complete", True)
    assert result.read_calls == 1 + 1  # one list read for 3 invoices, one single read for the discounted one
    assert result.update_calls == 1
    lines = org.con.execute("""SELECT line_id, slot, category_id, before_option_id, after_option_id, result
                               FROM push_lines WHERE push_id = ? ORDER BY line_id, slot""",
                            [result.push_id]).fetchall()
    assert [(line_name(row[0]), *row[1:]) for row in lines] == [
        ("1a", 1, P, BOB, ANN, "landed"), ("1b", 1, P, None, ANN, "landed"),
        ("2a", 1, P, GONE, ANN, "landed"), ("2a", 2, D, None, TAX, "landed"),
        ("5a", 1, P, None, BOB, "landed"), ("5b", 1, P, None, BOB, "landed")]
    # the locked lines (3a, 4a in both slots, 7a) are counted on the push, not logged line by line
    assert org.con.execute("SELECT invoices_locked, lines_locked FROM pushes WHERE push_id = ?",
                           [result.push_id]).fetchone() == (3, 3)
    assert push.history(org.con)[0]["outcome"] == "complete"


def test_update_calls_are_one_per_fifty_changed_invoices_each_with_its_own_key(big_org, monkeypatch):
    keys, update = [], big_org.gw.update_invoices
    monkeypatch.setattr(big_org.gw, "update_invoices", lambda invoices, idempotency_key: keys.append(
        idempotency_key) or update(invoices, idempotency_key=idempotency_key))
    result = big_org.push()
    changed = 3 + 120
    assert result.count("landed") == changed
    assert result.update_calls == big_org.posts() == math.ceil(changed / 50)
    assert [key.split("-")[:3] + key.split("-")[4:5] for key in keys] == [
        ["td", "push", "1", "b1"], ["td", "push", "1", "b2"], ["td", "push", "1", "b3"]]
    assert all(len(key) <= 128 for key in keys)


def stored_rules(con) -> tuple[list, list]:
    return (con.execute("SELECT * FROM line_rules ORDER BY line_id").fetchall(),
            con.execute("SELECT * FROM refusable_invoices ORDER BY invoice_id").fetchall())


def refreshed_rules(con) -> tuple[list, list]:
    """What a refresh of every line decides now; the stored rules are left as they were."""
    con.execute("BEGIN TRANSACTION")
    try:
        rules.refresh(con)
        return stored_rules(con)
    finally:
        con.execute("ROLLBACK")


def test_landed_batches_are_decided_in_the_push_copy_as_a_refresh_decides_them(big_org, db_path, monkeypatch):
    taken, take_for = [], rules.take_for
    monkeypatch.setattr(rules, "take_for", lambda con, invoice_ids, *decided: taken.append(len(invoice_ids))
                        or take_for(con, invoice_ids, *decided))
    result = big_org.push()
    assert result.count("landed") == 123
    assert taken == [50, 50, 23]  # every landed batch's rules came from the copy
    assert list(db_path.parent.glob("tracking.push-*")) == []  # the copy's scratch file is gone
    assert stored_rules(big_org.con) == refreshed_rules(big_org.con)
    assert {status for (status,) in big_org.con.execute("SELECT DISTINCT status FROM line_rules").fetchall()} == {
        "same", "locked"}


def test_once_someone_else_writes_mid_push_the_later_batches_are_decided_in_their_hold(big_org, monkeypatch):
    taken, take_for = [], rules.take_for
    monkeypatch.setattr(rules, "take_for", lambda con, invoice_ids, *decided: taken.append(len(invoice_ids))
                        or take_for(con, invoice_ids, *decided))

    def gamma_now_wants_ann_after_the_first_batch(stage, done, total):
        if stage == push.UPDATING and done == 50:
            with store.connect(big_org.db) as con, store.transaction(con):
                con.execute("UPDATE client_settings SET tc1_option_id = ? WHERE contact_id = 'gamma'", [ANN])
                rules.refresh_for(con, contact_ids=["gamma"])

    result = push.push(big_org.gw, by=TESTER, progress=gamma_now_wants_ann_after_the_first_batch)
    assert result.count("landed") == 123
    assert taken == [50]
    assert stored_rules(big_org.con) == refreshed_rules(big_org.con)
    # gamma's invoices landed with Bob, as planned; they now want Ann
    assert big_org.con.execute("SELECT count(*) FROM line_rules WHERE contact_id = 'gamma' AND status = 'change'"
                               ).fetchone()[0] > 70


def test_a_conflict_is_skipped_reported_and_not_overwritten(org, capsys):
    org.box.edit_invoice("inv-2", lambda i: i["LineItems"][0].update(Description="Payroll, edited in Xero"))
    edited = org.xero("inv-2")
    result = org.push()
    assert {o.number: o.result for o in result.problems} == {"INV-0002": "conflict"}
    assert "Changed in Xero since the last sync" in result.problems[0].message
    assert result.outcome == "partial" and result.count("landed") == 2
    assert org.xero("inv-2") == edited
    org.sync()
    assert push.plan_counts(org.con)["invoices"] == 1
    assert org.push().count("landed") == 1


def test_minute_limit_and_server_errors_are_retried_and_the_batch_applies_once(org):
    synced = len(org.box.requests)
    org.box.fail_next(429, path="/Invoices", retry_after=1)
    org.box.fail_next(503, times=2, path="/Invoices")
    result = org.push()
    assert result.outcome == "complete" and result.count("landed") == 3
    assert [r.status for r in org.box.requests[synced:] if r.path.endswith("/Invoices")] == [429, 503, 503, 200, 200]
    assert org.tracking("inv-2") == {"2a": {P: ANN, D: TAX}}


def test_a_timed_out_update_is_retried_with_its_idempotency_key_and_applied_once(org, monkeypatch):
    org.gw = Gateway(org.gw.cfg, sleep=lambda seconds: None, timeout=1)
    update = org.gw.update_invoices

    def slow_answer(invoices, **kw):
        org.box.delay_next(2)  # Xero applies the batch, but only after the gateway gave up waiting
        return update(invoices, **kw)

    monkeypatch.setattr(org.gw, "update_invoices", slow_answer)
    result = org.push()
    assert result.outcome == "complete" and result.count("landed") == 3
    assert [c.status for c in org.gw.calls if c.method == "POST" and not c.is_token] == [None, 200]
    assert org.tracking("inv-2") == {"2a": {P: ANN, D: TAX}}


def test_a_day_limit_stop_reports_what_landed_and_what_was_not_sent(big_org, monkeypatch):
    update = big_org.gw.update_invoices
    batches = []

    def first_batch_then_day_limit(invoices, **kw):
        batches.append(len(invoices))
        if len(batches) == 2:
            big_org.box.fail_next(429, path="/Invoices", problem="day", retry_after=3600)
        return update(invoices, **kw)

    monkeypatch.setattr(big_org.gw, "update_invoices", first_batch_then_day_limit)
    result = big_org.push()
    assert result.outcome == "stopped" and "daily API limit" in result.message
    assert (result.count("landed"), result.count("not sent")) == (50, 73)
    assert all("daily API limit" in o.message for o in result.problems)
    assert big_org.con.execute("SELECT outcome, invoices_landed, invoices_failed FROM pushes").fetchone() == (
        "stopped", 50, 73)
    assert big_org.push().count("landed") == 73  # the rest goes out later


def test_one_invoice_refused_by_xero_does_not_stop_the_others(org):
    org.box.fail_invoice("inv-5", "The document date cannot be before the end of year lock date")
    result = org.push()
    assert {o.number: (o.result, o.message) for o in result.problems} == {
        "INV-0005": ("failed", "The document date cannot be before the end of year lock date")}
    assert result.count("landed") == 2 and result.outcome == "partial"
    assert org.tracking("inv-5") == {"5a": {D: AUDIT}, "5b": {}}
    assert push.plan_counts(org.con)["invoices"] == 1  # still to do


def test_an_invoice_whose_line_would_carry_three_categories_is_blocked_and_never_sent(con, start_sandbox, monkeypatch):
    state = practice()
    state["Invoices"].append(invoice(8, "beta", [line("8a", tracking=[tag(OLD, NORTH)])]))  # an archived category
    org = start_org(con, start_sandbox(state))
    sent, update = [], org.gw.update_invoices
    monkeypatch.setattr(org.gw, "update_invoices",
                        lambda invoices, **kw: sent.extend(i["InvoiceID"] for i in invoices) or update(invoices, **kw))
    assert con.execute("SELECT status, reason FROM line_rules WHERE line_id = line_id('8a')").fetchone() == (
        "blocked", "Line 1 of this invoice would carry 3 tracking categories; Xero takes at most 2 on a line"
                   " — remove one in Xero first")
    result = org.push()
    assert result.problems == [] and result.count("landed") == 3
    assert "inv-8" not in sent


REGION_ARCHIVED = "The tracking category 'Region' is archived and cannot be used."


def keep_north_on_line_3(org) -> None:
    """INV-0001's third line (already as the rules want) also carries an option of the archived category Region."""
    org.box.edit_invoice("inv-1", lambda i: i["LineItems"][2].update(Tracking=[tag(P, ANN), tag(OLD, NORTH)]))
    org.sync()


def line_verdicts(org, invoice_id: str) -> set[tuple]:
    return set(org.con.execute("SELECT status, reason FROM line_rules WHERE invoice_id = ? AND status <> 'same'",
                               [invoice_id]).fetchall())


def test_an_archived_option_on_another_line_is_marked_may_be_refused_and_sent(org, reading):
    keep_north_on_line_3(org)
    may = "Xero may refuse this invoice: line 3 keeps option 'North' of the archived category 'Region'"
    table = push.plan_table(org.con, invoice_numbers=["INV-0001"]).to_dict("records")
    assert [(r["line"], r["state"], r["reason"]) for r in table] == [(1, "may be refused", may),
                                                                      (2, "may be refused", may)]
    shown = preview.lines(org.con, preview.Filters(invoice_number="INV-0001"))
    assert [(r["position"] + 1, r["status"], r["may_be_refused"], r["reason"]) for r in shown] == [
        (1, "change", True, may), (2, "change", True, may), (3, "same", False, None)]
    result = org.push()
    if reading == "keep":  # Xero keeps an archived option on a line sent back as it was
        assert result.outcome == "complete" and result.count("landed") == 3
        assert org.tracking("inv-1")["1c"] == {P: ANN, OLD: NORTH}
        assert line_verdicts(org, "inv-1") == set()
    else:  # Xero refuses the invoice: believed, in its own words
        assert {o.number: (o.result, o.message) for o in result.problems} == {"INV-0001": ("failed", REGION_ARCHIVED)}
        assert result.count("landed") == 2
        assert line_verdicts(org, "inv-1") == {("blocked", "Xero refused this invoice: " + REGION_ARCHIVED)}


def test_a_refused_invoice_is_not_sent_again_until_it_changes_in_xero(org, reading):
    keep_north_on_line_3(org)
    org.push()
    refused = 1 if reading == "refuse" else 0
    counts = push.plan_counts(org.con)
    assert (counts["invoices"], counts["refused_invoices"]) == (0, refused)
    if refused:
        assert {(r["invoice"], r["state"]) for r in push.plan_table(org.con, locked=True).to_dict("records")
                if r["state"] == "blocked"} == {("INV-0001", "blocked")}
    requests = len(org.box.requests)
    again = org.push()
    assert (again.push_id, again.api_calls, len(org.box.requests)) == (None, 0, requests)
    org.sync()  # nothing changed in Xero: still blocked
    assert push.plan_counts(org.con)["refused_invoices"] == refused
    org.box.edit_invoice("inv-1", lambda i: i.update(Reference="June"))
    org.sync()
    assert push.plan_counts(org.con)["invoices"] == refused  # tried again once it changed in Xero


def test_a_refused_invoice_is_tried_again_once_the_option_is_active(con, start_sandbox):
    """Only the "refuse" reading refuses anything to lift."""
    org = start_org(con, start_sandbox(practice()))
    keep_north_on_line_3(org)
    org.push()
    org.box.state["TrackingCategories"][2]["Status"] = "ACTIVE"  # Region restored in Xero
    org.sync()
    assert push.plan_counts(org.con)["invoices"] == 1
    assert org.push().count("landed") == 1
    assert org.tracking("inv-1")["1a"] == {P: ANN, D: TAX}


def test_a_line_whose_own_wanted_option_is_archived_is_blocked_before_sending(org, reading):
    org.con.execute("UPDATE client_settings SET tc1_option_id = 'opt-gone' WHERE contact_id = 'gamma'")
    with store.transaction(org.con):
        rules.refresh(org.con)
    assert line_verdicts(org, "inv-5") == {("blocked", "Option 'Gone' is archived in Xero")}
    assert {o.number for o in org.push().invoices} == {"INV-0001", "INV-0002"}


def test_the_changes_undo_could_not_reverse_are_listed_before_the_push(org):
    assert push.irreversible(org.con).to_dict("records") == [
        {"invoice": "INV-0002", "document": "Invoice", "client": "Beta", "line": 1, "change": "Partner: Gone → Ann",
         "why": "Undo could not put back 'Gone': it is archived in Xero"}]


def test_an_answer_that_does_not_match_is_an_error_not_a_silent_success(org, monkeypatch):
    update = org.gw.update_invoices

    def drop_a_line(invoices, **kw):
        answers = update(invoices, **kw)
        next(a for a in answers if a["InvoiceID"] == "inv-1")["LineItems"].pop()
        return answers

    monkeypatch.setattr(org.gw, "update_invoices", drop_a_line)
    result = org.push()
    assert {o.number: o.result for o in result.problems} == {"INV-0001": "failed"}
    assert "same lines" in result.problems[0].message


def test_a_crash_mid_push_leaves_a_record_of_what_was_sent(org, monkeypatch):
    def crash(invoices, **kw):
        raise RuntimeError("power cut")

    monkeypatch.setattr(org.gw, "update_invoices", crash)
    with pytest.raises(RuntimeError):
        org.push()
    assert org.con.execute("SELECT outcome, finished_at FROM pushes").fetchone() == ("running", None)
    assert set(org.con.execute("SELECT DISTINCT result FROM push_lines").fetchall()) == {("sending",)}


# --- undo --------------------------------------------------------------------------------------

def test_undo_restores_the_earlier_tracking_and_is_logged(org):
    before = {i: org.tracking(i) for i in ("inv-1", "inv-2", "inv-5")}
    pushed = org.push()
    undone = org.undo(pushed.push_id)
    # INV-0002 had the archived option 'Gone', which Xero does not let anyone set again
    assert {o.number: (o.result, o.message) for o in undone.problems} == {"INV-0002": (
        "failed", "The tracking option 'Gone' in the tracking category 'Partner' is archived and cannot be used.")}
    assert undone.count("landed") == 2
    assert org.tracking("inv-1") == before["inv-1"] and org.tracking("inv-5") == before["inv-5"]
    assert org.con.execute("SELECT kind, undo_of FROM pushes WHERE push_id = ?", [undone.push_id]).fetchone() == (
        "undo", pushed.push_id)
    assert push.history(org.con)[1]["undone_by"] == undone.push_id
    again = org.undo(pushed.push_id)
    assert {o.number: o.result for o in again.invoices} == {"INV-0002": "failed"}  # only what is left to undo


def test_undo_does_not_overwrite_a_later_change_in_xero(org):
    pushed = org.push()
    org.box.edit_invoice("inv-2", lambda i: i["LineItems"][0].update(Tracking=[tag(P, BOB)]))
    undone = org.undo(pushed.push_id)
    assert {o.number: o.result for o in undone.problems} == {"INV-0002": "conflict"}
    assert org.tracking("inv-2") == {"2a": {P: BOB}}


def test_undo_of_an_unknown_push_is_a_plain_error(org):
    with pytest.raises(push.PushError, match="no push number 42"):
        org.undo(42)


# --- the locked worklist -----------------------------------------------------------------------

def test_the_locked_worklist_groups_whole_invoices_into_runs_of_at_most_200_lines(con, start_sandbox):
    state = practice()
    state["Invoices"] += [invoice(200 + n, "acme", [line(f"p{n}-{k}", f"Line {k}") for k in range(90)],
                                  status="PAID", paid=1.0) for n in range(3)]
    start_org(con, start_sandbox(state))
    rows = list(csv.DictReader(io.StringIO(push.locked_worklist_csv(con).decode("utf-8-sig"))))
    runs = {}
    for row in rows:
        runs.setdefault(row["Run"], set()).add((row["Invoice Number"], row["Line"]))
    assert {run: len(lines) for run, lines in runs.items()} == {"1": 182, "2": 90, "manual": 1}
    assert {r["Invoice Number"] for r in rows if r["Run"] == "2"} == {"INV-0202"}
    inv3 = next(r for r in rows if r["Invoice Number"] == "INV-0003")
    assert (inv3["Description"], inv3["Tracking Category"], inv3["Current Option"], inv3["Wanted Option"],
            inv3["Note"]) == ("Bookkeeping", "Partner", "Bob", "Ann", "")
    foreign = next(r for r in rows if r["Run"] == "manual")
    assert foreign["Invoice Number"] == "INV-0007" and "Find & Recode cannot recode" in foreign["Note"]


# --- the command line ----------------------------------------------------------------------------

@pytest.fixture
def configured(org, monkeypatch):
    point_at(org.box, monkeypatch)
    return org


def point_at(box, monkeypatch) -> None:
    """The command line's Xero: the sandbox `box`."""
    for name, value in (("XERO_CLIENT_ID", box.client_id), ("XERO_CLIENT_SECRET", box.client_secret),
                        ("XERO_API_URL", box.api_url), ("XERO_IDENTITY_URL", box.identity_url)):
        monkeypatch.setenv(name, value)


def test_cli_push_on_a_database_never_synced_says_to_sync_first(db_path, start_sandbox, monkeypatch, capsys):
    box = start_sandbox(practice())
    point_at(box, monkeypatch)
    assert main(["push"]) == 2
    assert capsys.readouterr().err.strip() == ("error: Nothing to push: nothing has been synced from Xero yet. "
                                               "Sync first, then push.")
    assert not any(r.method == "POST" for r in box.requests)


def test_cli_dry_run_shows_the_changes_and_sends_nothing(configured, capsys):
    assert main(["push", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Partner: Bob → Ann" in out and "3 invoices and credit notes (5 lines) will change in Xero" in out
    assert "3 locked ones (3 lines)" in out
    assert configured.posts() == 0


def test_cli_push_exits_1_naming_each_failed_invoice_then_0(configured, capsys):
    configured.box.fail_invoice("inv-5", "Lock date")
    assert main(["push"]) == 1
    captured = capsys.readouterr()
    assert "INV-0005: failed — Lock date" in captured.err
    assert "Push 1: Xero now has the new tracking on 2 invoices (" in captured.out and "1 failed." in captured.out
    assert "1 update of invoices" in captured.out  # the API calls, on a line of their own
    configured.box.fail_invoice("inv-5", None)
    assert main(["push", "--invoice", "INV-0005"]) == 0
    assert main(["push"]) == 0
    assert "Nothing to push" in capsys.readouterr().out


def test_cli_dry_run_lists_what_undo_could_not_reverse(configured, capsys):
    assert main(["push", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "Undo could not reverse 1 of these changes" in out
    assert "Partner: Gone → Ann" in out and "Undo could not put back 'Gone': it is archived in Xero" in out


def test_cli_undo_retry_tries_only_the_lines_whose_undo_failed(configured, capsys):
    assert main(["push"]) == 0
    assert main(["undo", "1", "--retry"]) == 2
    assert "Push 1 has not been undone" in capsys.readouterr().err
    assert main(["undo", "1"]) == 1  # INV-0002's 'Gone' is archived: Xero takes it on no line
    capsys.readouterr()
    assert main(["undo", "1", "--retry"]) == 1
    captured = capsys.readouterr()
    assert "Undo 3: Xero now has the tracking from before that push on 0 invoices" in captured.out
    assert "INV-0002: failed" in captured.err
    configured.box.state["TrackingCategories"][0]["Options"][2]["Status"] = "ACTIVE"  # 'Gone' restored in Xero
    assert main(["undo", "1", "--retry"]) == 0
    assert "Undo 4: Xero now has the tracking from before that push on 1 invoice (1 line)" in capsys.readouterr().out
    assert configured.tracking("inv-2") == {"2a": {P: GONE}}
    assert main(["undo", "1", "--retry"]) == 2
    assert "put every line back: there are no failures to retry" in capsys.readouterr().err


def test_history_offers_to_retry_after_a_partial_undo(org):
    pushed = org.push()
    org.undo(pushed.push_id)
    row = next(r for r in push.history(org.con) if r["push_id"] == pushed.push_id)
    assert (row["can_undo"], row["can_retry"]) == (True, True)
    retried = push.undo(org.gw, pushed.push_id, by=TESTER, retry=True, db=org.db)
    assert {o.number for o in retried.invoices} == {"INV-0002"}


def test_cli_undo_and_usage_errors(configured, capsys):
    assert main(["push", "--invoice", "INV-0001", "INV-0005"]) == 0
    assert main(["undo", "1"]) == 0
    assert "Undo 2: Xero now has the tracking from before that push on 2 invoices" in capsys.readouterr().out
    assert main(["undo", "99"]) == 2
    assert main(["push", "--invoice", "INV-9999"]) == 2
    assert "INV-9999" in capsys.readouterr().err
