"""The command line's parser: each command is registered by the group module COMMANDS names, and
a command imports only its own group, so a quick command starts without pandas or the Xero SDK."""
import argparse
import importlib
import subprocess
import sys

from core import config
from core.cli import COMMANDS, build_parser


def test_each_group_module_registers_exactly_the_commands_mapped_to_it():
    for module in set(COMMANDS.values()):
        subparsers = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"core.cli.{module}").register(subparsers)
        assert set(subparsers.choices) == {command for command, owner in COMMANDS.items() if owner == module}


def test_without_a_known_command_every_command_is_offered():
    assert set(build_parser([])._subparsers._group_actions[0].choices) == set(COMMANDS)
    assert set(build_parser(["no-such-command"])._subparsers._group_actions[0].choices) == set(COMMANDS)


def test_a_command_imports_only_its_own_group():
    probe = ("import sys; from core.cli import build_parser; build_parser(['preview']); "
             "print(sorted(m for m in ('pandas', 'xero_python', 'core.cli.push') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=config.ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
