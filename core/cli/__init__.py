"""The command line, `python -m core …`: one module per command group.

Each module named in COMMANDS has `register(subparsers)`, which adds its sub-commands and sets
`handler` on them: a function taking the parsed arguments and returning the exit code. Only the
module of the command asked for is imported, so `python -m core preview` does not pay for pandas
and the Xero SDK; help, and a missing or unknown command, import them all.
"""
import argparse
import importlib
import sys

from core import busy

COMMANDS: dict[str, str] = {"bench": "bench", "slots": "slots", "sync": "sync", "push": "push", "undo": "push",
                            "import": "csv", "export": "csv", "set": "set", "retire-option": "retire",
                            "revenue": "revenue", "preview": "preview", "autopilot": "autopilot", "demo": "demo"}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser for `argv`: the asked-for command's group only, or every group when none is named."""
    parser = argparse.ArgumentParser(prog="python -m core", description="Tracking Desk: Xero tracking options by rule.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    asked = COMMANDS.get(argv[0]) if argv else None
    for module in [asked] if asked else dict.fromkeys(COMMANDS.values()):
        importlib.import_module(f"core.cli.{module}").register(subparsers)
    return parser


def read_database():
    """The database for a command that only reads: while a sync or push elsewhere writes to it, a note
    on stderr says so and the command waits (core/busy.py)."""
    return busy.connect(say=lambda: print(busy.NOTE, file=sys.stderr, flush=True))
