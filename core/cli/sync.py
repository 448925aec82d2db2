"""`python -m core sync [--full]`: mirror the Xero organisation into the database."""
import sys

from core import connection, sync
from core.xero.errors import XeroError

CONFIGURATION_ERROR = 2


def register(subparsers) -> None:
    parser = subparsers.add_parser("sync", help="copy tracking categories, contacts, items and sales invoices "
                                                "from Xero (changes since the last sync, or everything)")
    parser.add_argument("--full", action="store_true", help="read everything again, not only what changed")
    parser.set_defaults(handler=run)


def run(args) -> int:
    try:
        result = connection.fill_demo() if connection.is_demo() else None
        if result is None:
            result = sync.sync(connection.gateway(), full=args.full)
    except XeroError as error:
        cause = " ".join(str(error).split())  # one line, whatever Xero's message holds
        print(f"error: {cause} Nothing from this sync was saved: the database still holds the last complete "
              "sync. Run it again later.", file=sys.stderr)
        return CONFIGURATION_ERROR
    print(result.summary())
    return 0
