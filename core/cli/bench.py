"""`python -m core bench sync|rules|push|lock|csv`: the benchmarks, each in its own `core/bench/*.py`.

A benchmark module has `add_arguments(parser)` and `run(args) -> int`; it prints its figures
as ratios against a simple baseline measured in the same run. The Revenue page's render time,
which needs Streamlit's AppTest, is `python -m tests.bench_revenue`.
"""
import argparse
import importlib

BENCHMARKS = ["sync", "rules", "push", "lock", "csv"]


def count(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a wrong one is a usage error, exit 2)."""
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small: give at least 1")
    return value


def register(subparsers) -> None:
    bench = subparsers.add_parser("bench", help="measure speed and memory against a baseline")
    kinds = bench.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    for name in BENCHMARKS:
        module = importlib.import_module(f"core.bench.{name}")
        parser = kinds.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
        module.add_arguments(parser)
        parser.set_defaults(handler=module.run)
