import random
import string
from datetime import date
from decimal import Decimal

import pytest

from core import access, catalog, config, csv_io, csv_out, csv_templates, edits, store
from core.__main__ import main

PAT = access.Actor("Pat", None, access.Role.EDITOR)

# A small practice: slot 1 = Partner, slot 2 = Department; Carl and Advisory are archived in Xero.
PRACTICE = [
    "INSERT INTO tracking_categories VALUES ('cat-p', 'Partner', 'ACTIVE', 0), ('cat-d', 'Department', 'ACTIVE', 1)",
    "INSERT INTO slots VALUES (1, 'cat-p'), (2, 'cat-d')",
    """INSERT INTO tracking_options VALUES ('ann', 'cat-p', 'Ann', 'ACTIVE'), ('bob', 'cat-p', 'Bob', 'ACTIVE'),
        ('carl', 'cat-p', 'Carl', 'ARCHIVED'), ('tax', 'cat-d', 'Tax', 'ACTIVE'),
        ('audit', 'cat-d', 'Audit', 'ACTIVE'), ('adv', 'cat-d', 'Advisory', 'ARCHIVED'),
        ('other', 'cat-d', '-Other', 'ACTIVE')""",
    """INSERT INTO contacts (contact_id, name) VALUES ('acme', 'Acme Ltd'), ('beta', '=Beta Co'),
        ('twin1', 'Twin Ltd'), ('twin2', 'Twin Ltd'), ('cafe', 'Café Münster')""",
    """INSERT INTO items (item_id, code, name) VALUES ('i1', 'BK', 'Bookkeeping'), ('i2', 'ALIGN', 'Alignment fee'),
        ('i3', 'TAX', 'Tax return')""",
    """INSERT INTO team_members (name, email, tc2_option_id) VALUES  -- member ids 1 and 2
        ('Alice', 'alice@example.com', 'tax'), ('Bob Smith', NULL, NULL)""",
    "INSERT INTO client_settings VALUES ('acme', 1, 'ann', 'tax', false), ('beta', NULL, 'carl', NULL, true)",
    "INSERT INTO services VALUES ('BK', 'audit', false)",
]
CLIENTS_EXPORT = (
    "\ufeffClient Name,Xero Contact ID,Client Owner,Xero Tracking Category 1,Xero Tracking Category 2,"
    "Consolidate Lines\r\n"
    "'=Beta Co,beta,,Carl,,Yes\r\n"
    "Acme Ltd,acme,Alice,Ann,Tax,No\r\n"
    "Café Münster,cafe,,,,No\r\n"
    "Twin Ltd,twin1,,,,No\r\n"
    "Twin Ltd,twin2,,,,No\r\n")
CLIENTS_NOW = "SELECT contact_id, owner_id, tc1_option_id, tc2_option_id, consolidate FROM client_settings ORDER BY 1"
LOGGED = "SELECT changed_by, source, entity, entity_id, field, old_value, new_value FROM change_log ORDER BY change_id"


@pytest.fixture
def practice(con):
    with store.transaction(con):
        for sql in PRACTICE:
            con.execute(sql)
    return con


def run(con, template, text, *, encoding="utf-8", dry_run=False, file_name="edit.csv"):
    return csv_io.import_csv(template, text.encode(encoding), file_name=file_name, by=PAT, dry_run=dry_run)


def changes(result):
    return [(c.row, c.name, result.column(c), c.old, c.new) for c in result.changes]


def rejections(result):
    return [(r.row, r.message) for r in result.rejections]


def test_export_fills_the_templates_and_neutralises_formulas(practice):
    assert csv_templates.export_csv(practice, "clients").decode("utf-8") == CLIENTS_EXPORT
    assert csv_templates.export_csv(practice, "services").decode("utf-8-sig").splitlines() == [
        "Item Code,Service Name,Tracking Category 2,Alignment Fee",
        "ALIGN,Alignment fee,,No", "BK,Bookkeeping,Audit,No", "TAX,Tax return,,No"]
    with store.transaction(practice):
        practice.execute("UPDATE team_members SET tc2_option_id = 'other', email = '@alice' WHERE member_id = 1")
    assert csv_templates.export_csv(practice, "team").decode("utf-8-sig").splitlines() == [
        "Team Member,Email,Tracking Category 2", "Alice,'@alice,'-Other", "Bob Smith,,"]


@pytest.mark.parametrize("cell, safe", [("=1+2", "'=1+2"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
                                        ("\t=1", "'\t=1"), ("a=1", "a=1"), (None, "")])
def test_neutralise(cell, safe):
    assert csv_out.neutralise(cell) == safe
    assert csv_out.un_neutralise(safe) == (cell or "")



def test_one_writer_neutralises_text_and_leaves_numbers_and_dates_as_they_print():
    row = ["=1+2", None, "a,b", Decimal("-1.50"), -3, date(2024, 1, 2)]
    assert csv_out.write(["A", "-B"], [row]) == "A,'-B\r\n'=1+2,,\"a,b\",-1.50,-3,2024-01-02\r\n"

@pytest.mark.parametrize("template", list(csv_templates.TEMPLATES))
def test_round_trip_changes_nothing(practice, template):
    version = store.data_version(practice)
    result = csv_io.import_csv(template, csv_templates.export_csv(practice, template),
                               file_name=f"{template}.csv", by=PAT)
    assert (result.summary(), result.exit_code, result.changes, result.rejections) == ("No changes.", 0, [], [])
    assert store.data_version(practice) == version


def test_import_applies_valid_rows_in_one_transaction_and_logs_them(practice):
    version = store.data_version(practice)
    result = run(practice, "clients", "Xero Contact ID,Client Name,Client Owner,Xero Tracking Category 1,"
                                      "Xero Tracking Category 2,Consolidate Lines\n"
                                      "acme,,Bob Smith,Bob,,yes\n"
                                      ",Café Münster,alice,,-Other,no\n"
                                      "nope,,,,,\n", file_name="/somewhere/clients edit.csv")
    assert changes(result) == [
        (2, "Acme Ltd", "Client Owner", "Alice", "Bob Smith"),
        (2, "Acme Ltd", "Xero Tracking Category 1", "Ann", "Bob"),
        (2, "Acme Ltd", "Xero Tracking Category 2", "Tax", None), (2, "Acme Ltd", "Consolidate Lines", "no", "yes"),
        (3, "Café Münster", "Client Owner", None, "Alice"),
        (3, "Café Münster", "Xero Tracking Category 2", None, "-Other")]
    assert rejections(result) == [(4, "Unknown client: no Xero contact has the ID 'nope'.")]
    assert (result.summary(), result.exit_code) == ("Applied 6 changes in 2 rows. 1 row of 3 rejected.", 1)
    assert store.data_version(practice) == version + 1
    assert practice.execute(CLIENTS_NOW).fetchall() == [
        ("acme", 2, "bob", None, True), ("beta", None, "carl", None, True), ("cafe", 1, None, "other", False)]
    assert practice.execute(LOGGED).fetchall() == [
        ("Pat", "import:clients edit.csv", "client", "acme", "owner", "Alice", "Bob Smith"),
        ("Pat", "import:clients edit.csv", "client", "acme", "tc1", "Ann", "Bob"),
        ("Pat", "import:clients edit.csv", "client", "acme", "tc2", "Tax", None),
        ("Pat", "import:clients edit.csv", "client", "acme", "consolidate", "no", "yes"),
        ("Pat", "import:clients edit.csv", "client", "cafe", "owner", None, "Alice"),
        ("Pat", "import:clients edit.csv", "client", "cafe", "tc2", None, "-Other")]


def test_dry_run_reports_the_same_and_writes_nothing(practice):
    text = "Item Code,Alignment Fee,Tracking Category 2\nALIGN,Yes,Tax\nBK,no,\n"
    version = store.data_version(practice)
    dry = run(practice, "services", text, dry_run=True)
    assert dry.summary() == "Would apply 3 changes in 2 rows."
    assert store.data_version(practice) == version
    assert practice.execute(LOGGED).fetchall() == []
    applied = run(practice, "services", text)
    assert changes(applied) == changes(dry) == [
        (2, "Alignment fee", "Tracking Category 2", None, "Tax"), (2, "Alignment fee", "Alignment Fee", "no", "yes"),
        (3, "Bookkeeping", "Tracking Category 2", "Audit", None)]
    assert practice.execute("SELECT * FROM services ORDER BY 1").fetchall() == [
        ("ALIGN", "tax", True), ("BK", None, False)]


def test_the_file_is_checked_without_holding_the_database(practice, tmp_path, monkeypatch):
    """Two short reads, then (not in a dry run) the apply's transaction: the rows are checked in between."""
    log = tmp_path / "holds.log"
    monkeypatch.setenv(store.HOLD_LOG_VARIABLE, str(log))
    text = "Team Member,Email,Tracking Category 2\nAlice,,Audit\nZoë New,zoe@example.com,Tax\n"
    run(practice, "team", text, dry_run=True)
    assert [hold.purpose for hold in store.holds(log)] == ["import: read the settings",
                                                           "import: read the settings edited"]
    log.unlink()
    run(practice, "team", text)
    assert [hold.purpose for hold in store.holds(log)] == ["import: read the settings",
                                                           "import: read the settings edited", "import: apply"]


def test_rows_checked_before_another_write_are_checked_again_when_applied(practice, monkeypatch):
    """Bob is archived in Xero (a sync) after the file was checked, before it is applied: the row is refused."""
    check = edits.check_edits

    def archive_bob_after(snapshot):
        checked = check(snapshot)
        with store.connect() as con, store.transaction(con):
            con.execute("UPDATE tracking_options SET status = 'ARCHIVED' WHERE option_id = 'bob'")
        monkeypatch.setattr(edits, "check_edits", check)  # the apply's own check runs as it is
        return checked

    monkeypatch.setattr(edits, "check_edits", archive_bob_after)
    result = run(practice, "clients", "Xero Contact ID,Xero Tracking Category 1,Consolidate Lines\n"
                                      "acme,Bob,yes\nbeta,Carl,no\n")
    assert rejections(result) == [(2, "'Bob' is archived in 'Partner'; choose an active option.")]
    assert changes(result) == [(3, "=Beta Co", "Consolidate Lines", "yes", "no")]
    assert practice.execute(CLIENTS_NOW).fetchall()[:2] == [
        ("acme", 1, "ann", "tax", False), ("beta", None, "carl", None, False)]


def test_an_absent_column_leaves_its_field_and_a_blank_cell_clears_it(practice):
    run(practice, "clients", "Client Name,Xero Tracking Category 2\nAcme Ltd,\n")
    assert practice.execute(CLIENTS_NOW).fetchall()[0] == ("acme", 1, "ann", None, False)


def test_an_unchanged_option_archived_since_does_not_block_the_row(practice):
    result = run(practice, "clients", "Xero Contact ID,Xero Tracking Category 1,Consolidate Lines\nbeta,Carl,No\n")
    assert (changes(result), rejections(result)) == ([(2, "=Beta Co", "Consolidate Lines", "yes", "no")], [])


def test_team_rows_update_members_and_add_new_ones(practice):
    result = run(practice, "team", "Team Member,Email,Tracking Category 2\nbob smith,bob@example.com,Audit\n"
                                   "Cara,cara@example.com,\n")
    assert changes(result) == [
        (2, "Bob Smith", "Email", None, "bob@example.com"), (2, "Bob Smith", "Tracking Category 2", None, "Audit"),
        (3, "Cara", "Team Member", None, "Cara"), (3, "Cara", "Email", None, "cara@example.com")]
    assert practice.execute("SELECT name, email, tc2_option_id FROM team_members ORDER BY member_id").fetchall() == [
        ("Alice", "alice@example.com", "tax"), ("Bob Smith", "bob@example.com", "audit"),
        ("Cara", "cara@example.com", None)]


@pytest.mark.parametrize("template, text, reason", [
    ("clients", "Xero Contact ID\nnope", "Unknown client: no Xero contact has the ID 'nope'."),
    ("clients", "Client Name\nAcme", "Unknown client 'Acme': no Xero contact has that name."),
    ("clients", "Client Name\nTwin Ltd", "2 Xero contacts are named 'Twin Ltd'; give the Xero Contact ID."),
    ("clients", "Client Name,Xero Contact ID\n,", None),  # a blank row is skipped, not rejected
    ("clients", "Client Name,Client Owner\n,Alice",
     "No client: the row has neither a Client Name nor a Xero Contact ID."),
    ("clients", "Client Name,Client Owner\nAcme Ltd,Alise",
     "Unknown owner. There is no team member called 'Alise'. Did you mean 'Alice'?"),
    ("clients", "Client Name,Xero Tracking Category 2\nAcme Ltd,Adit",
     "Xero Tracking Category 2: There is no option called 'Adit' in 'Department'. Did you mean 'Audit'?"),
    ("clients", "Client Name,Xero Tracking Category 2\nAcme Ltd,Advisory",
     "Xero Tracking Category 2: 'Advisory' is archived in 'Department'; choose an active option."),
    ("clients", "Client Name,Xero Tracking Category 1\nAcme Ltd,Carll",
     "Xero Tracking Category 1: There is no option called 'Carll' in 'Partner'."),  # archived Carl: no suggestion
    ("clients", "Client Name,Xero Tracking Category 1\nAcme Ltd,Tax",
     "Xero Tracking Category 1: 'Tax' is an option of 'Department', not of Tracking Category 1 (Partner)."),
    ("clients", "Client Name,Consolidate Lines\nAcme Ltd,maybe", "Consolidate Lines must be Yes or No, not 'maybe'."),
    ("services", "Item Code,Alignment Fee\nNOPE,yes", "Unknown item: no Xero item has the code 'NOPE'."),
    ("services", "Item Code,Alignment Fee\nBK,sometimes", "Alignment Fee must be Yes or No, not 'sometimes'."),
    ("team", "Team Member,Email\nAlice,alice-at-home", "'alice-at-home' is not an email address."),
])
def test_each_rejection_reason_leaves_the_database_unchanged(practice, template, text, reason):
    version = store.data_version(practice)
    result = run(practice, template, text)
    assert rejections(result) == ([(2, reason)] if reason else [])
    assert (result.changes, result.exit_code) == ([], 1 if reason else 0)
    assert store.data_version(practice) == version


def test_a_client_listed_twice_is_rejected_on_every_row(practice):
    result = run(practice, "clients", "Client Name,Xero Contact ID,Client Owner\nAcme Ltd,,Bob Smith\n"
                                      "Café Münster,,Alice\n,acme,\n")
    assert rejections(result) == [(2, "The client is listed more than once (also in row 4); keep one row."),
                                  (4, "The client is listed more than once (also in row 2); keep one row.")]
    assert changes(result) == [(3, "Café Münster", "Client Owner", None, "Alice")]


def test_rows_are_numbered_as_a_spreadsheet_shows_them(practice):
    result = run(practice, "clients", 'Client Name,Client Owner\n\nAcme Ltd,Nobody\n"Nope\nLtd",\n,\nTwin Ltd,\n')
    assert [row for row, _ in rejections(result)] == [3, 4, 6]


@pytest.mark.parametrize("encoding, text", [
    ("utf-8-sig", "Client Name,Client Owner\nCafé Münster,Alice\n"),
    ("utf-8", "Client Name,Client Owner\nCafé Münster,Alice\n"),
    ("cp1252", "Client Name,Client Owner\r\nCafé Münster,Alice\r\n"),
    ("cp1252", "Client Name;Client Owner\r\nCafé Münster;Alice\r\n"),
    ("utf-8", "  client owner ;CLIENT   NAME\n Alice ; Café Münster \n"),
    ("utf-8", 'Client Owner,Client Name,Notes\n"Alice","Café Münster","a; b, c"\n'),
])
def test_spreadsheet_encodings_separators_and_headers(practice, encoding, text):
    result = run(practice, "clients", text, encoding=encoding)
    assert (changes(result), rejections(result)) == ([(2, "Café Münster", "Client Owner", None, "Alice")], [])


UNREADABLE = {
    "empty": (b"", "The file is empty."),
    "blank lines": (b"\r\n  \n", "The file is empty."),
    "xlsx": (b"PK\x03\x04\x14\x00\x06\x00", "This is not a CSV file: it holds binary data."),
    "binary": (bytes(range(256)) * 100, "This is not a CSV file: it holds binary data."),
    "50 MB": (b"Client Name,Owner\n" + b"x" * (50 * 1024 * 1024), "The file is 50 MB; the limit is 20 MB."),
    "no known column": (b"Name,Owner\nAcme Ltd,Alice\n",
                        "None of the clients template's columns is in the file. Expected: Client Name, "
                        "Xero Contact ID, Client Owner, Xero Tracking Category 1, Xero Tracking Category 2, "
                        "Consolidate Lines. "
                        "Found: 'Name', 'Owner'."),
    "no key column": (b"Client Owner\nAlice\n",
                      "The file needs a Xero Contact ID or Client Name column to say which row is which."),
    "column twice": (b"Client Name,client name\nA,B\n", "The column Client Name appears more than once; keep one."),
    "ragged": (b"Client Name,Client Owner\nAcme Ltd,Alice\nAcme Ltd,Alice,Bob\n",
               "The file is not a well-formed CSV: row 3 has 3 cells but the header has 2."),
}


@pytest.mark.parametrize("data, message", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_file_is_refused_whole(practice, data, message):
    version = store.data_version(practice)
    with pytest.raises(csv_io.CsvError) as refused:
        csv_io.import_csv("clients", data, file_name="bad.csv", by=PAT)
    assert str(refused.value).startswith(message)
    assert store.data_version(practice) == version


def test_100000_rows_of_garbage_are_rejected_and_nothing_is_written(practice):
    rnd = random.Random(6)
    garbage = "\n".join(",".join("".join(rnd.choices(string.ascii_letters + string.digits + " ", k=10))
                                 for _ in range(3)) for _ in range(100_000))
    version = store.data_version(practice)
    with pytest.raises(csv_io.CsvError, match="None of the clients template's columns"):
        csv_io.import_csv("clients", garbage.encode(), file_name="garbage.csv", by=PAT)
    result = csv_io.import_csv("clients", f"Client Name,Client Owner,Notes\n{garbage}".encode(),
                               file_name="garbage.csv", by=PAT)
    assert (result.rows, result.rejected_rows, result.changes) == (100_000, 100_000, [])
    assert store.data_version(practice) == version


def test_10000_clients_import_in_one_transaction(practice):
    with store.transaction(practice):
        practice.execute("INSERT INTO contacts (contact_id, name) "
                         "SELECT 'c' || i, 'Client ' || i FROM range(10000) t(i)")
    rows = "".join(f"c{i},Alice,Bob,Audit,Yes\n" for i in range(10_000))
    version = store.data_version(practice)
    result = run(practice, "clients", "Xero Contact ID,Client Owner,Xero Tracking Category 1,"
                                      f"Xero Tracking Category 2,Consolidate Lines\n{rows}")
    assert result.summary() == "Applied 40,000 changes in 10,000 rows."
    assert store.data_version(practice) == version + 1
    assert practice.execute("SELECT count(*) FROM client_settings WHERE owner_id = 1 AND tc1_option_id = 'bob' "
                            "AND tc2_option_id = 'audit' AND consolidate").fetchone()[0] == 10_000
    assert practice.execute("SELECT count(*) FROM change_log WHERE source = 'import:edit.csv'").fetchone()[0] == 40_000


def test_command_line_import_and_export(practice, db_path, tmp_path, capsys):
    practice.close()
    exported = tmp_path / "clients.csv"
    assert main(["export", "clients", str(exported)]) == 0
    assert exported.read_bytes().decode("utf-8") == CLIENTS_EXPORT
    assert main(["import", "clients", str(exported)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "No changes."

    edited = tmp_path / "edited.csv"
    edited.write_text("Client Name;Client Owner\nAcme Ltd;Bob Smith\nNope;\n", "cp1252")
    assert main(["import", "clients", str(edited), "--dry-run"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "row 2: Acme Ltd: Client Owner: Alice → Bob Smith",
        "rejected row 3: Unknown client 'Nope': no Xero contact has that name.",
        "Would apply 1 change in 1 row. 1 row of 2 rejected."]
    assert main(["import", "clients", str(edited)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "Applied 1 change in 1 row. 1 row of 2 rejected."
    with store.connect(db_path) as con:
        assert con.execute(CLIENTS_NOW).fetchall()[0] == ("acme", 2, "ann", "tax", False)

    edited.write_bytes(b"\x00\x01binary")
    assert main(["import", "clients", str(edited)]) == 2
    assert capsys.readouterr().err.startswith("error: edited.csv: This is not a CSV file")
    assert main(["import", "clients", str(tmp_path / "missing.csv")]) == 2


@pytest.mark.parametrize("template", list(csv_templates.TEMPLATES))
def test_the_sample_templates_in_data_fit_the_demo(demo_db, template):
    result = csv_io.import_csv(template, (config.ROOT / "data" / f"{template}.csv").read_bytes(),
                               file_name=f"{template}.csv", by=PAT, dry_run=True)
    assert (result.summary(), result.rows > 0) == ("No changes.", True)


# --- encodings --------------------------------------------------------------------------------

ZOE, RENEE = "Zoë Brønte", "Renée Dupont"
TEAM_NOW = "SELECT name FROM team_members ORDER BY member_id"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_a_file_in_one_encoding_keeps_its_accents(practice, encoding):
    run(practice, "team", f"Team Member,Email\n{ZOE},zoe@example.com\n{RENEE},\n", encoding=encoding)
    assert practice.execute(TEAM_NOW).fetchall()[-2:] == [(ZOE,), (RENEE,)]


def test_a_file_mixing_utf8_and_windows_1252_rows_is_refused_with_the_rows(practice, snapshot):
    data = "Team Member,Email\n".encode() + f"{ZOE},zoe@example.com\n".encode() + f"{RENEE},\n".encode("cp1252")
    before = snapshot(practice)
    with pytest.raises(csv_io.CsvError) as refused:
        csv_io.import_csv("team", data, file_name="mixed.csv", by=PAT)
    assert str(refused.value) == ("The file mixes two encodings: row 2 in UTF-8 and row 3 in another (Windows-1252?), "
                                  "so some names would come out garbled. Save the sheet as \"CSV UTF-8\" and upload that.")
    assert snapshot(practice) == before


def test_mixed_rows_are_counted_as_a_spreadsheet_numbers_them(practice):
    data = (f'Team Member,Email\n"{ZOE}\nsecond line",\n'.encode() + b"x,\n" * 12
            + "".join(f"{RENEE} {i},\n" for i in range(12)).encode("cp1252"))
    with pytest.raises(csv_io.CsvError, match=r"row 2 in UTF-8 and rows 15, 16, 17, 18, 19, 20, 21, 22, 23, 24 "
                                              r"and 2 more in another"):
        csv_io.import_csv("team", data, file_name="mixed.csv", by=PAT)


def test_command_line_refuses_a_mixed_file_in_one_line(practice, tmp_path, capsys):
    practice.close()
    mixed = tmp_path / "team.csv"
    mixed.write_bytes("Team Member\n".encode() + f"{ZOE}\n".encode() + f"{RENEE}\n".encode("cp1252"))
    assert main(["import", "team", str(mixed)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith("error: team.csv: The file mixes two encodings: row 2 in UTF-8 and row 3")
    assert err.endswith("Nothing was changed.\n")


# --- names and text ---------------------------------------------------------------------------

def test_names_up_to_xeros_lengths_are_accepted_and_longer_ones_rejected_per_row(practice):
    longest, too_long = "N" * catalog.MEMBER_NAME_MAX, "L" * (catalog.MEMBER_NAME_MAX + 1)
    result = run(practice, "team", f"Team Member,Email\n{longest},\n{too_long},\nCara,\n{'M' * 1_000_000},\n")
    assert [(row, new) for row, _, column, _, new in changes(result) if column == "Team Member"] == [
        (2, longest), (4, "Cara")]
    assert rejections(result) == [
        (3, f"Team Member is 256 characters long; at most 255 fit: '{'L' * 80}…'."),
        (5, f"Team Member is 1,000,000 characters long; at most 255 fit: '{'M' * 80}…'.")]


@pytest.mark.parametrize("template, header, cell, column, limit", [
    ("services", "Item Code,Alignment Fee", "B" * 31 + ",yes", "Item Code", 30),
    ("clients", "Client Name,Xero Tracking Category 1", "Acme Ltd," + "T" * 101, "Xero Tracking Category 1", 100),
    ("clients", "Client Name,Client Owner", "C" * 256 + ",Alice", "Client Name", 255),
    ("team", "Team Member,Email", "Alice," + "e" * 250 + "@example.com", "Email", 255),
])
def test_each_column_is_held_to_its_xero_length(practice, template, header, cell, column, limit):
    result = run(practice, template, f"{header}\n{cell}\n")
    (row, reason), = rejections(result)
    assert row == 2 and reason.startswith(f"{column} is {limit + 1 if column != 'Email' else 262} characters long; "
                                          f"at most {limit} fit: ")


@pytest.mark.parametrize("character, kind", [("\u202e", "a bidirectional override (U+202E)"),
                                             ("\u2066", "a bidirectional override (U+2066)"),
                                             ("\x07", "a control character (U+0007)"),
                                             ("\x1b", "a control character (U+001B)")])
def test_control_characters_and_bidi_overrides_are_rejected_with_the_reason(practice, character, kind):
    result = run(practice, "team", f"Team Member,Email\nEve{character}lyn,\nCara,\n")
    assert rejections(result) == [
        (2, f"Team Member holds {kind}, which can disguise text; remove it: {('Eve' + character + 'lyn')!r}.")]
    assert [row for row, *_ in changes(result)] == [3]


def test_reports_quote_at_most_80_characters_of_a_value(practice, db_path, tmp_path, capsys):
    practice.close()
    team = tmp_path / "team.csv"
    team.write_text(f"Team Member,Tracking Category 2\n{'W' * 200},{'Q' * 100}\n{'V' * 255},\n")
    assert main(["import", "team", str(team)]) == 1
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) < 200
    assert f"'{'Q' * 80}…'" in out and f"{'V' * 80}…" in out and "V" * 81 not in out


def test_the_settings_edits_use_the_same_check(practice):
    for name in ["A\u202eB", "x" * 256]:
        with pytest.raises(catalog.InvalidChange, match="Name (holds a bidirectional override|is 256 characters)"):
            edits.add_team_member(practice, name, by=PAT)
    with pytest.raises(catalog.InvalidChange, match="Email holds a control character"):
        edits.set_team_member(practice, 1, by=PAT, email="alice@exa\x00mple.com")
    assert edits.add_team_member(practice, "y" * 255, by=PAT) == 3


def test_the_command_line_edits_use_the_same_check(practice, capsys):
    practice.close()
    assert main(["set", "team", "Eve\u202elyn"]) == 2
    assert capsys.readouterr().err == ("error: Name holds a bidirectional override (U+202E), which can disguise text; "
                                       "remove it: 'Eve\\u202elyn'.\n")
