import duckdb
import pytest

from core import rules, store
from tests.line_ids import line_id, line_name


def test_migrations_apply_once(db_path):
    with store.connect(db_path) as con:
        names = [n for (n,) in con.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()]
        assert names == [name for name, _ in store.MIGRATIONS]
        assert store.apply_migrations(con) == []


def test_old_database_upgrades_in_place(tmp_path):
    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    old.execute("CREATE TABLE schema_migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP DEFAULT now())")
    first_name, first_sql = store.MIGRATIONS[0]
    old.execute(first_sql)
    old.execute("INSERT INTO schema_migrations (name) VALUES (?)", [first_name])
    old.execute("INSERT INTO contacts VALUES ('c1', 'Acme', 'ACTIVE', NULL)")
    old.close()

    with store.connect(path) as con:
        assert con.execute("SELECT name FROM contacts").fetchall() == [("Acme",)]
        assert con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(store.MIGRATIONS)
        assert store.data_version(con) == 0


def test_the_labels_the_rules_give_are_the_stored_enums(con):
    assert con.execute("SELECT enum_range(NULL::rule_source), enum_range(NULL::line_status)").fetchone() == (
        list(rules.SOURCES), list(rules.STATUSES))


def test_verdicts_survive_the_narrowing_of_line_rules(tmp_path):
    path = tmp_path / "0016.duckdb"
    old = duckdb.connect(str(path))
    old.execute("CREATE TABLE schema_migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP DEFAULT now())")
    for name, sql in store.MIGRATIONS[:[n for n, _ in store.MIGRATIONS].index("0017_line_rules_narrow")]:
        old.execute(sql)
        old.execute("INSERT INTO schema_migrations (name) VALUES (?)", [name])
    old.execute("""INSERT INTO line_rules (line_id, invoice_id, contact_id, position, invoice_status, tc1_category_id,
                                           tc1_wanted_option_id, tc1_wanted_name, tc1_source, tc1_apply,
                                           tc2_source, tc2_apply, status, reason)
                   VALUES ('l1', 'i1', 'acme', 0, 'AUTHORISED', 'cat-p', 'ann', 'Ann', 'client', true,
                           'none', false, 'blocked', 'Option ''Ann'' is archived in Xero')""")
    old.close()

    with store.connect(path) as con:
        assert con.execute("SELECT line_id, tc1_wanted_option_id, tc1_source, tc2_source, status, reason "
                           "FROM line_rules").fetchall() == [
            ("l1", "ann", "client", "none", "blocked", "Option 'Ann' is archived in Xero")]


def test_transaction_commits_and_bumps_version(con):
    with store.transaction(con):
        con.execute("INSERT INTO slots VALUES (1, 'cat-a')")
    assert con.execute("SELECT * FROM slots").fetchall() == [(1, "cat-a")]
    assert store.data_version(con) == 1


def test_delete_at_deletes_the_keys_rows_where_they_were_found_or_else_by_key(con):
    con.execute("""INSERT INTO line_tracking (line_id, category_id, option_id) VALUES
        (line_id('l1'), 'cat-a', 'ann'), (line_id('l1'), 'cat-b', 'tax'), (line_id('l2'), 'cat-a', 'bob'),
        (line_id('l3'), 'cat-a', 'ann')""")
    where = {(line_name(line), category): row
             for line, category, row in con.execute("SELECT line_id, category_id, rowid FROM line_tracking").fetchall()}
    left = lambda: sorted((line_name(line), category) for line, category
                          in con.execute("SELECT line_id, category_id FROM line_tracking").fetchall())

    store.delete_at(con, "line_tracking", "line_id", [line_id("l1")], [where["l1", "cat-a"], where["l1", "cat-b"]])
    assert left() == [("l2", "cat-a"), ("l3", "cat-a")]
    # a position that now holds another line's row deletes nothing there; the line's rows go by key
    store.delete_at(con, "line_tracking", "line_id", [line_id("l2")], [where["l3", "cat-a"]])
    assert left() == [("l3", "cat-a")]


def test_failed_transaction_leaves_nothing(con):
    with pytest.raises(duckdb.ConstraintException):
        with store.transaction(con):
            con.execute("INSERT INTO slots VALUES (1, 'cat-a')")
            con.execute("INSERT INTO slots VALUES (1, 'cat-b')")
    assert con.execute("SELECT count(*) FROM slots").fetchone()[0] == 0
    assert store.data_version(con) == 0


LOCK_HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _hold_lock(path, seconds):
    import subprocess, sys
    proc = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_busy_database_waits_then_says_so(db_path):
    with store.connect(db_path):
        pass
    holder = _hold_lock(db_path, 5)
    try:
        with pytest.raises(store.DatabaseBusy, match="in use by another program"):
            with store.connect(db_path, wait_seconds=0.5):
                pass
    finally:
        holder.kill()
        holder.wait()


def test_database_freed_by_other_process_is_opened(db_path):
    with store.connect(db_path):
        pass
    holder = _hold_lock(db_path, 1)
    with store.connect(db_path, wait_seconds=10) as con:
        assert store.data_version(con) == 0
    holder.wait()


def test_a_write_that_does_not_compact_leaves_it_to_the_next_write(db_path):
    """A push's batches open the database with compact=False: their checkpoint keeps row groups with deleted
    rows as they are, and the next ordinary write's checkpoint compacts them."""
    row_groups = "SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('numbers')"
    with store.connect(db_path) as con:
        con.execute("CREATE TABLE numbers AS SELECT range AS n FROM range(400000)")
        assert con.execute(row_groups).fetchone()[0] == 4
    with store.connect(db_path, compact=False) as con, store.transaction(con):
        con.execute("DELETE FROM numbers WHERE n % 10 <> 0")
    with store.connect(db_path) as con:
        assert con.execute(row_groups).fetchone()[0] == 4
        with store.transaction(con):
            con.execute("DELETE FROM numbers WHERE n = 0")
    with store.connect(db_path) as con:
        assert con.execute(row_groups).fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM numbers").fetchone()[0] == 39_999
