"""Sync from the sandbox through the real SDK into DuckDB: rows, API calls, failures, command line."""
import copy
import math
import shutil
import socket
from decimal import Decimal

import pytest

from core import config, rules, store
from core import sync as core_sync
from core.__main__ import main
from core.sandbox import demo
from core.sync import OtherOrganisation, sync
from core.xero.errors import XeroAuthError, XeroBadResponse, XeroUnavailable
from core.xero.gateway import Gateway, parse_day
from tests.conftest import config_for

MIRROR = ("organisation", "tracking_categories", "tracking_options", "contacts", "items", "invoices",
          "invoice_lines", "line_tracking")


@pytest.fixture(scope="module")
def paging_state():
    return demo.scaled_state(2500, lines_per_invoice=(1, 2), seed=7)


@pytest.fixture
def big_sandbox(paging_state, start_sandbox):
    return start_sandbox(copy.deepcopy(paging_state))


@pytest.fixture(scope="module")
def demo_mirror(tmp_path_factory):
    """A database file holding one full sync of the demo practice (the demo is the same every time)."""
    from core.sandbox import server as sandbox_module

    path = tmp_path_factory.mktemp("mirror") / "demo.duckdb"
    box = sandbox_module.start()
    try:
        sync(Gateway(config_for(box)), db=path)
    finally:
        box.stop()
    return path


@pytest.fixture
def synced(db_path, demo_mirror):
    """A connection to a copy of the demo mirror: the state after a first sync of `sandbox`."""
    shutil.copyfile(demo_mirror, db_path)
    with store.connect(db_path) as connection:
        yield connection


def sales(box) -> list[dict]:
    return [i for i in box.state["Invoices"] if i["Type"] == "ACCREC"]


def credit_notes(box) -> list[dict]:
    return box.state.get("CreditNotes") or []


def documents(box) -> list[dict]:
    """What the mirror's `invoices` holds: sales invoices and sales credit notes."""
    return sales(box) + credit_notes(box)


def snapshot(con) -> dict[str, list]:
    return {table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall() for table in MIRROR}


def count(con, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_first_sync_mirrors_the_organisation(con, gw, sandbox):
    result = sync(gw)

    invoices, notes = sales(sandbox), credit_notes(sandbox)
    lines = [line for invoice in invoices + notes for line in invoice["LineItems"]]
    categories = [c for c in sandbox.state["TrackingCategories"] if c["Status"] != "DELETED"]
    assert result.full and notes
    assert (result.counts["invoices"], result.counts["credit_notes"], result.counts["lines"]) == (
        len(invoices), len(notes), len(lines))
    assert (count(con, "invoices"), count(con, "invoice_lines")) == (len(invoices) + len(notes), len(lines))
    assert con.execute("SELECT type, count(*) FROM invoices GROUP BY type ORDER BY type").fetchall() == [
        ("ACCREC", len(invoices)), ("ACCRECCREDIT", len(notes))]
    assert count(con, "contacts") == len(sandbox.state["Contacts"])
    assert count(con, "items") == len(sandbox.state["Items"])
    assert con.execute("SELECT category_id, status FROM tracking_categories ORDER BY position").fetchall() == [
        (c["TrackingCategoryID"], c["Status"]) for c in categories]
    assert count(con, "tracking_options") == sum(
        o["Status"] != "DELETED" for c in categories for o in c["Options"])
    assert count(con, "line_tracking") == sum(len(line.get("Tracking") or []) for line in lines)
    assert count(con, "line_rules") == len(lines)
    assert result.calls_per_entity["invoices"] == math.ceil(len(invoices) / 1000)
    assert result.calls_per_entity["credit_notes"] == math.ceil(len(notes) / 1000)
    assert result.api_calls == sum(result.calls_per_entity.values())
    assert con.execute("SELECT kind, outcome, api_calls FROM sync_runs").fetchall() == [
        ("full", "ok", result.api_calls)]


def test_an_invoice_is_mirrored_field_by_field(synced, gw, sandbox):
    invoice = next(i for i in sales(sandbox) if any(line.get("Tracking") for line in i["LineItems"]))
    row = synced.execute("SELECT number, contact_id, date, status, currency_code, total, amount_paid, "
                         "updated_utc IS NOT NULL FROM invoices WHERE invoice_id = ?", [invoice["InvoiceID"]]).fetchone()
    assert row == (invoice["InvoiceNumber"], invoice["Contact"]["ContactID"], parse_day(invoice["Date"]),
                   invoice["Status"], invoice["CurrencyCode"], Decimal(str(invoice["Total"])),
                   Decimal(str(invoice.get("AmountPaid", 0))).quantize(Decimal("0.01")), True)
    lines = synced.execute("SELECT line_id::VARCHAR, line_amount FROM invoice_lines WHERE invoice_id = ? "
                           "ORDER BY position",
                           [invoice["InvoiceID"]]).fetchall()
    assert lines == [(line["LineItemID"], Decimal(str(line["LineAmount"])).quantize(Decimal("0.01")))
                     for line in invoice["LineItems"]]
    tagged = next(line for line in invoice["LineItems"] if line.get("Tracking"))
    assert synced.execute("SELECT category_id, option_id, category_name, option_name FROM line_tracking "
                          "WHERE line_id = ? ORDER BY category_id", [tagged["LineItemID"]]).fetchall() == sorted(
        (t["TrackingCategoryID"], t["TrackingOptionID"], t["Name"], t["Option"]) for t in tagged["Tracking"])


def test_a_sync_with_nothing_changed_takes_one_call_per_entity(synced, gw):
    before = snapshot(synced)

    result = sync(gw)

    assert not result.full
    assert result.calls_per_entity == dict.fromkeys(
        ("organisation", "tracking_categories", "contacts", "items", "invoices", "credit_notes"), 1)
    assert (result.api_calls, result.counts["invoices"], result.counts["credit_notes"]) == (6, 0, 0)
    assert snapshot(synced) == before


def test_more_than_a_thousand_invoices_are_read_a_page_at_a_time(con, big_sandbox):
    progress = []
    result = sync(Gateway(config_for(big_sandbox)), progress=lambda *report: progress.append(report))

    assert result.calls_per_entity["invoices"] == 3
    assert count(con, "invoices") == len(sales(big_sandbox))
    assert [p for p in progress if p[0] == "invoices"] == [
        ("invoices", 1000, 2500), ("invoices", 2000, 2500), ("invoices", 2500, 2500)]


def test_an_invoice_edited_in_xero_shows_up_with_its_lines_replaced(synced, gw, sandbox):
    invoice = next(i for i in sales(sandbox) if len(i["LineItems"]) >= 2)
    dropped = invoice["LineItems"][-1]["LineItemID"]

    def edit(record):
        record["LineItems"].pop()
        record["LineItems"][0]["Tracking"] = []
        record["LineItems"].append({"Description": "Added in Xero", "Quantity": 1, "UnitAmount": 10,
                                    "AccountCode": "200", "TaxType": "NONE"})
    edited = sandbox.edit_invoice(invoice["InvoiceID"], edit)

    result = sync(gw)

    assert result.counts["invoices"] == 1 and result.calls_per_entity["invoices"] == 1
    assert synced.execute("SELECT line_id::VARCHAR FROM invoice_lines WHERE invoice_id = ? ORDER BY position",
                          [invoice["InvoiceID"]]).fetchall() == [(line["LineItemID"],) for line in edited["LineItems"]]
    assert count(synced, "invoice_lines") == sum(len(i["LineItems"]) for i in documents(sandbox))
    assert synced.execute("SELECT count(*) FROM line_tracking WHERE line_id IN (?, ?)",
                          [dropped, edited["LineItems"][0]["LineItemID"]]).fetchone()[0] == 0
    assert synced.execute("SELECT total FROM invoices WHERE invoice_id = ?", [invoice["InvoiceID"]]).fetchone()[0] == \
        Decimal(str(edited["Total"]))
    assert count(synced, "line_rules") == count(synced, "invoice_lines")


def test_a_credit_note_is_mirrored_beside_the_invoices(synced, sandbox):
    allocated = next(n for n in credit_notes(sandbox) if n["Allocations"] and n["Status"] == "AUTHORISED")
    row = synced.execute("SELECT type, number, date, status, total, amount_paid, amount_credited, remaining_credit, "
                         "has_allocations FROM invoices WHERE invoice_id = ?", [allocated["CreditNoteID"]]).fetchone()
    assert row == ("ACCRECCREDIT", allocated["CreditNoteNumber"], parse_day(allocated["Date"]), "AUTHORISED",
                   Decimal(str(allocated["Total"])), Decimal("0.00"),
                   Decimal(str(allocated["Allocations"][0]["Amount"])), Decimal(str(allocated["RemainingCredit"])), True)
    assert synced.execute("SELECT DISTINCT invoice_type, status, reason FROM line_rules WHERE invoice_id = ?",
                          [allocated["CreditNoteID"]]).fetchall() == [
        ("ACCRECCREDIT", "locked", f"Credit note has {row[6]} allocated to invoices and cannot be edited")]


def test_a_credit_note_changed_in_xero_comes_with_the_next_sync(synced, gw, sandbox):
    note = next(n for n in credit_notes(sandbox) if n["Status"] == "AUTHORISED" and not n["Allocations"]
                and not n["Payments"])
    line = note["LineItems"][0]
    gw.update_credit_notes([{"CreditNoteID": note["CreditNoteID"], "LineAmountTypes": note["LineAmountTypes"],
                             "LineItems": [{**{k: v for k, v in line.items() if k != "Tracking"}, "Tracking": []}]}],
                           idempotency_key="sync-test")
    result = sync(gw)
    assert (result.counts["invoices"], result.counts["credit_notes"]) == (0, 1)
    assert synced.execute("SELECT count(*) FROM line_tracking WHERE line_id = ?", [line["LineItemID"]]).fetchone() == (0,)


@pytest.mark.parametrize("status", ["VOIDED", "DELETED"])
def test_voided_and_deleted_invoices_are_reflected(synced, gw, sandbox, status):
    invoice = next(i for i in sales(sandbox) if i["Status"] in ("DRAFT", "AUTHORISED") and not i.get("AmountPaid"))
    sandbox.edit_invoice(invoice["InvoiceID"], lambda record: record.update(Status=status))
    sync(gw)
    assert synced.execute("SELECT status FROM invoices WHERE invoice_id = ?",
                          [invoice["InvoiceID"]]).fetchone() == (status,)
    assert synced.execute("SELECT DISTINCT invoice_status, status FROM line_rules WHERE invoice_id = ?",
                          [invoice["InvoiceID"]]).fetchall() == [(status, "locked")]


def test_a_failure_half_way_leaves_the_earlier_mirror_unchanged(synced, gw, sandbox):
    before = snapshot(synced)
    sandbox.edit_invoice(sales(sandbox)[0]["InvoiceID"], lambda record: record.update(Status="VOIDED"))
    sandbox.fail_next(500, times=10, path="/Invoices")

    with pytest.raises(XeroUnavailable, match="Xero kept failing"):
        sync(gw)

    assert snapshot(synced) == before
    assert synced.execute("SELECT outcome, message LIKE 'Xero kept failing%' FROM sync_runs ORDER BY started_at DESC "
                          "LIMIT 1").fetchone() == ("failed", True)


def test_a_first_sync_that_fails_writes_no_mirror(con, gw, sandbox):
    sandbox.fail_next(503, times=10, path="/Invoices")
    with pytest.raises(XeroUnavailable):
        sync(gw)
    assert all(rows == [] for rows in snapshot(con).values())
    assert count(con, "sync_state") == 0


def test_rate_limits_transient_errors_and_expired_tokens_are_ridden_out(synced, gw, sandbox, sleeps):
    gw.organisation()
    sandbox.expire_tokens()
    sandbox.fail_next(429, retry_after=5, path="/Contacts")
    sandbox.fail_next(503, path="/Invoices")

    result = sync(gw)

    assert sleeps == [5, 1]
    assert result.counts["invoices"] == 0
    assert [c.endpoint for c in gw.calls].count("/connect/token") == 2


def test_an_unknown_status_or_currency_does_not_lose_the_page(con, gw, sandbox):
    first, second = sales(sandbox)[:2]
    sandbox.edit_invoice(first["InvoiceID"], lambda record: record.update(Status="ARCHIVED"))
    sandbox.edit_invoice(second["InvoiceID"], lambda record: record.update(CurrencyCode="XYZ"))
    sync(gw)
    assert count(con, "invoices") == len(documents(sandbox))
    assert con.execute("SELECT status FROM invoices WHERE invoice_id = ?", [first["InvoiceID"]]).fetchone() == (
        "ARCHIVED",)
    assert con.execute("SELECT currency_code FROM invoices WHERE invoice_id = ?",
                       [second["InvoiceID"]]).fetchone() == ("XYZ",)


def test_wrong_credentials_write_nothing(con, sandbox):
    with pytest.raises(XeroAuthError):
        sync(Gateway(config_for(sandbox, client_secret="wrong")))
    assert count(con, "invoices") == 0 and count(con, "sync_state") == 0


# --- the command line ------------------------------------------------------------------------

@pytest.fixture
def xero_environment(monkeypatch, tmp_path, db_path):
    """Point the command line at a Xero: `xero_environment(api_url, identity_url, client_id, secret)`."""
    monkeypatch.setattr(config, "SECRETS_FILE", tmp_path / "no-secrets.toml")

    def point(api_url, identity_url, client_id, client_secret):
        for name, value in (("XERO_CLIENT_ID", client_id), ("XERO_CLIENT_SECRET", client_secret),
                            ("XERO_API_URL", api_url), ("XERO_IDENTITY_URL", identity_url)):
            monkeypatch.setenv(name, value)
    return point


def test_the_sync_command_prints_a_one_line_summary(xero_environment, sandbox, db_path, capsys):
    xero_environment(sandbox.api_url, sandbox.identity_url, sandbox.client_id, sandbox.client_secret)

    assert main(["sync"]) == 0
    first = capsys.readouterr().out
    assert main(["sync", "--full"]) == 0
    again = capsys.readouterr().out

    invoices, notes = len(sales(sandbox)), len(credit_notes(sandbox))
    assert first.startswith(f"Synced {invoices:,} invoices and {notes:,} credit notes (") and first.count("\n") == 1
    assert "API calls" in first and again.startswith(f"Synced {invoices:,} invoices")
    with store.connect(db_path) as con:
        assert con.execute("SELECT kind FROM sync_runs ORDER BY started_at").fetchall() == [("full",), ("full",)]


def test_the_sync_command_refuses_wrong_credentials_with_exit_2(xero_environment, sandbox, db_path, capsys):
    xero_environment(sandbox.api_url, sandbox.identity_url, sandbox.client_id, "wrong-secret")
    assert main(["sync"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Xero refused the client id/secret") and err.count("\n") == 1
    assert "wrong-secret" not in err
    with store.connect(db_path) as con:
        assert count(con, "invoices") == 0


def test_the_sync_command_names_an_unreachable_xero_with_exit_2(xero_environment, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    xero_environment(url + "/api.xro/2.0", url, "id", "secret")
    assert main(["sync"]) == 2
    assert capsys.readouterr().err.startswith(f"error: Could not reach Xero at {url}")


def test_the_sync_command_reports_a_malformed_response_with_exit_2(xero_environment, sandbox, db_path, capsys):
    xero_environment(sandbox.api_url, sandbox.identity_url, sandbox.client_id, sandbox.client_secret)
    sandbox.fail_next(200, path="/Invoices")
    assert main(["sync"]) == 2
    assert capsys.readouterr().err == ("error: Xero's response to /Invoices has no list of Invoices. Nothing from "
                                       "this sync was saved: the database still holds the last complete sync. Run "
                                       "it again later.\n")
    with store.connect(db_path) as con:
        assert count(con, "invoices") == 0 and count(con, "contacts") == 0


def test_an_invoice_edited_while_xero_pages_comes_twice_is_kept_once_and_nothing_is_missed(con, big_sandbox):
    gw = Gateway(config_for(big_sandbox))
    sync(gw)
    invoices = sales(big_sandbox)
    for invoice in invoices[:1500]:
        if invoice is not invoices[10]:
            big_sandbox.edit_invoice(invoice["InvoiceID"], lambda record: record.update(Reference="batch"))

    repeated = invoices[1000]["InvoiceID"]  # last on page 1, until invoice 10 joins the list before it
    con.execute("DELETE FROM line_tracking WHERE line_id IN (SELECT line_id FROM invoice_lines WHERE invoice_id = ?)",
                [repeated])
    con.execute("DELETE FROM invoice_lines WHERE invoice_id = ?", [repeated])
    con.execute("DELETE FROM invoices WHERE invoice_id = ?", [repeated])  # so it is new to the mirror

    def edit_during_paging(entity, done, total):
        if (entity, done) == ("invoices", 1000):
            big_sandbox.edit_invoice(invoices[10]["InvoiceID"], lambda record: record.update(Status="VOIDED"))
    during = sync(gw, progress=edit_during_paging)
    after = sync(gw)

    assert (during.counts["invoices"], after.counts["invoices"]) == (1500, 1)
    assert count(con, "invoices") == len(invoices)
    assert count(con, "invoice_lines") == sum(len(i["LineItems"]) for i in sales(big_sandbox))
    assert con.execute("SELECT status FROM invoices WHERE invoice_id = ?",
                       [invoices[10]["InvoiceID"]]).fetchone() == ("VOIDED",)


# --- one organisation per database -------------------------------------------------------------

@pytest.fixture
def other_sandbox(start_sandbox):
    """A sandbox serving another organisation (its own id, name, contacts and invoices)."""
    state = demo.scaled_state(20, lines_per_invoice=1, seed=3)
    state["Organisation"] = {**state["Organisation"], "OrganisationID": "0a7e0000-0000-4000-8000-00000000acme",
                             "Name": "Acme Ltd"}
    return start_sandbox(state)


def database_state(con) -> tuple:
    return (store.data_version(con), snapshot(con), con.execute("SELECT * FROM sync_state ORDER BY ALL").fetchall(),
            con.execute("SELECT * FROM sync_runs ORDER BY ALL").fetchall(),
            con.execute("SELECT * FROM line_rules ORDER BY ALL").fetchall())


@pytest.mark.parametrize("full", [False, True])
def test_a_sync_from_another_organisation_is_refused_and_writes_nothing(synced, sandbox, other_sandbox, full):
    before = database_state(synced)
    gw = Gateway(config_for(other_sandbox))

    with pytest.raises(OtherOrganisation) as refused:
        sync(gw, full=full)

    held = sandbox.state["Organisation"]["Name"]
    assert str(refused.value).startswith(f"This database holds the data of ‘{held}’, but the connection to Xero is "
                                         "to ‘Acme Ltd’. Nothing was synced. To work with Acme Ltd, start the app "
                                         "with a database file of its own (set TRACKING_DB=")
    assert database_state(synced) == before
    assert [call.endpoint for call in gw.calls if call.endpoint != "/connect/token"] == ["/Organisation"]


def test_the_same_organisation_still_syncs_after_a_refusal(synced, gw, sandbox, other_sandbox):
    with pytest.raises(OtherOrganisation):
        sync(Gateway(config_for(other_sandbox)))
    sandbox.edit_invoice(sales(sandbox)[0]["InvoiceID"], lambda record: record.update(Reference="edited"))

    result = sync(gw)

    assert (result.full, result.counts["invoices"]) == (False, 1)
    assert synced.execute("SELECT outcome FROM sync_runs").fetchall() == [("ok",), ("ok",)]


def test_the_sync_command_refuses_another_organisation_with_exit_2(xero_environment, sandbox, other_sandbox,
                                                                    db_path, capsys):
    xero_environment(sandbox.api_url, sandbox.identity_url, sandbox.client_id, sandbox.client_secret)
    assert main(["sync"]) == 0
    capsys.readouterr()
    with store.connect(db_path) as con:
        before = database_state(con)

    xero_environment(other_sandbox.api_url, other_sandbox.identity_url, other_sandbox.client_id,
                     other_sandbox.client_secret)
    assert main(["sync"]) == 2

    err = capsys.readouterr().err
    held = sandbox.state["Organisation"]["Name"]
    assert err.startswith(f"error: This database holds the data of ‘{held}’, but the connection to Xero is to "
                          "‘Acme Ltd’. Nothing was synced.") and err.count("\n") == 1
    with store.connect(db_path) as con:
        assert database_state(con) == before


def line_rules(con) -> list[tuple]:
    return con.execute("SELECT * EXCLUDE (description), description FROM line_rules ORDER BY ALL").fetchall()


def decided_here(con) -> list[tuple]:
    """The rules as the database itself decides them now."""
    with store.transaction(con):
        rules.refresh(con)
    return line_rules(con)


def test_a_full_sync_decides_every_line_as_the_database_would(synced, gw, sandbox):
    demo.seed_settings(synced, sandbox.state)
    invoice = next(i for i in sales(sandbox) if i["Status"] == "DRAFT")
    sandbox.edit_invoice(invoice["InvoiceID"], lambda record: record["LineItems"][0].update(Tracking=[]))
    sync(gw, full=True)
    assert synced.execute("SELECT count(*) FROM line_rules WHERE tc1_source = 'client'").fetchone()[0] > 0
    assert line_rules(synced) == decided_here(synced)


def test_settings_changed_while_xero_is_read_are_what_the_full_sync_decides_with(synced, gw, sandbox, monkeypatch):
    demo.seed_settings(synced, sandbox.state)
    decided_here(synced)
    invoice = next(i for i in sales(sandbox) if i["Status"] == "DRAFT")
    sandbox.edit_invoice(invoice["InvoiceID"], lambda record: record["LineItems"][0].update(Tracking=[]))
    read_all = core_sync._read_all

    def read_then_clear_every_client_tc1(*args):
        read = read_all(*args)
        with store.connect(synced_path(synced)) as con, store.transaction(con):
            con.execute("UPDATE client_settings SET tc1_option_id = NULL")
            rules.refresh(con)
        return read

    monkeypatch.setattr(core_sync, "_read_all", read_then_clear_every_client_tc1)
    sync(gw, full=True)
    assert synced.execute("SELECT count(*) FROM line_rules WHERE tc1_source = 'client'").fetchone()[0] == 0
    assert line_rules(synced) == decided_here(synced)


def test_two_lines_with_one_id_are_refused_and_the_mirror_is_kept(synced, gw, sandbox):
    before = snapshot(synced)
    first, second = [i for i in sales(sandbox) if i["Status"] == "DRAFT"][:2]
    repeated = first["LineItems"][0]["LineItemID"]
    sandbox.edit_invoice(second["InvoiceID"], lambda record: record["LineItems"][0].update(LineItemID=repeated))
    with pytest.raises(XeroBadResponse, match=f"contradict each other: two invoice lines with the key {repeated}"):
        sync(gw, full=True)
    assert snapshot(synced) == before


def test_a_line_id_that_is_not_a_guid_is_refused_in_one_line_and_the_mirror_is_kept(synced, gw, sandbox):
    before = snapshot(synced)
    draft = next(i for i in sales(sandbox) if i["Status"] == "DRAFT")
    sandbox.edit_invoice(draft["InvoiceID"], lambda record: record["LineItems"][0].update(LineItemID="line-1"))
    with pytest.raises(XeroBadResponse) as refused:
        sync(gw)
    assert str(refused.value) == ("Xero sent invoice lines we cannot read: "
                                  "Conversion Error: Could not convert string 'line-1' to UUID")
    assert snapshot(synced) == before


def synced_path(con) -> str:
    return con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
