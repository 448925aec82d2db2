"""Rules for N lines: refresh, preview queries and edit-to-preview, against a Python-loop baseline and the old refresh.

Builds a synthetic practice of `--lines` invoice lines (10 per invoice, 100 per client) in a
temporary database with SQL `range()`, its lines stored newest invoice first as the sync stores them
(core/sync.py ORDER_STAGE_LINES), then, in a process that only opens that database, times, best of 3:
- the rules computed for every line: the rules query with every one of its columns evaluated
  (counted, not stored), and the baseline: the same input rows fetched into Python and looped
  over applying the rule table;
- `rules.refresh` as the app runs it after a full sync: the rules computed, the archived-tag
  check, every line's verdict stored in `line_rules` and checkpointed;
- the preview's queries: totals by status, and one filtered page of 500 rows;
- one client's TC1 changed (UPDATE client_settings + `rules.refresh_for`) until the preview
  query shows it;
each write followed by the checkpoint that closing the database does in the app, and reports that
process's own peak memory (core/bench/memory.py). The baseline of the refresh and of the peak memory is the refresh as
it was before issue 21 (sorted, DuckDB limited to 768 MB), timed in a process of its own.
"""
import argparse
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from core import preview, rules, statuses, store
from core.bench import memory
from core.cli.bench import count

LINES_PER_INVOICE = 10
INVOICES_PER_CLIENT = 10
PARTNERS, DEPARTMENTS, MEMBERS, ITEMS = 12, 24, 30, 60

# The ids look like Xero's GUIDs; `gid(kind, n)` makes the n-th id of a kind.
GID = "printf('%08x-0000-4000-8000-%012d', {kind}, {n})"
BUILD = [
    """INSERT INTO tracking_categories VALUES
        ('00000001-0000-4000-8000-000000000000', 'Partner', 'ACTIVE', 0),
        ('00000002-0000-4000-8000-000000000000', 'Department', 'ACTIVE', 1),
        ('00000003-0000-4000-8000-000000000000', 'Region', 'ARCHIVED', 2)""",
    f"""INSERT INTO tracking_options
        SELECT {GID.format(kind=11, n='i')}, '00000001-0000-4000-8000-000000000000', 'Partner ' || i,
               CASE WHEN i = 0 THEN 'ARCHIVED' ELSE 'ACTIVE' END
        FROM range({PARTNERS}) t(i)
        UNION ALL
        SELECT {GID.format(kind=12, n='i')}, '00000002-0000-4000-8000-000000000000', 'Department ' || i,
               CASE WHEN i = 0 THEN 'ARCHIVED' ELSE 'ACTIVE' END
        FROM range({DEPARTMENTS}) t(i)""",
    f"""INSERT INTO team_members (member_id, name, email, tc2_option_id)
        SELECT i, 'Member ' || i, 'member' || i || '@example.com',
               CASE WHEN i % 5 <> 0 THEN {GID.format(kind=12, n=f'i % {DEPARTMENTS}')} END
        FROM range(1, {MEMBERS} + 1) t(i)""",
    f"""INSERT INTO contacts SELECT {GID.format(kind=21, n='i')}, 'Client ' || i, 'ACTIVE', TIMESTAMP '2026-01-01'
        FROM range($clients) t(i)""",
    f"""INSERT INTO client_settings
        SELECT {GID.format(kind=21, n='i')}, 1 + i % {MEMBERS},
               CASE WHEN i % 7 <> 0 THEN {GID.format(kind=11, n=f'i % {PARTNERS}')} END,
               CASE WHEN i % 3 = 0 THEN {GID.format(kind=12, n=f'(i * 7) % {DEPARTMENTS}')} END,
               i % 20 = 0
        FROM range($clients) t(i) WHERE i % 10 <> 9""",
    f"""INSERT INTO items SELECT {GID.format(kind=31, n='i')}, 'ITEM-' || i, 'Service ' || i, TIMESTAMP '2026-01-01'
        FROM range({ITEMS}) t(i)""",
    f"""INSERT INTO services
        SELECT 'ITEM-' || i, CASE WHEN i % 2 = 0 THEN {GID.format(kind=12, n=f'(i * 5) % {DEPARTMENTS}')} END,
               i % 15 = 0
        FROM range({ITEMS}) t(i)""",
    f"""INSERT INTO invoices (invoice_id, number, contact_id, date, status, currency_code, total,
                              amount_paid, amount_credited, has_allocations, updated_utc)
        SELECT {GID.format(kind=41, n='i')}, 'INV-' || lpad(i::VARCHAR, 7, '0'),
               {GID.format(kind=21, n=f'i // {INVOICES_PER_CLIENT}')},
               DATE '2025-11-30' - (i * 700 // $invoices)::INTEGER,
               CASE i % 10 WHEN 0 THEN 'PAID' WHEN 1 THEN 'DRAFT' WHEN 2 THEN 'VOIDED' ELSE 'AUTHORISED' END,
               'NZD', 1000, CASE WHEN i % 10 = 3 THEN 50 ELSE 0 END, 0, false, TIMESTAMP '2026-01-01'
        FROM range($invoices) t(i)""",
    f"""INSERT INTO invoice_lines (line_id, invoice_id, position, description, item_code, quantity,
                                   unit_amount, line_amount)
        SELECT {GID.format(kind=51, n='i')}, {GID.format(kind=41, n=f'i // {LINES_PER_INVOICE}')},
               i % {LINES_PER_INVOICE}, 'Work item ' || i, 'ITEM-' || (i * 13) % {ITEMS}, 1, 100, 100
        FROM range($lines) t(i)""",
    f"""INSERT INTO line_tracking
        SELECT {GID.format(kind=51, n='i')}, '00000001-0000-4000-8000-000000000000',
               {GID.format(kind=11, n=f'(i // 10) % {PARTNERS}')}, 'Partner', 'Partner ' || (i // 10) % {PARTNERS}
        FROM range($lines) t(i) WHERE i % 4 <> 0
        UNION ALL
        SELECT {GID.format(kind=51, n='i')}, '00000002-0000-4000-8000-000000000000',
               {GID.format(kind=12, n=f'i % {DEPARTMENTS}')}, 'Department', 'Department ' || i % {DEPARTMENTS}
        FROM range($lines) t(i) WHERE i % 3 <> 0""",
    f"""INSERT INTO line_overrides
        SELECT {GID.format(kind=51, n='i')}, i % 2 = 0,
               CASE WHEN i % 4 = 0 THEN {GID.format(kind=11, n=f'i % {PARTNERS}')} END,
               i % 3 = 0, CASE WHEN i % 9 = 0 THEN {GID.format(kind=12, n=f'i % {DEPARTMENTS}')} END, NULL
        FROM range(0, $lines, 97) t(i)""",
]

# The app closes the database after every operation, and DuckDB then checkpoints: the rows a
# refresh deleted leave the file. One connection held through the benchmark checkpoints here
# instead (timed with the write), or every later query would also scan the deleted generations.
CHECKPOINT = "CHECKPOINT"
# Every column of the rules for every line, counted so that none can be left out.
COMPUTE_ALL = "SELECT count(COLUMNS(*)) FROM (" + rules.RULES_SELECT.format(**rules.ALL_LINES) + ")"
EDITED_CLIENT = "SELECT contact_id FROM client_settings WHERE NOT consolidate ORDER BY contact_id LIMIT 1"
NEW_TC1_OPTIONS = """SELECT option_id FROM tracking_options
    WHERE category_id = '00000001-0000-4000-8000-000000000000' AND status = 'ACTIVE' ORDER BY option_id LIMIT ?"""

# The baseline's input: the same rows the SQL reads, fetched into Python (the lines' ids as strings, as the overrides
# keep them).
BASELINE_INPUTS = {
    "slots": "SELECT slot, category_id FROM slots",
    "categories": "SELECT category_id, status, position FROM tracking_categories",
    "options": "SELECT option_id, category_id, name, status FROM tracking_options",
    "members": "SELECT member_id, tc2_option_id FROM team_members",
    "clients": "SELECT contact_id, owner_id, tc1_option_id, tc2_option_id, consolidate FROM client_settings",
    "services": "SELECT item_code, tc2_option_id, alignment_fee FROM services",
    "overrides": "SELECT line_id, tc1_override, tc1_option_id, tc2_override, tc2_option_id FROM line_overrides",
    "tracking": "SELECT line_id::VARCHAR, category_id, option_id FROM line_tracking",
    "lines": """SELECT L.line_id::VARCHAR, L.invoice_id, L.position, L.item_code, I.contact_id, I.status,
                       I.amount_paid, I.amount_credited, I.has_allocations
                FROM invoice_lines L JOIN invoices I USING (invoice_id)""",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lines", type=count, default=1_000_000, help="invoice lines to generate (default 1,000,000)")
    parser.add_argument("--repeat", type=count, default=3, help="timed runs per figure; the best counts (default 3)")


def build(con, lines: int) -> None:
    invoices = max(1, lines // LINES_PER_INVOICE)
    params = {"lines": lines, "invoices": invoices, "clients": max(1, invoices // INVOICES_PER_CLIENT)}
    with store.transaction(con):
        for sql in BUILD:
            con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})


def baseline(con) -> int:
    """The rule table as a plain Python loop over the fetched rows; returns the lines decided."""
    rows = {name: con.execute(sql).fetchall() for name, sql in BASELINE_INPUTS.items()}
    categories = {c: (status, pos) for c, status, pos in rows["categories"]}
    slot_map = dict(rows["slots"]) or dict(enumerate(
        sorted((c for c, (s, _) in categories.items() if s == "ACTIVE"), key=lambda c: categories[c][1])[:2], 1))
    options = {o: (cat, status) for o, cat, _, status in rows["options"]}
    members = dict(rows["members"])
    clients = {r[0]: r[1:] for r in rows["clients"]}
    services = {r[0]: r[1:] for r in rows["services"]}
    overrides = {r[0]: r[1:] for r in rows["overrides"]}
    current = {(line, cat): opt for line, cat, opt in rows["tracking"]}
    first_line = {}
    for line_id, invoice_id, position, *_ in rows["lines"]:
        if invoice_id not in first_line or position < first_line[invoice_id][0]:
            first_line[invoice_id] = (position, line_id)
    decided = []
    for line_id, invoice_id, _, item_code, contact_id, status, paid, credited, allocated in rows["lines"]:
        owner, client_tc1, client_tc2, consolidate = clients.get(contact_id, (None, None, None, False))
        service_tc2, alignment = services.get(item_code, (None, False))
        owner_tc2 = members.get(owner)
        o1, o1_opt, o2, o2_opt = overrides.get(line_id, (False, None, False, None))
        f1, f1_opt, *_ = overrides.get(first_line[invoice_id][1], (False, None))
        if o1:
            tc1 = ("line", o1_opt)
        elif consolidate and f1:
            tc1 = ("consolidated", f1_opt)
        else:
            tc1 = ("client" if client_tc1 else "none", client_tc1)
        if o2:
            tc2 = ("line", o2_opt)
        elif consolidate:
            tc2 = ("consolidated", None)
        elif alignment:
            tc2 = ("owner" if owner_tc2 else "none", owner_tc2)
        else:
            tc2 = next(((s, o) for s, o in (("service", service_tc2), ("client", client_tc2), ("owner", owner_tc2))
                        if o), ("none", None))
        wanted = ((1, tc1), (2, tc2))
        applied = [(slot, opt) for slot, (source, opt) in wanted if opt or source in ("line", "consolidated")]
        if status not in statuses.EDITABLE or paid > 0 or credited > 0 or allocated:
            verdict = "locked"
        elif any(opt and options.get(opt) != (slot_map.get(slot), "ACTIVE") for slot, opt in applied):
            verdict = "blocked"
        elif all(current.get((line_id, slot_map.get(slot))) == opt for slot, opt in applied):
            verdict = "same"
        else:
            verdict = "change"
        decided.append((line_id, tc1, tc2, verdict))
    return len(decided)


def best_of(repeat: int, fn) -> float:
    return min(timed(fn) for _ in range(repeat))[0]


def timed(fn) -> tuple[float, float]:
    """(wall, process CPU) seconds of one call: on a busy machine the CPU time tells the cost."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def edit_to_preview(con, contact_id: str, option_id: str) -> None:
    with store.transaction(con):
        con.execute("UPDATE client_settings SET tc1_option_id = ? WHERE contact_id = ?", [option_id, contact_id])
        rules.refresh_for(con, contact_ids=[contact_id])
    con.execute(CHECKPOINT)
    page = preview.lines(con, preview.Filters(contact_id=contact_id), limit=preview.PAGE_SIZE)
    by_client = [row["tc1_wanted_option_id"] for row in page if row["tc1_source"] == "client"]
    assert by_client and set(by_client) == {option_id}, "the preview missed the edit"


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="bench_rules_") as folder:
        db = Path(folder) / "bench.duckdb"
        start = time.perf_counter()
        with store.connect(db) as con:
            build(con, args.lines)
            with store.transaction(con):
                rules.refresh(con)
        print(f"built {args.lines:,} lines in {time.perf_counter() - start:.1f} s")
        old_refresh, old_cpu, old_peak = _in_child(_old_refresh, db, args.repeat)
        new = _in_child(_rules_and_preview, db, args.repeat)
        with store.connect(db) as con:
            t_base, cpu_base = timed(lambda: baseline(con))
    t_rules, cpu_rules = new["rules"]
    t_refresh, cpu_refresh = new["refresh"]
    print(f"rules for {args.lines:,} lines:     {t_rules:8.3f} s   target <= 0.35 s   (CPU {cpu_rules:.2f} s)")
    print(f"Python-loop baseline:            {t_base:8.3f} s   ratio {t_base / t_rules:.1f}x   target >= 4x"
          f"   (CPU {cpu_base:.2f} s)")
    print(f"rules.refresh, stored:           {t_refresh:8.3f} s   target <= 1.5 s   (CPU {cpu_refresh:.2f} s)")
    print(f"  the old refresh (sorted, {OLD_MEMORY_LIMIT}): {old_refresh:8.3f} s   ratio {t_refresh / old_refresh:.2f}"
          f"   (CPU {old_cpu:.2f} s)")
    print(f"preview totals by status:        {new['totals'] * 1000:8.1f} ms  target < 50 ms")
    print(f"preview page of {preview.PAGE_SIZE} rows (filtered): {new['page'] * 1000:5.1f} ms  target < 50 ms")
    print(f"client TC1 edit to preview:      {new['edit'] * 1000:8.1f} ms  target < 200 ms")
    print(f"peak memory (rules and preview): {new['peak_mb']:8.0f} MB  target <= 512 MB")
    print(f"  the old refresh's process:     {old_peak:8.0f} MB  ratio {new['peak_mb'] / old_peak:.2f}")
    return 0


# The refresh as it was before issue 21, the baseline of the stored refresh and of the peak memory: every verdict
# sorted newest invoice first, under the memory limit DuckDB had then.
OLD_MEMORY_LIMIT = "768MB"
OLD_INSERT_ALL = rules.INSERT_ALL + " ORDER BY invoice_date DESC"


def _old_refresh(db: Path, repeat: int) -> tuple[float, float, float]:
    with store.connect(db) as con:
        con.execute(f"SET memory_limit = '{OLD_MEMORY_LIMIT}'")

        def refresh():
            with store.transaction(con):
                con.execute(rules.DELETE_ALL)
                con.execute(OLD_INSERT_ALL)
                rules.check_sent_back(con, rules.ALL_LINES, rules.RECORD_REFUSABLE)
            con.execute(CHECKPOINT)

        wall, cpu = min(timed(refresh) for _ in range(repeat))
        return wall, cpu, memory.peak_mb()


def _rules_and_preview(db: Path, repeat: int) -> dict:
    """The app's figures, in a process that only opens the built database: its peak is the rules' and preview's."""
    with store.connect(db) as con:
        def refresh():
            with store.transaction(con):
                rules.refresh(con)
            con.execute(CHECKPOINT)

        figures = {"rules": min(timed(lambda: con.execute(COMPUTE_ALL).fetchall()) for _ in range(repeat)),
                   "refresh": min(timed(refresh) for _ in range(repeat)),
                   "totals": best_of(repeat, lambda: preview.totals(con, preview.Filters()))}
        filters = preview.Filters(line_status="change", source="client")
        figures["page"] = best_of(repeat, lambda: preview.lines(con, filters, limit=preview.PAGE_SIZE))
        contact_id, = con.execute(EDITED_CLIENT).fetchone()
        options = [option for (option,) in con.execute(NEW_TC1_OPTIONS, [repeat]).fetchall()]
        figures["edit"] = min(timed(lambda o=o: edit_to_preview(con, contact_id, o))[0] for o in options)
    return {**figures, "peak_mb": memory.peak_mb()}


def _in_child(measure, *args):
    """`measure(*args)` in a fresh process, so that its peak memory is its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as child:
        return child.submit(measure, *args).result()

