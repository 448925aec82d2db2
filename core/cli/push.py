"""`python -m core push [--dry-run] [--invoice NUMBER …]` and `python -m core undo PUSH_ID [--retry]`.

Exit 0 when every eligible change landed (or there was nothing to do), 1 when any invoice failed,
conflicted, was not sent or is in doubt, 2 on a usage or configuration error (another push running
included).

A push that did not change every invoice says so in a few lines: the counts and the cause, then
the invoices themselves (each with Xero's message) are in a CSV file beside the database, and in
the push log on the Push page. A stopped push of thousands of invoices would otherwise bury its
cause under one line per invoice.
"""
import sys
from collections import Counter
from pathlib import Path

from core import access, config, connection, csv_out, push, push_words
from core.cli import read_database
from core.catalog import shorten
from core.xero.errors import XeroError

PARTIAL, CONFIGURATION_ERROR = 1, 2
LISTED_MAX = 2  # up to this many invoices not changed are named on the command line itself


def register(subparsers) -> None:
    parser = subparsers.add_parser("push", help="send the rules' tracking changes to Xero")
    parser.add_argument("--dry-run", action="store_true", help="only show what would change, send nothing")
    parser.add_argument("--invoice", nargs="+", action="extend", default=[], metavar="NUMBER",
                        help="only these invoices or credit notes (by number)")
    parser.set_defaults(handler=run_push)
    parser = subparsers.add_parser("undo", help="push the options a push replaced back to Xero")
    parser.add_argument("push_id", type=int, metavar="PUSH_ID", help="the push to undo (see the Push page)")
    parser.add_argument("--retry", action="store_true",
                        help="only the lines the last undo of that push could not put back")
    parser.set_defaults(handler=run_undo)


def run_push(args) -> int:
    if args.dry_run:
        return _dry_run(args.invoice)
    return _execute(lambda gw: push.push(gw, by=access.command_line(), invoice_numbers=args.invoice))


def run_undo(args) -> int:
    return _execute(lambda gw: push.undo(gw, args.push_id, by=access.command_line(), retry=args.retry))


def _dry_run(numbers: list[str]) -> int:
    try:
        with read_database() as con:
            table = push.plan_table(con, invoice_numbers=numbers)
            counts = push.plan_counts(con, invoice_numbers=numbers)
            irreversible = push.irreversible(con, invoice_numbers=numbers)
    except push.PushError as error:
        print(f"error: {error}", file=sys.stderr)
        return CONFIGURATION_ERROR
    if not table.empty:
        print(table.rename(columns=push_words.PLAN_HEADERS).fillna("").to_string(index=False))
    print(_plan_summary(counts))
    if counts["irreversible_changes"]:
        print(f"Undo could not reverse {counts['irreversible_changes']} of these changes (the option a line has now "
              "is archived or deleted in Xero, and Xero takes no such option on a line):")
        print(irreversible.rename(columns=push_words.IRREVERSIBLE_HEADERS).to_string(index=False))
    return 0


def _execute(action) -> int:
    try:
        result = action(connection.gateway())
    except (push.PushError, XeroError) as error:
        print(f"error: {error}", file=sys.stderr)
        return CONFIGURATION_ERROR
    print(result.summary())
    if result.push_id is not None:
        print(result.api_detail())
    if result.problems:
        try:
            details = f"in {write_problems(result)}, and on the Push page"
        except OSError as e:
            details = f"on the Push page (a CSV of them could not be written: {e.strerror})"
        print("\n".join(problem_lines(result, details)), file=sys.stderr)
    return PARTIAL if result.problems else 0


def problem_lines(result: push.PushResult, details: str) -> list[str]:
    """The invoices not changed, in at most LISTED_MAX + 1 lines: named when few, else counted."""
    problems = result.problems
    named = [f"{o.number or o.invoice_id}: {o.result} — {shorten(o.message or '')}" for o in problems] \
        if len(problems) <= LISTED_MAX else []
    counts = ", ".join(f"{n:,} {kind}" for kind, n in Counter(o.result for o in problems).items())
    return [*named, f"{len(problems):,} invoice{'s' if len(problems) > 1 else ''} not changed ({counts}): each "
                    f"with Xero's message {details}."]


def write_problems(result: push.PushResult) -> Path:
    """The invoices not changed, one row each with Xero's message, as a CSV beside the database."""
    path = config.db_path().with_name(f"{result.kind}-{result.push_id}-problems.csv")
    headers = ["Invoice", "Client", "Result", "Lines", "Xero's message"]
    rows = ([o.number or o.invoice_id, o.contact, o.result, o.lines, o.message] for o in result.problems)
    path.write_bytes(csv_out.write(headers, rows).encode("utf-8-sig"))
    return path


def _plan_summary(counts: dict[str, int]) -> str:
    refused = (f" {counts['refused_invoices']} that Xero refused are blocked until they change in Xero or their "
               "options are active again." if counts["refused_invoices"] else "")
    return (f"{counts['invoices']} invoices and credit notes ({counts['lines']} lines) will change in Xero; "
            f"{counts['locked_invoices']} locked ones ({counts['locked_lines']} lines) cannot be changed "
            f"through Xero's API and will not be sent.{refused}")
