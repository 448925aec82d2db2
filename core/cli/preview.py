"""`python -m core preview [--format table|csv|json] [--invoice NUMBER]`: what the rules would do, line by line."""
import json
import sys

from core import preview
from core.cli import read_database

TABLE_COLUMNS = [  # (heading, key, width)
    ("Number", "invoice_number", 12), ("Document", "document", 11), ("Client", "client_name", 20), ("Date", "invoice_date", 10),
    ("Description", "description", 24), ("Amount", "line_amount", 11),
    ("TC1 now", "tc1_current_name", 14), ("TC1 wanted", "tc1_wanted_name", 14), ("TC1 source", "tc1_source", 12),
    ("TC2 now", "tc2_current_name", 14), ("TC2 wanted", "tc2_wanted_name", 14), ("TC2 source", "tc2_source", 12),
    ("Status", "status", 7), ("Reason", "reason", 0),
]
RIGHT_ALIGNED = {"line_amount"}
USAGE_ERROR = 2


def register(subparsers) -> None:
    parser = subparsers.add_parser("preview", help="show what the rules would change, line by line")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--invoice", metavar="NUMBER", help="only the lines of this invoice or credit note")
    parser.set_defaults(handler=run)


def run(args) -> int:
    filters = preview.Filters(invoice_number=args.invoice)
    with read_database() as con:
        if args.invoice and not preview.count(con, filters):
            print(f"error: no invoice or credit note numbered {args.invoice!r} (run sync if it is new in Xero)",
                  file=sys.stderr)
            return USAGE_ERROR
        if args.format == "csv":
            sys.stdout.write(preview.csv_bytes(con, filters).decode("utf-8"))
            return 0
        names, rows = preview.export_rows(con, filters)
        totals = preview.totals(con, filters)
    records = [dict(zip(names, row)) for row in rows]
    if args.format == "json":
        json.dump(records, sys.stdout, default=str, indent=1)
        print()
    else:
        print(fixed_width(records))
        print(", ".join(f"{n:,} {status}" for status, n in totals.items()))
    return 0


def fixed_width(records: list[dict]) -> str:
    def cell(key: str, value, width: int) -> str:
        text = "" if value is None else str(value)
        if not width:
            return text
        text = text if len(text) <= width else text[:width - 1] + "…"
        return text.rjust(width) if key in RIGHT_ALIGNED else text.ljust(width)

    lines = ["  ".join(cell("", heading, width) for heading, _, width in TABLE_COLUMNS).rstrip()]
    lines += ["  ".join(cell(key, record[key], width) for _, key, width in TABLE_COLUMNS).rstrip()
              for record in records]
    return "\n".join(lines)
