"""Autopilot in the dashboard on the demo: switched on in Settings, new invoices made in the demo Xero, a pass
run, and the Overview's account of it."""
from core import autopilot, store


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def test_an_admin_switches_autopilot_on_creates_demo_invoices_and_watches_them_tagged(streamlit_app, demo_db):
    at = streamlit_app("pages/settings.py").run()
    assert not at.exception
    assert "Autopilot is off." in texts(at.caption)
    assert not [b for b in at.button if b.key == "autopilot_run"]

    at.toggle(key="autopilot_enabled").set_value(True)
    at.button(key="autopilot_save").click().run()
    assert not at.exception
    with store.connect(demo_db) as con:
        policy = autopilot.policy(con)
    assert (policy.enabled, policy.statuses, policy.changed_by) == (True, ("DRAFT", "SUBMITTED"), "Local user")
    assert any(text.startswith("Autopilot is on since") for text in texts(at.success))

    at.number_input(key="demo_new_count").set_value(4)
    at.button(key="demo_new_invoices").click().run()
    assert any(text.startswith("Created 4 draft invoices in the demo Xero") for text in texts(at.success))

    at.button(key="autopilot_run").click().run()
    assert not at.exception
    [summary] = [text for text in texts(at.success) + texts(at.warning) if "new invoices" in text]
    assert summary.startswith("4 new invoices: ")

    overview = streamlit_app("pages/overview.py").run()
    assert not overview.exception
    assert any(text.startswith("**Last pass**") and "4 new invoices" in text for text in texts(overview.markdown))
    assert any(text.startswith("The autopilot loop is not running") for text in texts(overview.caption))
    with store.connect(demo_db) as con:
        shown = {label: len(autopilot.decided(con, state)) for state, label in
                 (("tagged", "Tagged by autopilot"), ("left", "Left for a person"))}
    assert sum(shown.values()) >= 1
    assert [expander.label for expander in overview.expander] == [
        f"{label} (latest {count})" for label, count in shown.items() if count]
    assert list(overview.expander[0].dataframe[0].value.columns) == ["Invoice", "Client", "Status", "Push", "Why", "Pass (UTC)"]


def test_the_overview_says_autopilot_is_off(streamlit_app):
    at = streamlit_app("pages/overview.py").run()
    assert not at.exception
    assert "Autopilot is off. An admin can switch it on in Settings." in texts(at.markdown)


def test_a_wrong_budget_is_refused_in_plain_words(streamlit_app, demo_db):
    at = streamlit_app("pages/settings.py").run()
    at.toggle(key="autopilot_enabled").set_value(True)
    at.multiselect(key="autopilot_statuses").set_value([])
    at.button(key="autopilot_save").click().run()
    assert not at.exception
    assert any("choose at least one" in text for text in texts(at.error))
    with store.connect(demo_db) as con:
        assert not autopilot.policy(con).enabled


def test_the_demo_xero_receives_new_draft_invoices_from_the_command_line(demo_db, capsys):
    from core import connection
    from core.__main__ import main
    from core.sandbox import server as sandbox

    before = len(sandbox.load(connection.demo_state_file())["Invoices"])
    assert main(["demo", "new-invoices", "3"]) == 0
    assert capsys.readouterr().out.startswith("Created 3 draft invoices in the demo Xero: INV-")
    created = sandbox.load(connection.demo_state_file())["Invoices"][before:]
    assert [(i["Type"], i["Status"], len(i["LineItems"]) > 0) for i in created] == [("ACCREC", "DRAFT", True)] * 3
    assert all(line["Tracking"] == [] for invoice in created for line in invoice["LineItems"])
    assert main(["demo", "new-invoices", "0"]) == 2
    assert "between 1 and 500" in capsys.readouterr().err
