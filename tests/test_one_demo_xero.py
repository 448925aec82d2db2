"""One demo Xero: the dashboard, the command line and a second dashboard each run a sandbox on the same
state file (`data/tracking.sandbox.json`), and each sees and keeps what the others changed."""
import os
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

from core import config, connection, push, store
from core.config import XeroConfig
from core.sandbox import server as xero_sandbox
from core.xero.gateway import Gateway
from core.sandbox.records import ms_from_xero

LANDING_INVOICES = """
SELECT DISTINCT i.number FROM invoices i
WHERE i.type = 'ACCREC' AND list_contains($numbers::VARCHAR[], i.number) AND NOT EXISTS (
    SELECT 1 FROM invoice_lines l JOIN line_tracking t USING (line_id) JOIN tracking_options o USING (option_id)
    WHERE l.invoice_id = i.invoice_id AND o.status <> 'ACTIVE')
ORDER BY i.number LIMIT $n
"""


def gateway_to(box) -> Gateway:
    return Gateway(XeroConfig(box.client_id, box.client_secret, "", box.api_url, box.identity_url))


def drafts(box, n: int) -> list[str]:
    """n draft invoices Xero will take back as they are (no line carries an archived option)."""
    archived = {option["TrackingOptionID"] for category in box.state["TrackingCategories"]
                for option in category["Options"] if option["Status"] != "ACTIVE"}
    return [i["InvoiceID"] for i in box.state["Invoices"] if i["Type"] == "ACCREC" and i["Status"] == "DRAFT"
            and not any(t["TrackingOptionID"] in archived for line in i["LineItems"] for t in line.get("Tracking", []))
            ][:n]


def references(box, invoice_ids) -> list[str | None]:
    return [box.invoice(invoice_id).get("Reference") for invoice_id in invoice_ids]


def tracking(state: dict, invoice_numbers) -> dict[tuple[str, str], str]:
    """(line, category) → option, as Xero holds the lines of these invoices."""
    return {(line["LineItemID"], t["TrackingCategoryID"]): t["TrackingOptionID"]
            for invoice in state["Invoices"] if invoice.get("InvoiceNumber") in invoice_numbers
            for line in invoice["LineItems"] for t in line.get("Tracking") or []}


def command_line(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=config.ROOT, env=os.environ,
                          capture_output=True, text=True, timeout=300)


# --- two sandboxes on one state file (as two processes: each holds its own lock on the file) ----------------

def test_two_sandboxes_on_one_state_file_see_each_others_changes(start_sandbox, tmp_path):
    state_file = tmp_path / "tracking.sandbox.json"
    first, second = start_sandbox(state_file=state_file), start_sandbox(state_file=state_file)
    one, two = drafts(first, 2)

    gateway_to(first).update_invoices([{"InvoiceID": one, "Reference": "from the dashboard"}],
                                      idempotency_key="dashboard-1")
    gateway_to(second).update_invoices([{"InvoiceID": two, "Reference": "from the command line"}],
                                       idempotency_key="command-line-1")

    assert references(first, [one, two]) == references(second, [one, two]) == [
        "from the dashboard", "from the command line"]
    assert references(start_sandbox(state_file=state_file), [one, two]) == [
        "from the dashboard", "from the command line"]


def test_updates_from_two_sandboxes_at_once_all_survive(start_sandbox, tmp_path):
    state_file = tmp_path / "tracking.sandbox.json"
    boxes = [start_sandbox(state_file=state_file), start_sandbox(state_file=state_file)]
    invoice_ids = drafts(boxes[0], 12)

    def update(n: int) -> None:
        gw = gateway_to(boxes[n % 2])
        for invoice_id in invoice_ids[n::4]:
            gw.update_invoices([{"InvoiceID": invoice_id, "Reference": f"writer {n}"}],
                               idempotency_key=f"{n}-{invoice_id}")

    writers = [threading.Thread(target=update, args=(n,)) for n in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()

    wanted = [f"writer {n % 4}" for n in range(12)]
    assert references(boxes[0], invoice_ids) == references(boxes[1], invoice_ids) == wanted
    assert references_in_file(state_file, invoice_ids) == wanted


def references_in_file(state_file, invoice_ids) -> list[str | None]:
    invoices = {i["InvoiceID"]: i for i in xero_sandbox.load(state_file)["Invoices"]}
    return [invoices[invoice_id].get("Reference") for invoice_id in invoice_ids]


def test_an_idempotency_key_is_known_to_every_sandbox_on_the_file(start_sandbox, tmp_path):
    state_file = tmp_path / "tracking.sandbox.json"
    first, second = start_sandbox(state_file=state_file), start_sandbox(state_file=state_file)
    (invoice_id,) = drafts(first, 1)
    sent = [{"InvoiceID": invoice_id, "Reference": "once"}]

    answer = gateway_to(first).update_invoices(sent, idempotency_key="push-1-batch-1")
    replay = gateway_to(second).update_invoices(sent, idempotency_key="push-1-batch-1")

    assert replay[0]["UpdatedDateUTC"] == answer[0]["UpdatedDateUTC"]  # answered from memory, not applied again
    assert second.invoice(invoice_id)["UpdatedDateUTC"] == first.invoice(invoice_id)["UpdatedDateUTC"]


def test_a_later_change_in_another_sandbox_is_dated_later(start_sandbox, tmp_path, monkeypatch):
    """Sync's If-Modified-Since and push's conflict check rely on it, even when two processes change the
    same invoice within one millisecond (here: a clock that stands still)."""
    monkeypatch.setattr(xero_sandbox, "time", SimpleNamespace(time=lambda: 1_800_000_000.0,
                                                              monotonic=time.monotonic, sleep=time.sleep))
    state_file = tmp_path / "tracking.sandbox.json"
    first, second = start_sandbox(state_file=state_file), start_sandbox(state_file=state_file)
    (invoice_id,) = drafts(first, 1)
    moments = [ms_from_xero((first, second)[n % 2].edit_invoice(
        invoice_id, lambda i, n=n: i.update(Reference=f"edit {n}"))["UpdatedDateUTC"]) for n in range(20)]
    assert all(earlier < later for earlier, later in zip(moments, moments[1:]))


OTHER_PROCESS = """
import sys
from core.sandbox import server as sandbox
box = sandbox.start(state_file=sys.argv[1])
print(box.invoice(sys.argv[2]).get("Reference"))
box.edit_invoice(sys.argv[3], lambda invoice: invoice.update(Reference="from the other process"))
"""


def test_two_processes_see_each_others_changes(start_sandbox, tmp_path):
    state_file = tmp_path / "tracking.sandbox.json"
    here = start_sandbox(state_file=state_file)
    mine, theirs = drafts(here, 2)
    here.edit_invoice(mine, lambda invoice: invoice.update(Reference="from this process"))

    other = subprocess.run([sys.executable, "-c", OTHER_PROCESS, str(state_file), mine, theirs], cwd=config.ROOT,
                           capture_output=True, text=True, timeout=120)

    assert other.returncode == 0, other.stderr
    assert other.stdout.strip() == "from this process"
    assert references(here, [mine, theirs]) == ["from this process", "from the other process"]


# --- the app: a push from the command line and an undo from the dashboard, interleaved ------------------------

def landing_invoices(n: int, *, besides=()) -> list[str]:
    """n invoices the rules would change and Xero will take (no line carries an archived option)."""
    with store.connect() as con:
        numbers = sorted({row["number"] for row in push.plan(con) if row["eligible"]} - set(besides))
        return [number for (number,) in con.execute(LANDING_INVOICES, {"numbers": numbers, "n": n}).fetchall()]


def test_a_command_line_push_and_an_undo_from_the_push_page_interleaved_both_survive(streamlit_app):
    at = streamlit_app("pages/push.py").run()  # the dashboard is running, with its demo Xero
    dashboard_xero = connection.demo_sandbox()
    first = landing_invoices(2)
    second = landing_invoices(2, besides=first)
    as_synced = tracking(dashboard_xero.state, first)

    pushed = command_line("push", "--invoice", *first)
    assert pushed.returncode == 0, pushed.stderr
    assert tracking(dashboard_xero.state, first) != as_synced  # the dashboard's Xero holds the command line's push

    at.run()
    at.button(key="undo_1").click().run()
    at.button(key="undo_confirmed").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Undo 2:")

    pushed_again = command_line("push", "--invoice", *second)
    assert pushed_again.returncode == 0, pushed_again.stderr

    xero = xero_sandbox.load(connection.demo_state_file())
    assert tracking(xero, first) == as_synced  # the undo survived the second push
    with store.connect() as con:
        after_push_3 = {(line, category): option for line, category, option in con.execute(
            "SELECT line_id, category_id, after_option_id FROM push_lines WHERE push_id = 3 AND result = 'landed'"
        ).fetchall()}
    assert after_push_3 and all(tracking(xero, second).get(key) == option for key, option in after_push_3.items())
    assert tracking(dashboard_xero.state, second) == tracking(xero, second)  # and the dashboard sees it
