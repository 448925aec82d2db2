"""Push the rules' changes for N sandbox invoices: API calls against the minimum ceil(K/50), seconds.

A scaled organisation is seeded in the sandbox (15% of its lines with a discount rate, 2% with
4-decimal unit prices, by default), synced into a temporary database, given the demo's settings,
then pushed. Reads are reported against the minimum ceil(K/50) for K changed invoices (target: at
most 1.1 times it: an invoice is read on its own only when a line's amount is not explained by its
rate and rounding, core/push_plan.py `may_hide_discount`). The sandbox answers without a rate
limit; what the calls would cost against Xero's limits (60 calls a minute, 5,000 a day per
organisation) is worked out.
"""
import math
import random
import tempfile
import time
from pathlib import Path

from core import access, push, rules, statuses, store, sync
from core.cli.bench import count
from core.config import XeroConfig
from core.sandbox import demo, server as sandbox
from core.sandbox.records import settle
from core.xero.gateway import IDS_PER_CALL, INVOICES_PER_UPDATE, Gateway

XERO_CALLS_PER_MINUTE = 60
XERO_CALLS_PER_DAY = 5000
READS_TARGET = 1.1  # reads at most this many times ceil(K/50)
DISCOUNT_RATES = (2.5, 5.0, 10.0, 12.5, 33.3)


def add_arguments(parser) -> None:
    parser.add_argument("--invoices", type=count, default=10_000, help="how many sales invoices to seed")
    parser.add_argument("--lines-per-invoice", type=count, default=5, help="lines on every invoice")
    parser.add_argument("--discount-rates", type=float, default=0.15, metavar="SHARE",
                        help="the share of lines with a DiscountRate (default 0.15)")
    parser.add_argument("--four-decimal-prices", type=float, default=0.02, metavar="SHARE",
                        help="the share of lines with a 4-decimal unit price (default 0.02)")


def run(args) -> int:
    state = demo.scaled_state(args.invoices, lines_per_invoice=args.lines_per_invoice)
    discounted, fine_priced = with_discounts_and_fine_prices(state, args.discount_rates, args.four_decimal_prices)
    box = sandbox.start(state)
    try:
        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder) / "bench.duckdb"
            gw = Gateway(XeroConfig(box.client_id, box.client_secret, "", box.api_url, box.identity_url))
            synced = sync.sync(gw, db=db, full=True)
            with store.connect(db) as con:
                demo.seed_settings(con, state)
                with store.transaction(con):
                    rules.refresh(con)
                counts = push.plan_counts(con)
            print(f"Organisation: {args.invoices:,} invoices, {synced.counts['lines']:,} lines ({discounted:,} with "
                  f"a discount rate, {fine_priced:,} with a 4-decimal unit price; synced in "
                  f"{synced.seconds:.1f} s); the rules change {counts['lines']:,} lines on {counts['invoices']:,} "
                  f"editable invoices; {counts['locked_invoices']:,} locked invoices are not sent.")
            first_call = len(gw.calls)
            result = push.push(gw, by=access.command_line(), db=db)
            _report(result, sum(c.endpoint == "/Invoices/{id}" for c in gw.calls[first_call:]))
            started = time.perf_counter()
            idle = push.push(gw, by=access.command_line(), db=db)
            print(f"Second push right after: {idle.api_calls} API calls ({idle.outcome}) in "
                  f"{time.perf_counter() - started:.2f} s.")
    finally:
        box.stop()
    return 0


def with_discounts_and_fine_prices(state: dict, rates: float, fine: float, seed: int = 1) -> tuple[int, int]:
    """Give a share `rates` of the lines a DiscountRate and a share `fine` a 4-decimal unit price, the amounts,
    taxes and totals as Xero computes them; returns how many lines got each."""
    rng = random.Random(seed)
    discounted = fine_priced = 0
    for invoice in state["Invoices"]:
        touched = False
        for position, line in enumerate(invoice["LineItems"]):
            changes = {}
            if rng.random() < rates:
                changes["DiscountRate"] = rng.choice(DISCOUNT_RATES)
            if rng.random() < fine:
                changes["UnitAmount"] = round(line["UnitAmount"] - rng.randrange(1, 10_000) / 10_000, 4)
            if changes:
                discounted += "DiscountRate" in changes
                fine_priced += "UnitAmount" in changes
                kept = {k: v for k, v in line.items() if k not in ("LineAmount", "TaxAmount")}
                invoice["LineItems"][position] = {**kept, **changes}
                touched = True
        if touched:
            settle(invoice)
            if invoice["Status"] == statuses.PAID:
                invoice.update(AmountPaid=invoice["Total"], AmountDue=0.0)
    return discounted, fine_priced


def _report(result: push.PushResult, singles: int) -> None:
    sent = sum(result.count(r) for r in ("landed", "failed"))
    planned = sent + result.count("conflict") + result.count("not sent")
    reads_minimum, updates_minimum = math.ceil(planned / IDS_PER_CALL), math.ceil(sent / INVOICES_PER_UPDATE)
    calls = result.read_calls + result.update_calls
    print(f"Push: {result.count('landed'):,} landed, {result.count('failed'):,} failed, "
          f"{result.count('conflict'):,} conflicts in {result.seconds:.1f} s "
          f"({result.count('landed') / result.seconds:,.0f} invoices/s).")
    print(f"Reads: {result.read_calls:,} ({result.read_calls - singles:,} lists of up to {IDS_PER_CALL} IDs, "
          f"{singles:,} single GETs for invoices whose list copy may lack a discount amount); "
          f"minimum ceil({planned:,}/{IDS_PER_CALL}) = {reads_minimum:,}; ratio "
          f"{result.read_calls / max(reads_minimum, 1):.2f} (target at most {READS_TARGET}).")
    print(f"Updates: {result.update_calls:,}; minimum ceil({sent:,}/{INVOICES_PER_UPDATE}) = {updates_minimum:,}.")
    print(f"Under Xero's limits: {calls:,} calls take at least {calls / XERO_CALLS_PER_MINUTE:.1f} min at "
          f"{XERO_CALLS_PER_MINUTE} calls/min (the gateway waits out each 429), and use "
          f"{calls / XERO_CALLS_PER_DAY:.0%} of the {XERO_CALLS_PER_DAY:,} calls/day allowance.")
