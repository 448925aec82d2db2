"""How long a sync of N invoices and a push of K hold the database file, against a sandbox slowed per call.

`python -m core sync --full` and `python -m core push` run as their own processes, as from cron,
against a sandbox (in a child process) that waits `--delay` seconds before every answer. Every
connection they open records its hold in a log (core/store.py); the figures are the longest hold of
any process, the sync's merge and the longest hold around one push batch, against the targets and
as a ratio to the baseline measured in the same run: from the command's first open of the file to its
last close, which is how long the file was held when a sync or push kept one connection open throughout.
"""
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from core import push, rules, statuses, store
from core.cli.bench import count
from core.sandbox import demo

USAGE_ERROR = 2
NO_RATE_LIMIT = 1_000_000
EVERY_CALL = 10 ** 9
MERGE_TARGET_SECONDS = 2.0
BATCH_TARGET_SECONDS = 0.2
SYNC_MERGE = "sync: merge"
BATCH_HOLDS = ("push: batch sending", "push: batch result")


def add_arguments(parser) -> None:
    parser.add_argument("--invoices", type=count, default=100_000, help="how many sales invoices to sync")
    parser.add_argument("--push-invoices", type=count, default=10_000,
                        help="how many of them are editable and pushed (the others are voided)")
    parser.add_argument("--delay", type=float, default=0.2, help="seconds the sandbox waits before every answer")


def run(args) -> int:
    problem = _invalid(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return USAGE_ERROR
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    server = context.Process(target=_serve, args=(args.invoices, args.push_invoices, args.delay, theirs), daemon=True)
    server.start()
    try:
        xero, lines, settings_need = ours.recv()
        with tempfile.TemporaryDirectory() as folder:
            _measure(Path(folder), xero, args, lines, settings_need)
    finally:
        ours.send("stop")
        server.join(timeout=10)
    return 0


def _invalid(args) -> str | None:
    if args.invoices < 1:
        return "--invoices must be at least 1."
    if not 0 <= args.push_invoices <= args.invoices:
        return "--push-invoices must be between 0 and --invoices."
    if args.delay < 0:
        return "--delay cannot be negative."
    return None


def _serve(invoices: int, editable: int, delay: float, pipe) -> None:
    from core.sandbox import server as sandbox

    state = _organisation(invoices, editable)
    box = sandbox.start(state)
    box.set_minute_limit(NO_RATE_LIMIT)
    box.delay_next(delay, times=EVERY_CALL)
    settings_need = {"TrackingCategories": state["TrackingCategories"], "Contacts": state["Contacts"],
                     "Invoices": [i for i in state["Invoices"] if i["Status"] in (statuses.DRAFT, statuses.SUBMITTED)][:3]}
    pipe.send(({"XERO_CLIENT_ID": box.client_id, "XERO_CLIENT_SECRET": box.client_secret,
                "XERO_API_URL": box.api_url, "XERO_IDENTITY_URL": box.identity_url},
               sum(len(i["LineItems"]) for i in state["Invoices"]), settings_need))
    pipe.recv()
    box.stop()


def _organisation(invoices: int, editable: int) -> dict:
    """A scaled organisation in which only the first `editable` editable invoices stay editable."""
    state = demo.scaled_state(invoices)
    kept = 0
    for invoice in state["Invoices"]:
        if invoice["Status"] in statuses.EDITABLE:
            kept += 1
            if kept > editable:
                invoice["Status"] = statuses.VOIDED
    return state


def _measure(folder: Path, xero: dict, args, lines: int, settings_need: dict) -> None:
    db, log = folder / "bench.duckdb", folder / "holds.tsv"
    environment = {**{k: v for k, v in os.environ.items() if not k.startswith("XERO_")}, **xero,
                   "TRACKING_DB": str(db), store.HOLD_LOG_VARIABLE: str(log)}
    print(f"Sandbox: {args.invoices:,} invoices ({lines:,} lines), {args.delay:.2f} s before every answer.")
    _command(["sync", "--full"], environment)
    sync_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    sync_holds = store.holds(log)
    with store.connect(db) as con:  # not logged: this process does not set the hold log
        demo.seed_settings(con, settings_need)
        with store.transaction(con):
            rules.refresh(con)
        counts = push.plan_counts(con)
    print(f"The rules change {counts['lines']:,} lines on {counts['invoices']:,} editable invoices.")
    log.unlink()
    _command(["push"], environment)
    push_holds = store.holds(log)
    _report("Sync", sync_holds, (SYNC_MERGE,), MERGE_TARGET_SECONDS)
    print(f"  peak memory of the sync process: {sync_rss:,.0f} MB")
    _report("Push", push_holds, BATCH_HOLDS, BATCH_TARGET_SECONDS)
    longest = max(sync_holds + push_holds, key=lambda h: h.seconds)
    print(f"Longest hold of the database file by any process: {longest.seconds:.3f} s ({longest.purpose}).")


def _command(arguments: list[str], environment: dict) -> None:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "core", *arguments], env=environment, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    print(f"$ python -m core {' '.join(arguments)}  ({seconds:.1f} s, exit {done.returncode})")
    print("  " + (done.stdout.strip() or done.stderr.strip()).replace("\n", "\n  "))


def _report(what: str, holds: list[store.Hold], purposes: tuple[str, ...], target: float) -> None:
    """The holds against the target and against the baseline: from the first open to the last close, which is
    how long the file was held when the command kept one connection open throughout."""
    baseline = max(h.opened + h.seconds for h in holds) - min(h.opened for h in holds)
    measured = [h.seconds for h in holds if h.purpose in purposes]
    longest = max(holds, key=lambda h: h.seconds)
    worst = max(measured, default=0.0)
    print(f"{what}: baseline (one connection from the first open to the last close): {baseline:.1f} s")
    print(f"  {len(holds):,} holds, {sum(h.seconds for h in holds):.1f} s in all; longest {longest.seconds:.3f} s "
          f"({longest.purpose}): {longest.seconds / baseline:.1%} of the baseline")
    tail = statistics.quantiles(measured, n=20)[-1] if len(measured) > 1 else worst
    print(f"  {' / '.join(purposes)}: longest {worst:.3f} s, 95th percentile {tail:.3f} s, "
          f"median {statistics.median(measured or [0]):.3f} s over {len(measured):,} holds, "
          f"{'meets' if worst <= target else 'misses'} the target of {target:.1f} s; "
          f"{baseline / max(worst, 1e-9):,.0f}x shorter than the baseline")
