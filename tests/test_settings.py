import csv
import io

import pandas as pd
import pytest

from core import access, catalog, edits, history, settings_tables, slots, store, ui
from core.__main__ import main
from core.catalog import InvalidChange
from core.edits import Edit
from tests.line_ids import line_id

ANN, BOB, X = (access.Actor(name, None, access.Role.EDITOR) for name in ("ann", "bob", "x"))

def log(con):
    return con.execute("SELECT changed_by, source, entity, entity_id, field, old_value, new_value "
                       "FROM change_log ORDER BY change_id").fetchall()


def test_practice_starts_from_the_rules(edit_practice, wanted):
    assert wanted(edit_practice, "L1", "L2", "L3") == {
        "L1": ("Ann", "client", "Tax", "owner"), "L2": ("Ann", "client", "Tax", "owner"),
        "L3": (None, "none", None, "none")}


# --- clients ----------------------------------------------------------------------------------

def test_set_client_writes_the_row_the_log_and_the_rules(edit_practice, wanted):
    con = edit_practice
    version = store.data_version(con)
    with store.transaction(con):
        changes = edits.set_client(con, "acme", by=ANN, owner_id=2, tc1_option_id="bob", tc2_option_id="audit",
                                   consolidate=True)
    assert [(c.field, c.old, c.new) for c in changes] == [
        ("owner", "Ann Smith", "Bob Jones"), ("tc1", "Ann", "Bob"), ("tc2", None, "Audit"),
        ("consolidate", "no", "yes")]
    assert con.execute("SELECT * FROM client_settings WHERE contact_id = 'acme'").fetchall() == [
        ("acme", 2, "bob", "audit", True)]
    assert log(con) == [("ann", "ui", "client", "acme", "owner", "Ann Smith", "Bob Jones"),
                        ("ann", "ui", "client", "acme", "tc1", "Ann", "Bob"),
                        ("ann", "ui", "client", "acme", "tc2", None, "Audit"),
                        ("ann", "ui", "client", "acme", "consolidate", "no", "yes")]
    assert wanted(con, "L1", "L2", "L3") == {
        "L1": ("Bob", "client", None, "consolidated"), "L2": ("Bob", "client", None, "consolidated"),
        "L3": (None, "none", None, "none")}
    assert store.data_version(con) == version + 1


def test_set_client_creates_the_settings_row_of_a_client_without_one(edit_practice, wanted):
    con = edit_practice
    edits.set_client(con, "beta", by=BOB, source="cli", tc2_option_id="audit")
    assert con.execute("SELECT * FROM client_settings WHERE contact_id = 'beta'").fetchall() == [
        ("beta", None, None, "audit", False)]
    assert log(con) == [("bob", "cli", "client", "beta", "tc2", None, "Audit")]
    assert wanted(con, "L3") == {"L3": (None, "none", "Audit", "client")}


def test_clearing_a_client_option_with_none(edit_practice, wanted):
    con = edit_practice
    edits.set_client(con, "acme", by=ANN, tc1_option_id=None)
    assert con.execute("SELECT tc1_option_id FROM client_settings WHERE contact_id = 'acme'").fetchone() == (None,)
    assert log(con) == [("ann", "ui", "client", "acme", "tc1", "Ann", None)]
    assert wanted(con, "L1")["L1"][:2] == (None, "none")


def test_an_edit_that_changes_nothing_writes_nothing(edit_practice, snapshot):
    con = edit_practice
    before = snapshot(con)
    assert edits.set_client(con, "acme", by=ANN, owner_id=1, tc1_option_id="ann", consolidate=False) == []
    assert snapshot(con) == before


@pytest.mark.parametrize(("fields", "message"), [
    ({"tc1_option_id": "old"}, "'Old Partner' is archived in 'Partner'; choose an active option."),
    ({"tc1_option_id": "tax"}, "'Tax' is an option of 'Department', not of Tracking Category 1 (Partner)."),
    ({"tc2_option_id": "bob"}, "'Bob' is an option of 'Partner', not of Tracking Category 2 (Department)."),
    ({"tc2_option_id": "north"}, "'North' is an option of 'Region', not of Tracking Category 2 (Department)."),
    ({"tc2_option_id": "nope"}, "There is no tracking option with ID 'nope' in Xero."),
    ({"owner_id": 99}, "There is no team member with ID 99."),
    ({"consolidate": "maybe"}, "'maybe' is not yes or no."),
    # a valid field beside an invalid one is not written either
    ({"tc2_option_id": "audit", "owner_id": 99}, "There is no team member with ID 99."),
])
def test_an_invalid_client_edit_is_refused_and_nothing_is_written(edit_practice, snapshot, fields, message):
    con = edit_practice
    before = snapshot(con)
    with pytest.raises(InvalidChange) as error:
        edits.set_client(con, "acme", by=ANN, **fields)
    assert str(error.value) == message
    assert snapshot(con) == before


def test_an_unknown_client_is_refused(edit_practice, snapshot):
    before = snapshot(edit_practice)
    with pytest.raises(InvalidChange, match="There is no client with contact ID 'zeta'."):
        edits.set_client(edit_practice, "zeta", by=ANN, tc1_option_id="bob")
    assert snapshot(edit_practice) == before


def test_an_option_needs_a_mapped_active_slot(edit_practice, snapshot):
    con = edit_practice
    with store.transaction(con):
        con.execute("INSERT INTO slots VALUES (1, 'cat-r'), (2, 'cat-d')")
    before = snapshot(con)
    with pytest.raises(InvalidChange, match=r"Tracking Category 1 \(Region\) is archived in Xero; map an active"):
        edits.set_client(con, "acme", by=ANN, tc1_option_id="north")
    assert snapshot(con) == before


def test_an_edit_says_who_made_it(edit_practice, snapshot):
    before = snapshot(edit_practice)
    with pytest.raises(access.Forbidden, match="Say who is acting"):
        edits.set_client(edit_practice, "acme", by=" ", tc1_option_id="bob")
    assert snapshot(edit_practice) == before


# --- bulk -------------------------------------------------------------------------------------

def test_bulk_edits_apply_the_valid_rows_in_one_transaction(edit_practice, wanted):
    con = edit_practice
    version = store.data_version(con)
    with store.transaction(con):
        outcome = edits.apply_client_edits(con, [
            Edit("acme", {"tc1_option_id": "bob"}, row=2),
            Edit("beta", {"tc1_option_id": "old"}, row=3),
            Edit("zeta", {"tc1_option_id": "bob"}, row=4),
            Edit("beta", {"owner_id": 2, "consolidate": True}, row=5),
        ], by=ANN, source="import:clients.csv")
    assert [(c.row, c.name, c.field, c.old, c.new) for c in outcome.changes] == [
        (2, "Acme Ltd", "tc1", "Ann", "Bob"), (5, "Beta LLC", "owner", None, "Bob Jones"),
        (5, "Beta LLC", "consolidate", "no", "yes")]
    assert [(r.row, r.message) for r in outcome.rejections] == [
        (3, "'Old Partner' is archived in 'Partner'; choose an active option."),
        (4, "There is no client with contact ID 'zeta'.")]
    assert outcome.saved == 2
    assert con.execute("SELECT * FROM client_settings ORDER BY contact_id").fetchall() == [
        ("acme", 1, "bob", None, False), ("beta", 2, None, None, True)]
    assert {source for (_, source, *_) in log(con)} == {"import:clients.csv"}
    assert wanted(con, "L1", "L3") == {"L1": ("Bob", "client", "Tax", "owner"),
                                       "L3": (None, "none", None, "consolidated")}
    assert store.data_version(con) == version + 1


def test_a_dry_run_says_what_would_change_and_writes_nothing(edit_practice, snapshot):
    con = edit_practice
    before = snapshot(con)
    outcome = edits.apply_client_edits(con, [Edit("acme", {"owner_id": 2})], by=ANN, dry_run=True)
    assert [(c.entity_id, c.field, c.old, c.new) for c in outcome.changes] == [
        ("acme", "owner", "Ann Smith", "Bob Jones")]
    assert snapshot(con) == before


def test_the_writes_run_in_the_callers_transaction(edit_practice):
    con = edit_practice
    with pytest.raises(RuntimeError):
        with store.transaction(con):
            edits.set_client(con, "acme", by=ANN, tc1_option_id="bob")
            edits.set_service(con, "ALIGN", by=ANN, alignment_fee=True)
            assert con.execute("SELECT count(*) FROM change_log").fetchone()[0] == 2
            raise RuntimeError("the caller fails later")
    assert log(con) == []
    assert con.execute("SELECT tc1_option_id FROM client_settings").fetchall() == [("ann",)]


def test_ten_thousand_client_edits_are_one_statement_per_table(con):
    with store.transaction(con):
        con.execute("INSERT INTO tracking_categories VALUES ('cat-p', 'Partner', 'ACTIVE', 0), "
                    "('cat-d', 'Department', 'ACTIVE', 1)")
        con.execute("INSERT INTO tracking_options VALUES ('ann', 'cat-p', 'Ann', 'ACTIVE')")
        con.execute("INSERT INTO contacts (contact_id, name) SELECT 'c' || i, 'Client ' || i FROM range(10000) t(i)")
    outcome = edits.apply_client_edits(con, [Edit(f"c{i}", {"tc1_option_id": "ann"}) for i in range(10000)],
                                          by=ANN, source="import:big.csv")
    assert outcome.saved == 10000 and not outcome.rejections
    assert con.execute("SELECT count(*) FROM client_settings WHERE tc1_option_id = 'ann'").fetchone() == (10000,)
    assert con.execute("SELECT count(*) FROM change_log").fetchone() == (10000,)


# --- services ---------------------------------------------------------------------------------

def test_set_service_creates_the_service_and_moves_its_lines(edit_practice, wanted):
    con = edit_practice
    edits.set_service(con, "TAX-RET", by=ANN, tc2_option_id="audit")
    edits.set_service(con, "ALIGN", by=ANN, alignment_fee=True)
    assert con.execute("SELECT * FROM services ORDER BY item_code").fetchall() == [
        ("ALIGN", None, True), ("TAX-RET", "audit", False)]
    assert log(con) == [("ann", "ui", "service", "TAX-RET", "tc2", None, "Audit"),
                        ("ann", "ui", "service", "ALIGN", "alignment_fee", "no", "yes")]
    assert wanted(con, "L1", "L2", "L3") == {
        "L1": ("Ann", "client", "Audit", "service"), "L2": ("Ann", "client", "Tax", "owner"),
        "L3": (None, "none", "Audit", "service")}


@pytest.mark.parametrize(("code", "fields", "message"), [
    ("TAX-RET", {"tc2_option_id": "advisory"}, "'Advisory' is archived in 'Department'; choose an active option."),
    ("TAX-RET", {"tc2_option_id": "ann"}, "'Ann' is an option of 'Partner', not of Tracking Category 2 (Department)."),
    ("NOPE", {"alignment_fee": True}, "There is no item with code 'NOPE'."),
])
def test_an_invalid_service_edit_is_refused(edit_practice, snapshot, code, fields, message):
    before = snapshot(edit_practice)
    with pytest.raises(InvalidChange) as error:
        edits.set_service(edit_practice, code, by=ANN, **fields)
    assert str(error.value) == message
    assert snapshot(edit_practice) == before


# --- team members -----------------------------------------------------------------------------

def test_add_rename_and_remove_a_team_member(edit_practice):
    con = edit_practice
    member = edits.add_team_member(con, " Cy Young ", by=ANN, email="cy@example.com", tc2_option_id="audit")
    assert con.execute("SELECT * FROM team_members WHERE member_id = ?", [member]).fetchall() == [
        (member, "Cy Young", "cy@example.com", "audit")]
    edits.set_team_member(con, member, by=ANN, name="Cyril Young", email=None)
    edits.remove_team_member(con, member, by=ANN)
    assert con.execute("SELECT count(*) FROM team_members WHERE member_id = ?", [member]).fetchone() == (0,)
    m = str(member)
    assert log(con) == [
        ("ann", "ui", "team_member", m, "name", None, "Cy Young"),
        ("ann", "ui", "team_member", m, "email", None, "cy@example.com"),
        ("ann", "ui", "team_member", m, "tc2", None, "Audit"),
        ("ann", "ui", "team_member", m, "name", "Cy Young", "Cyril Young"),
        ("ann", "ui", "team_member", m, "email", "cy@example.com", None),
        ("ann", "ui", "team_member", m, "name", "Cyril Young", None),
        ("ann", "ui", "team_member", m, "tc2", "Audit", None)]


def test_an_owners_tc2_moves_the_lines_of_the_clients_they_own(edit_practice, wanted):
    con = edit_practice
    edits.set_team_member(con, 1, by=ANN, tc2_option_id="audit")
    assert wanted(con, "L1", "L2") == {"L1": ("Ann", "client", "Audit", "owner"),
                                       "L2": ("Ann", "client", "Audit", "owner")}
    assert log(con) == [("ann", "ui", "team_member", "1", "tc2", "Tax", "Audit")]


def test_removing_an_owner_still_assigned_to_clients_is_refused(edit_practice, snapshot):
    con = edit_practice
    edits.set_client(con, "beta", by=ANN, owner_id=1)
    before = snapshot(con)
    with pytest.raises(InvalidChange) as error:
        edits.remove_team_member(con, 1, by=ANN)
    assert str(error.value) == "Ann Smith still owns 2 clients: Acme Ltd, Beta LLC. Give them another owner first."
    assert snapshot(con) == before


@pytest.mark.parametrize(("call", "message"), [
    (lambda con: edits.add_team_member(con, "ann smith", by=X),
     "There is already a team member called 'ann smith'."),
    (lambda con: edits.add_team_member(con, "  ", by=X), "A team member needs a name."),
    (lambda con: edits.add_team_member(con, "Di", by=X, email="di at example"),
     "'di at example' is not an email address."),
    (lambda con: edits.add_team_member(con, "Di", by=X, tc2_option_id="bob"),
     "'Bob' is an option of 'Partner', not of Tracking Category 2 (Department)."),
    (lambda con: edits.set_team_member(con, 2, by=X, name="Ann Smith"),
     "There is already a team member called 'Ann Smith'."),
    (lambda con: edits.set_team_member(con, 7, by=X, name="Zed"), "There is no team member with ID 7."),
    (lambda con: edits.remove_team_member(con, 7, by=X), "There is no team member with ID 7."),
])
def test_an_invalid_team_edit_is_refused(edit_practice, snapshot, call, message):
    before = snapshot(edit_practice)
    with pytest.raises(InvalidChange) as error:
        call(edit_practice)
    assert str(error.value) == message
    assert snapshot(edit_practice) == before


def test_bulk_team_edits_add_members_and_keep_names_unique(edit_practice):
    con = edit_practice
    outcome = edits.apply_team_edits(con, [Edit(None, {"name": "Di"}, row=2), Edit(None, {"name": "di"}, row=3),
                                              Edit(2, {"email": "bob@example.com"}, row=4)], by=ANN)
    assert [(r.row, r.message) for r in outcome.rejections] == [(3, "There is already a team member called 'di'.")]
    assert con.execute("SELECT name, email FROM team_members ORDER BY member_id").fetchall() == [
        ("Ann Smith", "ann@example.com"), ("Bob Jones", "bob@example.com"), ("Di", None)]
    assert [(c.name, c.field, c.new) for c in outcome.changes] == [
        ("Di", "name", "Di"), ("Bob Jones", "email", "bob@example.com")]


# --- line overrides ---------------------------------------------------------------------------

def test_a_line_override_beats_the_rules_and_none_clears_the_slot(edit_practice, wanted):
    con = edit_practice
    edits.set_line_override(con, line_id("L1"), by=ANN, tc1="bob", tc2=None, note="agreed with Bob")
    assert con.execute("SELECT * FROM line_overrides").fetchall() == [
        (line_id("L1"), True, "bob", True, None, "agreed with Bob")]
    assert wanted(con, "L1", "L2") == {"L1": ("Bob", "line", None, "line"), "L2": ("Ann", "client", "Tax", "owner")}
    assert con.execute("SELECT tc2_apply FROM line_rules WHERE line_id = line_id('L1')").fetchone() == (True,)
    assert log(con) == [("ann", "ui", "line", line_id("L1"), "tc1", None, "Bob"),
                        ("ann", "ui", "line", line_id("L1"), "tc2", None, "None"),
                        ("ann", "ui", "line", line_id("L1"), "note", None, "agreed with Bob")]


def test_an_override_of_one_slot_keeps_the_other(edit_practice, wanted):
    con = edit_practice
    edits.set_line_override(con, line_id("L1"), by=ANN, tc1="bob")
    edits.set_line_override(con, line_id("L1"), by=ANN, tc2="audit")
    assert con.execute("SELECT * FROM line_overrides").fetchall() == [
        (line_id("L1"), True, "bob", True, "audit", None)]
    assert wanted(con, "L1") == {"L1": ("Bob", "line", "Audit", "line")}


def test_clearing_an_override_gives_the_line_back_to_the_rules(edit_practice, wanted):
    con = edit_practice
    edits.set_line_overrides(con, [line_id("L1"), line_id("L3")], by=ANN, tc2="audit", note="n")
    outcome = edits.clear_line_overrides(con, [line_id("L1"), line_id("L3")], by=BOB)
    assert outcome.saved == 2
    assert con.execute("SELECT count(*) FROM line_overrides").fetchone() == (0,)
    assert wanted(con, "L1", "L3") == {"L1": ("Ann", "client", "Tax", "owner"), "L3": (None, "none", None, "none")}
    assert log(con)[-2:] == [("bob", "ui", "line", line_id("L3"), "tc2", "Audit", None),
                             ("bob", "ui", "line", line_id("L3"), "note", "n", None)]


@pytest.mark.parametrize(("line", "fields", "message"), [
    ("L1", {"tc1": "tax"}, "'Tax' is an option of 'Department', not of Tracking Category 1 (Partner)."),
    ("L1", {"tc2": "advisory"}, "'Advisory' is archived in 'Department'; choose an active option."),
    ("L9", {"tc1": "bob"}, f"There is no invoice line with ID '{line_id('L9')}'."),
    ("L1", {"note": "only a note"}, "Choose an override for Tracking Category 1 or 2."),
])
def test_an_invalid_line_override_is_refused(edit_practice, snapshot, line, fields, message):
    before = snapshot(edit_practice)
    with pytest.raises(InvalidChange) as error:
        edits.set_line_override(edit_practice, line_id(line), by=ANN, **fields)
    assert str(error.value) == message
    assert snapshot(edit_practice) == before


# --- names, tables and messages ---------------------------------------------------------------

def test_names_resolve_within_the_slots_category(edit_practice):
    cat = catalog.read(edit_practice)
    assert cat.option_id(1, " bob ") == "bob"
    assert cat.option_id(2, "None") is None and cat.option_id(2, "") is None
    assert cat.option_id(2, "Bob") == "bob"  # found elsewhere: the check then says where it belongs
    with pytest.raises(InvalidChange, match="There is no option called 'Carol' in 'Partner'."):
        cat.option_id(1, "Carol")
    assert cat.member_id("bob jones") == 2
    with pytest.raises(InvalidChange, match="There is no team member called 'Zed'."):
        cat.member_id("Zed")
    assert settings_tables.slot_options(edit_practice, 1) == {"None": None, "Ann": "ann", "Bob": "bob"}
    assert settings_tables.override_options(edit_practice, 2) == {
        "Keep as it is": catalog.UNSET, "None (clears it in Xero)": None, "Audit": "audit", "Tax": "tax"}
    assert settings_tables.owner_options(edit_practice) == {"None": None, "Ann Smith": 1, "Bob Jones": 2}


def test_the_clients_table_names_an_archived_option_as_archived(edit_practice):
    con = edit_practice
    con.execute("UPDATE client_settings SET tc1_option_id = 'old' WHERE contact_id = 'acme'")  # archived in Xero since
    assert settings_tables.clients_table(con).to_dict("records") == [
        {"contact_id": "acme", "client": "Acme Ltd", "owner": "Ann Smith", "tc1": "Old Partner (archived)",
         "tc2": "None", "consolidate": False},
        {"contact_id": "beta", "client": "Beta LLC", "owner": "None", "tc1": "None", "tc2": "None",
         "consolidate": False},
        {"contact_id": "cogs", "client": "Cogs & Co", "owner": "None", "tc1": "None", "tc2": "None",
         "consolidate": False}]
    assert settings_tables.clients_table(con, "acme")["client"].tolist() == ["Acme Ltd"]


@pytest.mark.parametrize(("changes", "rejections", "message"), [
    ([], [], "Nothing to save: no changes."),
    ([("a", "tc1")], [], "Client saved."),
    ([("a", "tc1"), ("a", "tc2"), ("b", "tc1")], [], "2 clients saved."),
])
def test_describe(changes, rejections, message):
    outcome = edits.Outcome([edits.Change("client", key, key, field, None, "x") for key, field in changes],
                               rejections)
    assert edits.describe(outcome, "client") == message
    assert ui.outcome_tone(outcome) == ("success" if changes else "info")
    assert ui.outcome_tone(edits.Outcome(outcome.changes, [edits.Rejection(2, "x", "no")])) == "warning"


def test_tables_for_the_pages(edit_practice):
    con = edit_practice
    assert settings_tables.services_table(con).to_dict("records") == [
        {"item_code": "ALIGN", "service": "Alignment fee", "tc2": "None", "alignment_fee": False},
        {"item_code": "TAX-RET", "service": "Tax return", "tc2": "None", "alignment_fee": False}]
    assert settings_tables.team_table(con).to_dict("records") == [
        {"member_id": 1, "name": "Ann Smith", "email": "ann@example.com", "tc2": "Tax", "clients": 1},
        {"member_id": 2, "name": "Bob Jones", "email": "", "tc2": "None", "clients": 0}]
    lines = settings_tables.client_lines(con, "acme")
    assert lines[["invoice_number", "description", "tc1_wanted_name", "tc1_source", "status"]].values.tolist() == [
        ["INV-001", "Tax return 2025", "Ann", "client", "change"], ["INV-001", "Alignment", "Ann", "client", "change"]]
    assert slots.names(con) == {1: "Partner", 2: "Department"}
    assert isinstance(lines, pd.DataFrame)


# --- the change log ---------------------------------------------------------------------------

def test_history_names_each_entity_newest_first(edit_practice):
    con = edit_practice
    edits.set_client(con, "acme", by=ANN, tc1_option_id="bob")
    edits.set_service(con, "ALIGN", by=BOB, source="cli", alignment_fee=True)
    edits.set_team_member(con, 2, by=BOB, tc2_option_id="audit")
    edits.set_line_override(con, line_id("L2"), by=ANN, tc2=None)
    log = history.changes(con)
    assert log[["changed_by", "source", "entity", "name", "field", "old_value", "new_value"]].values.tolist() == [
        ["ann", "ui", "line", "INV-001 line 2", "tc2", "", "None"],
        ["bob", "ui", "team_member", "Bob Jones", "tc2", "", "Audit"],
        ["bob", "cli", "service", "Alignment fee", "alignment_fee", "no", "yes"],
        ["ann", "ui", "client", "Acme Ltd", "tc1", "Ann", "Bob"]]
    assert history.changes(con, "client")["name"].tolist() == ["Acme Ltd"]
    assert history.changes(con, None, "bob")["entity"].tolist() == ["team_member", "service"]
    assert history.changes(con, limit=1)["entity"].tolist() == ["line"]
    assert history.people(con) == ["ann", "bob"]
    assert history.entities(con) == ["client", "line", "service", "team_member"]


def test_history_csv_neutralises_formulas(edit_practice):
    con = edit_practice
    edits.add_team_member(con, "=HYPERLINK(\"http://x\")", by=access.Actor("@admin", None, access.Role.EDITOR),
                             email="-x@example.com")
    data = history.csv_bytes(con)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["When (UTC)", "Who", "Source", "What", "ID", "Name", "Field", "Old", "New"]
    assert [row[1:] for row in rows[1:]] == [
        ["'@admin", "ui", "team_member", "3", "'=HYPERLINK(\"http://x\")", "email", "", "'-x@example.com"],
        ["'@admin", "ui", "team_member", "3", "'=HYPERLINK(\"http://x\")", "name", "", "'=HYPERLINK(\"http://x\")"]]
    assert history.csv_bytes(con, "client").decode("utf-8-sig").count("\r\n") == 1


# --- the command line -------------------------------------------------------------------------

def run_cli(capsys, *argv):
    code = main(["set", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_sets_a_client_by_name(edit_practice_db, capsys, wanted):
    code, out, err = run_cli(capsys, "client", "acme ltd", "--owner", "Bob Jones", "--tc1", "bob", "--tc2", "Audit",
                             "--consolidate", "yes")
    assert (code, err) == (0, "")
    assert out.splitlines() == ["Acme Ltd: owner Ann Smith → Bob Jones", "Acme Ltd: tc1 Ann → Bob",
                                "Acme Ltd: tc2 (none) → Audit", "Acme Ltd: consolidate no → yes"]
    with store.connect() as con:
        assert con.execute("SELECT * FROM client_settings WHERE contact_id = 'acme'").fetchall() == [
            ("acme", 2, "bob", "audit", True)]
        assert {(by, source) for by, source in con.execute("SELECT changed_by, source FROM change_log").fetchall()} == {
            (access.command_line().who, "cli")}
        assert wanted(con, "L1") == {"L1": ("Bob", "client", None, "consolidated")}
    assert run_cli(capsys, "client", "acme", "--tc1", "none")[:2] == (0, "Acme Ltd: tc1 Bob → (none)\n")


def test_cli_services_team_and_lines(edit_practice_db, capsys):
    assert run_cli(capsys, "service", "ALIGN", "--alignment-fee", "yes", "--tc2", "Tax")[0] == 0
    assert run_cli(capsys, "team", "Cy Young", "--email", "cy@example.com", "--tc2", "Audit")[1].splitlines() == [
        "Cy Young: name (none) → Cy Young", "Cy Young: email (none) → cy@example.com",
        "Cy Young: tc2 (none) → Audit"]
    assert run_cli(capsys, "team", "cy young", "--email", "none")[1] == "Cy Young: email cy@example.com → (none)\n"
    assert run_cli(capsys, "team", "Cy Young", "--remove")[0] == 0
    out = run_cli(capsys, "line", line_id("L1"), "--tc1", "Bob", "--tc2", "none", "--note", "agreed")[1]
    assert out.splitlines() == [
        "INV-001 line 1: tc1 (no override) → Bob", "INV-001 line 1: tc2 (no override) → None",
        "INV-001 line 1: note (no override) → agreed"]
    assert run_cli(capsys, "line", line_id("L1"), "--clear")[0] == 0
    assert run_cli(capsys, "client", "acme")[:2] == (0, "No changes.\n")
    with store.connect() as con:
        assert con.execute("SELECT * FROM services").fetchall() == [("ALIGN", "tax", True)]
        assert con.execute("SELECT name FROM team_members ORDER BY member_id").fetchall() == [
            ("Ann Smith",), ("Bob Jones",)]
        assert con.execute("SELECT count(*) FROM line_overrides").fetchone() == (0,)


@pytest.mark.parametrize(("argv", "message"), [
    (["client", "Nobody", "--tc1", "Bob"], "There is no client called 'Nobody' (nor with that contact ID)."),
    (["client", "acme", "--tc1", "Old Partner"], "'Old Partner' is archived in 'Partner'; choose an active option."),
    (["client", "acme", "--tc1", "Tax"], "'Tax' is an option of 'Department', not of Tracking Category 1 (Partner)."),
    (["client", "acme", "--tc2", "Carol"], "There is no option called 'Carol' in 'Department'."),
    (["client", "acme", "--owner", "Zed"], "There is no team member called 'Zed'."),
    (["service", "NOPE", "--alignment-fee", "yes"], "There is no item with code 'NOPE'."),
    (["team", "Ann Smith", "--remove"], "Ann Smith still owns 1 client: Acme Ltd. Give them another owner first."),
    (["team", "Zed", "--remove"], "There is no team member called 'Zed'."),
    (["line", line_id("L9"), "--tc1", "Bob"], f"There is no invoice line with ID '{line_id('L9')}'."),
    (["line", "L9", "--tc1", "Bob"], "There is no invoice line with ID 'L9'."),  # not even a GUID
    (["line", line_id("L1"), "--clear", "--tc1", "Bob"], "Give either --clear or --tc1/--tc2, not both."),
])
def test_cli_refuses_with_exit_2_and_writes_nothing(edit_practice_db, capsys, snapshot, argv, message):
    with store.connect() as con:
        before = snapshot(con)
    assert run_cli(capsys, *argv) == (2, "", f"error: {message}\n")
    with store.connect() as con:
        assert snapshot(con) == before


def test_cli_rejects_a_malformed_yes_no(edit_practice_db, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["set", "client", "acme", "--consolidate", "maybe"])
    assert exit_.value.code == 2
    assert "invalid choice: 'maybe'" in capsys.readouterr().err
