"""A push's or undo's result in plain words, e.g. "Xero now has the new tracking on 160 invoices (459 lines).
181 paid, credited or voided invoices were left alone. 0 failed." Used for a push just run (core/push.py
PushResult) and for the pushes in the history (core/history.py), so both read the same. Also the headers people
read over core/push.py's tables, on the Push page and on the command line alike."""
from dataclasses import dataclass

# push.plan_table's columns, for people.
PLAN_HEADERS = {"invoice": "Invoice", "document": "Document", "client": "Client", "line": "Line",
                "description": "Description", "tc1": "Tracking Category 1", "tc2": "Tracking Category 2",
                "state": "State", "reason": "Reason", "undo": "Undo"}
# push.irreversible's columns, for people.
IRREVERSIBLE_HEADERS = {"invoice": "Invoice", "document": "Document", "client": "Client", "line": "Line",
                        "change": "Change", "why": "Why undo could not reverse it"}
# PushResult.table's columns, for people.
RESULT_HEADERS = {"invoice": "Invoice", "document": "Document", "client": "Client", "result": "Result",
                  "lines": "Lines", "message": "Xero's message"}


@dataclass(frozen=True)
class Counts:
    """Invoices (and landed lines) of one push by what happened to them."""
    landed: int = 0
    lines: int = 0
    locked: int = 0
    conflicts: int = 0
    failed: int = 0
    not_sent: int = 0
    in_doubt: int = 0  # Xero's answer was lost; the next push, undo or sync asks Xero
    not_landed: int = 0  # answer lost, and Xero, asked again, did not have it


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def result(kind: str, counts: Counts, *, stopped: str | None = None, interrupted: bool = False) -> str:
    """What a push (`kind` "push") or an undo did, in sentences."""
    what = "the new tracking" if kind == "push" else "the tracking from before that push"
    said = ["Interrupted before it finished; what Xero holds was checked."] if interrupted else []
    said.append(f"Xero now has {what} on {plural(counts.landed, 'invoice')} ({plural(counts.lines, 'line')}).")
    if counts.locked:
        said.append(f"{plural(counts.locked, 'paid, credited or voided invoice')} "
                    f"{'was' if counts.locked == 1 else 'were'} left alone.")
    if counts.conflicts:
        said.append(f"{plural(counts.conflicts, 'invoice')} changed in Xero since the last sync "
                    f"{'was' if counts.conflicts == 1 else 'were'} skipped: sync and look again.")
    if counts.not_sent:
        said.append(f"{plural(counts.not_sent, 'invoice')} {'was' if counts.not_sent == 1 else 'were'} not sent.")
    if counts.in_doubt:
        said.append(f"Xero's answer was lost for {plural(counts.in_doubt, 'invoice')}: the next push, undo or "
                    "sync asks Xero whether it landed.")
    if counts.not_landed:
        said.append(f"{plural(counts.not_landed, 'invoice')} did not land (Xero's answer was lost; Xero, asked "
                    "again, did not have the change).")
    said.append(f"{counts.failed:,} failed.")
    if stopped:
        said.append(f"Stopped: {stopped}")
    return " ".join(said)


NEVER_SYNCED = "Nothing to push: nothing has been synced from Xero yet. Sync first, then push."


def nothing_to_push(locked: int) -> str:
    return ("Nothing to push: Xero already has every change the rules want"
            + (f" ({plural(locked, 'locked invoice')} cannot be changed through Xero's API)." if locked else "."))


def title(kind: str, push_id: int, undo_of: int | None = None) -> str:
    """"Push 3", or "Undo 4 (of push 3)"."""
    if kind == "undo":
        return f"Undo {push_id}" + (f" (of push {undo_of})" if undo_of is not None else "")
    return f"Push {push_id}"


def api_detail(read_calls: int, update_calls: int, api_calls: int, seconds: float | None = None) -> str:
    """The calls made to Xero's API, for the curious (an expander)."""
    took = f" in {seconds:.1f} s" if seconds is not None else ""
    return (f"{plural(read_calls, 'read')} and {plural(update_calls, 'update')} of invoices "
            f"({plural(api_calls, 'API call')} in all){took}.")
