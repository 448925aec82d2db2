"""`python -m core push [--dry-run] [--invoice NUMBER …]` and `python -m core undo PUSH_ID`.

Exit 0 when every eligible change landed (or there was nothing to do), 1 when any invoice failed,
conflicted, was not sent or is in doubt (each named), 2 on a usage or configuration error (another push
running included).
"""
import sys

from core import access, connection, push, store
from core.cli import read_database
from core.xero.gateway import XeroError

PARTIAL, CONFIGURATION_ERROR = 1, 2


def register(subparsers) -> None:
    parser = subparsers.add_parser("push", help="send the rules' tracking changes to Xero")
    parser.add_argument("--dry-run", action="store_true", help="only show what would change, send nothing")
    parser.add_argument("--invoice", nargs="+", action="extend", default=[], metavar="NUMBER",
                        help="only these invoices (by invoice number)")
    parser.set_defaults(handler=run_push)
    parser = subparsers.add_parser("undo", help="push the options a push replaced back to Xero")
    parser.add_argument("push_id", type=int, metavar="PUSH_ID", help="the push to undo (see the Push page)")
    parser.set_defaults(handler=run_undo)


def run_push(args) -> int:
    if args.dry_run:
        return _dry_run(args.invoice)
    return _execute(lambda gw: push.push(gw, by=access.command_line(), invoice_numbers=args.invoice))


def run_undo(args) -> int:
    return _execute(lambda gw: push.undo(gw, args.push_id, by=access.command_line()))


def _dry_run(numbers: list[str]) -> int:
    try:
        with read_database() as con:
            table = push.plan_table(con, invoice_numbers=numbers)
            counts = push.plan_counts(con, invoice_numbers=numbers)
    except push.PushError as error:
        print(f"error: {error}", file=sys.stderr)
        return CONFIGURATION_ERROR
    if not table.empty:
        print(table.fillna("").to_string(index=False))
    print(_plan_summary(counts))
    return 0


def _execute(action) -> int:
    try:
        result = action(connection.gateway())
    except (push.PushError, XeroError) as error:
        print(f"error: {error}", file=sys.stderr)
        return CONFIGURATION_ERROR
    for outcome in result.problems:
        print(f"{outcome.number or outcome.invoice_id}: {outcome.result} — {outcome.message or ''}", file=sys.stderr)
    print(result.summary())
    if result.push_id is not None:
        print(result.api_detail())
    return PARTIAL if result.problems else 0


def _plan_summary(counts: dict[str, int]) -> str:
    return (f"{counts['invoices']} invoices ({counts['lines']} lines) will change in Xero; "
            f"{counts['locked_invoices']} locked invoices ({counts['locked_lines']} lines) cannot be changed "
            "through Xero's API and will not be sent.")
