"""Import a team CSV and a client CSV (dry run, then apply): seconds, against reading the same file with pandas.

A practice is seeded in a temporary database (the clients as Xero contacts, two tracking categories).
The team file adds every member; the client file gives each client an owner from that team and
both options. The baseline is `pandas.read_csv` of the same bytes, measured in the same run; the
import reads the file that way too, then checks and applies every row. How long the database was
held (all connections the import opened) is reported apart: the file is read and checked without it.
"""
import io
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pandas as pd

from core import access, csv_io, store
from core.cli.bench import count

OPTIONS = 12
SEED = [
    "INSERT INTO tracking_categories VALUES ('cat-p', 'Partner', 'ACTIVE', 0), ('cat-d', 'Department', 'ACTIVE', 1)",
    "INSERT INTO slots VALUES (1, 'cat-p'), (2, 'cat-d')",
    f"""INSERT INTO tracking_options
        SELECT 'p' || i, 'cat-p', 'Partner ' || i, 'ACTIVE' FROM range({OPTIONS}) t(i)
        UNION ALL SELECT 'd' || i, 'cat-d', 'Department ' || i, 'ACTIVE' FROM range({OPTIONS}) t(i)""",
    "INSERT INTO contacts (contact_id, name, status) SELECT 'c' || i, 'Client ' || i, 'ACTIVE' FROM range(?) t(i)",
]


def add_arguments(parser) -> None:
    parser.add_argument("--team-rows", type=count, default=200_000, help="rows of the team file (default 200,000)")
    parser.add_argument("--client-rows", type=count, default=100_000,
                        help="rows of the client file (default 100,000)")


def run(args) -> int:
    files = {"team": team_file(args.team_rows), "clients": client_file(args.client_rows, args.team_rows)}
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "bench.duckdb"
        with store.connect(database) as con, store.transaction(con):
            for sql in SEED:
                con.execute(sql, [args.client_rows] if "?" in sql else [])
        for template, data in files.items():
            baseline = _best(lambda: pd.read_csv(io.BytesIO(data), dtype=object, keep_default_na=False))
            rows = data.count(b"\n") - 1
            print(f"{template}: {rows:,} rows, {len(data) / 1e6:.1f} MB; pandas.read_csv of the file "
                  f"(baseline): {baseline:.2f} s")
            for dry_run in (True, False):
                seconds, cpu, held, result = _timed_import(template, data, database, dry_run)
                print(f"  {'dry run' if dry_run else 'apply  '}: {seconds:.2f} s = {seconds / baseline:.1f}× the "
                      f"baseline, {rows / seconds:,.0f} rows/s ({cpu:.2f} s of CPU: on a busy machine the wall time "
                      f"is longer); database held {held:.2f} s. {result.summary()}")
    return 0


def team_file(rows: int) -> bytes:
    lines = ["Team Member,Email,Tracking Category 2"]
    lines += [f"Member {i:06d},member{i}@example.com,Department {i % OPTIONS}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def client_file(rows: int, members: int) -> bytes:
    lines = ["Xero Contact ID,Client Owner,Xero Tracking Category 1,Xero Tracking Category 2,Consolidate Lines"]
    lines += [f"c{i},Member {i % members:06d},Partner {i % OPTIONS},Department {(i + 1) % OPTIONS},"
              f"{'Yes' if i % 3 == 0 else 'No'}" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def _timed_import(template: str, data: bytes, database: Path, dry_run: bool):
    held = [0.0]
    opened = store.connect

    @contextmanager
    def timed(*args, **kwargs):
        started = time.perf_counter()
        with opened(*args, **kwargs) as con:
            yield con
        held[0] += time.perf_counter() - started

    started, cpu = time.perf_counter(), time.process_time()
    with mock.patch.object(store, "connect", timed):
        result = csv_io.import_csv(template, data, file_name=f"{template}.csv", by=access.command_line(),
                                   dry_run=dry_run, database=database)
    return time.perf_counter() - started, time.process_time() - cpu, held[0], result


def _best(measure: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        measure()
        times.append(time.perf_counter() - started)
    return min(times)
