"""The stored refresh's peak memory at 200,000 lines, against a bound scaled from issue 21's target.

The target: a process deciding and previewing 1,000,000 lines peaks at 512 MB (`python -m core bench rules`).
The refresh runs in a fresh interpreter (so that its peak is its own), on a database built by
another, with DuckDB on 2 threads as on the 2-core machine the target is set for. Its bound is the interpreter's
own memory before the refresh plus 60% of the target's room above it: DuckDB's working memory does not shrink in
proportion to the lines (its buffers are per thread and per row group), so a fifth of the lines gets more than a
fifth of the room. Today's refresh peaks at 272-295 MB (about 335 MB is the bound; the peak moves with the load on
the machine); the refresh before issue 21 (every verdict sorted) peaked at 346-355 MB, above it.
The peak is the interpreter's own high-water mark, read by core/bench/memory.py: on Linux `resource.getrusage`'s
`ru_maxrss` keeps the launching process's peak across fork and exec, so under a large pytest-xdist worker it reads
the worker's memory.
No timing is asserted here.
"""
import json
import subprocess
import sys

from core import config

TARGET_MB = 512
LINES = 200_000
SHARE_OF_ROOM = 0.6

BUILD = """
import sys
from core import store
from core.bench import rules as bench_rules
with store.connect(sys.argv[1]) as con:
    bench_rules.build(con, int(sys.argv[2]))
"""
REFRESH = """
import json, sys
from core import rules, store
from core.bench.memory import peak_mb

with store.connect(sys.argv[1]) as con:
    con.execute("SET threads = 2")
    before = peak_mb()
    with store.transaction(con):
        rules.refresh(con)
    lines = con.execute("SELECT count(*) FROM line_rules").fetchone()[0]
print(json.dumps({"before_mb": before, "peak_mb": peak_mb(), "lines": lines}))
"""


def python(script: str, *arguments) -> str:
    done = subprocess.run([sys.executable, "-c", script, *map(str, arguments)], cwd=config.ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_stored_refresh_of_200000_lines_stays_within_its_share_of_the_memory_target(tmp_path):
    db = tmp_path / "memory.duckdb"
    python(BUILD, db, LINES)

    measured = json.loads(python(REFRESH, db).strip().splitlines()[-1])

    assert measured["lines"] == LINES
    bound = measured["before_mb"] + (TARGET_MB - measured["before_mb"]) * SHARE_OF_ROOM
    assert measured["peak_mb"] <= bound, (
        f"the refresh of {LINES:,} lines peaked at {measured['peak_mb']:.0f} MB, above its bound of {bound:.0f} MB")
