"""`python -m core demo new-invoices N`: new draft sales invoices in the demo Xero, for autopilot to tag."""
import sys

from core import connection
from core.xero.errors import XeroError

USAGE_ERROR = 2
MOST = 500


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="the demo organisation on the local Xero sandbox")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = actions.add_parser("new-invoices", help="create N new draft invoices in the demo Xero")
    new.add_argument("count", type=int, metavar="N", help=f"how many (1 to {MOST})")
    new.set_defaults(handler=run_new_invoices)


def run_new_invoices(args) -> int:
    if not connection.is_demo():
        print("error: new invoices are made only in the demo organisation; a real Xero is left alone.",
              file=sys.stderr)
        return USAGE_ERROR
    if not 1 <= args.count <= MOST:
        print(f"error: N must be between 1 and {MOST}.", file=sys.stderr)
        return USAGE_ERROR
    try:
        connection.fill_demo()
        numbers = connection.create_demo_invoices(args.count)
    except XeroError as error:
        print(f"error: {error}", file=sys.stderr)
        return USAGE_ERROR
    print(f"Created {len(numbers)} draft invoices in the demo Xero: {numbers[0]} to {numbers[-1]}."
          if numbers else "Xero created no invoices.")
    return 0
