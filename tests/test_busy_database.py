"""The dashboard and the read-only commands while another process writes to the database: a note, a wait of
moments, then the page or the output; never a traceback."""
import os
import subprocess
import sys
import time

import pytest
import streamlit as st

from core import busy, config

# Another process (a sync or push from the command line) in a write transaction for argv[2] seconds, or
# until it reads a line.
HOLDER = """
import select, sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("BEGIN TRANSACTION")
con.execute("UPDATE data_version SET version = version + 1")
print("holding", flush=True)
select.select([sys.stdin], [], [], float(sys.argv[2]))
con.execute("COMMIT")
con.close()
print(time.time(), flush=True)
"""
OPENS_WITHIN_SECONDS = 3.0


class Holder:
    def __init__(self, db_path, seconds: float):
        self.process = subprocess.Popen([sys.executable, "-c", HOLDER, str(db_path), str(seconds)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        assert self.process.stdout.readline().strip() == "holding", self.process.stderr.read()

    def release(self) -> None:
        self.process.stdin.write("release\n")
        self.process.stdin.flush()

    def released_at(self) -> float:
        """When the other process let go of the file (time.time())."""
        released = float(self.process.stdout.readline())
        assert self.process.wait(timeout=30) == 0
        return released


class Shown(list):
    """Every st.info shown while a page ran (a note is cleared once the wait is over), and when each was cleared."""

    def __init__(self):
        super().__init__()
        self.cleared_at: dict[str, float] = {}

    def kept(self, body, element):
        self.append(body)
        shown = self

        class Clearable:
            def empty(self):
                shown.cleared_at[body] = time.time()
                return element.empty()

        return Clearable()


@pytest.fixture
def notes_shown(monkeypatch):
    shown, info = Shown(), st.info
    monkeypatch.setattr(st, "info", lambda body, *args, **kwargs: shown.kept(body, info(body, *args, **kwargs)))
    return shown


@pytest.mark.parametrize("file", ["app.py", "pages/preview.py", "pages/push.py"])
def test_a_page_waits_with_a_note_and_opens_once_the_other_process_lets_go(streamlit_app, demo_db, notes_shown,
                                                                           file):
    at = streamlit_app(file).run()  # the dashboard was open before
    assert not at.exception and busy.NOTE not in notes_shown

    holder = Holder(demo_db, 4)
    at.run()

    released = holder.released_at()
    assert not at.exception
    assert busy.NOTE in notes_shown
    assert busy.NOTE not in [info.value for info in at.info]  # cleared once the page could read again
    assert released <= notes_shown.cleared_at[busy.NOTE] <= released + OPENS_WITHIN_SECONDS
    assert len(at.title) == 1 and not at.error


def test_a_database_busy_for_too_long_is_said_in_plain_words(streamlit_app, demo_db, notes_shown, monkeypatch):
    at = streamlit_app("pages/preview.py").run()
    monkeypatch.setattr(busy, "GIVE_UP_SECONDS", 1.0)

    holder = Holder(demo_db, 5)
    at.run()
    holder.released_at()

    assert not at.exception
    assert busy.NOTE in notes_shown
    assert [error.value for error in at.error] == [
        f"The database {demo_db.name} is in use by another program (a sync or push from the command line, or "
        "another dashboard) and stayed busy for 1 s. Try again when it has finished."]
    assert not at.title  # the page stopped there

    at.run()
    assert not at.exception and not at.error and len(at.title) == 1


def test_preview_on_the_command_line_waits_for_a_short_write_elsewhere(demo_db):
    holder = Holder(demo_db, 60)
    preview = subprocess.Popen([sys.executable, "-m", "core", "preview", "--format", "csv"], cwd=config.ROOT,
                               env=os.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    said = preview.stderr.readline()  # the command waits, and says so
    time.sleep(1)
    holder.release()
    out, err = preview.communicate(timeout=120)

    assert said.strip() == busy.NOTE
    assert preview.returncode == 0, err
    assert out.startswith("invoice_number,") and out.count("\n") > 1000
    holder.released_at()
