"""The rule table of docs/rules.md, row by row, on hand-worked examples.

Slots: Partner (cat-p, slot 1), Department (cat-d, slot 2). Team: Ann (TC2 Audit), Bob (no TC2).
A verdict is (TC1 wanted, TC1 source, TC1 apply, TC2 wanted, TC2 source, TC2 apply, status, reason).
"""
from decimal import Decimal

import pytest

from core import refusals, rules, statuses, store
from tests.line_ids import line_id, line_name

PRACTICE = [
    """INSERT INTO tracking_categories VALUES ('cat-p', 'Partner', 'ACTIVE', 0),
        ('cat-d', 'Department', 'ACTIVE', 1), ('cat-r', 'Region', 'ARCHIVED', 2)""",
    """INSERT INTO tracking_options VALUES ('ann', 'cat-p', 'Ann', 'ACTIVE'), ('bob', 'cat-p', 'Bob', 'ACTIVE'),
        ('old', 'cat-p', 'Old Partner', 'ARCHIVED'), ('tax', 'cat-d', 'Tax', 'ACTIVE'),
        ('audit', 'cat-d', 'Audit', 'ACTIVE'), ('payroll', 'cat-d', 'Payroll', 'ACTIVE'),
        ('gone', 'cat-d', 'Gone', 'DELETED'), ('north', 'cat-r', 'North', 'ACTIVE')""",
    """INSERT INTO slots VALUES (1, 'cat-p'), (2, 'cat-d')""",
    """INSERT INTO team_members (member_id, name, tc2_option_id) VALUES (1, 'Ann', 'audit'), (2, 'Bob', NULL)""",
    """INSERT INTO contacts (contact_id, name) VALUES ('acme', 'Acme Ltd'), ('beta', 'Beta LLC')""",
    """INSERT INTO services VALUES ('TAX', 'tax', false), ('PAY', 'payroll', false), ('BOOKS', NULL, false),
        ('ALIGN', 'payroll', true)""",
]


def add_invoice(con, invoice_id, contact_id, lines, *, status="AUTHORISED", paid=0, credited=0,
                allocations=False, kind="ACCREC"):
    """`lines`: (line name, item_code, Partner option now, Department option now), in position order.
    `kind` ACCRECCREDIT makes it a credit note (`paid`: refunded, `credited`: allocated to invoices)."""
    con.execute("""INSERT INTO invoices (invoice_id, number, contact_id, date, status, currency_code,
                       amount_paid, amount_credited, has_allocations, type, updated_utc)
                   VALUES (?, ?, ?, DATE '2026-03-01', ?, 'NZD', ?, ?, ?, ?, now())""",
                [invoice_id, invoice_id.upper(), contact_id, status, paid, credited, allocations, kind])
    for position, (name, item_code, tc1_now, tc2_now) in enumerate(lines):
        con.execute("""INSERT INTO invoice_lines (line_id, invoice_id, position, description, item_code, line_amount)
                       VALUES (?, ?, ?, ?, ?, 100.00)""",
                    [line_id(name), invoice_id, position, f"Work {name}", item_code])
        for category, option in (("cat-p", tc1_now), ("cat-d", tc2_now)):
            if option:
                con.execute("INSERT INTO line_tracking (line_id, category_id, option_id) VALUES (?, ?, ?)",
                            [line_id(name), category, option])


def client(con, contact_id, *, owner=None, tc1=None, tc2=None, consolidate=False):
    con.execute("INSERT OR REPLACE INTO client_settings VALUES (?, ?, ?, ?, ?)",
                [contact_id, owner, tc1, tc2, consolidate])


def override(con, name, **slots):
    """override(con, "l1", tc1="bob") / tc2=None: an override of that slot (None = explicit clear)."""
    con.execute("INSERT INTO line_overrides VALUES (?, ?, ?, ?, ?, NULL)",
                [line_id(name), "tc1" in slots, slots.get("tc1"), "tc2" in slots, slots.get("tc2")])


def verdicts(con) -> dict[str, tuple]:
    with store.transaction(con):
        rules.refresh(con)
    return {line_name(row[0]): row[1:] for row in con.execute(f"""
        SELECT r.line_id, w1.name, r.tc1_source, r.tc1_apply, w2.name, r.tc2_source, r.tc2_apply,
               r.status, {rules.SHOWN_REASON}
        FROM line_rules r {rules.JOIN_REFUSABLE} {rules.JOIN_WANTED} ORDER BY r.line_id""").fetchall()}


@pytest.fixture
def practice(con):
    with store.transaction(con):
        for sql in PRACTICE:
            con.execute(sql)
    return con


# --- TC1 ---------------------------------------------------------------------------------------

def test_tc1_line_override_beats_client(practice):
    client(practice, "acme", tc1="ann")
    add_invoice(practice, "i1", "acme", [("l1", None, None, None), ("l2", None, None, None)])
    override(practice, "l1", tc1="bob")
    assert verdicts(practice) == {
        "l1": ("Bob", "line", True, None, "none", False, "change", None),
        "l2": ("Ann", "client", True, None, "none", False, "change", None),
    }


def test_tc1_none_without_settings_keeps_what_xero_has(practice):
    add_invoice(practice, "i1", "acme", [("l1", None, "bob", "tax"), ("l2", None, None, None)])
    assert verdicts(practice) == {
        "l1": (None, "none", False, None, "none", False, "same", None),
        "l2": (None, "none", False, None, "none", False, "same", None),
    }


def test_consolidated_client_takes_the_first_lines_tc1_and_no_tc2(practice):
    client(practice, "acme", owner=1, tc1="ann", tc2="tax", consolidate=True)
    add_invoice(practice, "i1", "acme", [("l1", "PAY", None, None), ("l2", "TAX", None, "audit"),
                                         ("l3", "ALIGN", None, None)])
    override(practice, "l1", tc1="bob")
    assert verdicts(practice) == {
        "l1": ("Bob", "line", True, None, "consolidated", False, "change", None),
        "l2": ("Bob", "consolidated", True, None, "consolidated", False, "change", None),
        "l3": ("Bob", "consolidated", True, None, "consolidated", False, "change", None),
    }


def test_consolidated_client_with_service_tc2_and_both_overrides_on_line_1(practice):
    client(practice, "acme", tc1="ann", consolidate=True)
    add_invoice(practice, "i1", "acme", [("l1", "TAX", "bob", "payroll"), ("l2", "TAX", "ann", "tax")])
    override(practice, "l1", tc1="bob", tc2="payroll")
    assert verdicts(practice) == {
        "l1": ("Bob", "line", True, "Payroll", "line", True, "same", None),
        "l2": ("Bob", "consolidated", True, None, "consolidated", False, "change", None),
    }


def test_consolidated_client_without_first_line_override_takes_client_tc1(practice):
    client(practice, "acme", tc1="ann", consolidate=True)
    add_invoice(practice, "i1", "acme", [("l1", None, None, None), ("l2", None, None, None)])
    override(practice, "l2", tc1="bob")
    assert verdicts(practice) == {
        "l1": ("Ann", "client", True, None, "consolidated", False, "change", None),
        "l2": ("Bob", "line", True, None, "consolidated", False, "change", None),
    }


def test_consolidated_first_line_explicit_clear_clears_every_line(practice):
    client(practice, "acme", tc1="ann", consolidate=True)
    add_invoice(practice, "i1", "acme", [("l1", None, "ann", None), ("l2", None, None, None)])
    override(practice, "l1", tc1=None)
    assert verdicts(practice) == {
        "l1": (None, "line", True, None, "consolidated", False, "change", None),
        "l2": (None, "consolidated", True, None, "consolidated", False, "same", None),
    }


def test_first_line_is_the_lowest_position_not_the_first_inserted(practice):
    client(practice, "acme", consolidate=True)
    add_invoice(practice, "i1", "acme", [("l1", None, None, None), ("l2", None, None, None)])
    practice.execute("UPDATE invoice_lines SET position = 5 WHERE line_id = line_id('l1')")
    override(practice, "l1", tc1="ann")
    override(practice, "l2", tc2="tax")
    assert verdicts(practice) == {
        "l1": ("Ann", "line", True, None, "consolidated", False, "change", None),
        "l2": (None, "none", False, "Tax", "line", True, "change", None),
    }


# --- TC2 ---------------------------------------------------------------------------------------

def test_tc2_precedence_service_then_client_then_owner(practice):
    client(practice, "acme", owner=1, tc2="tax")
    client(practice, "beta", owner=1)
    add_invoice(practice, "i1", "acme", [("l1", "PAY", None, None), ("l2", "BOOKS", None, None),
                                         ("l3", None, None, None)])
    add_invoice(practice, "i2", "beta", [("l4", "BOOKS", None, None)])
    assert verdicts(practice) == {
        "l1": (None, "none", False, "Payroll", "service", True, "change", None),
        "l2": (None, "none", False, "Tax", "client", True, "change", None),
        "l3": (None, "none", False, "Tax", "client", True, "change", None),
        "l4": (None, "none", False, "Audit", "owner", True, "change", None),
    }


def test_tc2_line_override_beats_service_and_consolidation(practice):
    client(practice, "acme", tc2="tax", consolidate=True)
    client(practice, "beta", tc2="tax")
    add_invoice(practice, "i1", "acme", [("l1", "PAY", None, None), ("l2", "PAY", None, None)])
    add_invoice(practice, "i2", "beta", [("l3", "PAY", None, None)])
    override(practice, "l2", tc2="audit")
    override(practice, "l3", tc2="audit")
    assert verdicts(practice) == {
        "l1": (None, "none", False, None, "consolidated", False, "same", None),
        "l2": (None, "none", False, "Audit", "line", True, "change", None),
        "l3": (None, "none", False, "Audit", "line", True, "change", None),
    }


def test_alignment_fee_takes_the_owners_tc2_over_service_and_client(practice):
    client(practice, "acme", owner=1, tc2="tax")
    add_invoice(practice, "i1", "acme", [("l1", "ALIGN", None, None), ("l2", "PAY", None, None)])
    assert verdicts(practice) == {
        "l1": (None, "none", False, "Audit", "owner", True, "change", None),
        "l2": (None, "none", False, "Payroll", "service", True, "change", None),
    }


def test_alignment_fee_with_an_owner_without_tc2_gets_none(practice):
    client(practice, "acme", owner=2, tc2="tax")
    client(practice, "beta", tc2="tax")
    add_invoice(practice, "i1", "acme", [("l1", "ALIGN", None, "payroll")])
    add_invoice(practice, "i2", "beta", [("l2", "ALIGN", None, None)])
    assert verdicts(practice) == {
        "l1": (None, "none", False, None, "none", False, "same", None),
        "l2": (None, "none", False, None, "none", False, "same", None),
    }


def test_client_tc2_beats_owner_and_owner_without_tc2_gives_none(practice):
    client(practice, "acme", owner=1, tc2="tax")
    client(practice, "beta", owner=2)
    add_invoice(practice, "i1", "acme", [("l1", None, None, None)])
    add_invoice(practice, "i2", "beta", [("l2", None, None, "audit")])
    assert verdicts(practice) == {
        "l1": (None, "none", False, "Tax", "client", True, "change", None),
        "l2": (None, "none", False, None, "none", False, "same", None),
    }


def test_explicit_none_override_clears_the_slot(practice):
    client(practice, "acme", tc1="ann", tc2="tax")
    add_invoice(practice, "i1", "acme", [("l1", None, "ann", "tax"), ("l2", None, "ann", None)])
    override(practice, "l1", tc2=None)
    override(practice, "l2", tc2=None)
    assert verdicts(practice) == {
        "l1": ("Ann", "client", True, None, "line", True, "change", None),
        "l2": ("Ann", "client", True, None, "line", True, "same", None),
    }


def test_same_when_xero_has_the_wanted_options_and_an_empty_slot_is_left_alone(practice):
    client(practice, "acme", tc1="ann")
    add_invoice(practice, "i1", "acme", [("l1", None, "ann", "payroll"), ("l2", None, "bob", "payroll")])
    assert verdicts(practice) == {
        "l1": ("Ann", "client", True, None, "none", False, "same", None),
        "l2": ("Ann", "client", True, None, "none", False, "change", None),
    }


# --- blocked and locked ------------------------------------------------------------------------

def test_archived_deleted_unknown_and_wrong_category_options_block_the_line(practice):
    client(practice, "acme", tc1="old", tc2="tax")
    client(practice, "beta", tc1="ann")
    add_invoice(practice, "i1", "acme", [("l1", None, None, None)])
    add_invoice(practice, "i2", "beta", [("l2", None, None, None), ("l3", None, None, None),
                                         ("l4", None, None, None)])
    override(practice, "l2", tc2="gone")
    override(practice, "l3", tc1="tax", tc2="north")
    override(practice, "l4", tc2="vanished")
    assert verdicts(practice) == {
        "l1": ("Old Partner", "client", True, "Tax", "client", True, "blocked",
               "Option 'Old Partner' is archived in Xero"),
        "l2": ("Ann", "client", True, "Gone", "line", True, "blocked", "Option 'Gone' is deleted in Xero"),
        "l3": ("Tax", "line", True, "North", "line", True, "blocked",
               "Option 'Tax' belongs to another category, not Partner; "
               "Option 'North' belongs to another category, not Department"),
        "l4": ("Ann", "client", True, None, "line", True, "blocked",
               "The wanted Department option no longer exists in Xero"),
    }


@pytest.mark.parametrize("invoice, reason", [
    ({"paid": Decimal("10.00")}, "Invoice has 10.00 paid and cannot be edited"),
    ({"credited": Decimal("5.50")}, "Invoice has 5.50 credited and cannot be edited"),
    ({"allocations": True}, "Invoice has a prepayment or overpayment allocated and cannot be edited"),
    ({"status": "PAID", "paid": Decimal("100.00")}, "Invoice is PAID in Xero and cannot be edited"),
    ({"status": "VOIDED"}, "Invoice is VOIDED in Xero and cannot be edited"),
    ({"status": "DELETED"}, "Invoice is DELETED in Xero and cannot be edited"),
])
def test_locked_invoices_beat_blocked_and_change(practice, invoice, reason):
    client(practice, "acme", tc1="old", tc2="tax")
    add_invoice(practice, "i1", "acme", [("l1", None, None, None)], **invoice)
    assert verdicts(practice) == {"l1": ("Old Partner", "client", True, "Tax", "client", True, "locked", reason)}


@pytest.mark.parametrize("status", ["DRAFT", "SUBMITTED", "AUTHORISED"])
@pytest.mark.parametrize("kind", ["ACCREC", "ACCRECCREDIT"])
def test_unpaid_editable_invoices_and_unallocated_credit_notes_are_not_locked(practice, status, kind):
    client(practice, "acme", tc1="ann")
    add_invoice(practice, "i1", "acme", [("l1", None, None, None)], status=status, kind=kind)
    assert verdicts(practice)["l1"][-2:] == ("change", None)


@pytest.mark.parametrize("note, reason", [
    ({"status": "PAID"}, "Credit note is PAID in Xero and cannot be edited"),
    ({"status": "VOIDED"}, "Credit note is VOIDED in Xero and cannot be edited"),
    ({"credited": Decimal("40.00"), "allocations": True},
     "Credit note has 40.00 allocated to invoices and cannot be edited"),
    ({"paid": Decimal("12.50"), "allocations": True}, "Credit note has 12.50 refunded and cannot be edited"),
    ({"allocations": True}, "Credit note has an allocation and cannot be edited"),
])
def test_paid_voided_and_allocated_credit_notes_are_locked(practice, note, reason):
    client(practice, "acme", tc1="ann")
    add_invoice(practice, "c1", "acme", [("l1", None, None, None)], kind="ACCRECCREDIT", **note)
    assert verdicts(practice)["l1"][-2:] == ("locked", reason)



@pytest.mark.parametrize("status", statuses.ALL)
def test_the_lock_sql_follows_the_one_list_of_editable_statuses(practice, status):
    client(practice, "acme", tc1="ann")
    add_invoice(practice, "i1", "acme", [("l1", None, None, None)], status=status)
    assert (verdicts(practice)["l1"][-2] == "locked") == (status not in statuses.EDITABLE)


def test_sql_lists_take_xero_statuses_only():
    assert statuses.sql_list(statuses.REVENUE) == "'AUTHORISED', 'PAID'"
    with pytest.raises(ValueError):
        statuses.sql_list(["PAID", "x') OR ('1"])

# --- the slot map ------------------------------------------------------------------------------

@pytest.mark.parametrize("slots, reason", [
    ([(1, "cat-p"), (2, "cat-p")], "Slots 1 and 2 map to the same tracking category 'Partner'"),
    ([(1, "cat-p"), (2, "cat-r")], "Slot 2's tracking category 'Region' is archived in Xero"),
    ([(1, "cat-p")], "Slot 2 has no tracking category"),
    ([(1, "cat-x"), (2, "cat-d")], "Slot 1's tracking category no longer exists in Xero"),
])
def test_an_invalid_slot_map_blocks_every_line_but_locked_ones(practice, slots, reason):
    practice.execute("DELETE FROM slots")
    practice.executemany("INSERT INTO slots VALUES (?, ?)", slots)
    client(practice, "acme", tc1="ann")
    add_invoice(practice, "i1", "acme", [("l1", None, "ann", None)])
    add_invoice(practice, "i2", "acme", [("l2", None, None, None)], status="PAID")
    result = verdicts(practice)
    assert result["l1"][-2:] == ("blocked", reason)
    assert result["l2"][-2:] == ("locked", "Invoice is PAID in Xero and cannot be edited")


def test_empty_slot_map_defaults_to_the_first_two_active_categories_by_position(practice):
    practice.execute("DELETE FROM slots")
    practice.execute("UPDATE tracking_categories SET position = CASE category_id "
                     "WHEN 'cat-d' THEN 0 WHEN 'cat-r' THEN 1 ELSE 2 END")
    client(practice, "acme", tc1="ann", tc2="tax")
    add_invoice(practice, "i1", "acme", [("l1", None, None, None)])
    verdicts(practice)
    assert practice.execute(f"SELECT {rules.slot_category_sql(1)}, {rules.slot_category_sql(2)}").fetchone() == (
        "cat-d", "cat-p")
    row = practice.execute("SELECT status, reason FROM line_rules").fetchone()
    assert row == ("blocked", "Option 'Ann' belongs to another category, not Department; "
                                                "Option 'Tax' belongs to another category, not Partner")


def test_a_whole_line_rules_row(practice):
    client(practice, "acme", tc1="ann")
    add_invoice(practice, "i1", "acme", [("l1", "PAY", "bob", "payroll")])
    verdicts(practice)
    result = practice.execute("SELECT * FROM line_rules")
    row = dict(zip([d[0] for d in result.description], result.fetchone()))
    assert row == {
        "line_id": line_id("l1"), "invoice_id": "i1", "contact_id": "acme", "position": 0, "description": "Work l1",
        "line_amount": Decimal("100.00"), "invoice_number": "I1", "invoice_date": row["invoice_date"],
        "invoice_status": "AUTHORISED", "invoice_type": "ACCREC",
        "tc1_current_option_id": "bob", "tc1_current_name": "Bob", "tc1_wanted_option_id": "ann",
        "tc1_source": "client", "tc1_apply": True,
        "tc2_current_option_id": "payroll", "tc2_current_name": "Payroll", "tc2_wanted_option_id": "payroll",
        "tc2_source": "service",
        "tc2_apply": True, "status": "change", "reason": None,
    }
    assert str(row["invoice_date"]) == "2026-03-01"


# --- lines Xero will not take back -------------------------------------------------------------

def tag(con, name, category, option):
    con.execute("INSERT INTO line_tracking (line_id, category_id, option_id) VALUES (?, ?, ?)",
                [line_id(name), category, option])


def test_an_archived_tag_on_another_line_does_not_block_the_invoices_changes(practice):
    """Whether Xero takes an archived option back is unconfirmed: the push tries (core/refusals.py), and the
    invoice's changes say why Xero may refuse it. Sent back: line 1's North (of the archived Region) and line 2's
    archived Old Partner; line 3's deleted Gone is not, as its change clears that slot."""
    client(practice, "acme", tc2="tax")
    add_invoice(practice, "i1", "acme", [("l1", None, None, None), ("l2", None, "old", "tax"),
                                         ("l3", None, None, "gone")])
    tag(practice, "l1", "cat-r", "north")
    override(practice, "l3", tc2=None)
    may = ("Xero may refuse this invoice: line 1 keeps option 'North' of the archived category 'Region'"
           " (and 1 more line like it)")
    assert verdicts(practice) == {
        "l1": (None, "none", False, "Tax", "client", True, "change", may),
        "l2": (None, "none", False, "Tax", "client", True, "same", None),
        "l3": (None, "none", False, None, "line", True, "change", may),
    }


@pytest.mark.parametrize("option, verdict", [
    ("old", ("change", "Xero may refuse this invoice: line 2 keeps archived option 'Old Partner' (Partner)")),
    ("gone-p", ("change", "Xero may refuse this invoice: line 2 keeps deleted option 'Gone P' (Partner)")),
    ("tax", ("blocked", "Line 2 of this invoice carries a Partner option that no longer exists in Xero; "
                        "Xero will not take it back — remove it in Xero first")),
    ("vanished", ("blocked", "Line 2 of this invoice carries a Partner option that no longer exists in Xero; "
                             "Xero will not take it back — remove it in Xero first")),
])
def test_only_an_option_that_no_longer_exists_blocks_the_other_lines(practice, option, verdict):
    practice.execute("INSERT INTO tracking_options VALUES ('gone-p', 'cat-p', 'Gone P', 'DELETED')")
    client(practice, "acme", tc2="tax")
    add_invoice(practice, "i1", "acme", [("l1", None, None, "tax"), ("l2", None, option, None)])
    assert verdicts(practice) == {
        "l1": (None, "none", False, "Tax", "client", True, "same", None),
        "l2": (None, "none", False, "Tax", "client", True, *verdict),
    }


def refuse(con, invoice_id: str, option_ids: list[str], message: str = "The option is archived.") -> None:
    updated = con.execute("SELECT updated_utc FROM invoices WHERE invoice_id = ?", [invoice_id]).fetchone()[0]
    with store.transaction(con):
        refusals.record(con, [{"invoice_id": invoice_id, "updated_utc": updated, "option_ids": option_ids,
                               "message": message}], push_id=1)


def test_xeros_refusal_blocks_the_invoice_until_it_changes_in_xero_or_the_option_is_active(practice):
    client(practice, "acme", tc2="tax")
    add_invoice(practice, "i1", "acme", [("l1", None, "old", None), ("l2", None, None, None)])
    may = ("change", "Xero may refuse this invoice: line 1 keeps archived option 'Old Partner' (Partner)")
    assert set(verdicts(practice).values()) == {(None, "none", False, "Tax", "client", True, *may)}
    refuse(practice, "i1", ["old"], "The tracking option 'Old Partner' is archived and cannot be used.")
    blocked = ("blocked", "Xero refused this invoice: The tracking option 'Old Partner' is archived and cannot be "
                          "used.")
    assert [v[-2:] for v in verdicts(practice).values()] == [blocked, blocked]
    practice.execute("UPDATE tracking_options SET status = 'ACTIVE' WHERE option_id = 'old'")
    assert [v[-2:] for v in verdicts(practice).values()] == [("change", None), ("change", None)]
    practice.execute("UPDATE tracking_options SET status = 'ARCHIVED' WHERE option_id = 'old'")
    assert [v[-2:] for v in verdicts(practice).values()] == [blocked, blocked]
    practice.execute("UPDATE invoices SET updated_utc = updated_utc + INTERVAL 1 MINUTE WHERE invoice_id = 'i1'")
    assert [v[-2:] for v in verdicts(practice).values()] == [may, may]


def test_a_line_whose_own_wanted_option_is_archived_stays_blocked_for_that(practice):
    client(practice, "acme", tc1="old")
    add_invoice(practice, "i1", "acme", [("l1", None, None, None)])
    refuse(practice, "i1", ["old"])
    assert verdicts(practice)["l1"][-2:] == ("blocked", "Option 'Old Partner' is archived in Xero")


def test_a_stale_tag_the_push_replaces_does_not_block(practice):
    client(practice, "acme", tc1="ann", tc2="tax")
    add_invoice(practice, "i1", "acme", [("l1", None, "old", "gone"), ("l2", None, "ann", "tax")])
    assert verdicts(practice) == {
        "l1": ("Ann", "client", True, "Tax", "client", True, "change", None),
        "l2": ("Ann", "client", True, "Tax", "client", True, "same", None),
    }


def test_a_stale_tag_on_a_line_whose_own_change_is_blocked_still_counts(practice):
    client(practice, "acme", tc1="ann")
    add_invoice(practice, "i1", "acme", [("l1", None, None, None), ("l2", None, None, "vanished")])
    override(practice, "l2", tc1="ann", tc2="old")
    assert verdicts(practice) == {
        "l1": ("Ann", "client", True, None, "none", False, "blocked",
               "Line 2 of this invoice carries a Department option that no longer exists in Xero; "
               "Xero will not take it back — remove it in Xero first"),
        "l2": ("Ann", "line", True, "Old Partner", "line", True, "blocked",
               "Option 'Old Partner' belongs to another category, not Department"),
    }


def test_more_than_two_tracking_entries_after_the_push_block(practice):
    practice.execute("INSERT INTO tracking_categories VALUES ('cat-x', 'Project', 'ACTIVE', 3)")
    practice.execute("INSERT INTO tracking_options VALUES ('apollo', 'cat-x', 'Apollo', 'ACTIVE')")
    client(practice, "acme", tc2="tax")
    client(practice, "beta", tc2="tax")
    add_invoice(practice, "i1", "acme", [("l1", None, "ann", None)])
    add_invoice(practice, "i2", "beta", [("l2", None, None, None)])
    tag(practice, "l1", "cat-x", "apollo")
    tag(practice, "l2", "cat-x", "apollo")
    assert verdicts(practice) == {
        "l1": (None, "none", False, "Tax", "client", True, "blocked",
               "Line 1 of this invoice would carry 3 tracking categories; Xero takes at most 2 on a line"
               " — remove one in Xero first"),
        "l2": (None, "none", False, "Tax", "client", True, "change", None),
    }


def test_a_locked_invoice_with_a_stale_tag_stays_locked(practice):
    client(practice, "acme", tc2="tax")
    add_invoice(practice, "i1", "acme", [("l1", None, "old", None)], status="PAID")
    assert verdicts(practice) == {
        "l1": (None, "none", False, "Tax", "client", True, "locked", "Invoice is PAID in Xero and cannot be edited"),
    }


@pytest.mark.parametrize("edit, scope", [
    ("UPDATE client_settings SET tc2_option_id = 'audit' WHERE contact_id = 'acme'", {"contact_ids": ["acme"]}),
    ("UPDATE services SET tc2_option_id = 'audit' WHERE item_code = 'BOOKS'", {"item_codes": ["BOOKS"]}),
    ("UPDATE team_members SET tc2_option_id = 'audit' WHERE member_id = 2", {"member_ids": [2]}),
    ("INSERT INTO line_overrides VALUES (line_id('l2'), false, NULL, true, 'audit', NULL)",
     {"line_ids": [line_id("l2")]}),
])
def test_refresh_for_sees_the_stale_tags_of_the_whole_invoice(practice, edit, scope):
    client(practice, "acme", owner=2)
    add_invoice(practice, "i1", "acme", [("l1", "PAY", "old", "payroll"), ("l2", "BOOKS", None, None)])
    verdicts(practice)
    with store.transaction(practice):
        practice.execute(edit)
        rules.refresh_for(practice, **scope)
    partial = line_rules(practice)
    with store.transaction(practice):
        rules.refresh(practice)
    assert partial == line_rules(practice)
    may = "Xero may refuse this invoice: line 1 keeps archived option 'Old Partner' (Partner)"
    assert [row[-2:] for row in partial] == [("same", None), ("change", may)]

# --- refresh_for -------------------------------------------------------------------------------

def line_rules(con) -> list[tuple]:
    """Every line's rules, with the reason as readers show it last."""
    return con.execute(f"SELECT r.description, r.invoice_type, r.* EXCLUDE (description, invoice_type, reason), "
                       f"{rules.SHOWN_REASON} FROM line_rules r {rules.JOIN_REFUSABLE} ORDER BY line_id").fetchall()


@pytest.mark.parametrize("edit, scope", [
    ("UPDATE client_settings SET tc1_option_id = 'bob' WHERE contact_id = 'acme'", {"contact_ids": ["acme"]}),
    ("UPDATE services SET tc2_option_id = 'audit' WHERE item_code = 'PAY'", {"item_codes": ["PAY"]}),
    ("UPDATE team_members SET tc2_option_id = 'tax' WHERE member_id = 1", {"member_ids": [1]}),
    ("INSERT INTO line_overrides VALUES (line_id('l1'), true, 'bob', false, NULL, NULL)",
     {"line_ids": [line_id("l1")]}),
    ("UPDATE invoices SET amount_paid = 1 WHERE invoice_id = 'i2'", {"line_ids": [line_id("l4")]}),
])
def test_refresh_for_gives_the_same_table_as_refresh(practice, edit, scope):
    client(practice, "acme", owner=1, tc1="ann", consolidate=True)
    client(practice, "beta", owner=1)
    add_invoice(practice, "i1", "acme", [("l1", "PAY", None, None), ("l2", "TAX", "ann", None)])
    add_invoice(practice, "i2", "beta", [("l3", "PAY", None, None), ("l4", "BOOKS", None, None)])
    verdicts(practice)
    with store.transaction(practice):
        practice.execute(edit)
        rules.refresh_for(practice, **scope)
    partial = line_rules(practice)
    with store.transaction(practice):
        rules.refresh(practice)
    assert partial == line_rules(practice)
    assert partial != []


def test_refresh_runs_inside_the_callers_transaction(practice):
    client(practice, "acme", tc1="ann")
    add_invoice(practice, "i1", "acme", [("l1", None, None, None)])
    with pytest.raises(RuntimeError), store.transaction(practice):
        rules.refresh(practice)
        raise RuntimeError("the writer failed after refreshing")
    assert line_rules(practice) == []
