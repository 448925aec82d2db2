"""Property tests: whatever the invoices, a push changes their tracking and nothing else."""
import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import push, push_plan, rules, store
from core.sandbox import server as sandbox
from test_push import ANN, AUDIT, BOB, D, P, TAX, Org, invoice, practice, tag, xero_except_tracking
from tests.line_ids import line_id

OPTIONS = {P: [ANN, BOB], D: [TAX, AUDIT]}


def decimals(low: str, high: str, places: int):
    return st.decimals(Decimal(low), Decimal(high), places=places, allow_nan=False, allow_infinity=False)


@st.composite
def lines(draw, name: str) -> dict:
    quantity = draw(decimals("0.0001", "500", 4))
    unit = draw(decimals("-200", "5000", 4))
    discount = draw(st.sampled_from(["none", "rate", "amount"]))
    line = {"LineItemID": line_id(name), "Description": draw(st.text(max_size=40)),
            "Quantity": float(quantity), "UnitAmount": float(unit),
            "AccountCode": draw(st.sampled_from(["200", "260", "400"])),
            "TaxType": draw(st.sampled_from(["OUTPUT2", "RROUTPUT", "ZERORATEDOUTPUT", "EXEMPTOUTPUT", "NONE"])),
            "Tracking": [tag(category, draw(st.sampled_from(options)))
                         for category, options in OPTIONS.items() if draw(st.booleans())]}
    if draw(st.booleans()):
        line["ItemCode"] = "AUD"
    if discount == "rate":
        line["DiscountRate"] = float(draw(decimals("0.01", "100", 2)))
    elif discount == "amount":
        line["DiscountAmount"] = float(draw(decimals("0.01", "50", 2)))
    if draw(st.booleans()):
        line["TaxAmount"] = float(draw(decimals("0", "99", 2)))  # an overridden tax amount
    return line


@st.composite
def invoices(draw, number: int) -> dict:
    count = draw(st.integers(1, 4))
    return invoice(number, draw(st.sampled_from(["acme", "beta", "gamma"])),
                   [draw(lines(f"{number}-{k}")) for k in range(count)],
                   status=draw(st.sampled_from(["DRAFT", "SUBMITTED", "AUTHORISED"])),
                   amount_types=draw(st.sampled_from(["Exclusive", "Inclusive", "NoTax"])))


def as_xero_read(record: dict) -> dict:
    """The sandbox record as the gateway parses it (money as Decimal)."""
    def convert(value):
        if isinstance(value, float):
            return Decimal(str(value))
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value
    return convert(record)


wanted_maps = st.dictionaries(st.sampled_from([P, D]), st.sampled_from([ANN, BOB, TAX, AUDIT, None]), max_size=2)


@settings(max_examples=100, deadline=None)
@given(record=invoices(1), choices=st.lists(wanted_maps, min_size=4, max_size=4))
def test_the_update_is_xeros_copy_with_only_the_wanted_tracking_changed(record, choices):
    before = as_xero_read(record)
    wanted = {line["LineItemID"]: choice for line, choice in zip(before["LineItems"], choices)}
    update = push_plan.build_update(before, wanted)
    for sent, line in zip(update["LineItems"], before["LineItems"]):
        assert {k: v for k, v in sent.items() if k != "Tracking"} == {
            k: v for k, v in line.items() if k in push_plan.LINE_FIELDS}
        expected = {**push_plan.tracking_of(line), **wanted[line["LineItemID"]]}
        assert push_plan.tracking_of(sent) == {c: o for c, o in expected.items() if o is not None}
    assert (update["Status"], update["LineAmountTypes"]) == (before["Status"], before["LineAmountTypes"])


client_wants = st.fixed_dictionaries({c: st.tuples(st.sampled_from([ANN, BOB, None]),
                                                    st.sampled_from([TAX, AUDIT, None]))
                                      for c in ("acme", "beta", "gamma")})


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(records=st.lists(st.integers(1, 10 ** 6), min_size=3, max_size=10, unique=True).flatmap(
    lambda numbers: st.tuples(*[invoices(n) for n in numbers])), wants=client_wants)
def test_a_push_of_random_invoices_keeps_every_line_amount_discount_tax_and_description(records, wants):
    state = practice()
    state["Invoices"] = list(records)
    with tempfile.TemporaryDirectory() as folder, store.connect(Path(folder) / "t.duckdb") as con:
        box = sandbox.start(state)
        try:
            org = Org(con, box, db=Path(folder) / "t.duckdb")
            org.sync()
            with store.transaction(con):
                con.execute("INSERT INTO slots VALUES (1, ?), (2, ?)", [P, D])
                con.executemany("INSERT INTO client_settings (contact_id, tc1_option_id, tc2_option_id) "
                                "VALUES (?, ?, ?)", [[contact, tc1, tc2] for contact, (tc1, tc2) in wants.items()])
                rules.refresh(con)
            before = {r["InvoiceID"]: box.invoice(r["InvoiceID"]) for r in records}
            result = org.push()
            assert result.problems == []
            for invoice_id, old in before.items():
                new = box.invoice(invoice_id)
                assert xero_except_tracking(new) == xero_except_tracking(old)
                tc1, tc2 = wants[old["Contact"]["ContactID"]]
                for old_line, new_line in zip(old["LineItems"], new["LineItems"]):
                    expected = push_plan.tracking_of(old_line)
                    expected.update({category: option for category, option in ((P, tc1), (D, tc2)) if option})
                    assert push_plan.tracking_of(new_line) == expected
            assert push.plan_counts(con)["invoices"] == 0
            assert org.push().api_calls == 0
        finally:
            box.stop()
