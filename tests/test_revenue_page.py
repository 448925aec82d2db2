"""The Revenue page in AppTest, on the hand-worked practice of tests/test_revenue.py (NZD, ex tax)."""
import json
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "revenue.py")


@pytest.fixture
def page(db_path, uncalled_xero, streamlit_caches):
    """The page on TRACKING_DB as it stands."""
    app = AppTest.from_file(PAGE, default_timeout=60)
    app.run()
    assert not app.exception
    return app


TABLES = ("ranking", "cross", "drill_clients", "drill_invoices")  # in the page's order


def table(app, name):
    return app.dataframe[TABLES.index(name)].value


def ranking(app):
    frame = table(app, "ranking")
    return dict(zip(frame["option"], frame["as_in_xero"] if app.radio(key="view").value == "xero"
                    else frame["after_rules"]))


def metric(app):
    return D(app.metric[0].value.replace(",", ""))


def chart(app):
    return json.loads(app.get("plotly_chart")[0].proto.spec)


def test_the_page_shows_the_hand_worked_figures(revenue_db, page):
    assert metric(page) == D("418.57")
    assert ranking(page) == {"Ann": D("190.00"), "Bob": D("185.71"), "Unassigned": D("42.86")}
    cross = table(page, "cross")
    assert cross.loc["Total", "Total"] == D("418.57") and cross.loc["Unassigned", "Unassigned"] == D("42.86")
    assert any("1 NZD = rate × invoice currency" in c.value for c in page.caption)
    assert any("camera button" in c.value for c in page.caption)


def test_the_chart_shows_the_ranked_options_by_month(revenue_db, page):
    traces = chart(page)["data"]
    assert [t["name"] for t in traces] == ["Ann", "Bob", "Unassigned"]
    assert traces[0]["x"] == ["2026-01", "2026-04"] and traces[0]["y"] == [150.0, 40.0]
    page.radio(key="period").set_value("quarter").run()
    assert chart(page)["data"][0]["x"] == ["2026 Q1", "2026 Q2"]


def test_both_views_side_by_side_keep_each_options_colour(revenue_db, page):
    page.toggle(key="side_by_side").set_value(True).run()
    xero, rules = (json.loads(c.proto.spec)["data"] for c in page.get("plotly_chart"))
    assert [t["name"] for t in xero] == ["Ann", "Bob", "Unassigned"]
    assert [t["name"] for t in rules] == ["Ann", "Bob", "Unassigned"]  # in the chosen view's order
    assert sum(sum(t["y"]) for t in xero) == pytest.approx(418.57) == sum(sum(t["y"]) for t in rules)
    assert {t["name"]: t["marker"]["color"] for t in xero} == {t["name"]: t["marker"]["color"] for t in rules}
    assert [t["y"] for t in rules if t["name"] == "Bob"] == [[100.0, 0.0, 100.0]]


def test_after_rules_toggle(revenue_db, page):
    page.radio(key="view").set_value("rules").run()
    assert list(ranking(page).items()) == [("Bob", D("200.00")), ("Ann", D("90.00")), ("Unassigned", D("128.57"))]
    assert table(page, "cross").loc["Bob", "Total"] == D("200.00")
    assert [t["name"] for t in chart(page)["data"]] == ["Bob", "Ann", "Unassigned"]


@pytest.mark.parametrize("widget, value, total", [
    ("statuses", ["DRAFT", "AUTHORISED", "PAID"], D("618.57")),
    ("statuses", ["PAID"], D("128.57")),
    ("currencies", ["USD"], D("128.57")),
    ("clients", ["acme"], D("250.00")),
    ("dates", (date(2026, 2, 1), date(2026, 3, 31)), D("128.57")),
])
def test_filters(revenue_db, page, widget, value, total):
    element = page.multiselect(key=widget) if widget != "dates" else page.date_input(key=widget)
    element.set_value(value).run()
    assert not page.exception
    assert metric(page) == total
    assert sum(table(page, "ranking")["as_in_xero"]) == total


def test_by_the_second_slot(revenue_db, page):
    page.radio(key="slot").set_value(2).run()
    assert ranking(page) == {"Audit": D("225.71"), "Tax": D("100.00"), "Unassigned": D("92.86")}


def test_drill_down_into_an_option(revenue_db, page):
    page.selectbox(key="drill").set_value("ann").run()
    assert table(page, "drill_clients")[["client", "amount"]].values.tolist() == [
        ["Acme Ltd", D("150.00")], ["=Beta Co", D("40.00")]]
    assert list(table(page, "drill_invoices")["number"]) == ["INV-6", "INV-1"]


def test_drill_down_into_unassigned_after_rules(revenue_db, page):
    page.radio(key="view").set_value("rules").run()
    page.selectbox(key="drill").set_value("").run()
    assert table(page, "drill_invoices")[["number", "amount"]].values.tolist() == [["INV-2", D("128.57")]]


def test_no_matching_lines_says_so(revenue_db, page):
    page.multiselect(key="statuses").set_value([]).run()
    assert not page.exception
    assert any("No invoice lines match" in i.value for i in page.info)


def test_an_empty_database_renders(db_path, page):
    assert any("No invoice lines match" in i.value for i in page.info)


def test_without_dates_undated_invoices_count(revenue_db, page):
    from core import store

    with store.connect(revenue_db) as con, store.transaction(con):
        con.execute("UPDATE invoices SET date = NULL WHERE number = 'INV-6'")
    page.run()
    assert metric(page) == D("418.57")
    assert chart(page)["data"][0]["x"][-1] == "No date"
