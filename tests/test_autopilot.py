"""Autopilot against the sandbox through the SDK: which invoices are new, what a pass does with them,
a person winning, the limits, and the command line."""
import pytest
from test_push import ANN, BOB, OLD, NORTH, P, TAX, D, TESTER, gateway, practice, start_org, tag

from core import access, autopilot, edits, push, run_lock, store
from core.__main__ import main
from core.xero.gateway import Gateway
from core.xero.retry import TRIES
from core.sandbox.writes import CREATE_ONLY_MESSAGE

EDITOR = access.Actor("Ed", "ed@practice.com", access.Role.EDITOR)


def new_invoice(contact: str, *, status: str = "DRAFT", tracking=(), lines: int = 1) -> dict:
    """A sales invoice as PUT /Invoices takes it."""
    return {"Type": "ACCREC", "Status": status, "Contact": {"ContactID": contact}, "LineAmountTypes": "Exclusive",
            "LineItems": [{"Description": f"Work {n}", "Quantity": 1, "UnitAmount": 100, "AccountCode": "200",
                           "TaxType": "OUTPUT2", "Tracking": list(tracking)} for n in range(lines)]}


class Pilot:
    """A synced practice (tests/test_push.py) with autopilot, and Xero to create invoices in."""

    def __init__(self, org, db_path):
        self.org, self.db, self.box = org, db_path, org.box

    def create(self, *invoices: dict) -> list[dict]:
        created = self.org.gw.create_invoices(list(invoices), idempotency_key=f"test-{len(self.box.requests)}")
        assert not any(c.get("HasErrors") for c in created)
        return created

    def on(self, **kwargs):
        return autopilot.switch_on(self.org.gw, by=TESTER, db=self.db, **kwargs)

    def run(self, **kwargs) -> autopilot.PassResult:
        return autopilot.run_pass(lambda: self.org.gw, db=self.db, **kwargs)

    def posts(self) -> int:
        return self.org.posts()

    def query(self, fn, *args):
        with store.connect(self.db) as con:
            return fn(con, *args)


@pytest.fixture
def pilot(db_path, start_sandbox):
    """The practice synced into TRACKING_DB; the test's own connection is closed before autopilot runs."""
    with store.connect(db_path) as con:
        org = start_org(con, start_sandbox(practice()))
    return Pilot(org, db_path)


def test_put_invoices_creates_through_the_sdk_and_never_updates(pilot):
    [made] = pilot.create(new_invoice("acme", lines=2))
    assert (made["Status"], len(made["LineItems"]), pilot.box.requests[-1].method) == ("DRAFT", 2, "PUT")
    [refused] = pilot.org.gw.create_invoices([{**new_invoice("beta"), "InvoiceID": made["InvoiceID"]}],
                                             idempotency_key="again")
    assert refused["HasErrors"] and refused["ValidationErrors"] == [{"Message": CREATE_ONLY_MESSAGE}]
    assert pilot.box.invoice(made["InvoiceID"])["Contact"]["ContactID"] == "acme"


def test_autopilot_is_off_until_switched_on_and_an_off_pass_calls_nobody(pilot):
    assert pilot.query(autopilot.policy) == autopilot.Policy()
    calls = len(pilot.box.requests)
    result = pilot.run()
    assert (result.outcome, result.summary, result.exit_code) == ("off", "Autopilot is off: nothing done.", 0)
    assert len(pilot.box.requests) == calls


def test_what_xero_holds_when_switched_on_is_not_new(pilot):
    wanted_before = pilot.query(push.plan_counts)
    policy = pilot.on()
    assert (policy.enabled, policy.statuses, policy.daily_calls) == (True, ("DRAFT", "SUBMITTED"), 1000)
    result = pilot.run()
    assert result.summary == "No new invoices · 6 Xero calls."
    assert (result.outcome, result.api_calls, pilot.posts()) == ("done", 6, 0)
    assert pilot.query(push.plan_counts) == wanted_before  # the older invoices stay a person's


def test_a_pass_tags_new_invoices_in_its_statuses_and_leaves_the_rest_for_a_person(pilot):
    pilot.on()
    tagged, right, authorised, blocked = pilot.create(
        new_invoice("acme"), new_invoice("gamma", status="SUBMITTED", tracking=[tag(P, BOB)]),
        new_invoice("beta", status="AUTHORISED"), new_invoice("beta"))
    pilot.box.edit_invoice(blocked["InvoiceID"], lambda i: i["LineItems"][0].update(Tracking=[tag(OLD, NORTH)]))

    result = pilot.run()

    assert result.summary == (
        f"4 new invoices: 1 tagged, 1 already right, 2 left for a person (AUTHORISED: {authorised['InvoiceNumber']}; "
        f"blocked: {blocked['InvoiceNumber']}) · 8 Xero calls.")
    assert (result.outcome, result.exit_code, result.api_calls) == ("done", 0, 8)
    assert [(t["TrackingCategoryID"], t["TrackingOptionID"])
            for t in pilot.box.invoice(tagged["InvoiceID"])["LineItems"][0]["Tracking"]] == [(P, ANN)]
    assert pilot.box.invoice(authorised["InvoiceID"])["LineItems"][0]["Tracking"] == []
    [entry] = pilot.query(push.history)
    assert (entry["pushed_by"], entry["kind"], entry["invoices_landed"], entry["can_undo"]) == (
        "autopilot", "push", 1, True)
    assert list(pilot.query(autopilot.decided, "tagged")["invoice"]) == [tagged["InvoiceNumber"]]
    left = pilot.query(autopilot.decided, "left").set_index("invoice")["why"]
    assert left[authorised["InvoiceNumber"]] == "AUTHORISED: autopilot handles DRAFT and SUBMITTED only"
    assert left[blocked["InvoiceNumber"]].startswith("blocked: Line 1 of this invoice would carry 3 tracking")


def test_with_authorised_chosen_an_authorised_invoice_is_tagged(pilot):
    pilot.on(statuses=("AUTHORISED", "DRAFT"))
    [invoice] = pilot.create(new_invoice("beta", status="AUTHORISED"))
    assert pilot.run().summary == "1 new invoice: 1 tagged · 8 Xero calls."
    assert {(t["TrackingCategoryID"], t["TrackingOptionID"])
            for t in pilot.box.invoice(invoice["InvoiceID"])["LineItems"][0]["Tracking"]} == {(P, ANN), (D, TAX)}


def test_an_autopilot_push_is_a_normal_push_that_a_person_can_undo(pilot):
    pilot.on()
    [invoice] = pilot.create(new_invoice("acme"))
    [push_id] = pilot.run().push_ids
    undone = push.undo(pilot.org.gw, push_id, by=TESTER, db=pilot.db)
    assert undone.count("landed") == 1
    assert pilot.box.invoice(invoice["InvoiceID"])["LineItems"][0]["Tracking"] == []


def test_autopilot_tags_an_invoice_once_and_a_person_wins(pilot):
    pilot.on()
    in_xero, overridden = pilot.create(new_invoice("acme"), new_invoice("gamma"))
    assert pilot.run().tagged == 2
    posts = pilot.posts()
    # Someone tags the first one otherwise in Xero; someone sets a line override here on the second.
    pilot.box.edit_invoice(in_xero["InvoiceID"], lambda i: i["LineItems"][0].update(Tracking=[tag(P, BOB)]))
    line_id = overridden["LineItems"][0]["LineItemID"]
    with store.connect(pilot.db) as con:
        edits.set_line_override(con, line_id, tc1=ANN, by=TESTER)

    result = pilot.run()

    assert (result.summary, pilot.posts()) == ("No new invoices · 6 Xero calls.", posts)
    assert pilot.box.invoice(in_xero["InvoiceID"])["LineItems"][0]["Tracking"][0]["TrackingOptionID"] == BOB
    attention = pilot.query(autopilot.needs_attention).set_index("invoice")["why"].to_dict()
    assert attention == {in_xero["InvoiceNumber"]: "Its tracking was changed in Xero after autopilot tagged it",
                         overridden["InvoiceNumber"]: "A line override was set here after autopilot tagged it"}
    # A person's push still works, and then nothing needs attention.
    mine = push.push(pilot.org.gw, by=TESTER, invoice_numbers=[in_xero["InvoiceNumber"], overridden["InvoiceNumber"]],
                     db=pilot.db)
    assert mine.count("landed") == 2
    assert pilot.query(autopilot.needs_attention).empty


def test_an_invoice_changed_in_xero_between_sync_and_push_is_a_conflict_left_for_a_person(pilot):
    pilot.on()
    [invoice] = pilot.create(new_invoice("acme"))

    def someone_edits() -> bool:  # asked just before each push batch
        pilot.box.edit_invoice(invoice["InvoiceID"], lambda i: i.update(Reference="Edited in Xero"))
        return False

    result = pilot.run(stop=someone_edits)
    assert (result.outcome, result.exit_code, result.tagged, result.left) == ("partial", 1, 0, 1)
    assert f"left for a person (conflict: {invoice['InvoiceNumber']})" in result.summary
    assert pilot.run().summary == "No new invoices · 6 Xero calls."  # judged once: a person's now


def test_a_stop_request_leaves_the_invoices_waiting_for_the_next_pass(pilot):
    pilot.on()
    pilot.create(new_invoice("acme"))
    stopped = pilot.run(stop=lambda: True)
    assert stopped.summary == "1 new invoice: 0 tagged, 1 waiting for the next pass (stopped on request) · 6 Xero calls."
    assert pilot.run().summary == "1 new invoice: 1 tagged · 8 Xero calls."


def test_the_daily_budget_stops_autopilot_for_the_day_and_says_so(pilot):
    pilot.on(daily_calls=12)
    assert pilot.run().api_calls == 6
    pilot.create(new_invoice("acme"))
    waiting = pilot.run()
    assert waiting.summary == ("1 new invoice: 0 tagged, 1 waiting for the next pass (today's budget of 12 Xero "
                               "calls is used; autopilot resumes at 00:00 UTC) · 6 Xero calls.")
    calls = len(pilot.box.requests)
    skipped = pilot.run()
    assert (skipped.outcome, skipped.summary) == (
        "skipped", "Skipped: today's budget of 12 Xero calls is used (12 calls); autopilot resumes at 00:00 UTC.")
    assert len(pilot.box.requests) == calls
    assert pilot.query(autopilot.status).calls_today == 12


def test_one_pass_at_a_time_and_none_while_a_persons_push_runs(pilot):
    pilot.on()
    with run_lock.hold(pilot.db, who="autopilot", lock=run_lock.AUTOPILOT):
        assert pilot.run().summary == "Skipped: another autopilot pass is running."
    with run_lock.hold(pilot.db, who="ada@practice.com", what="push"):
        assert pilot.run().summary == "Skipped: a push by ada@practice.com is running."
    assert pilot.run().summary == "No new invoices · 6 Xero calls."


def test_a_pass_with_100_new_invoices_costs_the_sync_plus_two_calls_per_50(pilot):
    pilot.on()
    for start in (0, 50):
        pilot.create(*[new_invoice("acme") for _ in range(50)])
    result = pilot.run()
    assert (result.new, result.tagged, result.api_calls, len(result.push_ids)) == (100, 100, 6 + 2 * 2, 2)


def test_the_policy_is_for_admins_and_refuses_what_cannot_work(pilot):
    with pytest.raises(access.Forbidden):
        autopilot.switch_on(pilot.org.gw, by=EDITOR, db=pilot.db)
    with pytest.raises(access.Forbidden):
        autopilot.switch_on(pilot.org.gw, by=access.AUTOPILOT, db=pilot.db)
    with pytest.raises(autopilot.AutopilotError, match="not PAID"):
        pilot.on(statuses=("DRAFT", "PAID"))
    with pytest.raises(autopilot.AutopilotError, match="between 10 and 5,000"):
        pilot.on(daily_calls=6000)
    assert access.may(access.AUTOPILOT, access.Permission.PUSH)
    assert not access.may(access.AUTOPILOT, access.Permission.EDIT)
    assert pilot.on(statuses=(" submitted", "DRAFT")).statuses == ("DRAFT", "SUBMITTED")
    assert not autopilot.switch_off(by=TESTER, db=pilot.db).enabled


def test_switching_off_and_on_again_is_a_fresh_start(pilot):
    pilot.on()
    autopilot.switch_off(by=TESTER, db=pilot.db)
    pilot.create(new_invoice("acme"))
    pilot.on()
    assert pilot.run().summary == "No new invoices · 6 Xero calls."


@pytest.mark.parametrize("text, seconds", [("5m", 300), ("2s", 2), ("1h", 3600), ("90", 90), ("1.5m", 90)])
def test_intervals(text, seconds):
    assert autopilot.parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["0s", "soon", "", "-1m", "0.5"])
def test_intervals_refused(text):
    with pytest.raises(ValueError):
        autopilot.parse_interval(text)


# --- the command line --------------------------------------------------------------------------

@pytest.fixture
def configured(pilot, monkeypatch):
    """The command line configured for the practice's sandbox (a custom connection)."""
    box = pilot.box
    for name, value in {"XERO_CLIENT_ID": box.client_id, "XERO_CLIENT_SECRET": box.client_secret,
                        "XERO_API_URL": box.api_url, "XERO_IDENTITY_URL": box.identity_url}.items():
        monkeypatch.setenv(name, value)
    return pilot


def test_the_command_line_switches_on_runs_shows_and_switches_off(configured, capsys):
    assert main(["autopilot", "on", "--statuses", "DRAFT,AUTHORISED", "--daily-calls", "500"]) == 0
    assert "DRAFT and AUTHORISED with a budget of 500 Xero calls a day" in capsys.readouterr().out
    [invoice] = configured.create(new_invoice("acme"))
    assert main(["autopilot", "run"]) == 0
    assert "1 new invoice: 1 tagged · 8 Xero calls." in capsys.readouterr().out
    assert main(["autopilot", "status"]) == 0
    shown = capsys.readouterr().out
    assert "Xero calls today: 8 of 500." in shown and "Last pass:" in shown
    assert main(["autopilot", "off"]) == 0
    assert capsys.readouterr().out == "Autopilot is off.\n"
    history = configured.query(lambda con: con.execute(
        "SELECT field, old_value, new_value FROM change_log WHERE entity = 'autopilot' ORDER BY change_id").fetchall())
    assert history == [("enabled", "off", "on"), ("statuses", "DRAFT, SUBMITTED", "DRAFT, AUTHORISED"),
                       ("daily_calls", "1000", "500"), ("enabled", "on", "off")]


@pytest.mark.parametrize("argv, message", [
    (["autopilot", "on", "--statuses", "VOIDED"], "not VOIDED"),
    (["autopilot", "on", "--daily-calls", "3"], "between 10 and 5,000"),
    (["demo", "new-invoices", "3"], "only in the demo organisation"),
])
def test_the_command_line_refuses_in_plain_words(configured, capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_conflicted_pass_exits_1_as_a_push_does(configured, capsys, monkeypatch):
    configured.on()
    [invoice] = configured.create(new_invoice("acme"))
    real_push = autopilot._push

    def edited_first(gw, db, ids):
        configured.box.edit_invoice(invoice["InvoiceID"], lambda i: i.update(Reference="Edited in Xero"))
        return real_push(gw, db, ids)

    monkeypatch.setattr(autopilot, "_push", edited_first)
    assert main(["autopilot", "run"]) == 1
    assert "left for a person (conflict:" in capsys.readouterr().out


def test_an_invoice_whose_push_lost_xeros_answer_waits_and_is_tagged_once_xero_is_asked(pilot):
    pilot.on()
    [invoice] = pilot.create(new_invoice("acme"))
    slow = Gateway(pilot.org.gw.cfg, sleep=lambda seconds: None, timeout=1)
    update = slow.update_invoices

    def answer_too_late(invoices, **kw):
        pilot.box.delay_next(2, times=TRIES, path="/Invoices")  # Xero applies it after the gateway gave up
        return update(invoices, **kw)

    slow.update_invoices = answer_too_late
    lost = autopilot.run_pass(lambda: slow, db=pilot.db)
    assert (lost.tagged, lost.waiting, lost.outcome) == (0, 1, "partial")
    assert "1 waiting for the next pass (The push stopped: Xero" in lost.summary

    settled = pilot.run()  # its sync asks Xero about the lost answer first
    assert (settled.new, settled.tagged, settled.left) == (0, 0, 0)
    assert pilot.query(autopilot.decided, "tagged")["invoice"].tolist() == [invoice["InvoiceNumber"]]
    assert pilot.query(autopilot.needs_attention).empty
