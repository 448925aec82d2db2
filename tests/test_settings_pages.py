"""AppTest of the Clients, Services, Team and History pages on the hand-made EDIT_PRACTICE.

Edits are seeded into the data editor's session state (AppTest cannot type into its cells,
STREAMLIT_NOTES §2), then Save is clicked as a person would.
"""
import pytest

from core import access, settings, store

PERSON = access.LOCAL_USER.who


@pytest.fixture
def practice_db(edit_practice_db, monkeypatch, tmp_path, streamlit_caches):
    """EDIT_PRACTICE, with made-up Xero credentials so that the pages skip the demo organisation."""
    from core import config

    monkeypatch.setenv("XERO_CLIENT_ID", "id")
    monkeypatch.setenv("XERO_CLIENT_SECRET", "secret")
    monkeypatch.setattr(config, "SECRETS_FILE", tmp_path / "no-secrets.toml")
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


@pytest.fixture
def edit_and_save(practice_db):
    """`edit_and_save(name, editor_key, edited_rows, save_key)`: the page with those cells edited, saved."""
    def save(name: str, editor: str, edited_rows: dict, button: str):
        at = app(name)
        at.session_state[editor] = {"edited_rows": edited_rows, "added_rows": [], "deleted_rows": []}
        at.run()
        at.button(key=button).click().run()
        assert not at.exception
        return at

    return save


def db():
    return store.connect()


def log(con):
    return con.execute("SELECT changed_by, source, entity, entity_id, field, old_value, new_value "
                       "FROM change_log ORDER BY change_id").fetchall()


# --- clients ----------------------------------------------------------------------------------

def test_clients_page_saves_the_edited_rows(edit_and_save, wanted):
    at = edit_and_save("clients", "clients_editor",
                       {0: {"tc2": "Audit", "owner": "Bob Jones"}, 1: {"consolidate": True}}, "clients_save")
    assert [s.value for s in at.success] == ["2 clients saved."]
    with db() as con:
        assert con.execute("SELECT * FROM client_settings ORDER BY contact_id").fetchall() == [
            ("acme", 2, "ann", "audit", False), ("beta", None, None, None, True)]
        assert log(con) == [(PERSON, "ui", "client", "acme", "owner", "Ann Smith", "Bob Jones"),
                            (PERSON, "ui", "client", "acme", "tc2", None, "Audit"),
                            (PERSON, "ui", "client", "beta", "consolidate", "no", "yes")]
        assert wanted(con, "L1", "L3") == {"L1": ("Ann", "client", "Audit", "client"),
                                           "L3": (None, "none", None, "consolidated")}
    # the editor starts afresh on the saved values
    assert at.session_state["clients_editor"]["edited_rows"] == {}
    assert at.dataframe[0].value["tc2"].tolist() == ["Audit", "None", "None"]


def test_saving_one_client(edit_and_save):
    at = edit_and_save("clients", "clients_editor", {2: {"tc1": "Bob"}}, "clients_save")
    assert [s.value for s in at.success] == ["Client saved."]


def test_clients_page_rejects_each_bad_row_says_why_and_writes_nothing(edit_and_save, snapshot):
    with db() as con:
        before = snapshot(con)
    at = edit_and_save("clients", "clients_editor",
                       {0: {"tc1": "Tax"}, 1: {"tc1": "Old Partner"}, 2: {"owner": "Nobody", "tc2": "Audit"}},
                       "clients_save")
    assert [w.value for w in at.warning] == [
        "0 clients saved, 3 rejected:\n"
        "- Acme Ltd: 'Tax' is an option of 'Department', not of Tracking Category 1 (Partner).\n"
        "- Beta LLC: 'Old Partner' is archived in 'Partner'; choose an active option.\n"
        "- Cogs & Co: There is no team member called 'Nobody'."]
    with db() as con:
        assert snapshot(con) == before


def test_clients_page_applies_the_valid_rows_and_reports_the_others(edit_and_save):
    at = edit_and_save("clients", "clients_editor", {0: {"tc1": "Bob"}, 1: {"tc1": "Old Partner"}},
                       "clients_save")
    assert [w.value for w in at.warning] == [
        "1 client saved, 1 rejected:\n- Beta LLC: 'Old Partner' is archived in 'Partner'; choose an active option."]
    with db() as con:
        assert con.execute("SELECT contact_id, tc1_option_id FROM client_settings").fetchall() == [("acme", "bob")]


def test_clients_page_offers_only_active_options_of_each_slot(page):
    at = page("clients")
    assert at.dataframe[0].value.columns.tolist() == ["contact_id", "client", "owner", "tc1", "tc2", "consolidate"]
    with db() as con:
        assert list(settings.slot_options(con, 1)) == ["None", "Ann", "Bob"]
        assert list(settings.slot_options(con, 2)) == ["None", "Audit", "Tax"]


def test_clients_search_and_detail(page):
    at = page("clients")
    at.text_input(key="clients_search").input("bet").run()
    assert at.dataframe[0].value["client"].tolist() == ["Beta LLC"]
    at.text_input(key="clients_search").input("").run()
    at.selectbox(key="clients_detail").select("acme").run()
    lines = at.dataframe[1].value
    assert lines["Description"].tolist() == ["Tax return 2025", "Alignment"]
    assert lines["TC1 wanted"].tolist() == ["Ann", "Ann"] and lines["TC2 source"].tolist() == ["owner", "owner"]


# --- services and team ------------------------------------------------------------------------

def test_services_page_saves_tc2_and_alignment_fee(edit_and_save, wanted):
    at = edit_and_save("services", "services_editor",
                       {0: {"alignment_fee": True}, 1: {"tc2": "Audit"}}, "services_save")
    assert [s.value for s in at.success] == ["2 services saved."]
    with db() as con:
        assert con.execute("SELECT * FROM services ORDER BY item_code").fetchall() == [
            ("ALIGN", None, True), ("TAX-RET", "audit", False)]
        assert wanted(con, "L1", "L3") == {"L1": ("Ann", "client", "Audit", "service"),
                                           "L3": (None, "none", "Audit", "service")}
        assert [row[2:] for row in log(con)] == [("service", "ALIGN", "alignment_fee", "no", "yes"),
                                                 ("service", "TAX-RET", "tc2", None, "Audit")]


def test_services_page_rejects_an_archived_option(edit_and_save, snapshot):
    with db() as con:
        before = snapshot(con)
    at = edit_and_save("services", "services_editor", {1: {"tc2": "Advisory"}}, "services_save")
    assert [w.value for w in at.warning] == [
        "0 services saved, 1 rejected:\n- TAX-RET: 'Advisory' is archived in 'Department'; choose an active option."]
    with db() as con:
        assert snapshot(con) == before


def test_team_page_edits_a_member(edit_and_save, wanted):
    at = edit_and_save("team", "team_editor", {0: {"tc2": "Audit", "email": "ann@practice.example"}},
                       "team_save")
    assert [s.value for s in at.success] == ["Team member saved."]
    with db() as con:
        assert con.execute("SELECT * FROM team_members WHERE member_id = 1").fetchall() == [
            (1, "Ann Smith", "ann@practice.example", "audit")]
        assert wanted(con, "L1") == {"L1": ("Ann", "client", "Audit", "owner")}


def test_team_page_adds_and_removes_a_member(page):
    at = page("team")
    at.text_input(key="team_add_name").input("Cy Young")
    at.selectbox(key="team_add_tc2").select("Tax")
    at.button[1].click().run()  # the form's Add button
    assert not at.exception and [s.value for s in at.success] == ["Cy Young added."]
    with db() as con:
        assert con.execute("SELECT name, tc2_option_id FROM team_members ORDER BY member_id").fetchall() == [
            ("Ann Smith", "tax"), ("Bob Jones", None), ("Cy Young", "tax")]
    at.selectbox(key="team_remove_member").select(2)
    at.button[2].click().run()  # the form's Remove button
    assert [s.value for s in at.success] == ["Bob Jones removed."]
    with db() as con:
        assert [name for (name,) in con.execute("SELECT name FROM team_members ORDER BY member_id").fetchall()] == [
            "Ann Smith", "Cy Young"]


def test_team_page_refuses_to_remove_an_owner_with_clients(page, snapshot):
    with db() as con:
        before = snapshot(con)
    at = page("team")
    at.selectbox(key="team_remove_member").select(1)
    at.button[2].click().run()
    assert [e.value for e in at.error] == ["Ann Smith still owns 1 client: Acme Ltd. Give them another owner first."]
    with db() as con:
        assert snapshot(con) == before


def test_team_page_rejects_a_duplicate_name(edit_and_save):
    at = edit_and_save("team", "team_editor", {1: {"name": "Ann Smith"}}, "team_save")
    assert [w.value for w in at.warning] == [
        "0 team members saved, 1 rejected:\n- Bob Jones: There is already a team member called 'Ann Smith'."]


# --- history ----------------------------------------------------------------------------------

def test_history_page_lists_changes_newest_first_with_filters(page):
    with db() as con:
        settings.set_client(con, "acme", by=access.Actor("ann", None, access.EDITOR), tc1_option_id="bob")
        settings.set_service(con, "ALIGN", by=access.Actor("bob", None, access.EDITOR), source="cli", alignment_fee=True)
    at = page("history")
    table = at.dataframe[0].value
    assert table[["changed_by", "entity", "name", "field", "old_value", "new_value"]].values.tolist() == [
        ["bob", "Service", "Alignment fee", "alignment_fee", "no", "yes"],
        ["ann", "Client", "Acme Ltd", "tc1", "Ann", "Bob"]]
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
    at.selectbox(key="preview_override_tc2").select(settings.CLEAR_CHOICE)
    at.text_input(key="preview_override_note").input("agreed with Bob")
    button(at, "Set override").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["2 lines saved."]
    with db() as con:
        assert con.execute("SELECT * FROM line_overrides ORDER BY line_id").fetchall() == [
            ("L1", True, "bob", True, None, "agreed with Bob"), ("L2", True, "bob", True, None, "agreed with Bob")]
        assert wanted(con, "L1", "L2", "L3") == {"L1": ("Bob", "line", None, "line"), "L2": ("Bob", "line", None, "line"),
                                                 "L3": (None, "none", None, "none")}
        assert log(con)[:3] == [(PERSON, "ui", "line", "L1", "tc1", None, "Bob"),
                                (PERSON, "ui", "line", "L1", "tc2", None, "None"),
                                (PERSON, "ui", "line", "L1", "note", None, "agreed with Bob")]
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
