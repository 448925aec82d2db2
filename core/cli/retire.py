"""`python -m core retire-option --slot 1|2 OLD --to NEW [--dry-run]`: every setting naming OLD names NEW.

Exit 0 when done (or, --dry-run, when it could be done), 2 when refused, with the reason.
"""
import sys

from core import access, catalog, retire, store
from core.catalog import InvalidChange

USAGE_ERROR = 2
BY = access.command_line()  # the command line acts as an admin (core/access.py)


def register(subparsers) -> None:
    parser = subparsers.add_parser("retire-option", help="replace a tracking option by another in every setting")
    parser.add_argument("--slot", type=int, choices=sorted(catalog.SLOT_LABELS), required=True,
                        help="the slot whose option is retired: 1 or 2")
    parser.add_argument("old", metavar="OLD", help="the option to retire, by name (it may be archived in Xero)")
    parser.add_argument("--to", dest="new", metavar="NEW", required=True,
                        help="the active option of the same category that takes its place")
    parser.add_argument("--dry-run", action="store_true", help="only show what would change")
    parser.set_defaults(handler=run)


def run(args) -> int:
    with store.connect(purpose="retire-option") as con:
        try:
            retirement = retire.retire_option(con, args.slot, args.old, args.new, by=BY, dry_run=args.dry_run)
        except InvalidChange as e:
            print(f"error: {e}", file=sys.stderr)
            return USAGE_ERROR
    for change in retirement.changes:
        noun = retire.ENTITY_NOUNS.get(change.entity, change.entity)
        print(f"{noun} {catalog.shorten(change.name)}: {change.field} {catalog.shorten(change.old or '(none)')} → "
              f"{catalog.shorten(change.new or '(none)')}")
    print("\n".join(retirement.summary()))
    return 0
