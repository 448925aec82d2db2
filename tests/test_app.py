"""The shell in demo mode: app.py and its default page, Overview, Settings, the sidebar's Sync."""
from datetime import date

import pytest

from core import config, connection, overview, slots, store, ui


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def test_first_start_fills_the_demo_and_lands_on_the_overview(demo_mode, db_path, streamlit_caches):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(config.ROOT / "app.py"), default_timeout=180).run()

    assert not at.exception
    assert texts(at.title) == ["Overview"]
    assert ui.DEMO_BANNER in texts(at.info)
    with store.connect(db_path) as con:
        synced = overview.synced(con)
        assert synced.invoices > 1000
        assert con.execute("SELECT count(*) FROM client_settings").fetchone()[0] > 0
    assert texts(at.metric)[3:5] == [f"{synced.invoices:,}", f"{synced.lines:,}"]
    assert texts(at.sidebar.markdown)[0] == f"**{connection.DEMO_LABEL}**"
    assert any(text.startswith("Last sync: ") for text in texts(at.sidebar.caption))


def test_the_sidebar_holds_the_apps_menu_by_section(streamlit_app):
    at = streamlit_app("app.py").run()

    sections = list(dict.fromkeys(section for *_, section in ui.PAGES))
    assert texts(at.sidebar.caption)[:len(sections)] == sections
    assert [link.label for link in at.sidebar.page_link] == [title for _, title, _, _ in ui.PAGES]


@pytest.mark.parametrize(("file", "title"), [(file, title) for file, title, _, _ in ui.PAGES])
def test_every_page_opened_straight_from_a_link_has_the_frame(streamlit_app, file, title):
    """A cold deep link runs the page file without app.py: its own guard draws banner, sidebar and title."""
    at = streamlit_app(file).run()

    assert not at.exception
    assert texts(at.title) == [title]
    assert ui.DEMO_BANNER in texts(at.info)
    assert at.sidebar.button(key="sidebar_sync")
    sections = list(dict.fromkeys(section for *_, section in ui.PAGES))
    assert [text for text in texts(at.sidebar.caption) if text in sections] == sections


def test_overview_counts_lines_per_option_and_links_what_needs_attention(streamlit_app, demo_db):
    at = streamlit_app("app.py").run()

    assert not at.exception
    with store.connect(demo_db) as con:
        attention = overview.attention(con)
        partner = overview.lines_per_option(con, 1)
        assert partner["lines"].sum() == overview.synced(con).lines
    assert attention.lines_to_change > 0
    assert any(f"{attention.lines_to_change:,} lines" in text for text in texts(at.markdown))
    assert [(link.label, link.page) for link in at.page_link if link.label != "See those lines in the Preview"][:2] == [
        ("Preview them", "preview"), ("See why", "preview")]
    tables = at.dataframe[2:]  # after the revenue of each slot
    assert len(tables) == 2
    assert tables[0].value["lines"].tolist() == partner["lines"].tolist()


def test_overview_opens_with_money_by_option_against_the_period_before(streamlit_app, demo_db):
    at = streamlit_app("app.py")
    at.run()
    at.date_input(key="overview_today").set_value(date(2026, 10, 20)).run()
    assert not at.exception
    with store.connect(demo_db) as con:
        money = overview.money(con, date(2026, 10, 20))
    assert texts(at.metric)[:3] == [f"{now:,}" for now, _ in money.totals()]
    assert [m.proto.delta for m in at.metric[:3]] == [f"{now - before:+,}" for now, before in money.totals()]
    assert money.totals(1) == money.totals(2) and money.totals()[2][0] > money.totals()[0][0] > 0
    for slot, frame in zip(slots.SLOTS, (at.dataframe[n].value for n in range(2))):
        assert sum(frame["now_2"]) == money.totals(slot)[2][0]
        assert list(frame["option"])[-1] == "Unassigned"
    links = [link for link in at.page_link if link.label == "See those lines in the Preview"]
    assert [(link.page, dict(link.proto.query_string and [kv.split("=") for kv in link.proto.query_string.split("&")]))
            for link in links][:1] == [("preview", {"unassigned": "1", "from": "2026-01-01", "to": "2026-10-20"})]
    at.segmented_control(key="overview_period").set_value(0).run()
    month = at.dataframe[0].value
    assert list(month.columns) == ["option", "now_0", "before_0"]
    assert (sum(month["now_0"]), sum(month["before_0"])) == money.totals(1)[0]


def test_the_unassigned_link_opens_the_preview_on_those_lines(streamlit_app, demo_db):
    from core import preview

    at = streamlit_app("pages/preview.py")
    at.query_params.update({"unassigned": "2", "from": "2026-01-01", "to": "2026-06-30"})
    at.run()
    assert not at.exception
    assert at.selectbox(key="preview_unassigned").value == 2
    wanted = preview.Filters(date_from=date(2026, 1, 1), date_to=date(2026, 6, 30), unassigned_in=2)
    with store.connect(demo_db) as con:
        expected = preview.totals(con, wanted)
        lines = con.execute("SELECT count(*) FROM line_rules WHERE invoice_status IN ('AUTHORISED', 'PAID') AND "
                            "tc2_current_option_id IS NULL AND invoice_date BETWEEN DATE '2026-01-01' AND "
                            "DATE '2026-06-30'").fetchone()[0]
    assert sum(expected.values()) == lines > 0
    assert [m.value for m in at.metric] == [f"{n:,}" for n in expected.values()]


def test_settings_shows_the_demo_connection_and_the_default_slot_map(streamlit_app):
    at = streamlit_app("pages/settings.py").run()

    assert not at.exception
    assert texts(at.title) == ["Settings"]
    assert "Demo organisation on the local Xero sandbox" in at.markdown[0].value
    with store.connect() as con:
        current = slots.current(con)
    assert [(box.label, box.value) for box in at.selectbox][:2] == [
        ("Tracking Category 1", current[1]), ("Tracking Category 2", current[2])]


def test_settings_refuses_the_same_category_in_both_slots(streamlit_app, demo_db):
    at = streamlit_app("pages/settings.py").run()
    first = at.selectbox[0].value

    at.selectbox[1].set_value(first)
    at.button(key="FormSubmitter:slot_map-Save").click().run()

    assert not at.exception
    assert len(at.error) == 1
    assert "Tracking Category 1 and Tracking Category 2 must be different categories" in at.error[0].value
    with store.connect(demo_db) as con:
        assert con.execute("SELECT count(*) FROM change_log WHERE entity = 'slot'").fetchone()[0] == 0


def test_settings_swaps_the_slots(streamlit_app, demo_db):
    at = streamlit_app("pages/settings.py").run()
    tc1, tc2 = at.selectbox[0].value, at.selectbox[1].value

    at.selectbox[0].set_value(tc2)
    at.selectbox[1].set_value(tc1)
    at.button(key="FormSubmitter:slot_map-Save").click().run()

    assert not at.exception
    assert texts(at.success)[0].startswith("Saved: Tracking Category 1 is ")
    with store.connect(demo_db) as con:
        assert slots.current(con) == {1: tc2, 2: tc1}
        assert con.execute("SELECT DISTINCT o.category_id FROM line_rules r "  # the rules now read slot 1 there
                           "JOIN tracking_options o ON o.option_id = r.tc1_current_option_id").fetchall() == [(tc2,)]


def test_settings_says_when_xero_has_only_one_active_category(streamlit_app, demo_db):
    with store.connect(demo_db) as con:
        second = slots.active_categories(con)[1]
        con.execute("UPDATE tracking_categories SET status = 'ARCHIVED' WHERE category_id = ?", [second.category_id])

    at = streamlit_app("pages/settings.py").run()

    assert not at.exception
    assert any("only one active tracking category" in text for text in texts(at.warning))
    assert not at.selectbox
    assert at.button(key="settings_sync")


def test_sidebar_sync_shows_progress_and_counts(streamlit_app):
    at = streamlit_app("app.py").run()

    at.sidebar.button(key="sidebar_sync").click().run()

    assert not at.exception
    status = at.sidebar.status[0]
    assert (status.label, status.state) == ("Synced with Xero", "complete")
    assert status.progress[0].value == 100
    assert status.markdown[0].value.startswith("Synced 0 invoices and 0 credit notes (0 lines)")  # nothing changed


def test_a_failed_sync_is_said_in_plain_words(streamlit_app):
    at = streamlit_app("app.py").run()
    connection.demo_sandbox().fail_next(403, times=5)

    at.sidebar.button(key="sidebar_sync").click().run()

    assert not at.exception
    status = at.sidebar.status[0]
    assert (status.label, status.state) == ("Sync failed", "error")
    assert "Xero" in status.error[0].value


def test_half_configured_credentials_are_named_on_the_page_not_a_traceback(streamlit_app, monkeypatch):
    monkeypatch.setenv("XERO_CLIENT_ID", "an-id-without-its-secret")

    at = streamlit_app("pages/settings.py").run()

    assert not at.exception
    assert texts(at.title) == ["Settings"]
    assert any("Set both XERO_CLIENT_ID and XERO_CLIENT_SECRET" in text for text in texts(at.error))
    assert ui.DEMO_BANNER not in texts(at.info)
