"""The demo practice and the scaled benchmark org: deterministic, realistic, internally consistent."""
import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest

from core.sandbox import demo
from core.sandbox.records import dec, iso_of, ms_from_xero


@pytest.fixture(scope="module")
def state():
    return demo.demo_state()


def sales(state) -> list[dict]:
    return [i for i in state["Invoices"] if i["Type"] == "ACCREC"]


def totals_agree(invoice: dict) -> bool:
    lines = sum((dec(l["LineAmount"]) for l in invoice["LineItems"]), Decimal(0))
    tax = sum((dec(l["TaxAmount"]) for l in invoice["LineItems"]), Decimal(0))
    sub_total = lines - tax if invoice["LineAmountTypes"] == "Inclusive" else lines
    return (dec(invoice["SubTotal"]), dec(invoice["TotalTax"]), dec(invoice["Total"]), dec(invoice["AmountDue"])) == (
        sub_total, tax, sub_total + tax, sub_total + tax - dec(invoice["AmountPaid"]) - dec(invoice["AmountCredited"]))


def test_demo_state_is_the_same_every_time_and_a_fresh_copy(state):
    again = demo.demo_state()
    assert again == state
    again["Invoices"].clear()
    assert demo.demo_state() == state


def test_the_practice(state):
    categories = {c["Name"]: c for c in state["TrackingCategories"]}
    assert state["Organisation"]["Name"] == "Demo Practice Ltd" and state["Organisation"]["BaseCurrency"] == "GBP"
    assert sum(c["IsCustomer"] for c in state["Contacts"]) == 80
    assert [o["Name"] for o in categories["Partner"]["Options"]] == demo.PARTNERS
    assert {o["Name"]: o["Status"] for o in categories["Department"]["Options"]} == {
        **{d: "ACTIVE" for d in demo.DEPARTMENTS}, "Company Secretarial": "ARCHIVED"}
    assert [c["Status"] for c in state["TrackingCategories"]] == ["ACTIVE", "ACTIVE", "ARCHIVED"]
    assert len(state["Items"]) == 12 and "ALIGN" in {i["Code"] for i in state["Items"]}
    assert state["Credentials"] == demo.CREDENTIALS


def test_eighteen_months_of_invoices_in_every_status(state):
    invoices = sales(state)
    assert 1400 <= len(invoices) <= 1600
    kinds = Counter("part-paid" if i["Status"] == "AUTHORISED" and i["AmountPaid"] > 0 else i["Status"]
                    for i in invoices)
    assert set(kinds) == {"DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "part-paid", "VOIDED", "DELETED"}
    days = [iso_of(ms_from_xero(i["Date"]))[:10] for i in invoices]
    assert min(days) >= "2025-05-01" and max(days) <= "2026-10-31" and max(days) >= "2026-10-01"
    assert {len(i["LineItems"]) for i in invoices} <= set(range(1, 9))
    assert {len(i["LineItems"]) for i in invoices} >= {1, 8}
    assert any(i["Type"] == "ACCPAY" for i in state["Invoices"])


def test_realistic_variety(state):
    invoices = sales(state)
    lines = [l for i in invoices for l in i["LineItems"]]
    foreign = [i for i in invoices if i["CurrencyCode"] != "GBP"]
    assert foreign and all(i["CurrencyRate"] != 1.0 for i in foreign)
    assert any("DiscountRate" in l for l in lines) and any("DiscountAmount" in l for l in lines)
    assert {i["LineAmountTypes"] for i in invoices} == {"Exclusive", "Inclusive", "NoTax"}
    options = Counter(t["Option"] for l in lines for t in l["Tracking"])
    assert sum(not l["Tracking"] for l in lines) > len(lines) / 3
    assert options["Company Secretarial"] > 0 and options["North"] + options["South"] > 0
    assert any(l["ItemCode"] == "ALIGN" for l in lines)


def test_every_invoice_adds_up(state):
    assert all(totals_agree(invoice) for invoice in state["Invoices"])
    paid = [i for i in sales(state) if i["Status"] == "PAID"]
    assert all(i["AmountDue"] == 0 and i["Payments"] for i in paid)


@pytest.mark.parametrize("lines", [3, (1, 2)])
def test_scaled_state(lines):
    state = demo.scaled_state(500, lines_per_invoice=lines, seed=3)
    invoices = state["Invoices"]
    counts = {len(i["LineItems"]) for i in invoices}
    assert len(invoices) == 500 and counts == ({3} if lines == 3 else {1, 2})
    line_ids = [l["LineItemID"] for i in invoices for l in i["LineItems"]]
    assert len(set(line_ids)) == len(line_ids)
    assert all(totals_agree(invoice) for invoice in invoices)
    assert demo.scaled_state(500, lines_per_invoice=lines, seed=3) == state
    assert demo.scaled_state(500, lines_per_invoice=lines, seed=4)["Invoices"][0] != invoices[0]


def test_scaled_state_updated_dates_match_their_strings():
    for invoice in demo.scaled_state(200, seed=1)["Invoices"]:
        assert iso_of(ms_from_xero(invoice["UpdatedDateUTC"]), zulu=True) == invoice["UpdatedDateUTCString"]


def test_seed_settings_gives_every_rule_examples(con, state):
    assert demo.seed_settings(con, state) is True
    categories = {c["Name"]: c["TrackingCategoryID"] for c in state["TrackingCategories"]}
    assert con.execute("SELECT slot, category_id FROM slots ORDER BY slot").fetchall() == [
        (1, categories["Partner"]), (2, categories["Department"])]
    team = con.execute("SELECT name, tc2_option_id FROM team_members").fetchall()
    assert len(team) == 9 and sum(tc2 is None for _, tc2 in team) == 2
    clients = con.execute("SELECT owner_id, tc1_option_id, tc2_option_id, consolidate FROM client_settings").fetchall()
    assert len(clients) == 80
    assert any(owner is None for owner, *_ in clients) and any(c[3] for c in clients)
    assert any(c[1] for c in clients) and any(c[1] is None for c in clients)
    assert any(c[2] for c in clients) and any(c[2] is None for c in clients)
    services = dict(con.execute("SELECT item_code, alignment_fee FROM services").fetchall())
    assert len(services) == 12 and [code for code, fee in services.items() if fee] == ["ALIGN"]
    archived = next(o["TrackingOptionID"] for c in state["TrackingCategories"] for o in c["Options"]
                    if o["Status"] == "ARCHIVED")
    assert con.execute("SELECT item_code FROM services WHERE tc2_option_id = ?", [archived]).fetchall() == [("COSEC",)]
    overrides = con.execute("SELECT tc1_override, tc2_override, tc2_option_id FROM line_overrides").fetchall()
    assert (False, True, None) in overrides and len(overrides) == 3


def test_seed_settings_leaves_existing_settings_alone(con, state):
    con.execute("INSERT INTO team_members (name) VALUES ('Somebody')")
    assert demo.seed_settings(con, state) is False
    assert con.execute("SELECT count(*) FROM client_settings").fetchone()[0] == 0
    assert con.execute("SELECT name FROM team_members").fetchall() == [("Somebody",)]


def test_seed_settings_twice_seeds_once(con, state):
    demo.seed_settings(con, state)
    before = con.execute("SELECT count(*) FROM team_members").fetchone()[0]
    assert demo.seed_settings(con, state) is False
    assert con.execute("SELECT count(*) FROM team_members").fetchone()[0] == before


def test_demo_dates_are_xero_dates(state):
    invoice = sales(state)[0]
    assert invoice["Date"].startswith("/Date(") and invoice["Date"].endswith("+0000)/")
    assert invoice["DateString"] == iso_of(ms_from_xero(invoice["Date"]))
    assert dt.date.fromisoformat(invoice["DateString"][:10]) < dt.date.fromisoformat(invoice["DueDateString"][:10])
