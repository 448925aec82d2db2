"""The partner pack, opened with openpyxl and checked against the Revenue page's figures (hand-worked practice)."""
from decimal import Decimal as D

import openpyxl
import pytest

from core import pack, revenue, store
from core.__main__ import main
from tests.test_revenue_page import metric, page, table  # noqa: F401 (page is a fixture)

CENT = D("0.01")


def money(value) -> D:
    assert isinstance(value, (int, float)), f"{value!r} is not a number"
    return D(str(value)).quantize(CENT)


@pytest.fixture
def workbook(revenue_db, tmp_path, capsys):
    path = tmp_path / "pack.xlsx"
    assert main(["revenue", "--pack", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"Wrote the partner pack to {path}: 6 lines, 418.57 NZD")
    with store.connect(revenue_db) as con:
        names = pack.sheet_names(revenue.summary(con))
    return openpyxl.load_workbook(path, data_only=True), openpyxl.load_workbook(path), names


def rows(sheet) -> list[list]:
    return [[cell.value for cell in row] for row in sheet.iter_rows() if any(c.value is not None for c in row)]


def test_the_sheets(workbook):
    book, _, names = workbook
    assert book.sheetnames == list(names.values()) == [
        "About", "Ranking Partner", "Ranking Department", "Partner months, in Xero", "Partner months, after rules",
        "Department months, in Xero", "Department months, after rules", "Cross table, in Xero",
        "Cross table, after rules"]
    about = dict((label, value) for label, value in rows(book["About"])[1:])
    assert about["Credit notes"] == revenue.CREDIT_NOTES_NOTE and money(about["Total revenue"]) == D("418.57")


@pytest.mark.parametrize("slot", [1, 2])
def test_the_ranking_matches_the_page(workbook, page, slot):  # noqa: F811
    book, formulas, names = workbook
    page.radio(key="slot").set_value(slot).run()
    shown = table(page, "ranking")
    sheet = rows(book[names[f"ranking {slot}"]])
    assert [r[0] for r in sheet[1:-1]] == list(shown["option"])
    assert [[money(v) for v in r[1:4]] for r in sheet[1:-1]] == shown[
        ["as_in_xero", "after_rules", "difference"]].values.tolist()
    assert [money(v) for v in sheet[-1][1:3]] == [metric(page)] * 2
    total = formulas[names[f"ranking {slot}"]].cell(len(sheet), 2)
    assert total.value == f"=SUM(B2:B{len(sheet) - 1})" and "NZD" in total.number_format


def test_the_cross_table_matches_the_page(workbook, page):  # noqa: F811
    book, _, names = workbook
    for view in revenue.VIEWS:
        page.radio(key="view").set_value(view).run()
        shown = table(page, "cross")
        sheet = rows(book[names[f"cross {view}"]])
        assert sheet[0] == [shown.index.name, *shown.columns]
        assert {r[0]: [money(v) for v in r[1:]] for r in sheet[1:]} == {
            label: list(values) for label, values in shown.iterrows()}


@pytest.mark.parametrize("slot", [1, 2])
@pytest.mark.parametrize("view", list(revenue.VIEWS))
def test_months_add_up_to_the_page_and_carry_a_native_chart(workbook, page, slot, view):  # noqa: F811
    book, _, names = workbook
    sheet = book[names[f"months {slot} {view}"]]
    cells = rows(sheet)
    assert [r[0] for r in cells[1:]] == ["2026-01", "2026-02", "2026-04", "Total"]
    assert money(cells[-1][-1]) == metric(page)
    assert all(money(r[-1]) == sum(money(v) for v in r[1:-1]) for r in cells[1:])
    [chart] = sheet._charts
    assert chart.tagname == "barChart" and chart.grouping == "stacked" and len(chart.series) == len(cells[0]) - 2


def test_a_pack_needs_an_xlsx_name(revenue_db, tmp_path, capsys):
    assert main(["revenue", "--pack", str(tmp_path / "pack.csv")]) == 2
    assert "name it something.xlsx" in capsys.readouterr().err


def test_the_page_offers_the_pack(revenue_db, page):  # noqa: F811
    assert "Download the partner pack (Excel)" in [b.proto.label for b in page.get("download_button")]
