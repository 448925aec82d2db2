"""`python -m core autopilot run --every 2s` as cron or systemd would run it: a process of its own against the
sandbox, two passes, then a clean stop on SIGTERM or Ctrl-C (SIGINT)."""
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest
from test_autopilot import Pilot, new_invoice
from test_push import practice, start_org

from core import autopilot, config, store

PASS_SECONDS = 2


@pytest.fixture
def pilot(db_path, start_sandbox):
    with store.connect(db_path) as con:
        org = start_org(con, start_sandbox(practice()))
    return Pilot(org, db_path)


def lines_of(process: subprocess.Popen) -> queue.Queue:
    """The process's stdout, line by line, as it comes."""
    lines = queue.Queue()

    def read() -> None:
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return lines


def next_pass(lines: queue.Queue, timeout: float = 60) -> str:
    """The next pass's summary line (the loop's first line says how it runs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = lines.get(timeout=max(deadline - time.monotonic(), 0.1))
        if "Xero calls" in line or "Skipped" in line:
            return line
    raise AssertionError("no pass within the timeout")


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_the_loop_runs_pass_after_pass_and_stops_cleanly(pilot, stop_signal):
    pilot.on()
    first = pilot.create(new_invoice("acme"), new_invoice("gamma"))
    box = pilot.box
    environment = {**os.environ, "TRACKING_DB": str(pilot.db), "XERO_CLIENT_ID": box.client_id,
                   "XERO_CLIENT_SECRET": box.client_secret, "XERO_API_URL": box.api_url,
                   "XERO_IDENTITY_URL": box.identity_url, "PYTHONUNBUFFERED": "1"}
    loop = subprocess.Popen([sys.executable, "-m", "core", "autopilot", "run", "--every", f"{PASS_SECONDS}s"],
                            cwd=config.ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        lines = lines_of(loop)
        assert next_pass(lines).endswith("2 new invoices: 2 tagged · 8 Xero calls.")
        [later] = pilot.create(new_invoice("acme"))
        created = time.monotonic()
        assert next_pass(lines).endswith("1 new invoice: 1 tagged · 8 Xero calls.")
        assert time.monotonic() - created < 2 * PASS_SECONDS + 5
        waiting = pilot.query(autopilot.status).last_pass
        assert waiting["next_pass_at"] is not None  # the Overview's "next pass"
        loop.send_signal(stop_signal)
        assert loop.wait(timeout=30) == 0
    finally:
        if loop.poll() is None:
            loop.kill()
    assert "Stopping after the current batch" in loop.stderr.read()
    assert pilot.query(autopilot.status).last_pass["next_pass_at"] is None
    tagged = {invoice["InvoiceNumber"] for invoice in [*first, later]}
    assert set(pilot.query(autopilot.decided, "tagged")["invoice"]) == tagged
