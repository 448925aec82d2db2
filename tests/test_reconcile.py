"""The dashboard's revenue against Xero's Profit and Loss, on the demo practice synced from its sandbox."""
from datetime import date
from decimal import Decimal as D

import pytest

from core import reconcile, store, sync
from core.__main__ import main
from core.xero.gateway import Gateway
from tests.conftest import config_for

MONTHS = [(date(2025 + (4 + m) // 12, (4 + m) % 12 + 1, 1)) for m in range(18)]  # May 2025 … Oct 2026


def month_end(first: date) -> date:
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo practice in a sandbox, synced into a database: (sandbox, gateway, database path)."""
    from core.sandbox import server as xero_sandbox

    box = xero_sandbox.start()
    db = tmp_path_factory.mktemp("reconcile") / "tracking.duckdb"
    gw = Gateway(config_for(box))
    sync.sync(gw, db=db, full=True)
    yield box, gw, db
    box.stop()


@pytest.mark.parametrize("slot", [1, 2])
def test_the_demo_agrees_with_xero_to_the_cent_for_every_option_and_month(demo, slot):
    box, gw, db = demo
    for first in MONTHS:
        result = reconcile.reconcile(gw, slot, first, month_end(first), db=db)
        assert result.agrees, result.table().to_string()
        assert all(row.xero == row.dashboard for row in result.rows)
        assert result.rows[-1].xero > 0


def test_the_whole_period_agrees_and_asks_xero_for_the_report_only(demo):
    box, gw, db = demo
    calls = len(gw.calls)
    result = reconcile.reconcile(gw, 1, db=db)
    assert result.date_from >= date(2025, 5, 1) and date(2026, 10, 1) <= result.date_to <= date(2026, 10, 31)
    assert result.agrees and result.rows[-1].option == "Total"
    assert [c.endpoint for c in gw.calls[calls:] if not c.is_token] == ["/Reports/ProfitAndLoss"]


@pytest.fixture
def journal(demo):
    """A manual journal moving 250.00 of income to Ben Okafor in March 2026 (taken away afterwards)."""
    box, gw, db = demo
    posted = box.add_manual_journal(date(2026, 3, 12), [
        {"AccountCode": "200", "LineAmount": -250, "Tracking": [{"Name": "Partner", "Option": "Ben Okafor"}]},
        {"AccountCode": "429", "LineAmount": 250}], narration="Accrued advisory income")
    yield posted
    box.state["ManualJournals"].clear()


def test_a_manual_journal_is_a_labelled_difference(demo, journal):
    box, gw, db = demo
    result = reconcile.reconcile(gw, 1, date(2026, 3, 1), date(2026, 3, 31), db=db)
    ben = next(row for row in result.rows if row.option == "Ben Okafor")
    assert (ben.difference, ben.explained, ben.unexplained) == (D("250.00"), D("250.00"), D("0.00"))
    assert ben.explanation == ("Xero's report also counts 1 manual journal that carry this option: "
                               "“Accrued advisory income” of 12 Mar 2026 (250.00).")
    assert [row.option for row in result.rows if row.difference] == ["Ben Okafor", "Total"]
    assert not result.unexplained and not result.agrees


def test_a_difference_nothing_explains_is_named_and_the_command_exits_1(demo, monkeypatch, capsys):
    """An invoice changed in Xero after the sync: the dashboard's copy is older than Xero's."""
    box, gw, db = demo
    invoice = next(i for i in box.state["Invoices"] if i["Type"] == "ACCREC" and i["Status"] == "AUTHORISED"
                   and i["DateString"].startswith("2026-02") and i["CurrencyCode"] == "GBP"
                   and not any(t["Name"] == "Partner" for line in i["LineItems"] for t in line["Tracking"]))
    before = [dict(line) for line in invoice["LineItems"]]

    def add_a_line(record):
        record["LineItems"].append({"Description": "Extra work", "Quantity": 1.0, "UnitAmount": 99.0,
                                    "AccountCode": "200", "TaxType": "OUTPUT2", "Tracking": []})
    box.edit_invoice(invoice["InvoiceID"], add_a_line)
    try:
        result = reconcile.reconcile(gw, 1, date(2026, 2, 1), date(2026, 2, 28), db=db)
        [row] = result.unexplained
        assert (row.option, row.difference, row.explained) == ("Unassigned", D("99.00"), D("0.00"))
        assert row.explanation == reconcile.UNEXPLAINED.format(amount="99.00")
        monkeypatch.setattr("core.connection.gateway", lambda: gw)
        monkeypatch.setenv("TRACKING_DB", str(db))
        assert main(["revenue", "--reconcile", "--from", "2026-02-01", "--to", "2026-02-28"]) == 1
        out = capsys.readouterr().out
        assert "Unassigned" in out and "99.00 is not explained" in out and "1 Partner option(s) differ" in out
    finally:
        box.edit_invoice(invoice["InvoiceID"], lambda record: record.update(LineItems=before))


def test_the_command_line_prints_the_table_and_exits_0_when_all_agree(demo, monkeypatch, capsys):
    box, gw, db = demo
    monkeypatch.setattr("core.connection.gateway", lambda: gw)
    monkeypatch.setenv("TRACKING_DB", str(db))
    assert main(["revenue", "--reconcile", "--by", "tc2", "--from", "2026-01-01", "--to", "2026-03-31"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Department: income in Xero's Profit and Loss against the dashboard's 'as in Xero' "
                               "revenue, 2026-01-01 to 2026-03-31, in GBP ex tax.")
    assert lines[1].split()[:4] == ["Option", "Xero's", "P&L", "Dashboard"]
    assert lines[-1] == "Every Department option agrees with Xero's Profit and Loss to the cent, 2026-01-01 to 2026-03-31."


def test_the_revenue_page_checks_against_xero(demo, uncalled_xero, monkeypatch, streamlit_caches):
    from streamlit.testing.v1 import AppTest

    from core import config

    box, gw, db = demo
    monkeypatch.setenv("TRACKING_DB", str(db))
    monkeypatch.setattr("core.connection.gateway", lambda: gw)  # the Xero the page calls: the demo's sandbox
    at = AppTest.from_file(str(config.ROOT / "pages" / "revenue.py"), default_timeout=120).run()
    at.date_input(key="dates").set_value((date(2026, 1, 1), date(2026, 3, 31))).run()
    at.button(key="reconcile").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == [
        "Every Partner option agrees with Xero's Profit and Loss to the cent, 2026-01-01 to 2026-03-31."]
    shown = at.dataframe[-1].value
    expected = reconcile.reconcile(gw, 1, date(2026, 1, 1), date(2026, 3, 31), db=db).table()
    assert shown.values.tolist() == expected.values.tolist()
    at.radio(key="slot").set_value(2).run()
    assert not at.success  # another question: the answer to the first is not shown for it
