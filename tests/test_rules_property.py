"""The SQL rules agree with an obviously-correct Python reading of docs/rules.md on random practices."""
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from core import rules, store
from tests.line_ids import line_id, line_name

CATEGORIES = [("cat-p", "ACTIVE", 0), ("cat-d", "ACTIVE", 1), ("cat-r", "ARCHIVED", 2), ("cat-x", "ACTIVE", 3)]
OPTIONS = {"p1": "cat-p", "p2": "cat-p", "d1": "cat-d", "d2": "cat-d", "r1": "cat-r", "x1": "cat-x"}
CLIENTS = ["c1", "c2", "c3"]
ITEMS = ["A", "B", "C", None]
TABLES = ["slots", "tracking_categories", "tracking_options", "team_members", "client_settings", "services",
          "line_overrides", "contacts", "invoices", "invoice_lines", "line_tracking"]

option = st.sampled_from([*OPTIONS, "missing"])
maybe_option = st.sampled_from([None, None, *OPTIONS, "missing"])
extra_tag = st.sampled_from([None, None, ("cat-r", "r1"), ("cat-x", "x1"), ("cat-x", "missing")])  # beyond the slots
slot_maps = st.sampled_from([[], [(1, "cat-p"), (2, "cat-d")], [(1, "cat-d"), (2, "cat-p")],
                             [(1, "cat-p"), (2, "cat-p")], [(1, "cat-p"), (2, "cat-r")], [(1, "cat-d")]])
practices = st.fixed_dictionaries({
    "slots": slot_maps,
    "option_status": st.fixed_dictionaries({o: st.sampled_from(["ACTIVE", "ACTIVE", "ARCHIVED", "DELETED"])
                                            for o in OPTIONS}),
    "members": st.fixed_dictionaries({1: maybe_option, 2: maybe_option}),
    # c3 sometimes has no settings row at all
    "clients": st.fixed_dictionaries({c: (st.none() if c == "c3" else st.nothing()) | st.tuples(
        st.sampled_from([None, 1, 2, 3]), maybe_option, maybe_option, st.booleans()) for c in CLIENTS}),
    "services": st.fixed_dictionaries({i: st.tuples(maybe_option, st.booleans()) for i in "ABC"}),
    "invoices": st.lists(st.tuples(
        st.sampled_from(CLIENTS), st.sampled_from(["DRAFT", "AUTHORISED", "PAID", "VOIDED"]),
        st.sampled_from([0, 0, 0, 5]), st.booleans(),
        st.lists(st.tuples(st.sampled_from(ITEMS), maybe_option, maybe_option,
                           st.none() | st.tuples(st.booleans(), maybe_option, st.booleans(), maybe_option),
                           extra_tag),
                 min_size=1, max_size=4)),
        min_size=1, max_size=5),
})


def reference(p: dict) -> dict[str, tuple]:
    """Each line's (tc1 wanted, source, apply, tc2 wanted, source, apply, status, has a reason?).

    A `change` line is blocked when a line of its invoice would, after the push, carry a tag Xero
    refuses back or more than 2 tags. A tag Xero refuses back is one whose option or category no longer
    exists; an archived option or category kept on a line blocks nothing, the push tries it (docs/rules.md),
    and the invoice's `change` lines say why Xero may refuse it: locked, blocked and those lines have a reason.
    """
    active = [c for c, status, _ in sorted(CATEGORIES, key=lambda c: c[2]) if status == "ACTIVE"]
    slot_map = dict(p["slots"]) if p["slots"] else dict(enumerate(active[:2], 1))
    category_status = {c: status for c, status, _ in CATEGORIES}
    slots_ok = (len(slot_map) == 2 and slot_map[1] != slot_map[2]
                and all(category_status.get(c) == "ACTIVE" for c in slot_map.values()))
    result = {}

    def returnable(category, option):
        return category in category_status and OPTIONS.get(option) == category

    def inactive(category, option):
        return returnable(category, option) and {category_status[category], p["option_status"][option]} != {"ACTIVE"}

    for n, (contact, status, paid, allocated, lines) in enumerate(p["invoices"]):
        owner, client_tc1, client_tc2, consolidate = p["clients"][contact] or (None, None, None, False)
        owner_tc2 = p["members"].get(owner)
        first_override = lines[0][3]
        invoice, after_push = {}, []
        for position, (item, now1, now2, line_override, extra) in enumerate(lines):
            o1, o1_opt, o2, o2_opt = line_override or (False, None, False, None)
            service_tc2, alignment = p["services"].get(item) or (None, False)
            if o1:
                tc1 = (o1_opt, "line", True)
            elif consolidate and first_override and first_override[0]:
                tc1 = (first_override[1], "consolidated", True)
            elif client_tc1:
                tc1 = (client_tc1, "client", True)
            else:
                tc1 = (None, "none", False)
            if o2:
                tc2 = (o2_opt, "line", True)
            elif consolidate:
                tc2 = (None, "consolidated", False)
            elif alignment:
                tc2 = (owner_tc2, "owner", True) if owner_tc2 else (None, "none", False)
            elif service_tc2:
                tc2 = (service_tc2, "service", True)
            elif client_tc2:
                tc2 = (client_tc2, "client", True)
            elif owner_tc2:
                tc2 = (owner_tc2, "owner", True)
            else:
                tc2 = (None, "none", False)
            wanted = {1: tc1, 2: tc2}
            current = {"cat-p": now1, "cat-d": now2}
            tags = {category: option for category, option in [*current.items(), extra or (None, None)] if option}
            if status in ("PAID", "VOIDED") or paid or allocated:
                verdict = "locked"
            elif not slots_ok or any(
                    opt and (opt not in OPTIONS or OPTIONS[opt] != slot_map[slot]
                             or p["option_status"][opt] != "ACTIVE")
                    for slot, (opt, _, _) in wanted.items()):
                verdict = "blocked"
            elif all(current.get(slot_map[slot]) == opt for slot, (opt, _, apply) in wanted.items() if apply):
                verdict = "same"
            else:
                verdict = "change"
                for slot, (opt, _, apply) in wanted.items():
                    if apply:  # the push rewrites this slot's tag
                        tags.pop(slot_map[slot], None)
                        tags.update({slot_map[slot]: opt} if opt else {})
            after_push.append(tags)
            invoice[f"l{n}-{position}"] = (*tc1, *tc2, verdict)
        refused = any(len(tags) > 2 or not all(returnable(c, o) for c, o in tags.items()) for tags in after_push)
        may_be_refused = any(inactive(c, o) for tags in after_push for c, o in tags.items())
        for name, (*decided, verdict) in invoice.items():
            verdict = "blocked" if verdict == "change" and refused else verdict
            result[name] = (*decided, verdict, verdict in ("locked", "blocked")
                                           or verdict == "change" and may_be_refused)
    return result


def insert_many(con, sql: str, rows: list) -> None:
    if rows:
        con.executemany(sql, rows)


def load(con, p: dict) -> None:
    for table in TABLES:
        con.execute(f"DELETE FROM {table}")
    insert_many(con, "INSERT INTO tracking_categories VALUES (?, ?, ?, ?)",
                    [(c, c.upper(), status, pos) for c, status, pos in CATEGORIES])
    insert_many(con, "INSERT INTO tracking_options VALUES (?, ?, ?, ?)",
                    [(o, c, o.upper(), p["option_status"][o]) for o, c in OPTIONS.items()])
    if p["slots"]:
        insert_many(con, "INSERT INTO slots VALUES (?, ?)", p["slots"])
    insert_many(con, "INSERT INTO team_members (member_id, name, tc2_option_id) VALUES (?, ?, ?)",
                    [(m, f"M{m}", tc2) for m, tc2 in p["members"].items()])
    insert_many(con, "INSERT INTO client_settings VALUES (?, ?, ?, ?, ?)",
                    [(c, *s) for c, s in p["clients"].items() if s])
    insert_many(con, "INSERT INTO services VALUES (?, ?, ?)", [(i, *s) for i, s in p["services"].items() if s])
    for n, (contact, status, paid, allocated, lines) in enumerate(p["invoices"]):
        con.execute("""INSERT INTO invoices (invoice_id, number, contact_id, status, currency_code, amount_paid,
                           has_allocations, updated_utc) VALUES (?, ?, ?, ?, 'NZD', ?, ?, now())""",
                    [f"i{n}", f"INV-{n}", contact, status, paid, allocated])
        for position, (item, now1, now2, line_override, extra) in enumerate(lines):
            line = line_id(f"l{n}-{position}")
            # positions run backwards from 10 to check "first" means the lowest position
            con.execute("INSERT INTO invoice_lines (line_id, invoice_id, position, item_code) VALUES (?, ?, ?, ?)",
                        [line, f"i{n}", 10 - position if position else 0, item])
            tags = [("cat-p", now1), ("cat-d", now2), extra or (None, None)]
            insert_many(con, "INSERT INTO line_tracking (line_id, category_id, option_id) VALUES (?, ?, ?)",
                            [(line, c, o) for c, o in tags if o])
            if line_override:
                con.execute("INSERT INTO line_overrides VALUES (?, ?, ?, ?, ?, NULL)", [line, *line_override])


@pytest.fixture(scope="module")
def module_con(tmp_path_factory):
    with store.connect(tmp_path_factory.mktemp("rules_property") / "tracking.duckdb") as con:
        yield con


ALL_ACTIVE = {o: "ACTIVE" for o in OPTIONS}
NO_CLIENT = (None, None, None, False)
# CI's run found it: an option of an archived category kept on another line does not block the change
KEPT_ARCHIVED_CATEGORY = {
    "slots": [], "option_status": ALL_ACTIVE, "members": {1: None, 2: None},
    "clients": {"c1": NO_CLIENT, "c2": NO_CLIENT, "c3": None},
    "services": {"A": (None, False), "B": ("d1", False), "C": (None, False)},
    "invoices": [("c1", "DRAFT", 0, False, [("A", None, None, None, None), ("A", None, None, None, ("cat-r", "r1")),
                                           ("B", None, None, None, None)])],
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(practice=practices)
@example(practice=KEPT_ARCHIVED_CATEGORY)
def test_sql_rules_agree_with_the_python_reference(module_con, practice):
    with store.transaction(module_con):
        load(module_con, practice)
        rules.refresh(module_con)
    rows = module_con.execute(f"""
        SELECT line_id, tc1_wanted_option_id, tc1_source, tc1_apply, tc2_wanted_option_id, tc2_source, tc2_apply,
               status, {rules.SHOWN_REASON} IS NOT NULL
        FROM line_rules r {rules.JOIN_REFUSABLE}""").fetchall()
    assert {line_name(row[0]): row[1:] for row in rows} == reference(practice)
