"""Sync N sandbox invoices into a temporary database: API calls against the minimum, seconds, peak memory.

The sandbox runs in a child process, so the peak memory measured is the sync's own (the
SDK, the parsed pages, the staging and DuckDB), not the sandbox's copy of the organisation.
"""
import math
import multiprocessing
import tempfile
import time
from pathlib import Path

from core import store, sync
from core.bench import memory
from core.cli.bench import count
from core.config import XeroConfig
from core.xero.gateway import PAGE_SIZE, Gateway

NO_RATE_LIMIT = 1_000_000


def add_arguments(parser) -> None:
    parser.add_argument("--invoices", type=count, default=100_000, help="how many sales invoices to seed")


def run(args) -> int:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    server = context.Process(target=_serve, args=(args.invoices, theirs), daemon=True)
    server.start()
    try:
        cfg, contacts = ours.recv()
        _measure(cfg, args.invoices, contacts)
    finally:
        ours.send("stop")
        server.join(timeout=10)
    return 0


def _serve(invoices: int, pipe) -> None:
    from core.sandbox import demo, server as sandbox

    state = demo.scaled_state(invoices)
    box = sandbox.start(state)
    box.set_minute_limit(NO_RATE_LIMIT)
    pipe.send((XeroConfig(box.client_id, box.client_secret, "", box.api_url, box.identity_url),
               len(state["Contacts"])))
    pipe.recv()
    box.stop()


def _measure(cfg: XeroConfig, invoices: int, contacts: int) -> None:
    minimum = math.ceil(invoices / PAGE_SIZE) + max(1, math.ceil(contacts / PAGE_SIZE)) + 3
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.duckdb"
        rss_before = memory.peak_mb()
        gw = Gateway(cfg)
        full = sync.sync(gw, db=db, full=True)
        with store.connect(db) as con:
            lines = con.execute("SELECT count(*) FROM invoice_lines").fetchone()[0]
        rss_after = memory.peak_mb()
        started = time.perf_counter()
        idle = sync.sync(gw, db=db)
        idle_seconds = time.perf_counter() - started
    print(f"Full sync: {full.counts['invoices']:,} invoices, {lines:,} lines, {full.counts['contacts']:,} "
          f"contacts in {full.seconds:.1f} s ({full.counts['invoices'] / full.seconds:,.0f} invoices/s)")
    print(f"API calls: {full.api_calls} (minimum ceil({invoices:,}/{PAGE_SIZE}) invoice pages + contact pages "
          f"+ organisation, tracking categories, items = {minimum}); "
          f"token requests: {sum(c.is_token for c in gw.calls)}")
    print(f"Peak memory (RSS of this process): {rss_after:,.0f} MB ({rss_before:,.0f} MB before the sync)")
    print(f"Incremental sync with nothing changed: {idle.api_calls} API calls "
          f"(one per entity: 5) in {idle_seconds:.2f} s")

