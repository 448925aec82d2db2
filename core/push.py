"""Push the rules' changes to Xero without losing a line, a cent or someone else's edit (DESIGN.md "Push protocol").

`plan` lists every (line, slot) the rules want changed: eligible ones on editable invoices, `locked`
ones on invoices Xero's API cannot change (never sent). `push` re-reads the eligible invoices from
Xero, skips any that changed in Xero since the sync (a conflict), sends each back exactly as Xero
returned it with only the tracking changed, 50 invoices per call, checks Xero's answer, and logs
every line in `push_lines`. `undo` pushes a push's before-values back under the same protocol.

The log is written so that a crash leaves a record of what was sent: the push and all its lines
(`planned`) first, each batch marked `sending` before its call, then the batch's results, the
mirror of the landed invoices and their rules in one transaction.
"""
import csv
import hashlib
import io
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import pandas as pd
import pyarrow as pa

from core import access, csv_templates, push_plan, rules, store
from core.xero.gateway import INVOICES_PER_UPDATE, DayLimitReached, XeroError, XeroUnavailable, parse_date

Progress = Callable[[str, int, int], None]

RESULTS = ("landed", "conflict", "locked", "failed", "not sent")
INTERRUPTED = {"planned": "not sent", "sending": "unconfirmed: sync and look"}  # left by a push that crashed
READING, UPDATING = "Reading invoices from Xero", "Updating invoices in Xero"
EDITABLE_STATUSES = rules.EDITABLE_INVOICE_STATUSES
FIND_AND_RECODE_RUN = 200  # lines Xero recommends per Find & Recode run
FOREIGN_CURRENCY_NOTE = ("Foreign-currency invoice: Xero's Find & Recode cannot recode it; "
                         "change it by hand in Xero.")

EDITABLE = """(i.status IN ('DRAFT', 'SUBMITTED', 'AUTHORISED') AND i.amount_paid = 0
               AND i.amount_credited = 0 AND NOT i.has_allocations)"""

# Every (line, slot) whose option the rules want changed: `change` lines, and `locked` lines that
# would change if Xero let us (their wanted option active, or an explicit clear).
PLAN_ROWS = f"""
WITH slot_changes AS (
    SELECT line_id, invoice_id, position, status, reason, 1 AS slot, tc1_category_id AS category_id,
           tc1_current_option_id AS current_option_id, tc1_current_name AS current_name,
           tc1_wanted_option_id AS wanted_option_id, tc1_wanted_name AS wanted_name
    FROM line_rules WHERE tc1_apply AND tc1_wanted_option_id IS DISTINCT FROM tc1_current_option_id
    UNION ALL
    SELECT line_id, invoice_id, position, status, reason, 2, tc2_category_id,
           tc2_current_option_id, tc2_current_name, tc2_wanted_option_id, tc2_wanted_name
    FROM line_rules WHERE tc2_apply AND tc2_wanted_option_id IS DISTINCT FROM tc2_current_option_id
)
SELECT s.invoice_id, i.number, coalesce(c.name, i.contact_id) AS contact, i.date, i.currency_code,
       s.line_id, s.position, l.description, s.slot, s.category_id, k.name AS category_name,
       s.current_option_id, s.current_name, s.wanted_option_id, s.wanted_name,
       s.status = 'change' AND {EDITABLE} AS eligible,
       coalesce(s.reason, 'Invoice cannot be edited through Xero''s API') AS reason
FROM slot_changes s
JOIN invoices i USING (invoice_id)
JOIN invoice_lines l USING (line_id)
LEFT JOIN contacts c ON c.contact_id = i.contact_id
LEFT JOIN tracking_categories k ON k.category_id = s.category_id
LEFT JOIN tracking_options w ON w.option_id = s.wanted_option_id
WHERE (s.status = 'change' OR (s.status = 'locked' AND (s.wanted_option_id IS NULL OR w.status = 'ACTIVE')))
  AND (len($numbers::VARCHAR[]) = 0 OR list_contains($numbers::VARCHAR[], i.number))
"""
PLAN = PLAN_ROWS + "ORDER BY number, invoice_id, position, slot"
PLAN_OF_INVOICES = f"""SELECT * FROM ({PLAN_ROWS}) WHERE list_contains($ids::VARCHAR[], invoice_id)
ORDER BY number, invoice_id, position, slot"""
LOCKED = f"SELECT * FROM ({PLAN_ROWS}) WHERE NOT eligible ORDER BY number, invoice_id, position, slot"
PLAN_COUNTS = f"""
SELECT count(DISTINCT invoice_id) FILTER (WHERE eligible) AS invoices,
       count(DISTINCT line_id) FILTER (WHERE eligible) AS lines,
       count(DISTINCT invoice_id) FILTER (WHERE NOT eligible) AS locked_invoices,
       count(DISTINCT line_id) FILTER (WHERE NOT eligible) AS locked_lines
FROM ({PLAN_ROWS})
"""
# One row per line, for people: old → new for each slot.
PLAN_TABLE = f"""
SELECT number AS "Invoice", contact AS "Client", position + 1 AS "Line", description AS "Description",
       coalesce(max(change) FILTER (WHERE slot = 1), '') AS "Tracking Category 1",
       coalesce(max(change) FILTER (WHERE slot = 2), '') AS "Tracking Category 2",
       CASE WHEN bool_and(eligible) THEN 'will change' ELSE 'locked' END AS "State",
       CASE WHEN bool_and(eligible) THEN '' ELSE max(reason) END AS "Reason"
FROM (SELECT *, coalesce(category_name, 'category') || ': ' || coalesce(current_name, '(none)') || ' → '
                || coalesce(wanted_name, '(none)') AS change
      FROM ({PLAN_ROWS}))
GROUP BY invoice_id, number, contact, line_id, position, description
ORDER BY bool_and(eligible) DESC, number, invoice_id, position
LIMIT $limit
"""
KNOWN_NUMBERS = "SELECT DISTINCT number FROM invoices WHERE list_contains($numbers::VARCHAR[], number)"
BASE_CURRENCY = "SELECT base_currency FROM organisation LIMIT 1"

# What the push believes Xero holds, to detect a conflict and to know which invoices to read singly.
SYNCED = """
SELECT i.invoice_id, i.updated_utc,
       bool_or(coalesce(l.discount_rate, 0) <> 0 OR coalesce(l.discount_amount, 0) <> 0) AS has_discount
FROM invoices i LEFT JOIN invoice_lines l USING (invoice_id)
WHERE list_contains($ids::VARCHAR[], i.invoice_id)
GROUP BY ALL
"""

# The landed lines of a push, to undo: back from `after` to `before`, unless a line is there already.
UNDO_PLAN = f"""
SELECT p.invoice_id, i.number, coalesce(c.name, i.contact_id) AS contact, p.line_id, p.slot,
       p.category_id, p.after_option_id AS current_option_id, p.before_option_id AS wanted_option_id,
       {EDITABLE} AS eligible, 'Invoice cannot be edited through Xero''s API any more' AS reason
FROM push_lines p
JOIN invoices i USING (invoice_id)
LEFT JOIN contacts c ON c.contact_id = i.contact_id
LEFT JOIN line_tracking t ON t.line_id = p.line_id AND t.category_id = p.category_id
WHERE p.push_id = $push_id AND p.result = 'landed'
  AND t.option_id IS DISTINCT FROM p.before_option_id
ORDER BY i.number, p.invoice_id, p.line_id, p.slot
"""
PUSH_KIND = "SELECT kind FROM pushes WHERE push_id = ?"

START = """
INSERT INTO pushes (kind, undo_of, started_at, pushed_by, invoices_planned, outcome)
VALUES (?, ?, ?, ?, ?, 'running') RETURNING push_id, started_at
"""
LOG_LINES = """
INSERT INTO push_lines (push_id, invoice_id, line_id, slot, category_id, before_option_id, after_option_id,
                        result, message)
SELECT $push_id, invoice_id, line_id, slot, category_id, current_option_id, wanted_option_id, result, message
FROM push_log_lines
"""
SET_RESULTS = """
UPDATE push_lines SET result = r.result, message = r.message
FROM push_log_results r
WHERE push_lines.push_id = $push_id AND push_lines.invoice_id = r.invoice_id
  AND push_lines.result IN ('planned', 'sending')
"""
RESULTS_SO_FAR = "SELECT DISTINCT result FROM push_lines WHERE push_id = ?"
UNSENT = """
UPDATE push_lines SET result = 'not sent', message = $message
WHERE push_id = $push_id AND result = 'planned'
"""
FINISH = """
UPDATE pushes SET finished_at = $finished_at, outcome = $outcome, message = $message, api_calls = $api_calls,
    invoices_landed = (SELECT count(DISTINCT invoice_id) FROM push_lines
                       WHERE push_id = $push_id AND result = 'landed'),
    invoices_failed = (SELECT count(DISTINCT invoice_id) FROM push_lines
                       WHERE push_id = $push_id AND result IN ('failed', 'not sent')),
    invoices_conflict = (SELECT count(DISTINCT invoice_id) FROM push_lines
                         WHERE push_id = $push_id AND result = 'conflict'),
    lines_changed = (SELECT count(DISTINCT line_id) FROM push_lines WHERE push_id = $push_id AND result = 'landed')
WHERE push_id = $push_id
"""

# The mirror after a batch: the landed invoices' new UpdatedDateUTC and their lines' tracking as Xero answered.
MIRROR_INVOICES = """
UPDATE invoices SET updated_utc = u.updated_utc FROM push_log_invoices u
WHERE invoices.invoice_id = u.invoice_id
"""
MIRROR_DELETE_TRACKING = "DELETE FROM line_tracking WHERE line_id IN (SELECT line_id FROM push_log_line_ids)"
MIRROR_INSERT_TRACKING = """
INSERT INTO line_tracking (line_id, category_id, option_id, category_name, option_name)
SELECT t.line_id, t.category_id, t.option_id, coalesce(k.name, t.category_name), coalesce(o.name, t.option_name)
FROM push_log_tracking t
LEFT JOIN tracking_categories k ON k.category_id = t.category_id
LEFT JOIN tracking_options o ON o.option_id = t.option_id
"""

HISTORY = """
SELECT p.push_id, p.kind, p.undo_of, p.started_at, p.finished_at, p.pushed_by, p.invoices_planned,
       p.invoices_landed, p.invoices_conflict, p.invoices_failed, p.lines_changed, p.api_calls,
       coalesce(p.outcome, 'running') AS outcome, p.message,
       (SELECT max(u.push_id) FROM pushes u WHERE u.undo_of = p.push_id) AS undone_by
FROM pushes p ORDER BY p.push_id DESC LIMIT ?
"""
INVOICE_RESULTS = """
SELECT p.invoice_id, i.number, coalesce(c.name, i.contact_id) AS contact,
       -- an invoice's lines share one result; 'sending'/'planned' remain only after a crash
       min(p.result) AS result, count(DISTINCT p.line_id) AS lines, max(p.message) AS message
FROM push_lines p
LEFT JOIN invoices i USING (invoice_id)
LEFT JOIN contacts c ON c.contact_id = i.contact_id
WHERE p.push_id = ?
GROUP BY ALL
ORDER BY list_position(['failed', 'not sent', 'conflict', 'sending', 'planned', 'landed', 'locked'], min(p.result)),
         i.number, p.invoice_id
"""

LINE_CHANGE = pa.schema([("invoice_id", pa.string()), ("line_id", pa.string()), ("slot", pa.int32()),
                         ("category_id", pa.string()), ("current_option_id", pa.string()),
                         ("wanted_option_id", pa.string()), ("result", pa.string()), ("message", pa.string())])
INVOICE_RESULT = pa.schema([("invoice_id", pa.string()), ("result", pa.string()), ("message", pa.string())])
INVOICE_UPDATED = pa.schema([("invoice_id", pa.string()), ("updated_utc", pa.timestamp("us"))])
LINE_IDS = pa.schema([("line_id", pa.string())])
LINE_TRACKING = pa.schema([("line_id", pa.string()), ("category_id", pa.string()), ("option_id", pa.string()),
                           ("category_name", pa.string()), ("option_name", pa.string())])


class PushError(Exception):
    """A push or undo that cannot start; the message says why in plain words."""


@dataclass(frozen=True)
class InvoiceOutcome:
    invoice_id: str
    number: str | None
    contact: str | None
    result: str  # one of RESULTS
    lines: int
    message: str | None


@dataclass
class PushResult:
    push_id: int | None
    kind: str
    outcome: str  # 'nothing to do', 'complete', 'partial', 'stopped'
    message: str | None
    invoices: list[InvoiceOutcome] = field(default_factory=list)
    read_calls: int = 0
    update_calls: int = 0
    api_calls: int = 0
    seconds: float = 0.0

    def count(self, result: str) -> int:
        return sum(outcome.result == result for outcome in self.invoices)

    @property
    def problems(self) -> list[InvoiceOutcome]:
        """Invoices that were meant to change and did not (locked ones were never meant to be sent)."""
        return [o for o in self.invoices if o.result in ("conflict", "failed", "not sent")]

    def table(self) -> pd.DataFrame:
        """One row per invoice: what happened to it and Xero's message."""
        return pd.DataFrame([{"Invoice": o.number, "Client": o.contact, "Result": INTERRUPTED.get(o.result, o.result),
                              "Lines": o.lines, "Xero's message": o.message or ""} for o in self.invoices],
                            columns=["Invoice", "Client", "Result", "Lines", "Xero's message"])

    def summary(self) -> str:
        locked = self.count("locked")
        if self.push_id is None:
            return ("Nothing to push: Xero already has every change the rules want"
                    + (f" ({locked} locked invoices cannot be changed through Xero's API)." if locked else "."))
        counts = ", ".join(f"{self.count(r)} {r}" for r in RESULTS if self.count(r))
        stopped = f" Stopped: {self.message}" if self.outcome == "stopped" else ""
        return (f"{self.kind.capitalize()} {self.push_id}: {counts} · {self.read_calls} reads, "
                f"{self.update_calls} updates · {self.seconds:.1f} s.{stopped}")


# --- planning ------------------------------------------------------------------------------

def plan(con: duckdb.DuckDBPyConnection, *, invoice_numbers: Iterable[str] = (),
         invoice_ids: Iterable[str] | None = None) -> list[dict]:
    """Every (line, slot) a push would change now, or that is locked: dicts with the columns of PLAN_ROWS.

    Optionally limited to some invoice numbers (PushError if one is unknown), or to some invoice ids.
    """
    numbers = _known_numbers(con, invoice_numbers)
    if invoice_ids is None:
        return _dicts(con.execute(PLAN, {"numbers": numbers}))
    return _dicts(con.execute(PLAN_OF_INVOICES, {"numbers": numbers, "ids": list(invoice_ids)}))


def plan_counts(con: duckdb.DuckDBPyConnection, *, invoice_numbers: Iterable[str] = ()) -> dict[str, int]:
    """Invoices and lines that a push would change in Xero, and those locked."""
    cursor = con.execute(PLAN_COUNTS, {"numbers": _known_numbers(con, invoice_numbers)})
    return dict(zip([d[0] for d in cursor.description], cursor.fetchone()))


def plan_table(con: duckdb.DuckDBPyConnection, limit: int | None = None, *,
               invoice_numbers: Iterable[str] = ()) -> pd.DataFrame:
    """One row per line that wants a change: invoice, line, old → new for each slot, will change or locked."""
    return con.execute(PLAN_TABLE, {"numbers": _known_numbers(con, invoice_numbers), "limit": limit}).df()


def _known_numbers(con, invoice_numbers: Iterable[str]) -> list[str]:
    numbers = list(dict.fromkeys(invoice_numbers))
    if numbers:
        known = {n for (n,) in con.execute(KNOWN_NUMBERS, {"numbers": numbers}).fetchall()}
        unknown = [n for n in numbers if n not in known]
        if unknown:
            raise PushError(f"No synced sales invoice has the number {', '.join(unknown)}.")
    return numbers


def locked_worklist_csv(con: duckdb.DuckDBPyConnection) -> bytes:
    """The locked lines that want a change, for Xero's Find & Recode, in runs of at most 200 lines.

    Whole invoices are kept in one run; foreign-currency invoices, which Find & Recode cannot
    recode, are listed apart (run "manual").
    """
    base = (con.execute(BASE_CURRENCY).fetchone() or [None])[0]
    rows = _dicts(con.execute(LOCKED, {"numbers": []}))
    header = ["Run", "Invoice Number", "Invoice Date", "Client", "Line", "Description", "Tracking Category",
              "Current Option", "Wanted Option", "Currency", "Reason", "Note"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for run, r in _runs(rows, base):
        foreign = base is not None and r["currency_code"] != base
        writer.writerow([csv_templates.neutralise(None if v is None else str(v)) for v in (
            run, r["number"], r["date"], r["contact"], r["position"] + 1, r["description"], r["category_name"],
            r["current_name"] or "(none)", r["wanted_name"] or "(none)", r["currency_code"], r["reason"],
            FOREIGN_CURRENCY_NOTE if foreign else "")])
    return out.getvalue().encode("utf-8-sig")


def _runs(rows: list[dict], base: str | None) -> list[tuple[str, dict]]:
    by_invoice: dict[str, list[dict]] = {}
    for r in rows:
        by_invoice.setdefault(r["invoice_id"], []).append(r)
    run, used, placed, manual = 1, 0, [], []
    for invoice_rows in by_invoice.values():
        if base is not None and invoice_rows[0]["currency_code"] != base:
            manual += [("manual", r) for r in invoice_rows]
            continue
        size = len({r["line_id"] for r in invoice_rows})
        if used and used + size > FIND_AND_RECODE_RUN:
            run, used = run + 1, 0
        placed += [(str(run), r) for r in invoice_rows]
        used += size
    return placed + manual


# --- pushing and undoing ----------------------------------------------------------------------

def push(con: duckdb.DuckDBPyConnection, gw, *, by: access.Actor, invoice_numbers: Iterable[str] = (),
         invoice_ids: Iterable[str] | None = None, progress: Progress | None = None) -> PushResult:
    """Send the rules' eligible changes to Xero (only on `invoice_ids`, when given); locked invoices are
    reported, never sent."""
    access.require(by, access.PUSH)
    return _run(con, gw, plan(con, invoice_numbers=invoice_numbers, invoice_ids=invoice_ids),
                kind="push", undo_of=None, by=by, progress=progress)


def undo(con: duckdb.DuckDBPyConnection, gw, push_id: int, *, by: access.Actor,
         progress: Progress | None = None) -> PushResult:
    """Push the before-values of a push's landed lines back, if Xero still has what that push left."""
    access.require(by, access.PUSH)
    if con.execute(PUSH_KIND, [push_id]).fetchone() is None:
        raise PushError(f"There is no push number {push_id}.")
    rows = _dicts(con.execute(UNDO_PLAN, {"push_id": push_id}))
    return _run(con, gw, rows, kind="undo", undo_of=push_id, by=by, progress=progress)


def _run(con, gw, rows: list[dict], *, kind: str, undo_of: int | None, by: access.Actor,
         progress: Progress | None) -> PushResult:
    started, first_call = time.monotonic(), len(gw.calls)
    if not any(r["eligible"] for r in rows):
        return PushResult(None, kind, "nothing to do", None, _locked_outcomes(rows))
    push_id, key_prefix = _start(con, rows, kind=kind, undo_of=undo_of, by=by)
    run = _Run(con, gw, push_id, key_prefix, rows, progress or (lambda stage, done, total: None))
    outcome, message = run.execute()
    api_calls = sum(not call.is_token for call in gw.calls[first_call:])
    with store.transaction(con):
        con.execute(UNSENT, {"push_id": push_id, "message": message or "Not sent."})
        con.execute(FINISH, {"push_id": push_id, "finished_at": _utc_now(), "outcome": outcome,
                             "message": message, "api_calls": api_calls})
    calls = [c for c in gw.calls[first_call:] if not c.is_token]
    return PushResult(push_id, kind, outcome, message, invoice_results(con, push_id),
                      read_calls=sum(c.method == "GET" for c in calls),
                      update_calls=sum(c.method == "POST" for c in calls),
                      api_calls=api_calls, seconds=time.monotonic() - started)


def _start(con, rows: list[dict], *, kind: str, undo_of: int | None, by: access.Actor) -> tuple[int, str]:
    """The push row and all its lines (eligible: 'planned', others: 'locked'), in their own transaction."""
    log = [{**r, "result": "planned" if r["eligible"] else "locked",
            "message": None if r["eligible"] else r["reason"]} for r in rows]
    with store.transaction(con):
        push_id, started_at = con.execute(START, [kind, undo_of, _utc_now(), by.who,
                                                  len({r["invoice_id"] for r in rows if r["eligible"]})]).fetchone()
        _with_table(con, "push_log_lines", log, LINE_CHANGE, LOG_LINES, {"push_id": push_id})
    return push_id, f"td-{kind}-{push_id}-{started_at:%Y%m%dT%H%M%S%f}"


class _Run:
    """One execution of a logged push: read, check, send in batches, record."""

    def __init__(self, con, gw, push_id: int, key_prefix: str, rows: list[dict], progress: Progress):
        self.con, self.gw, self.push_id, self.key_prefix, self.progress = con, gw, push_id, key_prefix, progress
        self.expected: dict[str, dict[str, dict[str, str | None]]] = {}  # invoice → line → category → option now
        self.wanted: dict[str, dict[str, dict[str, str | None]]] = {}
        for r in rows:
            if r["eligible"]:
                self.expected.setdefault(r["invoice_id"], {}).setdefault(r["line_id"], {})[r["category_id"]] = \
                    r["current_option_id"]
                self.wanted.setdefault(r["invoice_id"], {}).setdefault(r["line_id"], {})[r["category_id"]] = \
                    r["wanted_option_id"]

    def execute(self) -> tuple[str, str | None]:
        try:
            updates = self._build(self._read())
            done = 0
            for number, batch in enumerate(_chunks(list(updates.items()), INVOICES_PER_UPDATE), 1):
                self.progress(UPDATING, done, len(updates))
                self._send(number, batch)
                done += len(batch)
            self.progress(UPDATING, done, len(updates))
        except DayLimitReached as e:
            return "stopped", str(e)
        except XeroError as e:
            return "stopped", f"The push stopped: {e}"
        results = {r for (r,) in self.con.execute(RESULTS_SO_FAR, [self.push_id]).fetchall()}
        return ("partial" if results & {"conflict", "failed"} else "complete"), None

    def _read(self) -> dict[str, dict]:
        """Xero's current copy of every invoice to send; conflicts are logged and left out."""
        ids = list(self.wanted)
        synced = {r["invoice_id"]: r for r in _dicts(self.con.execute(SYNCED, {"ids": ids}))}
        fresh: dict[str, dict] = {}
        self.progress(READING, 0, len(ids))
        for page in self.gw.invoices(ids=ids):
            fresh.update((invoice["InvoiceID"], invoice) for invoice in page)
            self.progress(READING, len(fresh), len(ids))
        ready, conflicts = {}, []
        for invoice_id in ids:
            invoice, synced_utc = fresh.get(invoice_id), synced[invoice_id]["updated_utc"]
            problem = self._conflict(invoice, synced_utc, self.expected[invoice_id])
            if not problem and (synced[invoice_id]["has_discount"] or push_plan.may_hide_discount(invoice)):
                invoice = self.gw.invoice(invoice_id)
                problem = self._conflict(invoice, synced_utc, self.expected[invoice_id])
            if problem:
                conflicts.append({"invoice_id": invoice_id, "result": "conflict", "message": problem})
            else:
                ready[invoice_id] = invoice
        if conflicts:
            with store.transaction(self.con):
                self._set_results(conflicts)
        return ready

    @staticmethod
    def _conflict(invoice: dict | None, synced_utc: datetime, expected) -> str | None:
        if invoice is None:
            return "Xero no longer returns this invoice (deleted or archived?): sync and look again."
        updated = _naive_utc(parse_date(invoice.get("UpdatedDateUTC")))
        if updated is None or updated > synced_utc:
            return (f"Changed in Xero since the last sync (Xero's copy is from {updated or 'an unknown time'} UTC): "
                    "not overwritten; sync and look again.")
        if invoice.get("Status") not in EDITABLE_STATUSES or invoice.get("AmountPaid") or invoice.get("AmountCredited"):
            return f"Xero says the invoice is {invoice.get('Status')} or has payments: it cannot be edited."
        problems = push_plan.conflicts(invoice, expected)
        if problems:
            return "Not as the last sync saw it: " + "; ".join(problems) + ". Sync and look again."
        return None

    def _build(self, fresh: dict[str, dict]) -> dict[str, tuple[dict, dict]]:
        """Each invoice's update, next to Xero's copy it was built from."""
        return {invoice_id: (invoice, push_plan.build_update(invoice, self.wanted[invoice_id]))
                for invoice_id, invoice in fresh.items()}

    def _send(self, number: int, batch: list[tuple[str, tuple[dict, dict]]]) -> None:
        updates = [update for _, (_, update) in batch]
        with store.transaction(self.con):
            self._set_results([{"invoice_id": i, "result": "sending", "message": None} for i, _ in batch])
        try:
            answers = self.gw.update_invoices(updates, idempotency_key=self._key(number, updates))
        except DayLimitReached as e:
            self._record([{"invoice_id": i, "result": "not sent", "message": str(e)} for i, _ in batch], [])
            raise
        except XeroError as e:
            unsure = (" Xero may or may not have applied it: sync and look again."
                      if isinstance(e, XeroUnavailable) else "")
            self._record([{"invoice_id": i, "result": "failed", "message": f"{e}{unsure}"} for i, _ in batch], [])
            raise
        by_id = {a.get("InvoiceID"): a for a in answers}
        results, landed = [], []
        for position, (invoice_id, (before, sent)) in enumerate(batch):
            answer = by_id.get(invoice_id) or (answers[position] if position < len(answers) else None)
            problems = (push_plan.verify(sent, before, answer) if answer is not None
                        else ["Xero's answer did not include this invoice."])
            if problems:
                results.append({"invoice_id": invoice_id, "result": "failed", "message": "; ".join(problems)})
            else:
                results.append({"invoice_id": invoice_id, "result": "landed",
                                "message": push_plan.xero_message(answer) or None})
                landed.append(answer)
        self._record(results, landed)

    def _key(self, number: int, updates: list[dict]) -> str:
        """The same batch of the same push always gets the same key, so Xero applies it at most once."""
        digest = hashlib.sha256(json.dumps(updates, sort_keys=True, default=str).encode()).hexdigest()[:24]
        return f"{self.key_prefix}-b{number}-{digest}"

    def _record(self, results: list[dict], landed: list[dict]) -> None:
        """A batch's results, and the mirror and rules of its landed invoices, in one transaction."""
        with store.transaction(self.con):
            self._set_results(results)
            if landed:
                _mirror(self.con, landed)

    def _set_results(self, results: list[dict]) -> None:
        _with_table(self.con, "push_log_results", results, INVOICE_RESULT, SET_RESULTS, {"push_id": self.push_id})


def _mirror(con, answers: list[dict]) -> None:
    """Xero's answer for landed invoices into the mirror, so the preview shows `same` without a sync."""
    line_ids = [line["LineItemID"] for a in answers for line in a["LineItems"]]
    tracking = [{"line_id": line["LineItemID"], "category_id": t["TrackingCategoryID"],
                 "option_id": t.get("TrackingOptionID"), "category_name": t.get("Name"), "option_name": t.get("Option")}
                for a in answers for line in a["LineItems"] for t in line.get("Tracking") or []]
    updated = [{"invoice_id": a["InvoiceID"], "updated_utc": _naive_utc(parse_date(a.get("UpdatedDateUTC")))}
               for a in answers if a.get("UpdatedDateUTC")]
    _with_table(con, "push_log_invoices", updated, INVOICE_UPDATED, MIRROR_INVOICES)
    _with_table(con, "push_log_line_ids", [{"line_id": i} for i in line_ids], LINE_IDS, MIRROR_DELETE_TRACKING)
    _with_table(con, "push_log_tracking", tracking, LINE_TRACKING, MIRROR_INSERT_TRACKING)
    rules.refresh_for(con, line_ids=line_ids)


# --- reading the log ----------------------------------------------------------------------------

def history(con: duckdb.DuckDBPyConnection, limit: int = 50) -> list[dict]:
    """The latest pushes and undos, newest first: the columns of `pushes`, the push that undid each
    (`undone_by`), a one-line `summary` for people and whether it `can_undo`."""
    return [{**row, "summary": _history_line(row),
             "can_undo": row["kind"] == "push" and bool(row["lines_changed"]) and not row["undone_by"]}
            for row in _dicts(con.execute(HISTORY, [limit]))]


def _history_line(row: dict) -> str:
    what = f"Undo of push {row['undo_of']}" if row["kind"] == "undo" else "Push"
    outcome = row["outcome"] if row["finished_at"] else "interrupted (see its lines: some may have been sent)"
    undone = f" · undone by {row['undone_by']}" if row["undone_by"] else ""
    return (f"**{row['push_id']}** · {what} · {row['started_at']:%d %b %Y %H:%M} UTC · {row['pushed_by']} · "
            f"{outcome} · {row['invoices_landed']:,} landed, {row['invoices_conflict']:,} conflicts, "
            f"{row['invoices_failed']:,} failed or not sent · {row['lines_changed']:,} lines · "
            f"{row['api_calls']:,} API calls{undone}")


def invoice_results(con: duckdb.DuckDBPyConnection, push_id: int) -> list[InvoiceOutcome]:
    """What happened to each invoice of a push."""
    return [InvoiceOutcome(r["invoice_id"], r["number"], r["contact"], r["result"], r["lines"], r["message"])
            for r in _dicts(con.execute(INVOICE_RESULTS, [push_id]))]


def _locked_outcomes(rows: list[dict]) -> list[InvoiceOutcome]:
    by_invoice: dict[str, list[dict]] = {}
    for r in rows:
        by_invoice.setdefault(r["invoice_id"], []).append(r)
    return [InvoiceOutcome(i, rs[0]["number"], rs[0]["contact"], "locked", len({r["line_id"] for r in rs}),
                           rs[0]["reason"]) for i, rs in by_invoice.items()]


# --- small helpers -------------------------------------------------------------------------------

def _dicts(cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _with_table(con, name: str, rows: list[dict], schema: pa.Schema, sql: str, params: dict | None = None) -> None:
    """Run `sql` with `rows` visible as the table `name` (one statement for many rows)."""
    table = pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema=schema)
    con.register(name, table)
    try:
        con.execute(sql, params or {})
    finally:
        con.unregister(name)


def _chunks(items: list, size: int) -> list[list]:
    return [items[start:start + size] for start in range(0, len(items), size)]


def _naive_utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment and moment.tzinfo else moment


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
