from argparse import Namespace

import pytest

from core import access, slots, store
from core.cli import slots as slots_cli

ANN = access.Actor("ann", None, access.Role.ADMIN)

PARTNER, DEPARTMENT, REGION, OLD = "cat-partner", "cat-department", "cat-region", "cat-old"


def add_categories(con, *categories, synced=True):
    """categories: (id, name, status, [active option names])."""
    with store.transaction(con):
        for position, (category_id, name, status, options) in enumerate(categories):
            con.execute("INSERT INTO tracking_categories VALUES (?, ?, ?, ?)", [category_id, name, status, position])
            for option in options:
                con.execute("INSERT INTO tracking_options VALUES (?, ?, ?, 'ACTIVE')",
                            [f"{category_id}/{option}", category_id, option])
        if synced:
            con.execute("INSERT INTO sync_state (entity, synced_at) VALUES ('tracking_categories', now())")


@pytest.fixture
def xero_categories(con):
    add_categories(con, (OLD, "Office", "ARCHIVED", ["North"]), (PARTNER, "Partner", "ACTIVE", ["Ann", "Bob"]),
                   (REGION, "Region", "ACTIVE", []), (DEPARTMENT, "Department", "ACTIVE", ["Tax"]))
    return con


def test_default_map_is_xeros_first_two_active_categories(xero_categories):
    assert slots.current(xero_categories) == {1: PARTNER, 2: REGION}
    assert not slots.is_saved(xero_categories)


def test_save_writes_the_map_and_logs_each_changed_slot(xero_categories):
    con = xero_categories
    assert slots.save(con, DEPARTMENT, PARTNER, by=ANN) is True
    assert con.execute("SELECT * FROM slots ORDER BY slot").fetchall() == [(1, DEPARTMENT), (2, PARTNER)]
    assert con.execute("SELECT changed_by, source, entity, entity_id, field, old_value, new_value "
                       "FROM change_log ORDER BY entity_id").fetchall() == [
        ("ann", "ui", "slot", "1", "Tracking category", "Partner", "Department"),
        ("ann", "ui", "slot", "2", "Tracking category", "Region", "Partner")]
    assert slots.names(con) == {1: "Department", 2: "Partner"}


def test_saving_the_same_map_again_changes_nothing(xero_categories):
    con = xero_categories
    slots.save(con, PARTNER, DEPARTMENT, by=ANN)
    version = store.data_version(con)
    assert slots.save(con, PARTNER, DEPARTMENT, by=ANN) is False
    assert store.data_version(con) == version


@pytest.mark.parametrize(("tc1", "tc2", "message"), [
    (PARTNER, PARTNER, "must be different categories; both are set to 'Partner'"),
    (PARTNER, OLD, "Tracking Category 2: 'Office' is archived in Xero"),
    (REGION, PARTNER, "Tracking Category 1: 'Region' has no active options"),
    (PARTNER, "cat-new", "'cat-new' is not a tracking category in Xero. If you changed tracking categories "
                         "in Xero recently, sync"),
])
def test_an_unusable_map_is_refused_and_nothing_is_written(xero_categories, tc1, tc2, message):
    with pytest.raises(slots.InvalidSlots, match=message):
        slots.save(xero_categories, tc1, tc2, by=ANN)
    assert xero_categories.execute("SELECT count(*) FROM slots").fetchone()[0] == 0
    assert xero_categories.execute("SELECT count(*) FROM change_log").fetchone()[0] == 0


@pytest.mark.parametrize(("categories", "expected"), [
    ([], ["Xero has no active tracking category."]),
    ([(OLD, "Office", "ARCHIVED", ["North"])], ["Xero has no active tracking category."]),
    ([(PARTNER, "Partner", "ACTIVE", ["Ann"])], ["Xero has only one active tracking category, 'Partner'."]),
    ([(PARTNER, "Partner", "ACTIVE", ["Ann"]), (REGION, "Region", "ACTIVE", [])],
     ["The tracking category 'Region' has no active options in Xero"]),
    ([(PARTNER, "Partner", "ACTIVE", ["Ann"]), (DEPARTMENT, "Department", "ACTIVE", ["Tax"])], []),
])
def test_problems_say_what_xero_lacks(con, categories, expected):
    add_categories(con, *categories)
    found = slots.problems(con)
    assert len(found) == len(expected)
    for problem, start in zip(found, expected):
        assert problem.startswith(start)


def test_problems_before_the_first_sync(con):
    assert slots.problems(con) == ["The tracking categories have not been synced from Xero yet. Sync to read them."]


def test_a_saved_slot_whose_category_was_archived_or_deleted_is_named(xero_categories):
    con = xero_categories
    slots.save(con, PARTNER, DEPARTMENT, by=ANN)
    con.execute("UPDATE tracking_categories SET status = 'ARCHIVED' WHERE category_id = ?", [PARTNER])
    con.execute("DELETE FROM tracking_categories WHERE category_id = ?", [DEPARTMENT])
    assert slots.problems(con)[-2:] == [
        "Tracking Category 1 is mapped to 'Partner', which is archived in Xero. Choose an active one below.",
        "Tracking Category 2 is mapped to a category that no longer exists in Xero (it was deleted). "
        "Choose another one below."]


def test_command_line_sets_slots_by_name(xero_categories, db_path, capsys):
    xero_categories.close()
    assert slots_cli.run(Namespace(tc1=" department ", tc2="PARTNER")) == 0
    assert capsys.readouterr().out == "Saved.\nTracking Category 1: Department\nTracking Category 2: Partner\n"
    assert slots_cli.run(Namespace(tc1="Partner", tc2="Partner")) == 2
    assert "must be different" in capsys.readouterr().err
    assert slots_cli.run(Namespace(tc1="Nowhere", tc2=None)) == 2
    assert "no tracking category named 'Nowhere'" in capsys.readouterr().err

