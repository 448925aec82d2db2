"""The Import CSV page on the demo: dry run after upload, then Confirm or Cancel.

AppTest 1.67 drives `st.file_uploader` itself: `at.file_uploader[0].upload(name, bytes, mime)` hands
the page a real UploadedFile, so these tests go through the page exactly as a person does
(only the download button's bytes cannot be read in AppTest; tests/test_csv.py checks the export).
"""
import pytest

from core import access, catalog, store

PAGE = "pages/import_csv.py"
CLIENT_TC2 = """
SELECT C.contact_id, C.name, S.tc2_option_id FROM contacts C JOIN client_settings S USING (contact_id)
WHERE S.tc2_option_id IS NOT NULL
ORDER BY C.name LIMIT 1
"""


@pytest.fixture
def edit(demo_db):
    """A one-row clients file moving the first configured client to another Tracking Category 2 option."""
    with store.connect(demo_db) as con:
        contact_id, name, option_id = con.execute(CLIENT_TC2).fetchone()
        cat = catalog.read(con)
    new = next(name for name, option in cat.active_options(2).items() if option != option_id)
    text = f"Xero Contact ID,Client Name,Xero Tracking Category 2\n{contact_id},{name},{new}\n"
    return contact_id, name, cat.option_name(option_id), new, text.encode()


def client_tc2(contact_id: str) -> str | None:
    with store.connect() as con:
        return con.execute("SELECT tc2_option_id FROM client_settings WHERE contact_id = ?", [contact_id]).fetchone()[0]


def test_the_page_offers_each_template_and_an_uploader(streamlit_app):
    at = streamlit_app(PAGE).run()

    assert not at.exception
    assert [t.value for t in at.title] == ["Import CSV"]
    assert at.radio(key="csv_template").options == ["Clients", "Services", "Team"]
    assert at.get("download_button")[0].proto.label == "Download the clients template"
    assert len(at.file_uploader) == 1


def test_upload_shows_a_dry_run_and_confirm_applies_it(streamlit_app, edit):
    contact_id, name, old, new, data = edit
    at = streamlit_app(PAGE).run()
    version = _version()

    at.file_uploader[0].upload("clients.csv", data, "text/csv").run()

    assert not at.exception
    assert at.dataframe[0].value.values.tolist() == [[2, name, "Xero Tracking Category 2", old, new]]
    assert [m.value for m in at.metric] == ["1", "1", "0"]
    assert at.info[-1].value == "Would apply 1 change in 1 row."
    assert _version() == version

    at.button(key="csv_confirm").click().run()

    assert not at.exception
    assert [s.value for s in at.success] == ["clients.csv: Applied 1 change in 1 row."]
    with store.connect() as con:
        assert con.execute("SELECT changed_by, source, entity_id, field, old_value, new_value FROM change_log "
                           "ORDER BY change_id DESC LIMIT 1").fetchone() == (
            access.LOCAL_USER.who, "import:clients.csv", contact_id, "tc2", old, new)
        assert store.data_version(con) == version + 1
    assert at.file_uploader[0].value is None  # emptied for the next file


def test_cancel_discards_the_upload(streamlit_app, edit):
    contact_id, *_, data = edit
    before = client_tc2(contact_id)
    at = streamlit_app(PAGE).run()

    at.file_uploader[0].upload("clients.csv", data, "text/csv").run()
    at.button(key="csv_cancel").click().run()

    assert not at.exception
    assert [s.value for s in at.success] == ["Cancelled: nothing from clients.csv was saved."]
    assert client_tc2(contact_id) == before


def test_rejected_rows_are_listed_with_their_spreadsheet_row(streamlit_app):
    at = streamlit_app(PAGE).run()

    at.file_uploader[0].upload("clients.csv", b"Xero Contact ID,Consolidate Lines\nno-such-id,yes\n", "text/csv").run()

    assert not at.exception
    assert at.dataframe[0].value.values.tolist() == [
        [2, "Unknown client: no Xero contact has the ID 'no-such-id'."]]
    assert at.info[-1].value == "No changes. 1 row of 1 rejected."
    assert "csv_confirm" not in [button.key for button in at.button]


@pytest.mark.parametrize("name, data, message", [
    ("empty.csv", b"", "The file is empty."),
    ("sheet.csv", b"PK\x03\x04\x00\x00binary", "This is not a CSV file: it holds binary data."),
    ("big.csv", b"Client Name\n" + b"x" * (21 * 1024 * 1024), "The file is 21 MB; the limit is 20 MB."),
], ids=["empty", "binary", "21 MB"])
def test_a_bad_file_gets_a_plain_message_and_the_page_keeps_running(streamlit_app, name, data, message):
    at = streamlit_app(PAGE).run()
    version = _version()

    at.file_uploader[0].upload(name, data, "text/csv").run()

    assert not at.exception
    assert at.error[0].value.startswith(message)
    assert _version() == version
    at.radio(key="csv_template").set_value("team").run()
    assert not at.exception


def _version() -> int:
    with store.connect() as con:
        return store.data_version(con)
