"""In-doubt batches (docs/push-protocol.md §6-7): the command-line push killed with -9 at each point of
its run, and every retry of a batch timed out; each time the next push settles what Xero holds, and the
log, Xero and undo agree line by line."""
import os
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

import pytest

from core import push, push_plan, run_lock, store
from core.__main__ import main
from core.xero.gateway import Gateway
from core.xero.retry import TRIES
from tests.test_push import practice, start_org

CHANGED = 122  # invoices the rules change in `state()`: three batches of 50, 50 and 22
WAIT_SECONDS = 60

# The command-line push, paused at a named point of its run (KILL_POINT) so that it is killed exactly
# there: it writes KILL_MARKER and sleeps until the test kills it.
PAUSED_PUSH = """
import os, sys, time
from core import push
point, marker = os.environ["KILL_POINT"], os.environ["KILL_MARKER"]
send, execute = push._Run._send, push._Run.execute

def pause():
    open(marker, "w").close()
    time.sleep(600)

def send_or_pause(self, number, *kind_and_batch):
    if (point, number) in (("before the first batch", 1), ("between batches", 2)):
        pause()
    return send(self, number, *kind_and_batch)

def execute_then_pause(self):
    stopped = execute(self)
    if point == "after the last batch, before finishing":
        pause()
    return stopped

push._Run._send, push._Run.execute = send_or_pause, execute_then_pause
from core.__main__ import main
sys.exit(main(["push"]))
"""


def state() -> dict:
    """The push tests' practice with 120 more invoices, less the one line whose old option is archived
    (Xero would refuse it back, so no undo could restore it)."""
    practice_state = practice(extra_invoices=120)
    practice_state["Invoices"] = [i for i in practice_state["Invoices"] if i["InvoiceID"] != "inv-2"]
    return practice_state


@pytest.fixture
def org(db_path, start_sandbox):
    """The practice synced, with no connection left open: the command line must be able to open the file."""
    box = start_sandbox(state())
    with store.connect(db_path) as con:
        synced = start_org(con, box)
    synced.con = None
    synced.start = tracking(box)
    return synced


def tracking(box) -> dict[tuple[str, str], dict]:
    """Every line's tracking in Xero, as {category: option}."""
    return {(i["InvoiceID"], line["LineItemID"]): push_plan.tracking_of(line)
            for i in box.state["Invoices"] for line in i["LineItems"]}


def log(db) -> list[tuple]:
    with store.connect(db) as con:
        return con.execute("SELECT push_id, invoice_id, line_id, category_id, before_option_id, after_option_id, "
                           "result FROM push_lines ORDER BY push_id, line_id, slot").fetchall()


def xero_as_the_log_says(start: dict, lines: list[tuple]) -> dict:
    """The tracking Xero should hold: the starting tracking with every landed line of the log applied in order."""
    expected = {key: dict(options) for key, options in start.items()}
    for _, invoice_id, line_id, category, _, after, result in lines:
        if result == "landed":
            options = expected[invoice_id, line_id]
            options.pop(category, None)
            if after is not None:
                options[category] = after
    return expected


def push_figures(db, push_id: int) -> dict:
    with store.connect(db) as con:
        row = con.execute("""
            SELECT outcome, invoices_landed, invoices_in_doubt, invoices_not_landed, invoices_not_sent,
                   (SELECT count(DISTINCT invoice_id) FROM push_lines WHERE push_id = $id AND resolved_at IS NOT NULL),
                   (SELECT count(DISTINCT invoice_id) FROM push_lines
                    WHERE push_id = $id AND resolved_at IS NOT NULL AND result = 'landed')
            FROM pushes WHERE push_id = $id""", {"id": push_id}).fetchone()
    names = ("outcome", "landed", "in doubt", "not landed", "not sent", "were in doubt", "resolved landed")
    return dict(zip(names, row))


def cli_environment(box) -> dict:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("XERO_")}
    return {**environment, "XERO_CLIENT_ID": box.client_id, "XERO_CLIENT_SECRET": box.client_secret,
            "XERO_API_URL": box.api_url, "XERO_IDENTITY_URL": box.identity_url}


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def kill_paused_push(org, point: str, tmp_path) -> None:
    marker = tmp_path / "paused"
    process = subprocess.Popen([sys.executable, "-c", PAUSED_PUSH], env={
        **cli_environment(org.box), "KILL_POINT": point, "KILL_MARKER": str(marker)})
    try:
        wait_for(lambda: marker.exists() or process.poll() is not None, f"the push to reach '{point}'")
        assert process.poll() is None, "the push ended before the kill point"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


def kill_during_first_post(org, *, applied: bool) -> None:
    """Kill `python -m core push` while Xero holds its first update: Xero then applies it (`applied`) or
    never receives it."""
    arrived, killed = threading.Event(), threading.Event()
    answer = org.box.handle

    def hold_the_first_post(method, target, headers, body):
        if method == "POST" and urlsplit(target).path.endswith("/Invoices") and not arrived.is_set():
            arrived.set()
            killed.wait(WAIT_SECONDS)
            if not applied:
                return answer("GET", "/no-such-path", headers, b"")
        return answer(method, target, headers, body)

    org.box.handle = hold_the_first_post
    process = subprocess.Popen([sys.executable, "-m", "core", "push"], env=cli_environment(org.box))
    try:
        wait_for(lambda: arrived.is_set() or process.poll() is not None, "the first update to reach Xero")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        killed.set()
    wait_for(lambda: any(r.path.endswith("/Invoices") and r.method == "POST" or r.path == "/no-such-path"
                         for r in org.box.requests),
             "Xero to finish the update")


# The kill points, and what the killed run is found to be: (outcome, landed, were in doubt, of which landed,
# not sent) in invoices.
KILL_POINTS = {
    "before the first batch": (lambda org, tmp: kill_paused_push(org, "before the first batch", tmp),
                               ("interrupted", 0, 0, 0, CHANGED)),
    "while a POST is in flight (Xero applies it)": (lambda org, tmp: kill_during_first_post(org, applied=True),
                                                    ("interrupted", 50, 50, 50, CHANGED - 50)),
    "while a POST is in flight (it never reaches Xero)": (lambda org, tmp: kill_during_first_post(org, applied=False),
                                                          ("interrupted", 0, 50, 0, CHANGED - 50)),
    "between batches": (lambda org, tmp: kill_paused_push(org, "between batches", tmp),
                        ("interrupted", 50, 0, 0, CHANGED - 50)),
    "after the last batch, before finishing": (
        lambda org, tmp: kill_paused_push(org, "after the last batch, before finishing", tmp),
        ("interrupted", CHANGED, 0, 0, 0)),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_push_killed_at_any_point_is_settled_then_redone_and_undone_line_by_line(org, db_path, tmp_path, point):
    kill, (outcome, landed, in_doubt, resolved_landed, not_sent) = KILL_POINTS[point]
    kill(org, tmp_path)
    assert run_lock.running(db_path) is None  # the kernel let go of the dead push's lock

    again = org.push()
    assert push_figures(db_path, 1) == {
        "outcome": outcome, "landed": landed, "in doubt": 0, "not landed": in_doubt - resolved_landed,
        "not sent": not_sent, "were in doubt": in_doubt, "resolved landed": resolved_landed}
    assert again.settled.interrupted == (1,)
    assert (again.settled.in_doubt, again.settled.landed) == (in_doubt, resolved_landed)
    assert again.problems == []  # the app's own unconfirmed change is not taken for an edit in Xero
    assert again.count("landed") == CHANGED - landed
    assert tracking(org.box) == xero_as_the_log_says(org.start, log(db_path))
    with store.connect(db_path) as con:
        assert push.plan_counts(con)["invoices"] == 0
        offered = {row["push_id"]: row["can_undo"] for row in push.history(con)}
    assert offered == {1: landed > 0, **({again.push_id: True} if again.push_id else {})}

    for pushed in sorted({row[0] for row in log(db_path) if row[6] == "landed"}, reverse=True):
        undone = org.undo(pushed)
        assert undone.outcome == "complete" and undone.problems == []
    assert tracking(org.box) == org.start  # every line as it was before the first push


def test_every_retry_of_a_batch_timed_out_leaves_it_in_doubt_until_xero_is_asked(org, db_path, monkeypatch):
    org.gw = Gateway(org.gw.cfg, sleep=lambda seconds: None, timeout=1)
    update, batches = org.gw.update_invoices, []

    def second_batch_answers_too_late(invoices, **kw):
        batches.append(len(invoices))
        if len(batches) == 2:
            org.box.delay_next(2, times=TRIES, path="/Invoices")  # Xero applies it, after the gateway gave up
        return update(invoices, **kw)

    monkeypatch.setattr(org.gw, "update_invoices", second_batch_answers_too_late)
    stopped = org.push()
    assert stopped.outcome == "stopped" and "did not answer" in stopped.message
    assert (stopped.count("landed"), stopped.count("in doubt"), stopped.count("not sent")) == (50, 50, CHANGED - 100)
    assert all("answer was lost" in o.message for o in stopped.problems if o.result == "in doubt")
    wait_for(lambda: sum(r.method == "POST" and r.path.endswith("/Invoices") for r in org.box.requests) == 1 + TRIES,
             "Xero's late answers")

    again = org.push()
    assert push_figures(db_path, 1) == {"outcome": "stopped", "landed": 100, "in doubt": 0, "not landed": 0,
                                        "not sent": CHANGED - 100, "were in doubt": 50, "resolved landed": 50}
    assert again.problems == [] and again.count("landed") == CHANGED - 100
    assert tracking(org.box) == xero_as_the_log_says(org.start, log(db_path))
    assert org.undo(again.push_id).outcome == "complete"
    assert org.undo(1).outcome == "complete"
    assert tracking(org.box) == org.start


def test_an_interrupted_push_shows_in_the_history_with_undo_offered_for_what_landed(org, db_path, tmp_path):
    kill_paused_push(org, "between batches", tmp_path)
    with store.connect(db_path) as con:
        assert push.history(con)[0]["outcome"] == "running"
    org.sync()  # a sync settles it too
    with store.connect(db_path) as con:
        (row,) = push.history(con)
        assert [o.result for o in push.invoice_results(con, 1)].count("landed") == 50
    assert (row["outcome"], row["invoices_landed"], row["invoices_not_sent"], row["can_undo"]) == (
        "interrupted", 50, CHANGED - 50, True)
    assert "Interrupted before it finished; what Xero holds was checked. Xero now has the new tracking on 50 invoices" in row["summary"]
    undone = org.undo(1)
    assert (undone.outcome, undone.count("landed")) == ("complete", 50)
    assert tracking(org.box) == org.start


def test_a_second_push_while_one_runs_is_refused_in_plain_words(org, db_path, capsys, monkeypatch):
    monkeypatch.setattr(push, "LOCK_WAIT_SECONDS", 0)
    with run_lock.hold(db_path, who="ann@practice.com"):
        assert run_lock.running(db_path).who == "ann@practice.com"
        with pytest.raises(push.PushError, match="A push by ann@practice.com is running on this database"):
            org.push()
        with pytest.raises(push.PushError, match="Only one push or undo runs at a time"):
            org.undo(1)
        with pytest.MonkeyPatch.context() as patch:
            for name, value in cli_environment(org.box).items():
                if name.startswith("XERO_"):
                    patch.setenv(name, value)
            assert main(["push"]) == 2
        assert "is running on this database" in capsys.readouterr().err
        assert org.sync().api_calls == 6  # a sync goes on (one call per entity: nothing changed)
    assert run_lock.running(db_path) is None
    assert org.push().count("landed") == CHANGED
