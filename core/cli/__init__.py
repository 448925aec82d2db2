"""The command line, `python -m core …`: one module per command group.

Each module in COMMANDS has `register(subparsers)`, which adds its sub-commands and sets
`handler` on them: a function taking the parsed arguments and returning the exit code.
"""
import argparse
import importlib
import sys

from core import busy

COMMANDS: list[str] = ["bench", "slots", "sync", "push", "csv", "set", "retire", "revenue", "preview", "autopilot", "demo"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Tracking Desk: Xero tracking options by rule.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"core.cli.{name}").register(subparsers)
    return parser


def read_database():
    """The database for a command that only reads: while a sync or push elsewhere writes to it, a note
    on stderr says so and the command waits (core/busy.py)."""
    return busy.connect(say=lambda: print(busy.NOTE, file=sys.stderr, flush=True))
