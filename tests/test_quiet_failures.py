"""A stopped push or sync on the command line: the cause and the counts in a few lines, the detail in a file."""
import csv
import re

from core import connection, push, store
from core.__main__ import main
from core.cli.push import LISTED_MAX, problem_lines


def outcome(number: int, result: str = "not sent", message: str = "Xero's daily API limit was reached.") -> push.InvoiceOutcome:
    return push.InvoiceOutcome(f"id-{number}", f"INV-{number:04d}", "Acme Ltd", result, 2, message)


def test_few_invoices_not_changed_are_named_with_a_shortened_message():
    result = push.PushResult(7, "push", "partial", None, [outcome(1, "failed", "x" * 500), outcome(2, "conflict")])
    assert problem_lines(result, "in push-7-problems.csv") == [
        f"INV-0001: failed — {'x' * 80}…",
        "INV-0002: conflict — Xero's daily API limit was reached.",
        "2 invoices not changed (1 failed, 1 conflict): each with Xero's message in push-7-problems.csv."]


def test_many_invoices_not_changed_are_counted_not_listed():
    result = push.PushResult(7, "push", "stopped", "cause", [outcome(n) for n in range(1249)] + [outcome(0, "failed")])
    assert problem_lines(result, "in push-7-problems.csv") == [
        "1,250 invoices not changed (1,249 not sent, 1 failed): each with Xero's message in push-7-problems.csv."]
    assert len(problem_lines(result, "")) <= LISTED_MAX + 1


def test_a_stopped_push_says_why_in_a_few_lines_and_writes_each_invoice_to_a_csv(demo_db, capsys):
    connection.demo_sandbox().fail_next(429, path="/Invoices", problem="day", retry_after=3600)
    assert main(["push"]) == 1
    out, err = capsys.readouterr()
    assert len(out.splitlines()) + len(err.splitlines()) <= 5
    summary, api_calls = out.splitlines()
    assert summary.startswith("Push 1: ") and "daily API limit" in summary
    assert re.fullmatch(r"\d+ reads? and \d+ updates? of invoices \(\d+ API calls? in all\) in [\d.]+ s\.", api_calls)
    details = demo_db.with_name("push-1-problems.csv")
    with details.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    with store.connect(demo_db) as con:
        not_sent = con.execute("SELECT count(DISTINCT invoice_id) FROM push_lines WHERE push_id = 1 "
                               "AND result = 'not sent'").fetchone()[0]
    assert not_sent > LISTED_MAX and len(rows) == not_sent
    assert {row["Result"] for row in rows} == {"not sent"}
    assert all("daily API limit" in row["Xero's message"] for row in rows)
    assert err.splitlines() == [f"{not_sent:,} invoices not changed ({not_sent:,} not sent): each with Xero's "
                                f"message in {details}, and on the Push page."]


def test_a_failed_sync_is_one_line_and_saves_nothing(demo_db, capsys):
    with store.connect(demo_db) as con:
        before = con.execute("SELECT count(*), max(updated_utc) FROM invoices").fetchone()
    connection.demo_sandbox().fail_next(500, times=20, path="/Invoices")
    assert main(["sync", "--full"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert err.startswith("error: ") and "Nothing from this sync was saved" in err
    with store.connect(demo_db) as con:
        assert con.execute("SELECT count(*), max(updated_utc) FROM invoices").fetchone() == before
