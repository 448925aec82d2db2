"""Sign-in and roles: who may open which page and do what, in core (refused writes write nothing) and on
the pages (AppTest with a signed-in user of each role, `at.user`; [auth] and [roles] through `at.secrets`)."""
import pytest

from core import access, config, csv_io, edits, push, slots, store, ui
from tests.line_ids import line_id
from tests.test_secrets_hygiene import rendered

VIEWER = access.Actor("Vera Viewer", "vera@practice.com", access.Role.VIEWER)
EDITOR = access.Actor("Ed Editor", "ed@practice.com", access.Role.EDITOR)
ADMIN = access.Actor("Ada Admin", "ada@practice.com", access.Role.ADMIN)
AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "cookie-secret-for-tests",
        "client_id": "tracking-desk", "client_secret": "oidc-client-secret-for-tests",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}
ROLES = {person.email: person.role for person in (VIEWER, EDITOR, ADMIN)}
EVERYONE_SEES = ["pages/overview.py", "pages/preview.py", "pages/revenue.py"]
EDITORS_ALSO = ["pages/clients.py", "pages/services.py", "pages/team.py", "pages/import_csv.py", "pages/history.py"]
ADMINS_ALSO = ["pages/push.py", "pages/settings.py"]


# --- roles, pure ------------------------------------------------------------------------------

@pytest.mark.parametrize(("email", "role"), [
    ("ann@practice.com", "admin"), ("ANN@Practice.com ", "admin"),   # listed (case and spaces forgiven)
    ("bob@practice.com", "editor"),                                  # its domain
    ("carol@elsewhere.org", "viewer"),                               # default
    ("", None), (None, None),
])
def test_a_role_comes_from_the_address_then_its_domain_then_the_default(email, role):
    roles = access.roles_table({"Ann@practice.com": "Admin", "@practice.com": "editor", "default": "viewer"})
    assert access.role_for(email, roles) == role


def test_without_a_default_an_unlisted_address_has_no_role():
    assert access.signed_in({"email": "stranger@example.com", "name": "S"}, ROLES) == access.Actor(
        "S", "stranger@example.com", None)


def test_an_address_the_provider_has_not_verified_gets_no_role():
    person = access.signed_in({"email": ADMIN.email, "name": ADMIN.name, "email_verified": False}, ROLES)
    assert person.role is None
    assert access.signed_in({"email": ADMIN.email, "name": ADMIN.name, "email_verified": True}, ROLES) == ADMIN


def test_a_role_that_does_not_exist_is_a_configuration_error():
    with pytest.raises(config.ConfigError, match=r"\[roles\] .*ann@x.com must be one of viewer, editor, admin"):
        access.roles_table({"ann@x.com": "owner"})


@pytest.mark.parametrize(("actor", "allowed"), [
    (VIEWER, {access.Permission.VIEW}),
    (EDITOR, {access.Permission.VIEW, access.Permission.HISTORY, access.Permission.EDIT}),
    (ADMIN, set(access.NEEDS)),
    (access.LOCAL_USER, set(access.NEEDS)),
    (access.command_line(), set(access.NEEDS)),
    (access.Actor("S", "s@x.com", None), set()),
])
def test_what_each_role_may_do(actor, allowed):
    assert {permission for permission in access.NEEDS if access.may(actor, permission)} == allowed


def test_a_page_without_an_entry_in_page_needs_cannot_be_opened_by_anyone():
    """Page permissions fail closed: a renamed page is nobody's until PAGE_NEEDS names it."""
    assert {title for _, title, *_ in ui.PAGES} == set(ui.PAGE_NEEDS)
    assert all(ui.may_open(VIEWER, title) for title in ("Overview", "Preview", "Revenue"))
    for person in (VIEWER, EDITOR, ADMIN, access.LOCAL_USER, access.AUTOPILOT):
        assert not ui.may_open(person, "Overview (renamed)")
        assert not access.may(person, None)


def test_refusals_say_why_in_plain_words():
    with pytest.raises(access.Forbidden, match=r"^Your role \(viewer\) cannot push to Xero or undo a push\."):
        access.require(VIEWER, access.Permission.PUSH)
    with pytest.raises(access.Forbidden, match=r"^s@x.com has no role in Tracking Desk, so cannot change"):
        access.require(access.Actor("S", "s@x.com", None), access.Permission.EDIT)
    with pytest.raises(access.Forbidden, match="Say who is acting"):
        access.require("ann", access.Permission.EDIT)
    assert ui.is_plain_words(access.Forbidden("x"))


def test_the_logs_name_a_person_by_address_else_by_name():
    assert (ADMIN.who, access.LOCAL_USER.who) == ("ada@practice.com", "Local user")
    assert access.command_line().who.startswith("command line (")


# --- core refuses, and writes nothing ---------------------------------------------------------

def refused_writes():
    return {
        "set a client": lambda con: edits.set_client(con, "acme", by=VIEWER, tc1_option_id="bob"),
        "save a service": lambda con: edits.set_service(con, "ALIGN", by=VIEWER, alignment_fee=True),
        "add a team member": lambda con: edits.add_team_member(con, "Cy", by=VIEWER),
        "remove a team member": lambda con: edits.remove_team_member(con, 2, by=VIEWER),
        "override a line": lambda con: edits.set_line_override(con, line_id("L1"), by=VIEWER, tc1="bob"),
        "import a CSV": lambda con: csv_io.import_csv("services", b"Item Code,Alignment Fee\nALIGN,yes\n",
                                                      file_name="s.csv", by=VIEWER),
        "push (viewer)": lambda con: push.push(None, by=VIEWER),
        "push (editor)": lambda con: push.push(None, by=EDITOR),
        "undo (editor)": lambda con: push.undo(None, 1, by=EDITOR),
        "save the slot map (editor)": lambda con: slots.save(con, "cat-d", "cat-p", by=EDITOR),
    }


@pytest.mark.parametrize("write", list(refused_writes()))
def test_core_refuses_a_role_without_the_permission_and_writes_nothing(edit_practice, snapshot, write):
    before, version = snapshot(edit_practice), store.data_version(edit_practice)
    with pytest.raises(access.Forbidden, match=r"^Your role \((viewer|editor)\) cannot "):
        refused_writes()[write](edit_practice)
    assert snapshot(edit_practice) == before
    assert store.data_version(edit_practice) == version
    assert edit_practice.execute("SELECT count(*) FROM pushes").fetchone()[0] == 0


def test_the_change_log_records_the_signed_in_address(edit_practice):
    edits.set_client(edit_practice, "acme", by=EDITOR, tc1_option_id="bob")
    slots.save(edit_practice, "cat-d", "cat-p", by=ADMIN)
    assert edit_practice.execute("SELECT DISTINCT entity, changed_by FROM change_log ORDER BY 1").fetchall() == [
        ("client", EDITOR.email), ("slot", ADMIN.email)]


# --- the pages --------------------------------------------------------------------------------

@pytest.fixture
def signed_in(streamlit_app):
    """`signed_in(person, file="app.py")`: an AppTest with sign-in on and `person` signed in (None: nobody)."""
    def load(person: access.Actor | None, file: str = "app.py"):
        at = streamlit_app(file)
        at.secrets["auth"] = AUTH
        at.secrets["roles"] = ROLES
        at.user = ({"is_logged_in": True, "email": person.email, "name": person.name, "email_verified": True}
                   if person else {})
        return at

    return load


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def opens(at, file: str) -> bool:
    """Whether the app's navigation offers `file` (AppTest refuses to switch to a page it does not list)."""
    try:
        at.switch_page(file)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(("person", "pages"), [(VIEWER, EVERYONE_SEES), (EDITOR, EVERYONE_SEES + EDITORS_ALSO),
                                              (ADMIN, EVERYONE_SEES + EDITORS_ALSO + ADMINS_ALSO)])
def test_navigation_lists_only_the_pages_the_role_may_open(signed_in, person, pages):
    at = signed_in(person).run()

    assert not at.exception
    assert texts(at.title) == ["Overview"]
    assert f"Signed in as {person.name} ({person.role})" in texts(at.sidebar.caption)
    assert at.sidebar.button(key="sign_out")
    assert sorted(file for file, *_ in ui.PAGES if opens(at, file)) == sorted(pages)


def only_the_sign_in_screen(at) -> bool:
    return (not at.exception and texts(at.title) == ["Tracking Desk"] and [b.label for b in at.button] == ["Sign in"]
            and not at.sidebar.button and not at.dataframe and not at.metric and not at.info)


@pytest.mark.parametrize("file", ["pages/push.py", "pages/preview.py"])
def test_before_sign_in_a_link_to_a_page_opens_the_sign_in_screen(signed_in, file):
    assert only_the_sign_in_screen(signed_in(None, file).run())  # a cold deep link runs the page file itself


def test_before_sign_in_every_page_of_the_app_is_the_sign_in_screen(signed_in):
    at = signed_in(None).run()
    assert only_the_sign_in_screen(at)
    for file, *_ in ui.PAGES:
        assert only_the_sign_in_screen(at.switch_page(file).run()), file


def test_a_signed_in_address_without_a_role_is_told_so_and_sees_nothing(signed_in):
    at = signed_in(access.Actor("Stranger", "stranger@example.com", None)).run()

    assert not at.exception
    assert "stranger@example.com" in at.warning[0].value and "no role" in at.warning[0].value
    assert [button.label for button in at.button] == ["Sign out"]
    assert not at.dataframe and not at.metric


@pytest.mark.parametrize(("person", "file"), [(VIEWER, "pages/clients.py"), (VIEWER, "pages/push.py"),
                                              (VIEWER, "pages/history.py"), (EDITOR, "pages/push.py"),
                                              (EDITOR, "pages/settings.py")])
def test_a_page_the_role_may_not_open_says_so_and_stops(signed_in, person, file):
    at = signed_in(person, file).run()  # a deep link runs the page file itself

    assert not at.exception
    assert texts(at.error) == [f"Your role ({person.role}) cannot open this page."]
    assert not at.dataframe and not at.metric and not at.get("data_editor")


def test_a_viewer_sees_the_preview_without_override_controls(signed_in):
    at = signed_in(VIEWER, "pages/preview.py")
    at.session_state["preview_lines"] = {"selection": {"rows": [0, 1], "columns": [], "cells": []}}
    at.run()

    assert not at.exception
    assert at.dataframe
    assert "Your role (viewer) can see the lines but not override them." in texts(at.caption)
    assert "preview_override_tc1" not in [box.key for box in at.selectbox]
    assert not [button for button in at.button if button.label in ("Set override", "Clear override")]


def test_an_editor_edits_a_client_under_their_own_address(signed_in, demo_db):
    at = signed_in(EDITOR, "pages/clients.py")
    at.session_state["clients_grid"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    at.toggle[0].set_value(True).run()  # Consolidate lines, in the first client's form
    at.button(key="client_form_save").click().run()

    assert not at.exception
    assert texts(at.success) == ["Client saved."]
    with store.connect(demo_db) as con:
        assert con.execute("SELECT changed_by, field, new_value FROM change_log ORDER BY change_id DESC "
                           "LIMIT 1").fetchone() == (EDITOR.email, "consolidate", "yes")


def test_an_admin_pushes_under_their_own_address(signed_in, demo_db):
    at = signed_in(ADMIN, "pages/push.py").run()
    at.button(key="push_open").click().run()
    at.button(key="push_confirmed").click().run()

    assert not at.exception
    assert (at.success or at.warning)[0].value.startswith("Push 1: ")
    with store.connect(demo_db) as con:
        assert con.execute("SELECT pushed_by FROM pushes").fetchall() == [(ADMIN.email,)]


def test_without_sign_in_everyone_is_the_local_admin_and_settings_says_so(streamlit_app):
    at = streamlit_app("app.py").run()

    assert not at.exception
    assert "Local user (admin): sign-in is not configured" in texts(at.sidebar.caption)
    assert all(opens(at, file) for file, *_ in ui.PAGES)
    at.switch_page("pages/settings.py").run()
    assert not at.exception
    assert ui.LOCAL_MODE_NOTE in texts(at.info)


def test_settings_lists_the_roles_when_sign_in_is_on(signed_in):
    at = signed_in(ADMIN, "pages/settings.py").run()

    assert not at.exception
    assert any("signed in as **Ada Admin** (ada@practice.com) with the **admin** role" in text
               for text in texts(at.markdown))
    roles = next(frame.value for frame in at.dataframe if "Role" in frame.value.columns)
    assert dict(zip(roles["Address"], roles["Role"])) == ROLES
    assert AUTH["client_secret"] not in rendered(at) and AUTH["cookie_secret"] not in rendered(at)


def test_the_app_listens_on_localhost_by_default():
    import tomllib

    with (config.ROOT / ".streamlit" / "config.toml").open("rb") as f:
        assert tomllib.load(f)["server"]["address"] == "127.0.0.1"
