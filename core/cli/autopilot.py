"""`python -m core autopilot on|off|status|run`: new invoices tagged without a person (core/autopilot.py).

`run` does one pass; `run --every 5m` repeats until SIGTERM or Ctrl-C, which end it after the current
push batch. Exit codes as for push: 0 success or nothing to do, 1 when an invoice failed or conflicted,
2 on a usage, configuration or Xero error (for `--every`: the last pass's).
"""
import argparse
import signal
import sys
import threading
from datetime import datetime

from core import access, autopilot, connection, store
from core.xero.errors import XeroError

CONFIGURATION_ERROR = 2


def register(subparsers) -> None:
    parser = subparsers.add_parser("autopilot", help="tag new invoices in Xero without a person")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    on = actions.add_parser("on", help="switch autopilot on (or change its statuses and budget)")
    on.add_argument("--statuses", default=",".join(autopilot.DEFAULT_STATUSES), metavar="LIST",
                    help="invoice statuses it may tag, comma-separated (default DRAFT,SUBMITTED; AUTHORISED too)")
    on.add_argument("--daily-calls", type=int, default=autopilot.DEFAULT_DAILY_CALLS, metavar="N",
                    help=f"Xero calls a day autopilot may use (default {autopilot.DEFAULT_DAILY_CALLS:,})")
    on.set_defaults(handler=run_on)
    actions.add_parser("off", help="switch autopilot off").set_defaults(handler=run_off)
    actions.add_parser("status", help="show the policy, the last pass and what needs attention").set_defaults(
        handler=run_status)
    run = actions.add_parser("run", help="one pass: sync, the rules, and a push of the new invoices")
    run.add_argument("--every", type=_interval, metavar="INTERVAL",
                     help="repeat every INTERVAL (e.g. 5m, 30s, 1h) until stopped")
    run.set_defaults(handler=run_passes)


def _interval(text: str) -> float:
    try:
        return autopilot.parse_interval(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an interval such as 5m, 30s or 1h (at least 1 s)") from None


def run_on(args) -> int:
    try:
        _fill_demo()
        policy = autopilot.switch_on(connection.gateway(), by=access.command_line(),
                                     statuses=tuple(args.statuses.split(",")), daily_calls=args.daily_calls,
                                     source="cli")
    except (autopilot.AutopilotError, XeroError) as error:
        print(f"error: {error}", file=sys.stderr)
        return CONFIGURATION_ERROR
    print(policy.describe())
    return 0


def run_off(args) -> int:
    print(autopilot.switch_off(by=access.command_line(), source="cli").describe())
    return 0


def run_status(args) -> int:
    with store.connect() as con:
        status = autopilot.status(con)
        attention = autopilot.needs_attention(con)
    print(status.policy.describe())
    print(f"Xero calls today: {status.calls_today:,} of {status.policy.daily_calls:,}.")
    last = status.last_pass
    if last:
        print(f"Last pass: {last['started_at']:%d %b %Y %H:%M:%S} UTC · {last['summary']}")
        if last["next_pass_at"]:
            print(f"Next pass: {last['next_pass_at']:%d %b %Y %H:%M:%S} UTC")
    if not attention.empty:
        print(f"Needs attention ({len(attention)}):")
        print(attention.rename(columns=autopilot.HEADERS).to_string(index=False))
    return 0


def run_passes(args) -> int:
    try:
        _fill_demo()
    except XeroError as error:
        print(f"error: {error}", file=sys.stderr)
        return CONFIGURATION_ERROR
    gateways = []

    def gateway():  # one gateway for every pass of a loop: one token, one call log
        if not gateways:
            gateways.append(connection.gateway())
        return gateways[0]

    if args.every is None:
        result = autopilot.run_pass(gateway)
        _report(result)
        return result.exit_code
    stop = threading.Event()
    for name in (signal.SIGTERM, signal.SIGINT):
        signal.signal(name, lambda number, frame: _stop(stop))
    print(f"Autopilot: a pass every {args.every:g} s; stop with Ctrl-C or SIGTERM.", flush=True)
    return autopilot.run_every(args.every, gateway, stop=stop, report=_report)


def _stop(stop: threading.Event) -> None:
    """First signal: finish the current batch, then stop. A second one stops at once."""
    if stop.is_set():
        raise KeyboardInterrupt
    stop.set()
    print("Stopping after the current batch…", file=sys.stderr, flush=True)


def _report(result: autopilot.PassResult) -> None:
    stream = sys.stderr if result.outcome == "failed" else sys.stdout
    print(f"{datetime.now():%H:%M:%S} {result.summary}", file=stream, flush=True)


def _fill_demo() -> None:
    if connection.is_demo():
        connection.fill_demo()
