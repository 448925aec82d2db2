"""Revenue, Overview and Preview page render times at N invoices (10 lines each) and C credit notes, against a pandas
baseline.

Run by hand from the project folder:
`python -m tests.bench_revenue [--invoices N] [--credit-notes C] [--repeat R]`.
It lives here, not in core/, because it drives the page through Streamlit's AppTest.

Builds the rules benchmark's synthetic practice (`bench_rules.build`, SQL `range()`) in a
temporary database, makes every 7th invoice foreign (AUD at 1.0850) and every 5th tax-inclusive,
turns every (N + C) / C-th document into a sales credit note (C more documents are built for them),
materialises the rules, then times, best of `--repeat`:
- `revenue.summary` alone (the one DuckDB pass behind the chart, ranking and cross table);
- the baseline: the same lines loaded into pandas (`.df()`) and the same six sums done there;
- in a process of its own (as the dashboard's server is), the Revenue page rendered in AppTest
  with empty Streamlit caches (cold), again with the caches filled (warm: what a widget change
  that keeps the filters costs), and the run after choosing the largest option in the
  drill-down (its query cold, the rest cached); the Overview and Preview pages, cold and warm; and that
  process's peak memory.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core import config, revenue, rules, statuses, store
from core.bench import memory, rules as bench_rules

PAGE = config.ROOT / "pages" / "revenue.py"
OVERVIEW = config.ROOT / "pages" / "overview.py"
PREVIEW = config.ROOT / "pages" / "preview.py"
TARGET_SECONDS = 1.5
PAGE_PROCESS_MB = 600  # Revenue, Overview and Preview at 1,000,000 lines in one process (issue 21)
MIX = [
    "INSERT INTO organisation VALUES ('bench', 'Bench Practice', 'NZD', 'NZ')",
    """UPDATE invoices SET currency_code = 'AUD', currency_rate = 1.0850
       WHERE CAST(substr(invoice_id, 25) AS BIGINT) % 7 = 0""",
    """UPDATE invoices SET line_amount_types = CASE WHEN CAST(substr(invoice_id, 25) AS BIGINT) % 5 = 0
       THEN 'Inclusive' ELSE 'Exclusive' END""",
    "UPDATE invoice_lines SET tax_amount = 13.04",
]
CREDIT_NOTES = """UPDATE invoices SET type = 'ACCRECCREDIT', number = 'CN-' || number
                  WHERE CAST(substr(invoice_id, 25) AS BIGINT) % $every = 0"""
# The baseline's input: every line with what the sums need, as pandas loads it.
BASELINE_ROWS = """
SELECT I.date, I.status, I.type, I.line_amount_types, I.currency_rate, R.line_amount, L.tax_amount,
       R.tc1_current_option_id, R.tc1_apply, R.tc1_wanted_option_id,
       R.tc2_current_option_id, R.tc2_apply, R.tc2_wanted_option_id
FROM line_rules R JOIN invoices I USING (invoice_id) JOIN invoice_lines L USING (line_id)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--invoices", type=int, default=100_000,
                        help=f"invoices to generate, {bench_rules.LINES_PER_INVOICE} lines each (default 100,000)")
    parser.add_argument("--credit-notes", type=int, default=0,
                        help="sales credit notes on top of the invoices, 10 lines each (default none)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per figure; the best counts (default 3)")


def build(con, invoices: int, credit_notes: int = 0) -> None:
    bench_rules.build(con, (invoices + credit_notes) * bench_rules.LINES_PER_INVOICE)
    with store.transaction(con):
        for sql in MIX:
            con.execute(sql)
        if credit_notes:
            con.execute(CREDIT_NOTES, {"every": (invoices + credit_notes) // credit_notes})
        rules.refresh(con)


def baseline(con) -> int:
    """The page's six sums in pandas over the loaded lines; returns the number of groups."""
    lines = con.execute(BASELINE_ROWS).df()
    lines = lines[lines["status"].isin(statuses.REVENUE)].copy()
    net = lines["line_amount"] - lines["tax_amount"].where(lines["line_amount_types"] == "Inclusive", 0)
    sign = (lines["type"] == "ACCRECCREDIT").map({True: -1, False: 1})
    lines["amount"] = (net / lines["currency_rate"]).round(2) * sign
    lines["month"] = lines["date"].dt.to_period("M")
    for slot in revenue.SLOTS:
        current = lines[f"tc{slot}_current_option_id"]
        lines[f"tc{slot}_xero"] = current
        lines[f"tc{slot}_rules"] = lines[f"tc{slot}_wanted_option_id"].where(lines[f"tc{slot}_apply"], current)
    groups = [["month", column] for column in revenue.OPTION_COLUMNS.values()]
    groups += [["tc1_xero", "tc2_xero"], ["tc1_rules", "tc2_rules"]]
    return sum(len(lines.groupby(keys, dropna=False)["amount"].sum()) for keys in groups)


def best_of(repeat: int, fn) -> tuple[float, float]:
    """The fastest of `repeat` runs of `fn`, which returns the (wall, CPU) seconds it measured."""
    return min(fn() for _ in range(repeat))


def timed(fn) -> tuple[float, float]:
    """(wall, process CPU) seconds of one call: on a busy machine the CPU time tells the cost."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def page(file: Path = PAGE):
    """The page in AppTest, run once: Streamlit's first start is not the page's cost."""
    from streamlit import logger
    from streamlit.testing.v1 import AppTest

    logger.set_log_level("error")  # AppTest outside a server warns on every run
    app = AppTest.from_file(str(file), default_timeout=600)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def render(app, *, clear: bool = True) -> tuple[float, float]:
    """(wall, CPU) seconds of one run of the page script, after emptying Streamlit's caches if `clear`."""
    import streamlit as st

    if clear:
        st.cache_data.clear()
    seconds = timed(app.run)
    assert not app.exception, [e.value for e in app.exception]
    return seconds


def choose(app, option: str) -> tuple[float, float]:
    """(wall, CPU) seconds from choosing `option` in the drill-down to its clients and invoices drawn, with the
    rest of the page cached (as when someone picks an option)."""
    import streamlit as st

    st.cache_data.clear()
    app.selectbox(key="drill").set_value(None)
    app.run()
    app.selectbox(key="drill").set_value(option)
    return render(app, clear=False)


def measure_page(repeat: int, drill: str) -> dict:
    """The page's figures, in this process: run it in a fresh one, as the dashboard's server is."""
    app = page()
    figures = {"cold": best_of(repeat, lambda: render(app)),
               "warm": best_of(repeat, lambda: render(app, clear=False)),
               "drill": best_of(repeat, lambda: choose(app, drill))}
    overview = page(OVERVIEW)
    figures |= {"overview_cold": best_of(repeat, lambda: render(overview)),
                "overview_warm": best_of(repeat, lambda: render(overview, clear=False))}
    preview = page(PREVIEW)
    figures |= {"preview_cold": best_of(repeat, lambda: render(preview)),
                "preview_warm": best_of(repeat, lambda: render(preview, clear=False))}
    return figures | {"peak_mb": memory.peak_mb()}


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="bench_revenue_") as folder:
        db = Path(folder) / "bench.duckdb"
        with store.connect(db) as con:
            start = time.perf_counter()
            build(con, args.invoices, args.credit_notes)
            lines = con.execute("SELECT count(*) FROM line_rules").fetchone()[0]
            print(f"built {args.invoices:,} invoices and {args.credit_notes:,} credit notes / {lines:,} lines "
                  f"in {time.perf_counter() - start:.1f} s")
            t_summary = best_of(args.repeat, lambda: timed(lambda: revenue.summary(con)))
            t_base = timed(lambda: baseline(con))
            top = revenue.ranking(revenue.summary(con), 1)["option_id"][0]
        env = {**os.environ, "TRACKING_DB": str(db)}
        if config.xero_config() is None:  # placeholders keep the page from starting the demo sandbox
            env.update(XERO_CLIENT_ID="bench", XERO_CLIENT_SECRET="bench")
        child = subprocess.run([sys.executable, "-m", "tests.bench_revenue", "--page", str(args.repeat), top or ""],
                               env=env, cwd=config.ROOT, capture_output=True, text=True, check=True)
        figures = json.loads(child.stdout.splitlines()[-1])
    print("wall-clock seconds, best run (process CPU seconds: the cost on a busy machine)")
    print(f"revenue.summary (one DuckDB pass):  {_figure(t_summary)}")
    print(f"pandas baseline (load + 6 sums):    {_figure(t_base)}  {t_base[0] / t_summary[0]:.1f}x the summary")
    print(f"Revenue page, cold caches:          {_figure(figures['cold'])}  target < {TARGET_SECONDS} s")
    print(f"Revenue page, warm caches:          {_figure(figures['warm'])}")
    print(f"choosing the largest option:        {_figure(figures['drill'])}  its clients and invoices, query cold")
    print(f"Overview page, cold caches:         {_figure(figures['overview_cold'])}  target < {TARGET_SECONDS} s")
    print(f"Overview page, warm caches:         {_figure(figures['overview_warm'])}")
    print(f"Preview page, cold caches:          {_figure(figures['preview_cold'])}")
    print(f"Preview page, warm caches:          {_figure(figures['preview_warm'])}")
    print(f"peak memory of the page process:    {figures['peak_mb']:6.0f} MB  target <= {PAGE_PROCESS_MB} MB")
    print(f"peak memory here (build, baseline): {memory.peak_mb():6.0f} MB")
    print(f"load average (1 min) at the end:    {os.getloadavg()[0]:6.2f}     on {os.cpu_count()} cores")
    return 0


def _figure(seconds: tuple[float, float]) -> str:
    wall, cpu = seconds
    return f"{wall:6.3f} s (CPU {cpu:6.3f} s)"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--page"]:  # the page's own process: python -m tests.bench_revenue --page REPEAT DRILL
        print(json.dumps(measure_page(int(sys.argv[2]), sys.argv[3])))
    else:
        parser = argparse.ArgumentParser(prog="python -m tests.bench_revenue", description=__doc__.splitlines()[0])
        add_arguments(parser)
        sys.exit(run(parser.parse_args()))
