"""`python -m core slots [--tc1 NAME] [--tc2 NAME]`: show or set which Xero category is slot 1 and 2."""
import sys

from core import access, slots, store

USAGE_ERROR = 2


def register(subparsers) -> None:
    parser = subparsers.add_parser("slots", help="show or choose Tracking Category 1 and 2")
    parser.add_argument("--tc1", metavar="NAME", help="the Xero category for Tracking Category 1")
    parser.add_argument("--tc2", metavar="NAME", help="the Xero category for Tracking Category 2")
    parser.set_defaults(handler=run)


def run(args) -> int:
    with store.connect() as con:
        try:
            if args.tc1 or args.tc2:
                chosen = slots.current(con)
                if args.tc1:
                    chosen[1] = slots.category_id_named(con, args.tc1)
                if args.tc2:
                    chosen[2] = slots.category_id_named(con, args.tc2)
                changed = slots.save(con, chosen[1], chosen[2], by=access.command_line(), source="cli")
                print("Saved." if changed else "Unchanged.")
        except slots.InvalidSlots as e:
            print(f"error: {e}", file=sys.stderr)
            return USAGE_ERROR
        for slot, name in slots.names(con).items():
            print(f"Tracking Category {slot}: {name or '(none)'}")
        for problem in slots.problems(con):
            print(f"note: {problem}", file=sys.stderr)
    return 0
