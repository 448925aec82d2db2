"""The Settings page's "Connection to Xero" section in Connect-to-Xero mode (AppTest, the sandbox over loopback)."""
import urllib.parse

import pytest
from streamlit.testing.v1 import AppTest

from core import config, store
from core.xero import oauth, tokens
from tests.conftest import ADMIN, REDIRECT_URI


@pytest.fixture
def settings_page(code_flow, streamlit_caches):
    def load() -> AppTest:
        return AppTest.from_file(str(config.ROOT / "pages/settings.py"), default_timeout=120)
    return load


def page_text(at: AppTest) -> str:
    """Everything the page sent to the browser, as text."""
    return "\n".join(str(node.proto) for node in at._tree if getattr(node, "proto", None) is not None)


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_not_connected_offers_connect_to_xero_with_a_fresh_attempt(settings_page, code_flow, sandbox):
    at = settings_page().run()
    assert errors(at) == []
    (button,) = [b for b in at.get("link_button") if b.proto.label == "Connect to Xero"]
    url = urllib.parse.urlsplit(button.proto.url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == sandbox.url + oauth.AUTHORIZE_PATH
    state = dict(urllib.parse.parse_qsl(url.query))["state"]
    assert state in tokens.read(code_flow.token_file)["pending"]
    at.run()  # the same session is offered the same attempt again
    assert [b.proto.url for b in at.get("link_button")] == [button.proto.url]
    assert "not connected" in page_text(at)


def test_the_way_back_lists_the_organisations_and_choosing_one_syncs_it(settings_page, code_flow, approve, sandbox,
                                                                          db_path):
    returned = approve(oauth.begin(code_flow, REDIRECT_URI, by=ADMIN).url)
    at = settings_page()
    for key, value in returned.items():
        at.query_params[key] = value
    at.run()
    assert errors(at) == []
    assert "Xero approved the connection" in at.success[0].value
    assert not any(key in at.query_params for key in ("code", "state"))
    organisation = sandbox.state["Organisation"]
    assert at.selectbox(key="xero_tenant").options == [organisation["Name"]]

    at.button(key="xero_choose").click().run()
    assert errors(at) == []
    assert at.status[0].proto.label == "Synced with Xero"
    assert oauth.status(code_flow).tenant_id == organisation["OrganisationID"]
    with store.connect(db_path) as con:
        assert con.execute("SELECT name FROM organisation").fetchone()[0] == organisation["Name"]
    assert any(b.key == "xero_disconnect" for b in at.button)

    connection_saved = tokens.read(code_flow.token_file)["connection"]
    text = page_text(at)
    assert organisation["Name"] in text
    for secret in (code_flow.client_secret, connection_saved["access_token"], connection_saved["refresh_token"]):
        assert secret not in text


def test_a_state_mismatch_on_the_way_back_is_refused(settings_page, code_flow, approve):
    returned = approve(oauth.begin(code_flow, REDIRECT_URI, by=ADMIN).url)
    at = settings_page()
    at.query_params["code"], at.query_params["state"] = returned["code"], "forged"
    at.run()
    assert any("does not belong to a Connect to Xero started here" in e for e in errors(at))
    assert not oauth.status(code_flow).connected
    assert any(b.proto.label == "Connect to Xero" for b in at.get("link_button"))


def test_a_denied_consent_is_explained(settings_page, code_flow, approve):
    returned = approve(oauth.begin(code_flow, REDIRECT_URI, by=ADMIN).url, "deny")
    at = settings_page()
    for key, value in returned.items():
        at.query_params[key] = value
    at.run()
    assert any("not given access" in e for e in errors(at))


def test_disconnect_forgets_the_connection(settings_page, connected, sandbox):
    at = settings_page().run()
    at.button(key="xero_disconnect").click().run()
    assert errors(at) == []
    assert "Disconnected from Xero." in [s.value for s in at.success]
    assert not oauth.status(connected).connected
    assert sandbox.requests[-1].path == "/connect/revocation"


def test_a_revoked_connection_shows_the_reconnect_message_on_sync(settings_page, connected, sandbox, db_path):
    sandbox.revoke_all()
    with store.connect(db_path) as con:
        version = store.data_version(con)
    at = settings_page().run()
    at.button(key="settings_sync").click().run()
    assert any("Reconnect: Settings → Connection to Xero → Connect to Xero" in e for e in errors(at))
    with store.connect(db_path) as con:
        assert store.data_version(con) == version


def test_picking_an_organisation_other_than_the_one_in_the_database_warns_and_its_sync_is_refused(
        settings_page, code_flow, approve, sandbox, db_path):
    with store.connect(db_path) as con, store.transaction(con):
        con.execute("INSERT INTO organisation VALUES ('other-org', 'Other Practice Ltd', 'GBP', 'GB')")
        version = store.data_version(con) + 1
    picked = sandbox.state["Organisation"]["Name"]
    returned = approve(oauth.begin(code_flow, REDIRECT_URI, by=ADMIN).url)
    at = settings_page()
    for key, value in returned.items():
        at.query_params[key] = value
    at.run()
    assert at.warning[0].value == (  # the Connection to Xero section comes first
        f"This database holds the data of ‘Other Practice Ltd’, so syncing {picked} into it will be refused. To "
        f"work with {picked}, start the app with a database file of its own (set TRACKING_DB=/path/to/another.duckdb).")

    at.button(key="xero_choose").click().run()
    assert at.status[0].proto.label == "Sync failed"
    assert any(e.startswith(f"This database holds the data of ‘Other Practice Ltd’, but the connection to Xero is to "
                            f"‘{picked}’. Nothing was synced.") for e in errors(at))
    with store.connect(db_path) as con:
        assert store.data_version(con) == version
        assert con.execute("SELECT organisation_id FROM organisation").fetchall() == [("other-org",)]
