"""Retiring an option (issue 17): "Partner F left; her clients and open invoices go to Partner A"."""
import csv
import io

import pytest

from core import access, history, push, retire, rules, store
from core.__main__ import main
from core.catalog import InvalidChange
from tests.line_ids import line_id, line_name

EDITOR = access.Actor("eve", "eve@example.com", access.Role.EDITOR)
VIEWER = access.Actor("val", "val@example.com", access.Role.VIEWER)
SOURCE = "retire:Partner F → Partner A"

# Partner (slot 1): A, F, and B archived; Department (slot 2): Tax, Audit.
# Acme's TC1 is F; Cogs has no settings, its lines carry F by hand; Beta's TC1 is A, with a line override to F.
#   L1 Acme  AUTHORISED  carries F  (client rule: F)        → wants A, a change for the push
#   L2 Acme  PAID        carries F  (client rule: F)        → wants A, locked: Find & Recode
#   L3 Cogs  PAID        carries F  (no setting decides it) → a line override to A, locked: Find & Recode
#   L4 Cogs  DRAFT       carries F  (no setting decides it) → a line override to A, a change
#   L5 Beta  DRAFT       carries A  (line override: F)      → its override now A
#   L6 Beta  DRAFT       carries A  (client rule: A)        → untouched
# (L5 and L6 also gain Beta's and the AUDIT service's TC2 Audit: a change either way.)
PRACTICE = [
    """INSERT INTO tracking_categories VALUES ('cat-p', 'Partner', 'ACTIVE', 0), ('cat-d', 'Department', 'ACTIVE', 1)""",
    "INSERT INTO slots VALUES (1, 'cat-p'), (2, 'cat-d')",
    """INSERT INTO tracking_options VALUES ('pa', 'cat-p', 'Partner A', 'ACTIVE'), ('pf', 'cat-p', 'Partner F', 'ACTIVE'),
        ('pb', 'cat-p', 'Partner B', 'ARCHIVED'), ('tax', 'cat-d', 'Tax', 'ACTIVE'), ('audit', 'cat-d', 'Audit', 'ACTIVE')""",
    """INSERT INTO contacts (contact_id, name, status) VALUES ('acme', 'Acme Ltd', 'ACTIVE'),
        ('beta', 'Beta LLC', 'ACTIVE'), ('cogs', 'Cogs & Co', 'ACTIVE')""",
    "INSERT INTO items (item_id, code, name) VALUES ('i1', 'TAX-RET', 'Tax return'), ('i2', 'AUDIT', 'Audit')",
    """INSERT INTO team_members (name, email, tc2_option_id) VALUES ('Fay', NULL, 'audit'), ('Al', NULL, 'tax')""",
    "INSERT INTO client_settings VALUES ('acme', NULL, 'pf', NULL, false), ('beta', NULL, 'pa', 'audit', false)",
    "INSERT INTO services VALUES ('AUDIT', 'audit', false)",
    "INSERT INTO line_overrides (line_id, tc1_override, tc1_option_id, tc2_override, note) VALUES "
    "(line_id('L5'), true, 'pf', false, 'Fay did this one')",
    """INSERT INTO invoices (invoice_id, number, contact_id, date, status, currency_code, amount_paid, updated_utc)
       VALUES ('inv1', 'INV-1', 'acme', DATE '2026-01-05', 'AUTHORISED', 'GBP', 0, now()),
              ('inv2', 'INV-2', 'acme', DATE '2026-01-06', 'PAID', 'GBP', 100, now()),
              ('inv3', 'INV-3', 'cogs', DATE '2026-01-07', 'PAID', 'GBP', 30, now()),
              ('inv4', 'INV-4', 'cogs', DATE '2026-01-08', 'DRAFT', 'GBP', 0, now()),
              ('inv5', 'INV-5', 'beta', DATE '2026-01-09', 'DRAFT', 'GBP', 0, now())""",
    """INSERT INTO invoice_lines (line_id, invoice_id, position, description, item_code, line_amount) VALUES
        (line_id('L1'), 'inv1', 0, 'Tax return', 'TAX-RET', 100.00),
        (line_id('L2'), 'inv2', 0, 'Tax return', 'TAX-RET', 100.00),
        (line_id('L3'), 'inv3', 0, 'Audit', 'AUDIT', 30.00), (line_id('L4'), 'inv4', 0, 'Tax return', 'TAX-RET', 40.00),
        (line_id('L5'), 'inv5', 0, 'Audit', 'AUDIT', 50.00),
        (line_id('L6'), 'inv5', 1, 'Tax return', 'TAX-RET', 60.00)""",
    """INSERT INTO line_tracking (line_id, category_id, option_id) VALUES
        (line_id('L1'), 'cat-p', 'pf'), (line_id('L2'), 'cat-p', 'pf'), (line_id('L3'), 'cat-p', 'pf'),
        (line_id('L3'), 'cat-d', 'audit'), (line_id('L4'), 'cat-p', 'pf'), (line_id('L5'), 'cat-p', 'pa'),
        (line_id('L6'), 'cat-p', 'pa')""",
]


@pytest.fixture
def practice(seeded):
    return seeded(PRACTICE)


def verdicts(con, slot=1):
    return {line_name(line): (wanted, source, status) for line, wanted, source, status in con.execute(
        f"SELECT r.line_id, w{slot}.name, r.tc{slot}_source, r.status FROM line_rules r {rules.JOIN_WANTED} "
        "ORDER BY r.line_id").fetchall()}


def log(con):
    return con.execute("SELECT changed_by, source, entity, entity_id, field, old_value, new_value "
                       "FROM change_log ORDER BY change_id").fetchall()


def test_the_practice_starts_from_partner_f(practice):
    assert verdicts(practice) == {
        "L1": ("Partner F", "client", "same"), "L2": ("Partner F", "client", "locked"),
        "L3": (None, "none", "locked"), "L4": (None, "none", "same"), "L5": ("Partner F", "line", "change"),
        "L6": ("Partner A", "client", "change")}


def test_retiring_partner_f_moves_every_setting_and_line_to_partner_a(practice):
    version = store.data_version(practice)
    retirement = retire.retire_option(practice, 1, "partner f", "Partner A", by=EDITOR)

    assert [(c.entity, c.entity_id, c.name, c.field, c.old, c.new) for c in retirement.changes] == [
        ("client", "acme", "Acme Ltd", "tc1", "Partner F", "Partner A"),
        ("line", line_id("L3"), "INV-3 line 1", "tc1", None, "Partner A"),
        ("line", line_id("L4"), "INV-4 line 1", "tc1", None, "Partner A"),
        ("line", line_id("L5"), "INV-5 line 1", "tc1", "Partner F", "Partner A")]
    assert log(practice) == [
        ("eve@example.com", SOURCE, "client", "acme", "tc1", "Partner F", "Partner A"),
        ("eve@example.com", SOURCE, "line", line_id("L3"), "tc1", None, "Partner A"),
        ("eve@example.com", SOURCE, "line", line_id("L4"), "tc1", None, "Partner A"),
        ("eve@example.com", SOURCE, "line", line_id("L5"), "tc1", "Partner F", "Partner A")]
    assert practice.execute("SELECT * FROM client_settings ORDER BY contact_id").fetchall() == [
        ("acme", None, "pa", None, False), ("beta", None, "pa", "audit", False)]
    assert practice.execute("SELECT line_id, tc1_override, tc1_option_id, tc2_override, note FROM line_overrides "
                            "ORDER BY line_id").fetchall() == [
        (line_id("L3"), True, "pa", False, None), (line_id("L4"), True, "pa", False, None),
        (line_id("L5"), True, "pa", False, "Fay did this one")]
    # The Preview reads the refreshed rules: the open lines change, the locked ones want Partner A too.
    assert verdicts(practice) == {
        "L1": ("Partner A", "client", "change"), "L2": ("Partner A", "client", "locked"),
        "L3": ("Partner A", "line", "locked"), "L4": ("Partner A", "line", "change"),
        "L5": ("Partner A", "line", "change"), "L6": ("Partner A", "client", "change")}
    assert store.data_version(practice) == version + 1  # one transaction
    assert (retirement.open_lines, retirement.locked_lines, retirement.locked_invoices) == (2, 2, 2)
    assert retirement.counts() == {"client": 1, "line override": 3}


def test_the_locked_lines_that_carried_partner_f_are_in_the_find_and_recode_worklist(practice):
    retirement = retire.retire_option(practice, 1, "Partner F", "Partner A", by=EDITOR)

    rows = list(csv.DictReader(io.StringIO(push.locked_worklist_csv(practice).decode("utf-8-sig"))))
    assert [(r["Invoice Number"], r["Tracking Category"], r["Current Option"], r["Wanted Option"]) for r in rows] == [
        ("INV-2", "Partner", "Partner F", "Partner A"), ("INV-3", "Partner", "Partner F", "Partner A")]
    assert retirement.summary() == [
        "Replaced 'Partner F' by 'Partner A' in 1 client, 3 line overrides.",
        "2 lines of open invoices carry 'Partner F': the Preview shows their change, which a push sends to Xero.",
        "2 lines on 2 locked invoices carry 'Partner F' and will want 'Partner A', which Xero's API cannot write: "
        "they are in the Find & Recode worklist (Push page, Locked invoices, \"Download the locked lines\")."]


def test_a_dry_run_says_the_same_and_writes_nothing(practice, snapshot):
    before = snapshot(practice)
    dry = retire.retire_option(practice, 1, "Partner F", "Partner A", by=EDITOR, dry_run=True)
    assert snapshot(practice) == before
    assert dry.summary()[0] == "Would replace 'Partner F' by 'Partner A' in 1 client, 3 line overrides."
    assert dry.summary()[-1] == "Dry run: nothing was changed."

    done = retire.retire_option(practice, 1, "Partner F", "Partner A", by=EDITOR)
    assert dry.changes == done.changes
    assert (dry.open_lines, dry.locked_lines, dry.locked_invoices) == (done.open_lines, done.locked_lines,
                                                                       done.locked_invoices)


def test_retiring_a_department_moves_clients_services_and_team_members(practice):
    retirement = retire.retire_option(practice, 2, "Audit", "Tax", by=EDITOR)

    assert [(c.entity, c.name, c.field, c.old, c.new) for c in retirement.changes] == [
        ("client", "Beta LLC", "tc2", "Audit", "Tax"), ("service", "Audit", "tc2", "Audit", "Tax"),
        ("team_member", "Fay", "tc2", "Audit", "Tax")]
    assert [row[1:] for row in log(practice)] == [
        ("retire:Audit → Tax", "client", "beta", "tc2", "Audit", "Tax"),
        ("retire:Audit → Tax", "service", "AUDIT", "tc2", "Audit", "Tax"),
        ("retire:Audit → Tax", "team_member", "1", "tc2", "Audit", "Tax")]
    # L3 (Cogs, paid) carries Audit, which its service decided: it now wants Tax, in the worklist.
    assert (retirement.locked_lines, retirement.open_lines) == (1, 0)
    assert verdicts(practice, slot=2)["L3"] == ("Tax", "service", "locked")
    assert verdicts(practice, slot=2)["L5"] == ("Tax", "service", "change")


def test_the_history_names_the_retirement(practice):
    retire.retire_option(practice, 1, "Partner F", "Partner A", by=EDITOR)
    assert {event["source"] for event in history.events(practice)} == {"Retire option (Partner F → Partner A)"}


def test_an_option_nothing_names_retires_without_a_change(practice, snapshot):
    before = snapshot(practice)
    retirement = retire.retire_option(practice, 1, "Partner B", "Partner A", by=EDITOR)
    assert snapshot(practice) == before
    assert (retirement.changes, retirement.summary()) == ([], ["No setting names 'Partner B'."])


@pytest.mark.parametrize(("slot", "old", "new", "message"), [
    (1, "Partner Z", "Partner A", "There is no option called 'Partner Z' in 'Partner'."),
    (1, "Partner F", "Partner Q", "There is no option called 'Partner Q' in 'Partner'."),
    (1, "Partner F", "Partner B", "'Partner B' cannot take the place of 'Partner F': 'Partner B' is archived in "
                                  "'Partner'; choose an active option."),
    (1, "Partner F", "Tax", "'Tax' cannot take the place of 'Partner F': 'Tax' is an option of 'Department', not of "
                            "Tracking Category 1 (Partner)."),
    (1, "Partner F", "partner f", "'Partner F' cannot be retired into itself: choose another option to take its "
                                  "place."),
    (2, "Partner F", "Tax", "Cannot retire 'Partner F': 'Partner F' is an option of 'Partner', not of Tracking "
                            "Category 2 (Department)."),
    (1, "Partner F", "none", "Name the option that takes the place of 'Partner F'."),
])
def test_a_retirement_that_cannot_be_is_refused_in_plain_words(practice, snapshot, slot, old, new, message):
    before = snapshot(practice)
    with pytest.raises(InvalidChange) as error:
        retire.retire_option(practice, slot, old, new, by=EDITOR)
    assert str(error.value) == message
    assert snapshot(practice) == before


def test_an_archived_option_can_be_retired(practice):
    with store.transaction(practice):
        practice.execute("UPDATE tracking_options SET status = 'ARCHIVED' WHERE option_id = 'pf'")
        rules.refresh(practice)
    retirement = retire.retire_option(practice, 1, "Partner F", "Partner A", by=EDITOR)
    assert retirement.counts() == {"client": 1, "line override": 3}
    assert verdicts(practice)["L1"] == ("Partner A", "client", "change")


def test_a_viewer_may_not_retire_an_option(practice, snapshot):
    before = snapshot(practice)
    with pytest.raises(access.Forbidden, match=r"Your role \(viewer\) cannot change assignments"):
        retire.retire_option(practice, 1, "Partner F", "Partner A", by=VIEWER)
    assert snapshot(practice) == before


# --- the command line ---------------------------------------------------------------------------

def test_the_command_line_dry_run_shows_the_changes_and_writes_nothing(practice, db_path, snapshot, capsys):
    before = snapshot(practice)
    practice.close()
    assert main(["retire-option", "--slot", "1", "Partner F", "--to", "Partner A", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:4] == [
        "client Acme Ltd: tc1 Partner F → Partner A", "line override INV-3 line 1: tc1 (none) → Partner A",
        "line override INV-4 line 1: tc1 (none) → Partner A", "line override INV-5 line 1: tc1 Partner F → Partner A"]
    assert "Find & Recode worklist" in out and out.rstrip().endswith("Dry run: nothing was changed.")
    with store.connect(db_path) as con:
        assert snapshot(con) == before


def test_the_command_line_retires_with_one_change_log_row_per_change(practice, db_path, capsys):
    practice.close()
    assert main(["retire-option", "--slot", "1", "Partner F", "--to", "Partner A"]) == 0
    assert "Replaced 'Partner F' by 'Partner A' in 1 client, 3 line overrides." in capsys.readouterr().out
    with store.connect(db_path) as con:
        assert [row[:4] for row in log(con)] == [
            (access.command_line().who, SOURCE, "client", "acme"),
            (access.command_line().who, SOURCE, "line", line_id("L3")),
            (access.command_line().who, SOURCE, "line", line_id("L4")),
            (access.command_line().who, SOURCE, "line", line_id("L5"))]


@pytest.mark.parametrize(("args", "message"), [
    (["Partner F", "--to", "Partner B"], "error: 'Partner B' cannot take the place of 'Partner F': 'Partner B' is "
                                         "archived in 'Partner'; choose an active option."),
    (["Nobody", "--to", "Partner A"], "error: There is no option called 'Nobody' in 'Partner'."),
])
def test_the_command_line_refuses_with_exit_2(practice, db_path, snapshot, capsys, args, message):
    before = snapshot(practice)
    practice.close()
    assert main(["retire-option", "--slot", "1", *args]) == 2
    assert capsys.readouterr().err.strip() == message
    with store.connect(db_path) as con:
        assert snapshot(con) == before


# --- the Settings page ----------------------------------------------------------------------------

@pytest.fixture
def settings_page(practice, db_path, uncalled_xero, streamlit_caches):
    """pages/settings.py on the practice above (no demo organisation)."""
    from streamlit.testing.v1 import AppTest

    from core import config

    practice.close()
    at = AppTest.from_file(str(config.ROOT / "pages/settings.py"), default_timeout=60).run()
    assert not at.exception
    return at


def choose(at, slot, old, new):
    at.radio(key="retire_slot").set_value(slot).run()
    at.selectbox(key="retire_old").set_value(old).run()
    at.selectbox(key="retire_new").set_value(new).run()
    return at


def test_the_page_shows_what_would_change_then_retires(settings_page, db_path, snapshot):
    at = choose(settings_page, 1, "Partner F", "Partner A")
    assert at.selectbox(key="retire_old").options == ["Partner A", "Partner B", "Partner F"]
    assert at.selectbox(key="retire_new").options == ["Partner A"]  # the active ones, less the one retired
    with store.connect(db_path) as con:
        before = snapshot(con)

    at.button(key="retire_check").click().run()

    assert not at.exception
    assert at.info[-1].value.startswith("Would replace 'Partner F' by 'Partner A' in 1 client, 3 line overrides.")
    assert "Find & Recode worklist" in at.info[-1].value
    assert at.dataframe[-1].value.values.tolist() == [
        ["client", "Acme Ltd", "Partner F", "Partner A"], ["line override", "INV-3 line 1", "None", "Partner A"],
        ["line override", "INV-4 line 1", "None", "Partner A"],
        ["line override", "INV-5 line 1", "Partner F", "Partner A"]]
    with store.connect(db_path) as con:
        assert snapshot(con) == before

    at.button(key="retire_apply").click().run()

    assert not at.exception
    assert at.success[0].value.startswith("Replaced 'Partner F' by 'Partner A' in 1 client, 3 line overrides.")
    assert "retire_apply" not in [b.key for b in at.button]
    with store.connect(db_path) as con:
        assert [row[1:3] for row in log(con)] == [(SOURCE, "client"), (SOURCE, "line"), (SOURCE, "line"),
                                                  (SOURCE, "line")]
        assert verdicts(con)["L1"] == ("Partner A", "client", "change")


def test_the_page_offers_only_the_slots_options_and_refuses_a_successor_archived_meanwhile(settings_page, db_path,
                                                                                         snapshot):
    at = choose(settings_page, 2, "Audit", "Tax")
    assert at.selectbox(key="retire_old").options == ["Audit", "Tax"]
    with store.connect(db_path) as con:  # archived in Xero and synced while the page was open
        con.execute("UPDATE tracking_options SET status = 'ARCHIVED' WHERE option_id = 'tax'")
        before = snapshot(con)

    at.button(key="retire_check").click().run()

    assert not at.exception
    assert at.error[0].value == ("'Tax' cannot take the place of 'Audit': 'Tax' is archived in 'Department'; choose an "
                                 "active option.")
    assert "retire_apply" not in [b.key for b in at.button]
    with store.connect(db_path) as con:
        assert snapshot(con) == before
