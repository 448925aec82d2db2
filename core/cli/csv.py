"""`python -m core import clients|services|team FILE [--dry-run]` and `export clients|services|team FILE`.

Exit codes: 0 every row applied (or no changes), 1 some rows rejected (the others applied unless
--dry-run), 2 the file cannot be read as that template.
"""
import sys
from pathlib import Path

from core import access, catalog, csv_io, csv_templates
from core.cli import read_database

USAGE_ERROR = 2
BY = access.command_line()  # the command line acts as an admin (core/access.py)


def register(subparsers) -> None:
    templates = list(csv_templates.TEMPLATES)
    importing = subparsers.add_parser("import", help="apply a CSV template (clients, services or team)")
    importing.add_argument("template", choices=templates)
    importing.add_argument("file", type=Path)
    importing.add_argument("--dry-run", action="store_true", help="only show what would change")
    importing.set_defaults(handler=run_import)
    exporting = subparsers.add_parser("export", help="write a CSV template filled with the current settings")
    exporting.add_argument("template", choices=templates)
    exporting.add_argument("file", type=Path)
    exporting.set_defaults(handler=run_export)


def run_import(args) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as e:
        print(f"error: cannot read {args.file}: {e.strerror}", file=sys.stderr)
        return USAGE_ERROR
    try:
        result = csv_io.import_csv(args.template, data, file_name=args.file.name, by=BY, dry_run=args.dry_run)
    except csv_io.CsvError as e:
        print(f"error: {args.file.name}: {e} Nothing was changed.", file=sys.stderr)
        return USAGE_ERROR
    print(report(result))
    return result.exit_code


def report(result: csv_io.ImportResult) -> str:
    lines = [f"row {c.row}: {shown(c.name)}: {result.column(c)}: {shown(c.old)} → {shown(c.new)}"
             for c in result.changes]
    lines += [f"rejected row {r.row}: {r.message}" for r in result.rejections]
    return "\n".join([*lines, result.summary()])


def shown(value: str | None) -> str:
    return csv_io.NONE if value is None else catalog.shorten(value)


def run_export(args) -> int:
    with read_database() as con:
        data = csv_templates.export_csv(con, args.template)
    try:
        args.file.write_bytes(data)
    except OSError as e:
        print(f"error: cannot write {args.file}: {e.strerror}", file=sys.stderr)
        return USAGE_ERROR
    print(f"Exported the {args.template} template to {args.file}.")
    return 0
