"""AppTest of the Clients, Services, Team and History pages on the hand-made EDIT_PRACTICE.

A grid row is selected by seeding the grid's selection (what a click does in the browser, docs/architecture.md, "Streamlit facts");
its form's fields are then set and Save is clicked as a person would.
"""
import pytest

from core import access, edits, settings_tables, store
from tests.line_ids import line_id

PERSON = access.LOCAL_USER.who


@pytest.fixture
def practice_db(edit_practice_db, uncalled_xero, streamlit_caches):
    """EDIT_PRACTICE, the pages skipping the demo organisation."""
    return edit_practice_db


def app(name: str):
    from streamlit.testing.v1 import AppTest

    from core import config

    return AppTest.from_file(str(config.ROOT / "pages" / f"{name}.py"), default_timeout=60)


@pytest.fixture
def page(practice_db):
    """`page(name)`: pages/<name>.py run once."""
    def load(name: str):
        at = app(name).run()
        assert not at.exception
        return at

    return load


def select(at, grid: str, row: int):
    """Select a row of a grid (what a click on its row does in the browser), and run."""
    at.session_state[grid] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return at.run()


@pytest.fixture
def form(practice_db):
    """`form(name, grid, row)`: pages/<name>.py with that grid row selected, its form open."""
    def open_form(name: str, grid: str, row: int):
        at = select(app(name), grid, row)
        assert not at.exception
        return at

    return open_form


def db():
    return store.connect()


def log(con):
    return con.execute("SELECT changed_by, source, entity, entity_id, field, old_value, new_value "
                       "FROM change_log ORDER BY change_id").fetchall()


# --- clients ----------------------------------------------------------------------------------

def test_the_client_form_saves_its_fields_and_marks_them_until_saved(form, wanted):
    at = form("clients", "clients_grid", 0)  # Acme Ltd
    assert at.subheader[0].value == "Edit client: Acme Ltd"
    assert [(box.label, box.value) for box in at.selectbox] == [
        ("Client owner", "Ann Smith"), ("Tracking Category 1 (Partner)", "Ann"),
        ("Tracking Category 2 (Department)", "None")]
    assert at.button(key="client_form_save").disabled and not at.warning

    at.selectbox(key="client_form_acme_owner_id").select("Bob Jones")
    at.selectbox(key="client_form_acme_tc2_option_id").select("Audit").run()
    assert [w.value for w in at.warning] == [
        "**Not saved yet:**\n- Client owner: Ann Smith → Bob Jones\n- Tracking Category 2 (Department): None → Audit"]
    assert not at.button(key="client_form_save").disabled

    at.button(key="client_form_save").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Client saved."] and not at.warning
    with db() as con:
        assert con.execute("SELECT * FROM client_settings ORDER BY contact_id").fetchall() == [
            ("acme", 2, "ann", "audit", False)]
        assert log(con) == [(PERSON, "ui", "client", "acme", "owner", "Ann Smith", "Bob Jones"),
                            (PERSON, "ui", "client", "acme", "tc2", None, "Audit")]
        assert wanted(con, "L1") == {"L1": ("Ann", "client", "Audit", "client")}
    assert at.dataframe[0].value["tc2"].tolist() == ["Audit", "None", "None"]


def test_discarding_puts_the_saved_values_back(form, snapshot):
    with db() as con:
        before = snapshot(con)
    at = form("clients", "clients_grid", 1)  # Beta LLC
    at.toggle(key="client_form_beta_consolidate").set_value(True).run()
    assert "Consolidate lines: no → yes" in at.warning[0].value
    at.button(key="client_form_discard").click().run()
    assert not at.warning and at.toggle(key="client_form_beta_consolidate").value is False
    with db() as con:
        assert snapshot(con) == before


def test_unsaved_edits_keep_their_record_open_and_warn(form):
    at = form("clients", "clients_grid", 0)
    at.selectbox(key="client_form_acme_tc1_option_id").select("Bob").run()
    select(at, "clients_grid", 1)  # another client, with Acme's edit not saved
    assert at.subheader[0].value == "Edit client: Acme Ltd"
    assert "Save or discard the changes to Acme Ltd before opening Beta LLC." in [w.value for w in at.warning]
    assert at.selectbox(key="client_form_acme_tc1_option_id").value == "Bob"
    # the browser asks before leaving the page (tests/test_browser.py clicks through it)
    assert any("Your changes to Acme Ltd are not saved." in h.proto.body for h in at.sidebar.get("html"))


def test_an_archived_option_shows_by_name_and_saving_other_fields_keeps_it(form, wanted):
    with db() as con, store.transaction(con):
        con.execute("UPDATE client_settings SET tc1_option_id = 'old' WHERE contact_id = 'acme'")
    at = form("clients", "clients_grid", 0)
    assert at.dataframe[0].value["tc1"].tolist()[0] == "Old Partner (archived)"
    assert at.selectbox(key="client_form_acme_tc1_option_id").value == "Old Partner (archived)"
    at.toggle(key="client_form_acme_consolidate").set_value(True).run()
    at.button(key="client_form_save").click().run()
    assert [s.value for s in at.success] == ["Client saved."]
    with db() as con:
        assert con.execute("SELECT tc1_option_id, consolidate FROM client_settings").fetchall() == [("old", True)]


def test_an_archived_option_is_offered_only_to_the_record_that_carries_it(form):
    with db() as con, store.transaction(con):
        con.execute("UPDATE client_settings SET tc1_option_id = 'old' WHERE contact_id = 'acme'")
    at = form("clients", "clients_grid", 1)  # Beta LLC
    assert "Old Partner (archived)" not in at.selectbox(key="client_form_beta_tc1_option_id").options


def test_the_client_form_states_its_effective_rules(form):
    with db() as con:
        edits.set_service(con, "TAX-RET", by=access.LOCAL_USER, tc2_option_id="tax")
        edits.set_client(con, "acme", by=access.LOCAL_USER, tc2_option_id="audit")
    at = form("clients", "clients_grid", 0)
    assert at.main.markdown[-1].value == (
        "- **Partner:** every line → Ann (client).\n"
        "- **Department:** Tax return → Tax (service); everything else → Audit (client).")


def test_clients_search(page):
    at = page("clients")
    at.text_input(key="clients_search").input("bet").run()
    assert at.dataframe[0].value["client"].tolist() == ["Beta LLC"]
    assert [i.value for i in at.info] == ["Select a client in the list to edit it."]


def test_clients_page_offers_only_active_options_of_each_slot(form):
    at = form("clients", "clients_grid", 2)
    assert at.selectbox(key="client_form_cogs_tc1_option_id").options == ["None", "Ann", "Bob"]
    assert at.selectbox(key="client_form_cogs_tc2_option_id").options == ["None", "Audit", "Tax"]


# --- services and team ------------------------------------------------------------------------

def test_the_service_form_saves_tc2_and_alignment_fee(form, wanted):
    at = form("services", "services_grid", 1)  # TAX-RET
    at.selectbox(key="service_form_TAX-RET_tc2_option_id").select("Audit").run()
    at.button(key="service_form_save").click().run()
    assert [s.value for s in at.success] == ["Service saved."]
    with db() as con:
        assert con.execute("SELECT * FROM services ORDER BY item_code").fetchall() == [("TAX-RET", "audit", False)]
        assert wanted(con, "L1", "L3") == {"L1": ("Ann", "client", "Audit", "service"),
                                           "L3": (None, "none", "Audit", "service")}
        assert [row[2:] for row in log(con)] == [("service", "TAX-RET", "tc2", None, "Audit")]


def test_the_team_form_edits_a_member(form, wanted):
    at = form("team", "team_grid", 0)  # Ann Smith
    at.selectbox(key="team_form_1_tc2_option_id").select("Audit")
    at.text_input(key="team_form_1_email").input("ann@practice.example").run()
    at.button(key="team_form_save").click().run()
    assert [s.value for s in at.success] == ["Team member saved."]
    with db() as con:
        assert con.execute("SELECT * FROM team_members WHERE member_id = 1").fetchall() == [
            (1, "Ann Smith", "ann@practice.example", "audit")]
        assert wanted(con, "L1") == {"L1": ("Ann", "client", "Audit", "owner")}


def test_team_page_adds_and_removes_a_member(page):
    at = page("team")
    at.text_input(key="team_add_name").input("Cy Young")
    at.selectbox(key="team_add_tc2").select("Tax")
    button(at, "Add").click().run()
    assert not at.exception and [s.value for s in at.success] == ["Cy Young added."]
    with db() as con:
        assert con.execute("SELECT name, tc2_option_id FROM team_members ORDER BY member_id").fetchall() == [
            ("Ann Smith", "tax"), ("Bob Jones", None), ("Cy Young", "tax")]
    at.selectbox(key="team_remove_member").select(2)
    button(at, "Remove").click().run()
    assert [s.value for s in at.success] == ["Bob Jones removed."]
    with db() as con:
        assert [name for (name,) in con.execute("SELECT name FROM team_members ORDER BY member_id").fetchall()] == [
            "Ann Smith", "Cy Young"]


def test_team_page_refuses_to_remove_an_owner_with_clients(page, snapshot):
    with db() as con:
        before = snapshot(con)
    at = page("team")
    at.selectbox(key="team_remove_member").select(1)
    button(at, "Remove").click().run()
    assert [e.value for e in at.error] == ["Ann Smith still owns 1 client: Acme Ltd. Give them another owner first."]
    with db() as con:
        assert snapshot(con) == before


def test_the_team_form_rejects_a_duplicate_name(form):
    at = form("team", "team_grid", 1)  # Bob Jones
    at.text_input(key="team_form_2_name").input("Ann Smith").run()
    at.button(key="team_form_save").click().run()
    assert [w.value for w in at.warning][0] == (
        "0 team members saved, 1 rejected:\n- Bob Jones: There is already a team member called 'Ann Smith'.")


# --- history ----------------------------------------------------------------------------------

def test_history_page_lists_changes_newest_first_in_words_with_filters(page):
    with db() as con:
        edits.set_client(con, "acme", by=access.Actor("ann", None, access.Role.EDITOR), tc1_option_id="bob")
        edits.set_service(con, "ALIGN", by=access.Actor("bob", None, access.Role.EDITOR), source="cli",
                          alignment_fee=True)
    at = page("history")
    table = at.dataframe[0].value
    assert table[["who", "source", "what", "name", "change"]].values.tolist() == [
        ["bob", "Command line", "Service", "Alignment fee", "Alignment fee: no → yes"],
        ["ann", "Dashboard", "Client", "Acme Ltd", "Tracking Category 1 (Partner): Ann → Bob"]]
    at.selectbox(key="history_person").select("ann").run()
    assert at.dataframe[0].value["name"].tolist() == ["Acme Ltd"]
    at.selectbox(key="history_person").select(None)
    at.selectbox(key="history_entity").select("service").run()
    assert at.dataframe[0].value["name"].tolist() == ["Alignment fee"]
    assert at.get("download_button")


def test_history_page_without_changes(page):
    at = page("history")
    assert [i.value for i in at.info] == ["No changes yet."]


# --- line overrides on the Preview page -------------------------------------------------------

def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def preview_with_selection(rows: list[int]):
    at = app("preview")
    at.session_state["preview_lines"] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def test_preview_overrides_the_selected_lines_and_clears_them(practice_db, wanted):
    at = preview_with_selection([1, 2])  # newest invoice first: L3, then L1 and L2
    assert at.dataframe(key="preview_lines").value["description"].tolist() == [
        "Tax return", "Tax return 2025", "Alignment"]
    at.selectbox(key="preview_override_tc1").select("Bob")
    at.selectbox(key="preview_override_tc2").select(settings_tables.CLEAR_CHOICE)
    at.text_input(key="preview_override_note").input("agreed with Bob")
    button(at, "Set override").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["2 lines saved."]
    with db() as con:
        assert con.execute("SELECT * FROM line_overrides ORDER BY line_id").fetchall() == [
            (line_id("L1"), True, "bob", True, None, "agreed with Bob"),
            (line_id("L2"), True, "bob", True, None, "agreed with Bob")]
        assert wanted(con, "L1", "L2", "L3") == {"L1": ("Bob", "line", None, "line"), "L2": ("Bob", "line", None, "line"),
                                                 "L3": (None, "none", None, "none")}
        assert log(con)[:3] == [(PERSON, "ui", "line", line_id("L1"), "tc1", None, "Bob"),
                                (PERSON, "ui", "line", line_id("L1"), "tc2", None, "None"),
                                (PERSON, "ui", "line", line_id("L1"), "note", None, "agreed with Bob")]
    assert at.dataframe(key="preview_lines").value["tc1_source"].tolist() == ["none", "line", "line"]

    button(at, "Clear override").click().run()
    assert [s.value for s in at.success] == ["2 lines saved."]
    with db() as con:
        assert con.execute("SELECT count(*) FROM line_overrides").fetchone() == (0,)
        assert wanted(con, "L1") == {"L1": ("Ann", "client", "Tax", "owner")}


def test_preview_override_needs_a_choice(practice_db, snapshot):
    with db() as con:
        before = snapshot(con)
    at = preview_with_selection([0])
    button(at, "Set override").click().run()
    assert [e.value for e in at.error] == ["Choose an override for Tracking Category 1 or 2."]
    with db() as con:
        assert snapshot(con) == before


def test_preview_without_a_selection_offers_no_override(page):
    at = page("preview")
    assert not [b for b in at.button if b.label == "Set override"]
