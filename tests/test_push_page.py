"""The Push page on the demo organisation: dry run, confirmation dialog, push, result, history and undo."""
import csv
import io

from core import config, history, push, push_words, store


def plan_counts() -> dict:
    with store.connect() as con:
        return push.plan_counts(con)


def table_with(at, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def texts(at) -> str:
    return "\n".join(e.value for e in [*at.markdown, *at.success, *at.warning, *at.info, *at.caption])


def test_the_dry_run_shows_what_will_change_and_sends_nothing(streamlit_app):
    counts = plan_counts()
    at = streamlit_app("pages/push.py").run()
    assert not at.exception
    assert [m.value for m in at.metric] == [f"{counts[k]:,}" for k in
                                            ("invoices", "lines", "locked_invoices", "locked_lines")]
    assert counts["invoices"] > 0 and counts["locked_invoices"] > 0
    sent, locked = [d.value for d in at.dataframe if "State" in d.value.columns]  # in their sections' order
    assert {"Invoice", "Client", "Description", "Tracking Category 1", "Tracking Category 2",
            "State"} <= set(sent.columns)
    # the figures and the tables agree: one row per line, the locked lines in their own section
    # the demo keeps archived options on some lines: their invoices are sent, marked as Xero may refuse them
    assert len(sent) == counts["lines"] and set(sent["State"]) == {"will change", "may be refused"}
    assert all(sent.query("State == 'may be refused'")["Reason"].str.startswith("Xero may refuse this invoice: "))
    assert set(locked["State"]) == {"locked"}
    assert len(locked) == min(counts["locked_lines"], 2000)  # the page shows the first 2,000 and says so
    assert f"Showing the first 2,000 of {counts['locked_lines']:,} lines." in texts(at)
    assert "Find & Recode" in texts(at)
    assert "This changes the tracking" not in texts(at)  # no dialog until asked


def test_push_after_confirming_then_undo_from_the_history(streamlit_app):
    counts = plan_counts()
    at = streamlit_app("pages/push.py").run()
    at.button(key="push_open").click().run()
    assert f"**{counts['lines']:,} lines** on **{counts['invoices']:,} invoices**" in texts(at)
    at.button(key="push_confirmed").click().run()
    assert not at.exception
    results = table_with(at, "Result")["Result"].value_counts().to_dict()
    # the demo has lines tagged with archived options, which the sandbox (like a strict Xero) refuses back
    assert results["landed"] + results.get("failed", 0) == counts["invoices"]
    assert "locked" not in results  # the locked invoices are counted, not listed one by one
    landed_lines = table_with(at, "Result").query("Result == 'landed'")["Lines"].sum()
    assert (at.success or at.warning)[0].value == (
        f"Push 1: Xero now has the new tracking on {results['landed']:,} invoices ({landed_lines:,} lines). "
        f"{counts['locked_invoices']:,} paid, credited or voided invoices were left alone. "
        f"{results.get('failed', 0):,} failed.")
    documents = table_with(at, "Result")["Document"].value_counts()  # invoices and credit notes batch apart
    updates = sum(-(-n // 50) for n in documents)  # the API detail, in the expander: 50 per update
    assert f" and {updates} updates of invoices (" in at.expander[0].caption[0].value
    assert not at.get("progress")  # the progress bar ended in the summary
    assert [m.value for m in at.metric][0] == "0"  # the rest shows `same` now; Xero's refusals are blocked

    at.button(key="undo_1").click().run()
    assert "options that push 1 replaced" in texts(at)
    at.button(key="undo_confirmed").click().run()
    assert not at.exception
    summary = (at.success or at.warning)[0].value
    assert summary.startswith("Undo 2: Xero now has the tracking from before that push on ")
    assert "Undone by undo 2." in texts(at)
    # the demo has lines whose option before the push is archived now: their undo fails, and can be retried
    assert summary.endswith(" failed.") and not summary.endswith(" 0 failed.")
    at.button(key="undo_retry_1").click().run()
    assert "only those the last undo could not put back" in texts(at)
    assert [m.value for m in at.metric][0] != "0"  # the changes are wanted again


def test_cancel_closes_the_dialog_without_pushing(streamlit_app):
    at = streamlit_app("pages/push.py").run()
    at.button(key="push_open").click().run()
    at.button(key="push_cancelled").click().run()
    assert "This changes the tracking" not in texts(at)
    with store.connect() as con:
        assert push.history(con) == []


def test_history_shows_the_push_in_words_and_opens_it_to_its_lines(streamlit_app):
    at = streamlit_app("pages/push.py").run()
    at.button(key="push_open").click().run()
    at.button(key="push_confirmed").click().run()
    summary = (at.success or at.warning)[0].value

    at = streamlit_app("pages/history.py").run()
    events = at.dataframe(key="history_events").value
    assert events.iloc[0][["what", "name", "change"]].tolist() == ["Push", "Push 1", summary.removeprefix("Push 1: ")]
    at.session_state["history_events"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    log = at.dataframe[1].value  # below the history
    with store.connect() as con:
        landed = con.execute("SELECT count(*) FROM push_lines WHERE push_id = 1 AND result = 'landed'").fetchone()[0]
        rows = list(csv.reader(io.StringIO(history.push_log_csv(con, 1).decode("utf-8-sig"))))
        names = {name for (name,) in con.execute("SELECT name FROM tracking_options").fetchall()}
    assert (log["outcome"] == "Done in Xero").sum() == landed > 0
    # the locked invoices are counted in the summary, not logged line by line
    assert "paid, credited or voided invoices were left alone" in summary
    assert "Left alone: invoice locked" not in set(log["outcome"])
    assert set(log["category"]) == {"Partner", "Department"}
    assert set(log["before"].dropna()) | set(log["after"].dropna()) <= names  # names, not ids
    assert rows[0] == list(history.PUSH_LOG_HEADERS.values()) and len(rows) == len(log) + 1
    assert at.download_button(key="history_push_csv")


def test_on_a_database_never_synced_the_page_says_to_sync_first(db_path, uncalled_xero, streamlit_caches):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(config.ROOT / "pages" / "push.py"), default_timeout=60).run()
    assert not at.exception
    assert [i.value for i in at.info] == [push_words.NEVER_SYNCED]
    assert [b.key for b in at.button] == ["sidebar_sync"]  # no Push to Xero…: nothing to confirm
