"""The preview queries, the `preview` command and the Preview page."""
import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest

from core import explain, preview, push, rules, store
from core.__main__ import main
from tests.line_ids import line_id, line_name

# Slots Partner / Department. INV-1 (Acme): a1 changes Partner, a2 already right. INV-2 (=Beta Co) is
# PAID: b1 locked. INV-3 (=Beta Co): b2 wants an archived option: blocked.
PRACTICE = [
    """INSERT INTO tracking_categories VALUES ('cat-p', 'Partner', 'ACTIVE', 0),
        ('cat-d', 'Department', 'ACTIVE', 1)""",
    """INSERT INTO tracking_options VALUES ('ann', 'cat-p', 'Ann', 'ACTIVE'), ('bob', 'cat-p', 'Bob', 'ACTIVE'),
        ('tax', 'cat-d', 'Tax', 'ACTIVE'), ('old', 'cat-d', 'Old', 'ARCHIVED')""",
    """INSERT INTO contacts (contact_id, name) VALUES ('acme', 'Acme Ltd'), ('beta', '=Beta Co')""",
    """INSERT INTO client_settings VALUES ('acme', NULL, 'ann', NULL, false), ('beta', NULL, 'bob', NULL, false)""",
    """INSERT INTO invoices (invoice_id, number, contact_id, date, status, currency_code, amount_paid, updated_utc)
       VALUES ('i1', 'INV-1', 'acme', DATE '2026-01-15', 'AUTHORISED', 'NZD', 0, now()),
              ('i2', 'INV-2', 'beta', DATE '2026-02-10', 'PAID', 'NZD', 60, now()),
              ('i3', 'INV-3', 'beta', DATE '2026-03-01', 'DRAFT', 'NZD', 0, now())""",
    """INSERT INTO invoice_lines (line_id, invoice_id, position, description, line_amount) VALUES
        (line_id('a1'), 'i1', 0, 'Accounts', 100.10), (line_id('a2'), 'i1', 1, '-5 discount', -5.00),
        (line_id('b1'), 'i2', 0, 'Payroll', 60.00), (line_id('b2'), 'i3', 0, '@SUM(1)', 20.20)""",
    """INSERT INTO line_tracking (line_id, category_id, option_id) VALUES
        (line_id('a1'), 'cat-p', 'bob'), (line_id('a1'), 'cat-d', 'tax'), (line_id('a2'), 'cat-p', 'ann')""",
    """INSERT INTO line_overrides VALUES (line_id('b2'), false, NULL, true, 'old', NULL)""",
]
STATUS_OF = {"a1": "change", "a2": "same", "b1": "locked", "b2": "blocked"}


@pytest.fixture
def shown(seeded):
    return seeded(PRACTICE)


def line_ids(rows: list[dict]) -> list[str]:
    return [line_name(row["line_id"]) for row in rows]


def test_totals_count_every_status(shown):
    assert preview.totals(shown) == {"same": 1, "change": 1, "blocked": 1, "locked": 1}
    assert preview.count(shown) == 4


@pytest.mark.parametrize("filters, expected", [
    (preview.Filters(contact_id="beta"), {"b1", "b2"}),
    (preview.Filters(invoice_number="INV-1"), {"a1", "a2"}),
    (preview.Filters(invoice_id="i3"), {"b2"}),
    (preview.Filters(date_from=date(2026, 2, 1)), {"b1", "b2"}),
    (preview.Filters(date_from=date(2026, 1, 1), date_to=date(2026, 2, 10)), {"a1", "a2", "b1"}),
    (preview.Filters(invoice_status="PAID"), {"b1"}),
    (preview.Filters(line_status="change"), {"a1"}),
    (preview.Filters(source="line"), {"b2"}),
    (preview.Filters(contact_id="beta", line_status="blocked"), {"b2"}),
    (preview.Filters(contact_id="nobody"), set()),
])
def test_filters_select_lines(shown, filters, expected):
    assert set(line_ids(preview.lines(shown, filters))) == expected
    assert preview.totals(shown, filters) == {s: sum(STATUS_OF[line] == s for line in expected)
                                              for s in rules.STATUSES}


def test_totals_by_source(shown):
    assert preview.totals_by_source(shown) == {(1, "client"): 4, (2, "line"): 1, (2, "none"): 3}


def test_a_page_row_has_names_amount_as_decimal_and_what_changes(shown):
    row = preview.lines(shown, preview.Filters(invoice_number="INV-1"))[0]
    assert row == {
        "may_be_refused": False,
        "invoice_number": "INV-1", "document": "Invoice", "client_name": "Acme Ltd", "invoice_date": date(2026, 1, 15),
        "invoice_status": "AUTHORISED", "position": 0, "description": "Accounts",
        "line_amount": Decimal("100.10"),
        "tc1_current_name": "Bob", "tc1_wanted_name": "Ann", "tc1_source": "client",
        "tc2_current_name": "Tax", "tc2_wanted_name": None, "tc2_source": "none",
        "status": "change", "reason": None,
        "line_id": line_id("a1"), "invoice_id": "i1", "contact_id": "acme",
        "tc1_current_option_id": "bob", "tc1_wanted_option_id": "ann", "tc1_apply": True,
        "tc2_current_option_id": "tax", "tc2_wanted_option_id": None, "tc2_apply": False,
        "tc1_changes": True, "tc2_changes": False,
    }


def test_lines_come_newest_invoice_first_in_line_order_and_page(shown):
    assert line_ids(preview.lines(shown)) == ["b2", "b1", "a1", "a2"]
    assert line_ids(preview.lines(shown, limit=2, offset=2)) == ["a1", "a2"]
    assert line_ids(preview.page(shown, preview.Filters(), 1)) == ["b2", "b1", "a1", "a2"]


def test_invoices_group_the_selected_lines_by_status(shown):
    assert preview.invoices(shown) == [
        {"invoice_id": "i3", "invoice_number": "INV-3", "client_name": "=Beta Co", "invoice_date": date(2026, 3, 1),
         "invoice_status": "DRAFT", "lines": 1, "amount": Decimal("20.20"), "same": 0, "change": 0, "blocked": 1,
         "locked": 0, "locked_reason": None},
        {"invoice_id": "i2", "invoice_number": "INV-2", "client_name": "=Beta Co", "invoice_date": date(2026, 2, 10),
         "invoice_status": "PAID", "lines": 1, "amount": Decimal("60.00"), "same": 0, "change": 0, "blocked": 0,
         "locked": 1, "locked_reason": "Invoice is PAID in Xero and cannot be edited"},
        {"invoice_id": "i1", "invoice_number": "INV-1", "client_name": "Acme Ltd", "invoice_date": date(2026, 1, 15),
         "invoice_status": "AUTHORISED", "lines": 2, "amount": Decimal("95.10"), "same": 1, "change": 1,
         "blocked": 0, "locked": 0, "locked_reason": None},
    ]
    assert preview.invoice_count(shown) == 3
    assert [i["invoice_id"] for i in preview.invoice_page(shown, preview.Filters(line_status="change"), 1)] == ["i1"]


def test_clients_are_the_ones_with_invoices_by_name(shown):
    assert preview.clients(shown) == [("beta", "=Beta Co"), ("acme", "Acme Ltd")]


def test_csv_holds_every_selected_line_safe_for_excel(shown):
    text = preview.csv_bytes(shown, preview.Filters(contact_id="beta")).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["invoice_number", "document", "client_name", "invoice_date", "invoice_status", "position", "description",
                       "line_amount", "tc1_current_name", "tc1_wanted_name", "tc1_source", "tc2_current_name",
                       "tc2_wanted_name", "tc2_source", "status", "reason"]
    assert rows[1:] == [
        ["INV-3", "Invoice", "'=Beta Co", "2026-03-01", "DRAFT", "0", "'@SUM(1)", "20.20", "", "Bob", "client", "", "Old",
         "line", "blocked", "Option 'Old' is archived in Xero"],
        ["INV-2", "Invoice", "'=Beta Co", "2026-02-10", "PAID", "0", "Payroll", "60.00", "", "Bob", "client", "", "", "none",
         "locked", "Invoice is PAID in Xero and cannot be edited"],
    ]
    negative = preview.csv_bytes(shown, preview.Filters(line_status="same")).decode("utf-8")
    assert "'-5 discount,-5.00," in negative


@pytest.mark.parametrize("start", ["\t", "\r"])
def test_csv_neutralises_a_tab_or_carriage_return_start_as_every_export_does(shown, start):
    shown.execute("UPDATE line_rules SET description = ? || 'cmd' WHERE description = 'Payroll'", [start])
    text = preview.csv_bytes(shown, preview.Filters(contact_id="beta")).decode("utf-8")
    descriptions = [row[6] for row in csv.reader(io.StringIO(text, newline=""))]
    assert f"'{start}cmd" in descriptions


# --- the command line --------------------------------------------------------------------------

@pytest.fixture
def shown_db(shown, db_path):
    shown.close()
    return db_path


def test_cli_table_of_one_invoice(shown_db, capsys):
    assert main(["preview", "--invoice", "INV-1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["Number", "Document", "Client", "Date", "Description"]
    assert lines[1].split() == ["INV-1", "Invoice", "Acme", "Ltd", "2026-01-15", "Accounts", "100.10", "Bob", "Ann", "client",
                                "Tax", "none", "change"]
    assert lines[2].split() == ["INV-1", "Invoice", "Acme", "Ltd", "2026-01-15", "-5", "discount", "-5.00", "Ann", "Ann",
                                "client", "none", "same"]
    assert lines[3] == "1 same, 1 change, 0 blocked, 0 locked"


def test_cli_json_and_csv(shown_db, capsys):
    assert main(["preview", "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [(r["invoice_number"], r["line_amount"], r["status"]) for r in records] == [
        ("INV-3", "20.20", "blocked"), ("INV-2", "60.00", "locked"), ("INV-1", "100.10", "change"),
        ("INV-1", "-5.00", "same")]
    assert main(["preview", "--format", "csv", "--invoice", "INV-2"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("INV-2,Invoice,'=Beta Co,2026-02-10,PAID,")


def test_cli_unknown_invoice_is_a_usage_error(shown_db, capsys):
    assert main(["preview", "--invoice", "INV-404"]) == 2
    assert "no invoice or credit note numbered 'INV-404'" in capsys.readouterr().err


# --- the page ----------------------------------------------------------------------------------

def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_preview_page_shows_totals_lines_and_filters(streamlit_app, demo_db):
    with store.connect(demo_db) as con:
        expected = preview.totals(con)
        changes = preview.totals(con, preview.Filters(line_status="change"))
        first_client, first_name = preview.clients(con)[0]
        of_client = preview.count(con, preview.Filters(contact_id=first_client))
    at = streamlit_app("pages/preview.py").run()
    assert not at.exception
    assert metrics(at) == {explain.status_words(s): f"{n:,}" for s, n in expected.items()}
    lines = at.dataframe(key="preview_lines").value
    assert len(lines) == min(sum(expected.values()), preview.PAGE_SIZE)
    # the decisive columns first (tests/test_browser.py checks they are in sight at 1400 px)
    assert list(lines.columns)[:6] == ["invoice_number", "line", "description", "tc1", "tc2", "status"]
    assert "document" in lines.columns

    at.selectbox(key="preview_line_status").set_value("change").run()
    assert not at.exception
    assert metrics(at) == {explain.status_words(s): f"{n:,}" for s, n in changes.items()}
    assert set(at.dataframe(key="preview_lines").value["status"]) == {"✎ Will change"}

    at.selectbox(key="preview_line_status").set_value(None)
    at.selectbox(key="preview_client").set_value(first_client).run()
    assert sum(int(v.replace(",", "")) for v in metrics(at).values()) == of_client
    assert set(at.dataframe(key="preview_lines").value["client_name"]) == {first_name}


def test_preview_page_expands_an_invoice_and_reports_no_match(streamlit_app, demo_db):
    at = streamlit_app("pages/preview.py").run()
    invoices = at.dataframe(key="preview_invoices").value
    first = invoices.iloc[0]
    at.session_state["preview_invoices"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert at.subheader[-1].value == f"Invoice {first['invoice_number']} · {first['client_name']}"
    assert len(at.dataframe[-1].value) == first["lines"]

    at.text_input(key="preview_invoice").input("NO-SUCH-INVOICE").run()
    assert [i.value for i in at.info][-1] == "No invoice lines match these filters."


def test_the_selected_line_is_explained_with_its_status_and_history(streamlit_app, demo_db):
    at = streamlit_app("pages/preview.py")
    at.session_state["preview_lines"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    with store.connect(demo_db) as con:
        first = preview.page(con, preview.Filters(), 1)[0]
        line = preview.line_detail(con, first["line_id"])
    assert explain.sentence(line) in [m.value for m in at.main.markdown]
    assert any(explain.status_sentence(line) in e.value for e in [*at.error, *at.warning, *at.info, *at.success])
    assert "History: no changes to this line" in " ".join(c.value for c in at.main.caption)


def test_only_the_lines_a_push_sends_are_highlighted(shown):
    rows = preview.lines(shown)
    highlighted = {(row["line_id"], slot) for row in rows for slot in (1, 2) if row[f"tc{slot}_changes"]}
    sent = {(row["line_id"], row["slot"]) for row in push.plan(shown) if row["eligible"]}
    assert highlighted == sent == {(line_id("a1"), 1)}  # not b1 (locked) nor b2 (blocked), which want changes too


@pytest.mark.parametrize(("row", "slot", "cell"), [
    ({"tc1_current_name": "Bob", "tc1_wanted_name": "Ann", "tc1_apply": True, "tc1_current_option_id": "bob",
      "tc1_wanted_option_id": "ann"}, 1, "Bob → Ann"),
    ({"tc2_current_name": None, "tc2_wanted_name": "Tax", "tc2_apply": True, "tc2_current_option_id": None,
      "tc2_wanted_option_id": "tax"}, 2, "(none) → Tax"),
    ({"tc1_current_name": "Ann", "tc1_wanted_name": "Ann", "tc1_apply": True, "tc1_current_option_id": "ann",
      "tc1_wanted_option_id": "ann"}, 1, "Ann"),
    ({"tc1_current_name": "Ann", "tc1_wanted_name": None, "tc1_apply": False, "tc1_current_option_id": "ann",
      "tc1_wanted_option_id": None}, 1, "Ann"),  # no rule: Xero's stays
])
def test_a_slot_cell_shows_now_and_wanted(row, slot, cell):
    assert preview.slot_cell(row, slot) == cell
