"""Revenue by tracking option, against the practice in conftest.REVENUE_PRACTICE worked out by hand.

Lines that count by default (AUTHORISED + PAID), in NZD ex tax:
  l1 INV-1 Jan  100.00            Ann / Tax      after rules: Bob / Tax
  l2 INV-1 Jan   50.00            Ann / -        after rules: Ann / Audit
  l3 INV-2 Feb   60.00 USD / 0.7 =  85.71  Bob / Audit   after rules: - / Audit (override "None")
  l4 INV-2 Feb   30.00 USD / 0.7 =  42.86  - / -
  l7 INV-5 Apr  115.00 incl. 15.00 tax = 100.00  Bob / Audit
  l8 INV-6 Apr   23.00 GBP incl. 3.00 tax = 20.00 / 0.5 = 40.00  Ann / Audit
  total 418.57. Never: l5 (INV-3 VOIDED, 1000.00). With drafts: l6 (INV-4 DRAFT, 200.00, Bob / Tax).
"""
from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import revenue, rules, statuses, store
from core.__main__ import main
from pages import charts
from tests import line_ids
from tests.line_ids import line_id

TOTAL = D("418.57")


@pytest.fixture
def con(revenue_db):
    with store.connect(revenue_db) as connection:
        line_ids.define(connection)
        yield connection


def ranked(con, slot, view, filters=revenue.Filters()):
    table = revenue.ranking(revenue.summary(con, filters), slot, view)
    column = "as_in_xero" if view == "xero" else "after_rules"
    return dict(zip(table["option"], table[column]))


@pytest.mark.parametrize("slot, view, expected", [
    (1, "xero", {"Ann": D("190.00"), "Bob": D("185.71"), "Unassigned": D("42.86")}),
    (1, "rules", {"Bob": D("200.00"), "Ann": D("90.00"), "Unassigned": D("128.57")}),
    (2, "xero", {"Audit": D("225.71"), "Tax": D("100.00"), "Unassigned": D("92.86")}),
    (2, "rules", {"Audit": D("275.71"), "Tax": D("100.00"), "Unassigned": D("42.86")}),
])
def test_ranking_by_hand(con, slot, view, expected):
    assert ranked(con, slot, view) == expected
    assert list(ranked(con, slot, view)) == list(expected)  # largest first, Unassigned last


def test_ranking_has_both_views_difference_and_share(con):
    table = revenue.ranking(revenue.summary(con), 1, "rules")
    assert table.to_dict("records") == [
        {"option_id": "bob", "option": "Bob", "as_in_xero": D("185.71"), "after_rules": D("200.00"),
         "difference": D("14.29"), "share_pct": D("47.8")},
        {"option_id": "ann", "option": "Ann", "as_in_xero": D("190.00"), "after_rules": D("90.00"),
         "difference": D("-100.00"), "share_pct": D("21.5")},
        {"option_id": None, "option": "Unassigned", "as_in_xero": D("42.86"), "after_rules": D("128.57"),
         "difference": D("85.71"), "share_pct": D("30.7")},
    ]


def test_money_is_decimal_and_options_add_up_to_the_lines(con):
    summary = revenue.summary(con)
    assert summary.total == TOTAL and summary.lines == 6 and summary.base_currency == "NZD"
    for slot in (1, 2):
        table = revenue.ranking(summary, slot)
        assert all(isinstance(v, D) for column in ("as_in_xero", "after_rules", "difference")
                   for v in table[column])
        assert sum(table["as_in_xero"]) == sum(table["after_rules"]) == TOTAL
        assert sum(table["difference"]) == 0


@pytest.mark.parametrize("filters, total", [
    (revenue.Filters(statuses=("DRAFT", "SUBMITTED", "AUTHORISED", "PAID")), TOTAL + D("200.00")),
    (revenue.Filters(statuses=("PAID",)), D("128.57")),
    (revenue.Filters(currencies=("USD",)), D("128.57")),
    (revenue.Filters(currencies=("NZD", "GBP")), D("290.00")),
    (revenue.Filters(contact_ids=("acme",)), D("250.00")),
    (revenue.Filters(date_from=date(2026, 2, 1), date_to=date(2026, 3, 31)), D("128.57")),
    (revenue.Filters(date_from=date(2026, 4, 2)), D("40.00")),
    (revenue.Filters(date_to=date(2026, 1, 15)), D("150.00")),
])
def test_filters(con, filters, total):
    assert revenue.summary(con, filters).total == total


def test_drafts_are_optional_and_voided_never_counts(con):
    with_drafts = revenue.Filters(statuses=statuses.REVENUE_CHOICES)
    assert ranked(con, 1, "xero", with_drafts)["Bob"] == D("385.71")
    with pytest.raises(revenue.InvalidFilter, match="not VOIDED"):
        revenue.Filters(statuses=("AUTHORISED", "VOIDED"))


def test_a_start_after_the_end_is_refused():
    with pytest.raises(revenue.InvalidFilter, match="after the end date"):
        revenue.Filters(date_from=date(2026, 2, 1), date_to=date(2026, 1, 1))


@pytest.mark.parametrize("amount, rate, base", [
    ("100.00", "1", "100.00"), ("60.00", "0.7", "85.71"), ("30.00", "0.7", "42.86"),
    ("0.03", "2", "0.02"), ("-0.03", "2", "-0.02"), ("-60.00", "0.7", "-85.71"),
    ("10.00", "0", "10.00"), ("1234567.89", "1.2345678901", "1000000.00"),
])
def test_base_amount_divides_by_the_rate_exactly(con, amount, rate, base):
    sql = "SELECT " + revenue.base_amount_sql("$amount::DECIMAL(18, 2) - 0", "$rate::DECIMAL(18, 10)")
    assert con.execute(sql, {"amount": D(amount), "rate": D(rate)}).fetchone()[0] == D(base)


@pytest.mark.parametrize("period, view, expected", [
    ("month", "xero", [("2026-01", "Ann", D("150.00")), ("2026-02", "Bob", D("85.71")),
                       ("2026-02", "Unassigned", D("42.86")), ("2026-04", "Ann", D("40.00")),
                       ("2026-04", "Bob", D("100.00"))]),
    ("quarter", "rules", [("2026 Q1", "Bob", D("100.00")), ("2026 Q1", "Ann", D("50.00")),
                          ("2026 Q1", "Unassigned", D("128.57")), ("2026 Q2", "Bob", D("100.00")),
                          ("2026 Q2", "Ann", D("40.00"))]),
])
def test_by_period(con, period, view, expected):
    table = revenue.by_period(revenue.summary(con), 1, period, view)
    column = "as_in_xero" if view == "xero" else "after_rules"
    got = [(p, o, v) for p, o, v in zip(table["period"], table["option"], table[column]) if v]
    assert got == expected
    assert (table["difference"] == table["after_rules"] - table["as_in_xero"]).all()


def test_cross_table_by_hand(con):
    table = revenue.cross_table(revenue.summary(con), "xero")
    assert table.index.name == "Partner \\ Department"
    assert list(table.columns) == ["Audit", "Tax", "Unassigned", "Total"]
    assert table.to_dict("index") == {
        "Ann": {"Audit": D("40.00"), "Tax": D("100.00"), "Unassigned": D("50.00"), "Total": D("190.00")},
        "Bob": {"Audit": D("185.71"), "Tax": D("0.00"), "Unassigned": D("0.00"), "Total": D("185.71")},
        "Unassigned": {"Audit": D("0.00"), "Tax": D("0.00"), "Unassigned": D("42.86"), "Total": D("42.86")},
        "Total": {"Audit": D("225.71"), "Tax": D("100.00"), "Unassigned": D("92.86"), "Total": TOTAL},
    }


def test_drill_down_into_an_option(con):
    clients, invoices = revenue.drill(con, revenue.Filters(), 1, "xero", "ann")
    assert clients.to_dict("records") == [
        {"contact_id": "acme", "client": "Acme Ltd", "invoices": 1, "lines": 2, "amount": D("150.00")},
        {"contact_id": "beta", "client": "=Beta Co", "invoices": 1, "lines": 1, "amount": D("40.00")}]
    assert invoices.to_dict("records") == [
        {"invoice_id": "i6", "number": "INV-6", "kind": "Invoice", "date": date(2026, 4, 2), "client": "=Beta Co",
         "status": "AUTHORISED", "currency_code": "GBP", "lines": 1, "amount": D("40.00")},
        {"invoice_id": "i1", "number": "INV-1", "kind": "Invoice", "date": date(2026, 1, 15), "client": "Acme Ltd",
         "status": "AUTHORISED", "currency_code": "NZD", "lines": 2, "amount": D("150.00")}]


def test_drill_down_into_unassigned_after_rules(con):
    clients, invoices = revenue.drill(con, revenue.Filters(), 1, "rules", None)
    assert invoices[["number", "lines", "amount", "currency_code"]].to_dict("records") == [
        {"number": "INV-2", "lines": 2, "amount": D("128.57"), "currency_code": "USD"}]
    assert clients[["client", "invoices", "amount"]].to_dict("records") == [
        {"client": "=Beta Co", "invoices": 1, "amount": D("128.57")}]


def test_drill_down_clients_add_up_to_the_option(con):
    filters = revenue.Filters(statuses=statuses.REVENUE_CHOICES)
    ranking = revenue.ranking(revenue.summary(con, filters), 2, "rules")
    for option_id, total in zip(ranking["option_id"], ranking["after_rules"]):
        clients, invoices = revenue.drill(con, filters, 2, "rules", option_id)
        assert sum(clients["amount"]) == sum(invoices["amount"]) == total


def test_an_unknown_slot_or_view_is_refused(con):
    with pytest.raises(revenue.InvalidFilter):
        revenue.drill(con, revenue.Filters(), 3, "xero", None)
    with pytest.raises(revenue.InvalidFilter):
        revenue.ranking(revenue.summary(con), 1, "wishful")


def test_figure_data_matches_the_query(con):
    summary = revenue.summary(con)
    periods = revenue.by_period(summary, 2, "month", "rules")
    colours = charts.option_colours(summary.option_names)
    fig = charts.revenue_by_period(periods, "rules", slot_name="Department", currency="NZD", colours=colours)
    assert fig.layout.barmode == "relative"
    assert [t.name for t in fig.data] == ["Audit", "Tax", "Unassigned"]
    for trace in fig.data:
        rows = periods[periods["option"] == trace.name]
        assert list(trace.x) == list(rows["period"])
        assert list(trace.y) == [float(v) for v in rows["after_rules"]]
    assert sum(sum(t.y) for t in fig.data) == pytest.approx(float(TOTAL))
    assert [t.marker.color for t in fig.data] == [colours["audit"], colours["tax"], charts.UNASSIGNED_COLOUR]


def test_each_option_keeps_one_colour_in_every_chart_and_view(con):
    summary = revenue.summary(con)
    colours = charts.option_colours(summary.option_names)
    assert len(set(colours.values())) == len(colours)
    seen = {}
    for slot in revenue.SLOTS:
        for view in revenue.VIEWS:
            fig = charts.revenue_by_period(revenue.by_period(summary, slot, "quarter", view), view, slot_name="",
                                           currency="NZD", colours=colours)
            for trace in fig.data:
                assert seen.setdefault(trace.name, trace.marker.color) == trace.marker.color
    assert seen["Unassigned"] == charts.UNASSIGNED_COLOUR


def test_csv_is_excel_safe_and_exact(con):
    clients, _ = revenue.drill(con, revenue.Filters(), 1, "xero", "ann")
    data = revenue.csv_bytes(clients)
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").splitlines() == [
        "contact_id,client,invoices,lines,amount (net of credit notes)", "acme,Acme Ltd,1,2,150.00", "beta,'=Beta Co,1,1,40.00"]
    ranking = revenue.csv_bytes(revenue.ranking(revenue.summary(con), 1, "rules"))
    assert ",Ann,190.00,90.00,-100.00,21.5" in ranking.decode("utf-8-sig")


def test_cross_table_csv_keeps_its_row_labels(con):
    data = revenue.csv_bytes(revenue.cross_table(revenue.summary(con)), index=True).decode("utf-8-sig")
    assert data.splitlines()[0] == "Partner \\ Department (net of credit notes),Audit,Tax,Unassigned,Total"
    assert data.splitlines()[-1] == "Total,225.71,100.00,92.86,418.57"


# Two credit notes on top of the hand-worked practice (NZD, ex tax):
#   c1 CN-1 AUTHORISED 2026-04-10 Acme: l9 40.00 Ann / Tax, after rules moved to Bob by a line override
#   c2 CN-2 PAID 2026-05-03 Beta, USD at 0.7: l10 14.00 / 0.7 = 20.00, Bob / Audit
#   c3 CN-3 DRAFT 2026-05-04 Acme: l11 500.00 Ann (counts only with drafts)
CREDIT_NOTES = [
    """INSERT INTO invoices (invoice_id, number, contact_id, date, status, line_amount_types, currency_code,
                             currency_rate, type, updated_utc) VALUES
        ('c1', 'CN-1', 'acme', DATE '2026-04-10', 'AUTHORISED', 'Exclusive', 'NZD', 1, 'ACCRECCREDIT', now()),
        ('c2', 'CN-2', 'beta', DATE '2026-05-03', 'PAID', 'Exclusive', 'USD', 0.7, 'ACCRECCREDIT', now()),
        ('c3', 'CN-3', 'acme', DATE '2026-05-04', 'DRAFT', 'Exclusive', 'NZD', 1, 'ACCRECCREDIT', now())""",
    """INSERT INTO invoice_lines (line_id, invoice_id, position, line_amount, tax_amount) VALUES
        (line_id('l9'), 'c1', 0, 40.00, 6.00), (line_id('l10'), 'c2', 0, 14.00, 0),
        (line_id('l11'), 'c3', 0, 500.00, 75.00)""",
    """INSERT INTO line_rules (line_id, invoice_id, contact_id, position, line_amount, invoice_status, invoice_type,
                               tc1_current_option_id, tc1_wanted_option_id, tc1_source, tc1_apply,
                               tc2_current_option_id, tc2_source, tc2_apply, status) VALUES
        (line_id('l9'), 'c1', 'acme', 0, 40.00, 'AUTHORISED', 'ACCRECCREDIT', 'ann', 'bob', 'line', true,
         'tax', 'none', false, 'change'),
        (line_id('l10'), 'c2', 'beta', 0, 14.00, 'PAID', 'ACCRECCREDIT', 'bob', NULL, 'none', false,
         'audit', 'none', false, 'locked'),
        (line_id('l11'), 'c3', 'acme', 0, 500.00, 'DRAFT', 'ACCRECCREDIT', 'ann', NULL, 'none', false,
         NULL, 'none', false, 'same')""",
]


@pytest.fixture
def credited(con):
    with store.transaction(con):
        for sql in CREDIT_NOTES:
            con.execute(sql)
    return con


@pytest.mark.parametrize("slot, view, expected", [
    (1, "xero", {"Bob": D("165.71"), "Ann": D("150.00"), "Unassigned": D("42.86")}),
    (1, "rules", {"Bob": D("140.00"), "Unassigned": D("128.57"), "Ann": D("90.00")}),
    (2, "xero", {"Audit": D("205.71"), "Tax": D("60.00"), "Unassigned": D("92.86")}),
])
def test_credit_notes_count_negative_in_both_views(credited, slot, view, expected):
    assert ranked(credited, slot, view) == expected
    assert revenue.summary(credited).total == TOTAL - D("60.00")


def test_credit_notes_count_at_their_own_date_and_status(credited):
    months = revenue.by_period(revenue.summary(credited), 1, "month", "xero")
    assert {(r["period"], r["option"]): r["as_in_xero"] for r in months.to_dict("records")
            if r["period"] >= "2026-04"} == {("2026-04", "Ann"): D("0.00"), ("2026-04", "Bob"): D("100.00"),
                                              ("2026-05", "Bob"): D("-20.00")}
    with_drafts = revenue.summary(credited, revenue.Filters(statuses=statuses.REVENUE_CHOICES))
    assert with_drafts.total == TOTAL - D("60.00") + D("200.00") - D("500.00")


def test_the_drill_down_names_credit_notes(credited):
    _, invoices = revenue.drill(credited, revenue.Filters(), 1, "xero", "bob")
    assert invoices[["number", "kind", "amount"]].to_dict("records")[:1] == [
        {"number": "CN-2", "kind": "Credit note", "amount": D("-20.00")}]


def test_an_empty_database_has_no_revenue(db_path):
    with store.connect(db_path) as con:
        summary = revenue.summary(con)
    assert summary.total == 0 and summary.base_currency == "base currency"
    assert revenue.ranking(summary, 1).empty and revenue.by_period(summary, 1).empty
    assert list(revenue.cross_table(summary).loc["Total"]) == [D("0.00")]


def test_after_rules_follows_the_real_rules_engine(con):
    """Acme's client TC1 is Bob: after `rules.refresh`, Acme's lines count for Bob."""
    with store.transaction(con):
        con.execute("INSERT INTO client_settings (contact_id, tc1_option_id) VALUES ('acme', 'bob')")
        rules.refresh(con)
    assert ranked(con, 1, "rules") == {"Bob": D("335.71"), "Unassigned": D("42.86"), "Ann": D("40.00")}
    assert ranked(con, 1, "xero") == {"Ann": D("190.00"), "Bob": D("185.71"), "Unassigned": D("42.86")}


LINE = st.tuples(
    st.decimals(min_value=-10_000, max_value=100_000, places=2, allow_nan=False, allow_infinity=False),
    st.sampled_from([D("1"), D("0.7"), D("1.2345678901"), D("0.5")]),
    st.sampled_from(["AUTHORISED", "PAID", "DRAFT", "VOIDED"]),
    st.sampled_from([None, "ann", "bob"]), st.sampled_from([None, "ann", "bob"]), st.booleans())


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINE, max_size=12))
def test_options_always_add_up_to_the_lines(con, lines):
    with store.transaction(con):
        for table in ("invoices", "invoice_lines", "line_rules"):
            con.execute(f"DELETE FROM {table}")
        for n, (amount, rate, status, current, wanted, apply) in enumerate(lines):
            con.execute("INSERT INTO invoices (invoice_id, contact_id, date, status, currency_code, "
                        "currency_rate, updated_utc) VALUES (?, 'acme', DATE '2026-01-01', ?, 'USD', ?, now())",
                        [f"i{n}", status, rate])
            con.execute("INSERT INTO invoice_lines (line_id, invoice_id, position, line_amount) VALUES (?, ?, 0, ?)",
                        [line_id(f"l{n}"), f"i{n}", amount])
            con.execute("INSERT INTO line_rules (line_id, invoice_id, contact_id, position, line_amount, "
                        "invoice_status, tc1_current_option_id, tc1_wanted_option_id, tc1_source, tc1_apply, "
                        "tc2_source, tc2_apply, status) VALUES (?, ?, 'acme', 0, ?, ?, ?, ?, 'line', ?, 'none', "
                        "false, 'same')", [line_id(f"l{n}"), f"i{n}", amount, status, current, wanted, apply])
    expected = sum(((amount / rate).quantize(D("0.01"), "ROUND_HALF_UP")
                    for amount, rate, status, *_ in lines if status in statuses.REVENUE), D("0.00"))
    summary = revenue.summary(con)
    assert summary.total == expected
    for view in revenue.VIEWS:
        table = revenue.ranking(summary, 1, view)
        assert sum(table["as_in_xero"], D(0)) == sum(table["after_rules"], D(0)) == expected
        assert sum(revenue.cross_table(summary, view).loc["Total"].iloc[:-1], D(0)) == expected


def test_moved_is_what_the_options_gain_after_rules(con):
    assert revenue.moved(revenue.ranking(revenue.summary(con), 1)) == D("100.00")  # Bob +14.29, Unassigned +85.71


def test_command_line_table(revenue_db, capsys):
    assert main(["revenue", "--by", "tc1", "--view", "rules"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("Revenue by Partner (After rules): 6 lines of AUTHORISED, PAID invoices and credit notes, "
                      "in NZD ex tax")
    assert out[1] == revenue.CREDIT_NOTES_NOTE
    assert [line.split() for line in out[2:]] == [
        ["Option", "Revenue", "NZD", "(net", "of", "credit", "notes)", "Share", "%", "Change", "after", "rules"],
        ["Bob", "200.00", "47.8", "14.29"], ["Ann", "90.00", "21.5", "-100.00"],
        ["Unassigned", "128.57", "30.7", "85.71"], ["Total", "418.57", "100.0", "0.00"]]


def test_command_line_csv_by_quarter(revenue_db, capsys):
    assert main(["revenue", "--by", "tc2", "--format", "csv", "--period", "quarter", "--drafts",
                 "--from", "2026-03-01", "--to", "2026-06-30"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Period,Option,Revenue NZD (net of credit notes),Change after rules",
        "2026 Q1,Tax,200.00,0.00", "2026 Q2,Audit,140.00,0.00"]


def test_command_line_refuses_a_start_after_the_end(revenue_db, capsys):
    assert main(["revenue", "--from", "2026-05-01", "--to", "2026-01-01"]) == 2
    assert "after the end date" in capsys.readouterr().err
