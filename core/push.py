"""Push the rules' changes to Xero without losing a line, a cent or someone else's edit (docs/push-protocol.md).

`plan` lists every (line, slot) the rules want changed: eligible ones on editable invoices, `locked`
ones on invoices Xero's API cannot change (never sent). `push` re-reads the eligible invoices from
Xero, skips any that changed in Xero since the sync (a conflict), sends each back exactly as Xero
returned it with only the tracking changed, 50 invoices per call, checks Xero's answer, and logs
every line it sends in `push_lines`; the locked ones it only counts on the push (`invoices_locked`,
`lines_locked`): the Push page lists them from the plan. `undo` pushes a push's before-values back under
the same protocol, logging its locked lines too (an undo that cannot restore a line has not undone it).
Sales credit notes follow the same protocol (docs/push-protocol.md §1) in the invoice's shape
(core/credit_notes.py): re-read through GET /CreditNotes, sent in batches of their own through
POST /CreditNotes, logged, undone and settled like invoices.

No connection to the database is open while Xero is called (docs/push-protocol.md §6): the plan is
read in one short connection, then the push and all its lines are logged (`planned`), each batch is
marked `sending` before its call, and the batch's results, the mirror of the landed invoices and their
rules are written after it, each in a short transaction of its own; those rules are decided before it, in
the push's copy of what the rules read (core/landed_rules.py). A push or undo holds the run lock
(core/run_lock.py) throughout, so only one runs at a time.

A batch whose answer is lost (every retry timed out, or the process died during the call) is
**in doubt**. Before anything else, the next push, undo or sync settles it (`settle_in_doubt`): a run
still marked running whose lock is free is finalised as `interrupted`, and every in-doubt line is
compared with the invoice as Xero holds it now, re-read 50 at a time: `landed` (the mirror takes
Xero's copy, so the app's own change is never taken for someone else's) or `not landed`. Nothing
is sent again on a guess.
"""
import gc
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

import duckdb
import pandas as pd
import pyarrow as pa

from pathlib import Path

from core import (access, credit_notes, csv_out, landed_rules, push_plan, push_words, refusals, rules, run_lock,
                  statuses, store)
from core.xero.errors import DayLimitReached, XeroError, XeroUnavailable
from core.xero.gateway import INVOICES_PER_UPDATE, parse_date

Progress = Callable[[str, int, int], None]



class Result(StrEnum):
    """What happened to a line (`push_lines.result`) and so to its invoice; the value is what the log stores."""
    PLANNED = "planned"  # logged, not sent yet
    SENDING = "sending"  # its batch is being sent
    LANDED = "landed"
    CONFLICT = "conflict"
    LOCKED = "locked"
    FAILED = "failed"
    NOT_SENT = "not sent"
    IN_DOUBT = "in doubt"  # Xero's answer was lost; the next push, undo or sync asks Xero
    NOT_LANDED = "not landed"  # answer lost, and Xero, asked again, did not have it


class RunOutcome(StrEnum):
    """How a push or undo ended (`pushes.outcome`)."""
    NOTHING_TO_DO = "nothing to do"  # never logged: no push row
    RUNNING = "running"
    COMPLETE = "complete"
    PARTIAL = "partial"
    STOPPED = "stopped"
    INTERRUPTED = "interrupted"


Kind = Literal["push", "undo"]
PROBLEMS = {"push": (Result.CONFLICT, Result.FAILED, Result.NOT_SENT, Result.IN_DOUBT, Result.NOT_LANDED),
            "undo": (Result.CONFLICT, Result.FAILED, Result.NOT_SENT, Result.IN_DOUBT, Result.NOT_LANDED,
                     Result.LOCKED)}  # an undo skips no line
# How a run that is still going (or died) reads.
IN_FLIGHT = {Result.PLANNED: Result.NOT_SENT, Result.SENDING: Result.IN_DOUBT}
LOCK_WAIT_SECONDS = 3.0  # a sync settling in-doubt batches holds the run lock for a moment
ANSWER_LOST = ("Xero's answer was lost ({why}); the next push, undo or sync asks Xero whether it landed. "
               "Nothing is sent again until then.")
READING, UPDATING = "Reading invoices and credit notes from Xero", "Updating invoices and credit notes in Xero"
FIND_AND_RECODE_RUN = 200  # lines Xero recommends per Find & Recode run
FOREIGN_CURRENCY_NOTE = ("Foreign-currency invoice: Xero's Find & Recode cannot recode it; "
                         "change it by hand in Xero.")

EDITABLE = rules.editable_sql("i")
DOCUMENT = rules.document_noun_sql("i.type")

# Every (line, slot) whose option the rules want changed: `change` lines, `locked` lines that would change
# if Xero let us (their wanted option active, or an explicit clear), and lines `blocked` because Xero refused
# their invoice (core/refusals.py). `undo_problem`: why undo could not put the current option back (it is not
# ACTIVE in Xero: Xero takes no such option on a line it is sent). The status is read as text: compared as
# line_rules' ENUM, DuckDB joined the invoices to the plan's rows the other way round, building on the
# million lines (the push's count of locked lines 1.0 s, as text 0.27 s: `python -m core bench lock`).
PLAN_ROWS = f"""
WITH slot_changes AS (
    SELECT line_id, invoice_id, position, description, status::VARCHAR AS status, reason, 1 AS slot,
           {rules.slot_category_sql(1)} AS category_id, tc1_current_option_id AS current_option_id,
           tc1_current_name AS current_name, tc1_wanted_option_id AS wanted_option_id
    FROM line_rules WHERE tc1_apply AND tc1_wanted_option_id IS DISTINCT FROM tc1_current_option_id
    UNION ALL
    SELECT line_id, invoice_id, position, description, status::VARCHAR, reason, 2, {rules.slot_category_sql(2)},
           tc2_current_option_id, tc2_current_name, tc2_wanted_option_id
    FROM line_rules WHERE tc2_apply AND tc2_wanted_option_id IS DISTINCT FROM tc2_current_option_id
)
SELECT s.invoice_id, i.number, i.type, {DOCUMENT} AS document, coalesce(c.name, i.contact_id) AS contact, i.date,
       i.currency_code, s.line_id, s.position, s.description, s.slot, s.category_id, k.name AS category_name,
       s.current_option_id, s.current_name, s.wanted_option_id, w.name AS wanted_name,
       s.status = 'change' AND {EDITABLE} AS eligible,
       CASE WHEN s.status = 'change' AND {EDITABLE} THEN 'will change' WHEN s.status = 'blocked' THEN 'blocked'
            ELSE 'locked' END AS state,
       CASE WHEN s.status = 'change' AND {EDITABLE} THEN x.reason  -- why Xero may refuse it, if it may
            ELSE coalesce(s.reason, 'Invoice cannot be edited through Xero''s API') END AS reason,
       CASE WHEN s.current_option_id IS NULL THEN NULL
            WHEN b.option_id IS NULL
                THEN 'undo could not put back ''' || coalesce(s.current_name, s.current_option_id)
                     || ''': it no longer exists in Xero'
            WHEN b.status <> 'ACTIVE' OR bk.status IS DISTINCT FROM 'ACTIVE'
                THEN 'undo could not put back ''' || b.name || ''': it is '
                     || lower(CASE WHEN b.status <> 'ACTIVE' THEN b.status ELSE bk.status END) || ' in Xero'
       END AS undo_problem
FROM slot_changes s
JOIN invoices i USING (invoice_id)
LEFT JOIN refusable_invoices x USING (invoice_id)
LEFT JOIN contacts c ON c.contact_id = i.contact_id
LEFT JOIN tracking_categories k ON k.category_id = s.category_id
LEFT JOIN tracking_options w ON w.option_id = s.wanted_option_id
LEFT JOIN tracking_options b ON b.option_id = s.current_option_id
LEFT JOIN tracking_categories bk ON bk.category_id = b.category_id
WHERE (s.status = 'change' OR (s.status = 'locked' AND (s.wanted_option_id IS NULL OR w.status = 'ACTIVE'))
       OR (s.status = 'blocked' AND starts_with(s.reason, '{rules.REFUSED}')))
  AND (len($numbers::VARCHAR[]) = 0 OR list_contains($numbers::VARCHAR[], i.number))
"""
PLAN = PLAN_ROWS + "ORDER BY number, invoice_id, position, slot"
# What a push reads: the rows it sends (of some invoices, when $ids is not NULL), and only a count of the locked
# ones, which stay in the database (hundreds of thousands of lines at a million).
IN_IDS = "($ids::VARCHAR[] IS NULL OR list_contains($ids::VARCHAR[], invoice_id))"
ELIGIBLE = f"SELECT * FROM ({PLAN_ROWS}) WHERE eligible AND {IN_IDS} ORDER BY number, invoice_id, position, slot"
LOCKED_COUNTS = f"""
SELECT count(DISTINCT invoice_id), count(DISTINCT line_id) FROM ({PLAN_ROWS}) WHERE state = 'locked' AND {IN_IDS}
"""
LOCKED = f"SELECT * FROM ({PLAN_ROWS}) WHERE state = 'locked' ORDER BY number, invoice_id, position, slot"
PLAN_COUNTS = f"""
SELECT count(DISTINCT invoice_id) FILTER (WHERE eligible) AS invoices,
       count(DISTINCT line_id) FILTER (WHERE eligible) AS lines,
       count(DISTINCT invoice_id) FILTER (WHERE state = 'locked') AS locked_invoices,
       count(DISTINCT line_id) FILTER (WHERE state = 'locked') AS locked_lines,
       count(DISTINCT invoice_id) FILTER (WHERE state = 'blocked') AS refused_invoices,
       count(*) FILTER (WHERE eligible AND undo_problem IS NOT NULL) AS irreversible_changes
FROM ({PLAN_ROWS})
"""
# The changes a push would make that undo could not reverse (push_words.IRREVERSIBLE_HEADERS names the columns).
IRREVERSIBLE = f"""
SELECT number AS invoice, document, contact AS client, position + 1 AS line,
       coalesce(category_name, 'category') || ': ' || coalesce(current_name, '(none)') || ' → '
       || coalesce(wanted_name, '(none)') AS change,
       upper(undo_problem[1]) || undo_problem[2:] AS why
FROM ({PLAN_ROWS})
WHERE eligible AND undo_problem IS NOT NULL
ORDER BY number, invoice_id, position, slot
LIMIT $limit
"""
# One row per line: old → new for each slot; a line that will change but that Xero may refuse
# (core/refusals.py), and what undo could not reverse (push_words.PLAN_HEADERS names the columns).
PLAN_TABLE = f"""
SELECT number AS invoice, document, contact AS client, position + 1 AS line, description,
       coalesce(max(change) FILTER (WHERE slot = 1), '') AS tc1,
       coalesce(max(change) FILTER (WHERE slot = 2), '') AS tc2,
       CASE WHEN bool_and(eligible) AND max(p.reason) IS NOT NULL THEN 'may be refused'
            ELSE any_value(state) END AS state,
       coalesce(max(p.reason), '') AS reason,
       coalesce(string_agg(undo_problem, '; ' ORDER BY slot), '') AS undo
FROM (SELECT *, coalesce(category_name, 'category') || ': ' || coalesce(current_name, '(none)') || ' → '
                || coalesce(wanted_name, '(none)') AS change
      FROM ({PLAN_ROWS})) p
GROUP BY invoice_id, number, document, contact, line_id, position, description
HAVING $locked IS NULL OR bool_and(eligible) <> $locked
ORDER BY bool_and(eligible) DESC, number, invoice_id, position
LIMIT $limit
"""
KNOWN_NUMBERS = "SELECT DISTINCT number FROM invoices WHERE list_contains($numbers::VARCHAR[], number)"

# What the push believes Xero holds, to detect a conflict.
SYNCED = "SELECT invoice_id, type, updated_utc FROM invoices WHERE list_contains($ids::VARCHAR[], invoice_id)"

# The landed lines of a push, to undo: back from `after` to `before`, unless a line is there already.
UNDO_PLAN = f"""
SELECT p.invoice_id, i.number, i.type, {DOCUMENT} AS document, coalesce(c.name, i.contact_id) AS contact,
       p.line_id, p.slot,
       p.category_id, p.after_option_id AS current_option_id, p.before_option_id AS wanted_option_id,
       coalesce({EDITABLE}, false) AS eligible,
       CASE WHEN i.invoice_id IS NULL THEN 'The invoice is no longer in the synced copy of Xero'
            ELSE 'Invoice cannot be edited through Xero''s API any more' END AS reason
FROM push_lines p
LEFT JOIN invoices i USING (invoice_id)
LEFT JOIN contacts c ON c.contact_id = i.contact_id
LEFT JOIN line_tracking t ON t.line_id = p.line_id AND t.category_id = p.category_id
WHERE p.push_id = $push_id AND p.result = 'landed'
  AND t.option_id IS DISTINCT FROM p.before_option_id
ORDER BY i.number, p.invoice_id, p.line_id, p.slot
"""
PUSH_KIND = "SELECT kind FROM pushes WHERE push_id = ?"
# The lines the latest undo of a push could not put back, for `undo(..., retry=True)`.
UNDO_FAILURES = """
SELECT u.push_id, list(DISTINCT l.line_id || '/' || l.slot) FILTER (WHERE list_contains($problems, l.result))
FROM (SELECT max(push_id) AS push_id FROM pushes WHERE undo_of = $push_id) u
LEFT JOIN push_lines l ON l.push_id = u.push_id
GROUP BY u.push_id
"""

START = """
INSERT INTO pushes (kind, undo_of, started_at, pushed_by, invoices_planned, invoices_locked, lines_locked, outcome)
VALUES (?, ?, ?, ?, ?, ?, ?, 'running') RETURNING push_id, started_at
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
UPDATE pushes SET finished_at = $finished_at, outcome = $outcome, message = $message, api_calls = $api_calls
WHERE push_id = $push_id
"""
COUNT = """
UPDATE pushes SET
    invoices_landed = (SELECT count(DISTINCT invoice_id) FROM push_lines l
                       WHERE l.push_id = pushes.push_id AND result = 'landed'),
    invoices_failed = (SELECT count(DISTINCT invoice_id) FROM push_lines l
                       WHERE l.push_id = pushes.push_id AND result IN ('failed', 'not sent')),
    invoices_conflict = (SELECT count(DISTINCT invoice_id) FROM push_lines l
                         WHERE l.push_id = pushes.push_id AND result = 'conflict'),
    invoices_not_sent = (SELECT count(DISTINCT invoice_id) FROM push_lines l
                         WHERE l.push_id = pushes.push_id AND result = 'not sent'),
    invoices_in_doubt = (SELECT count(DISTINCT invoice_id) FROM push_lines l
                         WHERE l.push_id = pushes.push_id AND result = 'in doubt'),
    invoices_not_landed = (SELECT count(DISTINCT invoice_id) FROM push_lines l
                           WHERE l.push_id = pushes.push_id AND result = 'not landed'),
    lines_changed = (SELECT count(DISTINCT line_id) FROM push_lines l
                     WHERE l.push_id = pushes.push_id AND result = 'landed')
WHERE list_contains($push_ids::BIGINT[], push_id)
"""

# Settling in-doubt batches (run under the run lock: no push is live, so whatever is unfinished is dead).
UNSETTLED = """
SELECT EXISTS (FROM pushes WHERE outcome = 'running')
    OR EXISTS (FROM push_lines WHERE result IN ('planned', 'sending', 'in doubt'))
"""
INTERRUPT = """
UPDATE pushes SET outcome = 'interrupted', finished_at = $now,
    message = 'Interrupted: the process running it ended before it finished.'
WHERE outcome = 'running' RETURNING push_id
"""
INTERRUPT_UNSENT = """
UPDATE push_lines SET result = 'not sent', message = 'Not sent: the push was interrupted.' WHERE result = 'planned'
"""
INTERRUPT_SENDING = "UPDATE push_lines SET result = 'in doubt', message = $message WHERE result = 'sending'"
IN_DOUBT = """
SELECT p.push_id, p.invoice_id, coalesce(i.type, 'ACCREC') AS type, p.line_id, p.slot, p.category_id,
       p.after_option_id
FROM push_lines p LEFT JOIN invoices i USING (invoice_id) WHERE p.result = 'in doubt'
"""
SETTLE = """
UPDATE push_lines SET result = s.result, message = s.message, resolved_at = $now
FROM push_log_settled s
WHERE push_lines.push_id = s.push_id AND push_lines.line_id = s.line_id AND push_lines.slot = s.slot
  AND push_lines.result = 'in doubt'
"""

# The mirror after a batch: the landed invoices' new UpdatedDateUTC and their lines' tracking as Xero answered.
MIRROR_INVOICES = """
UPDATE invoices SET updated_utc = u.updated_utc FROM push_log_invoices u
WHERE invoices.invoice_id = u.invoice_id
"""
MIRROR_DELETE_TRACKING = "DELETE FROM line_tracking WHERE line_id IN (SELECT line_id::UUID FROM push_log_line_ids)"
MIRROR_INSERT_TRACKING = """
INSERT INTO line_tracking (line_id, category_id, option_id, category_name, option_name)
SELECT t.line_id, t.category_id, t.option_id, coalesce(k.name, t.category_name), coalesce(o.name, t.option_name)
FROM push_log_tracking t
LEFT JOIN tracking_categories k ON k.category_id = t.category_id
LEFT JOIN tracking_options o ON o.option_id = t.option_id
"""

HISTORY = """
SELECT p.push_id, p.kind, p.undo_of, p.started_at, p.finished_at, p.pushed_by, p.invoices_planned,
       p.invoices_landed, p.invoices_conflict, p.invoices_failed, p.invoices_not_sent, p.invoices_in_doubt,
       p.invoices_not_landed, p.lines_changed, p.api_calls, coalesce(p.outcome, 'running') AS outcome, p.message,
       u.push_id AS undone_by, u.outcome AS undo_outcome,
       -- a push counts its locked invoices on its row; an undo logs its locked lines
       p.invoices_locked + (SELECT count(DISTINCT l.invoice_id) FROM push_lines l
                            WHERE l.push_id = p.push_id AND l.result = 'locked') AS invoices_locked
FROM pushes p
LEFT JOIN (SELECT undo_of, max_by(push_id, push_id) AS push_id, max_by(outcome, push_id) AS outcome
           FROM pushes WHERE undo_of IS NOT NULL GROUP BY undo_of) u ON u.undo_of = p.push_id
ORDER BY p.push_id DESC LIMIT ?
"""
INVOICE_RESULTS = """
SELECT p.invoice_id, i.number, """ + DOCUMENT + """ AS document, coalesce(c.name, i.contact_id) AS contact,
       -- an invoice's lines share one result, but for in-doubt lines settled one by one: the worst is shown
       arg_min(p.result, list_position($order::VARCHAR[], p.result)) AS result,
       count(DISTINCT p.line_id) AS lines, max(p.message) AS message
FROM push_lines p
LEFT JOIN invoices i USING (invoice_id)
LEFT JOIN contacts c ON c.contact_id = i.contact_id
WHERE p.push_id = $push_id
GROUP BY ALL
ORDER BY min(list_position($order::VARCHAR[], p.result)), i.number, p.invoice_id
"""

LINE_CHANGE = pa.schema([("invoice_id", pa.string()), ("line_id", pa.string()), ("slot", pa.int32()),
                         ("category_id", pa.string()), ("current_option_id", pa.string()),
                         ("wanted_option_id", pa.string()), ("result", pa.string()), ("message", pa.string())])
INVOICE_RESULT = pa.schema([("invoice_id", pa.string()), ("result", pa.string()), ("message", pa.string())])
LINE_SETTLED = pa.schema([("push_id", pa.int64()), ("line_id", pa.string()), ("slot", pa.int32()),
                          ("result", pa.string()), ("message", pa.string())])
# Worst first: how an invoice's result is chosen from its lines', and the order invoices are listed in.
RESULT_ORDER = [Result.FAILED, Result.IN_DOUBT, Result.SENDING, Result.NOT_LANDED, Result.NOT_SENT, Result.PLANNED,
                Result.CONFLICT, Result.LANDED, Result.LOCKED]
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
    result: Result
    lines: int
    message: str | None
    document: str = "Invoice"  # or "Credit note"


@dataclass(frozen=True)
class Settled:
    """What settling the in-doubt batches of earlier runs found: invoice counts, and the runs found dead."""
    in_doubt: int = 0
    landed: int = 0
    not_landed: int = 0
    interrupted: tuple[int, ...] = ()

    def summary(self) -> str:
        parts = []
        if self.interrupted:
            runs = ", ".join(str(push_id) for push_id in self.interrupted)
            parts.append(f"Push {runs} had been interrupted and is now finalised.")
        if self.in_doubt:
            parts.append(f"Asked Xero about {self.in_doubt} invoices whose answer was lost: {self.landed} landed, "
                         f"{self.not_landed} not landed (not sent again).")
        return " ".join(parts)


@dataclass
class PushResult:
    push_id: int | None
    kind: Kind
    outcome: RunOutcome
    message: str | None
    invoices: list[InvoiceOutcome] = field(default_factory=list)
    read_calls: int = 0
    update_calls: int = 0
    api_calls: int = 0
    seconds: float = 0.0
    settled: Settled = field(default_factory=Settled)
    locked: int = 0  # locked invoices a push left alone, counted only (not in `invoices`)

    def count(self, result: Result) -> int:
        return (sum(outcome.result == result for outcome in self.invoices)
                + (self.locked if result == Result.LOCKED else 0))

    @property
    def problems(self) -> list[InvoiceOutcome]:
        """Invoices that were meant to change and did not (for a push, locked ones were never meant to be sent;
        an undo that leaves a locked line as the push left it has not undone it)."""
        return [o for o in self.invoices if o.result in PROBLEMS[self.kind]]

    def table(self) -> pd.DataFrame:
        """One row per invoice: what happened to it and Xero's message (push_words.RESULT_HEADERS says the
        columns for people)."""
        return pd.DataFrame([{"invoice": o.number, "document": o.document, "client": o.contact,
                              "result": str(IN_FLIGHT.get(o.result, o.result)), "lines": o.lines,
                              "message": o.message or ""} for o in self.invoices],
                            columns=list(push_words.RESULT_HEADERS))

    def counts(self) -> push_words.Counts:
        landed = [o for o in self.invoices if o.result == Result.LANDED]
        return push_words.Counts(landed=len(landed), lines=sum(o.lines for o in landed),
                                 locked=self.count(Result.LOCKED), conflicts=self.count(Result.CONFLICT),
                                 failed=self.count(Result.FAILED), not_sent=self.count(Result.NOT_SENT),
                                 in_doubt=self.count(Result.IN_DOUBT), not_landed=self.count(Result.NOT_LANDED))

    def summary(self) -> str:
        """In plain words, e.g. "Push 3: Xero now has the new tracking on 160 invoices (459 lines). …", after
        what was settled of earlier pushes whose answer from Xero was lost."""
        settled = (self.settled.summary() + " ") if self.settled.summary() else ""
        if self.push_id is None:
            return settled + push_words.nothing_to_push(self.count(Result.LOCKED))
        stopped = self.message if self.outcome == RunOutcome.STOPPED else None
        return (f"{settled}{push_words.title(self.kind, self.push_id)}: "
                f"{push_words.result(self.kind, self.counts(), stopped=stopped)}")

    def api_detail(self) -> str:
        return push_words.api_detail(self.read_calls, self.update_calls, self.api_calls, self.seconds)


# --- planning ------------------------------------------------------------------------------

def plan(con: duckdb.DuckDBPyConnection, *, invoice_numbers: Iterable[str] = ()) -> list[dict]:
    """Every (line, slot) a push would change now, or that is locked: dicts with the columns of PLAN_ROWS.

    Optionally limited to some invoice numbers (PushError if one is unknown).
    """
    return store.dicts(con.execute(PLAN, {"numbers": _known_numbers(con, invoice_numbers)}))


def plan_counts(con: duckdb.DuckDBPyConnection, *, invoice_numbers: Iterable[str] = ()) -> dict[str, int]:
    """Invoices and lines that a push would change in Xero, and those locked."""
    return store.dicts(con.execute(PLAN_COUNTS, {"numbers": _known_numbers(con, invoice_numbers)}))[0]


def plan_table(con: duckdb.DuckDBPyConnection, limit: int | None = None, locked: bool | None = None, *,
               invoice_numbers: Iterable[str] = ()) -> pd.DataFrame:
    """One row per line that wants a change: invoice, line, old → new for each slot (tc1, tc2), its state
    (will change, may be refused, locked, blocked); push_words.PLAN_HEADERS says them for people.

    `locked` False: only the lines a push sends (as many as `plan_counts`' lines); True: only the locked ones.
    """
    return con.execute(PLAN_TABLE, {"numbers": _known_numbers(con, invoice_numbers), "limit": limit,
                                    "locked": locked}).df()


def irreversible(con: duckdb.DuckDBPyConnection, limit: int | None = None, *,
                 invoice_numbers: Iterable[str] = ()) -> pd.DataFrame:
    """The changes a push would make that undo could not reverse: the option a line has now is archived or
    deleted in Xero, and Xero takes no such option on a line it is sent (as many as `plan_counts`'
    irreversible_changes); push_words.IRREVERSIBLE_HEADERS says the columns for people."""
    return con.execute(IRREVERSIBLE, {"numbers": _known_numbers(con, invoice_numbers), "limit": limit}).df()


def _known_numbers(con, invoice_numbers: Iterable[str]) -> list[str]:
    numbers = list(dict.fromkeys(invoice_numbers))
    if numbers:
        known = {n for (n,) in con.execute(KNOWN_NUMBERS, {"numbers": numbers}).fetchall()}
        unknown = [n for n in numbers if n not in known]
        if unknown:
            raise PushError(f"No synced sales invoice or credit note has the number {', '.join(unknown)}.")
    return numbers


def locked_worklist_csv(con: duckdb.DuckDBPyConnection) -> bytes:
    """The locked lines that want a change, for Xero's Find & Recode, in runs of at most 200 lines.

    Whole invoices are kept in one run; foreign-currency invoices, which Find & Recode cannot
    recode, are listed apart (run "manual").
    """
    base = store.base_currency(con)
    rows = store.dicts(con.execute(LOCKED, {"numbers": []}))
    header = ["Run", "Invoice Number", "Invoice Date", "Client", "Line", "Description", "Tracking Category",
              "Current Option", "Wanted Option", "Currency", "Reason", "Note"]
    cells = ([run, r["number"], r["date"], r["contact"], r["position"] + 1, r["description"], r["category_name"],
              r["current_name"] or "(none)", r["wanted_name"] or "(none)", r["currency_code"], r["reason"],
              FOREIGN_CURRENCY_NOTE if base is not None and r["currency_code"] != base else ""]
             for run, r in _runs(rows, base))
    return csv_out.write(header, cells).encode("utf-8-sig")


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

def push(gw, *, by: access.Actor, invoice_numbers: Iterable[str] = (), invoice_ids: Iterable[str] | None = None,
         progress: Progress | None = None, db: Path | str | None = None) -> PushResult:
    """Send the rules' eligible changes to Xero (only on `invoice_ids`, when given); locked invoices are
    reported, never sent.

    Settles the in-doubt batches of earlier runs first; PushError when another push or undo is running."""
    access.require(by, access.Permission.PUSH)
    with _run_lock(db, by, "push"):
        settled = settle_in_doubt(gw, db=db)
        with store.connect(db, purpose="push: read the plan") as con:
            scope = {"numbers": _known_numbers(con, invoice_numbers),
                     "ids": None if invoice_ids is None else list(invoice_ids)}
            rows = store.dicts(con.execute(ELIGIBLE, scope))
            if not rows and store.last_sync(con) is None:
                raise PushError(push_words.NEVER_SYNCED)
            locked = con.execute(LOCKED_COUNTS, scope).fetchone()
            synced = _synced(con, rows)
            inactive = refusals.inactive_options(con)
        return _run(gw, db, rows, synced, kind="push", undo_of=None, by=by, progress=progress, settled=settled,
                    locked=locked, inactive=inactive)


def undo(gw, push_id: int, *, by: access.Actor, retry: bool = False, progress: Progress | None = None,
         db: Path | str | None = None) -> PushResult:
    """Push the before-values of a push's landed lines back, if Xero still has what that push left.

    In-doubt lines are settled first, so every line that landed is undone, those found later included.
    With `retry`, only the lines the latest undo of that push could not put back are tried again
    (PushError when there is no such undo, or it failed on none)."""
    access.require(by, access.Permission.PUSH)
    with _run_lock(db, by, "undo"):
        with store.connect(db, purpose="undo: check the push") as con:
            if con.execute(PUSH_KIND, [push_id]).fetchone() is None:
                raise PushError(f"There is no push number {push_id}.")
        settled = settle_in_doubt(gw, db=db)
        with store.connect(db, purpose="undo: read the plan") as con:
            rows = store.dicts(con.execute(UNDO_PLAN, {"push_id": push_id}))
            if retry:
                rows = _failed_last_time(con, push_id, rows)
            synced = _synced(con, rows)
        return _run(gw, db, rows, synced, kind="undo", undo_of=push_id, by=by, progress=progress, settled=settled)


def _failed_last_time(con, push_id: int, rows: list[dict]) -> list[dict]:
    """The rows of an undo plan whose lines the latest undo of `push_id` could not put back."""
    undone = con.execute(UNDO_FAILURES, {"push_id": push_id, "problems": list(PROBLEMS["undo"])}).fetchone()
    if undone[0] is None:
        raise PushError(f"Push {push_id} has not been undone: there are no failures to retry.")
    failed = set(undone[1] or ())
    if not failed:
        raise PushError(f"Undo {undone[0]} of push {push_id} put every line back: there are no failures to retry.")
    return [r for r in rows if f"{r['line_id']}/{r['slot']}" in failed]


@contextmanager
def _run_lock(db, by: access.Actor, what: str) -> Iterator[None]:
    try:
        with run_lock.hold(db, who=by.who, what=what, wait_seconds=LOCK_WAIT_SECONDS):
            yield
    except run_lock.Busy as busy:
        raise PushError(str(busy)) from None


def _synced(con, rows: list[dict]) -> dict[str, dict]:
    """What the mirror says of each invoice to send: to detect a conflict."""
    ids = list(dict.fromkeys(r["invoice_id"] for r in rows if r["eligible"]))
    return {r["invoice_id"]: r for r in store.dicts(con.execute(SYNCED, {"ids": ids}))}


def _run(gw, db, rows: list[dict], synced: dict[str, dict], *, kind: Kind, undo_of: int | None, by: access.Actor,
         progress: Progress | None, settled: "Settled", locked: tuple[int, int] = (0, 0),
         inactive: frozenset[str] = frozenset()) -> PushResult:
    """Log and send `rows`; `locked`: the invoices and lines the plan left out as locked, recorded as counts;
    `inactive`: the options not ACTIVE in the mirror, to tell a refusal for them (kept by a push, not an undo)."""
    started, first_call = time.monotonic(), len(gw.calls)
    if not any(r["eligible"] for r in rows):
        return PushResult(None, kind, RunOutcome.NOTHING_TO_DO, None, _locked_outcomes(rows), settled=settled,
                          locked=locked[0])
    push_id, key_prefix = _start(db, rows, locked, kind=kind, undo_of=undo_of, by=by)
    run = _Run(gw, db, push_id, key_prefix, rows, synced, progress or (lambda stage, done, total: None), inactive)
    stopped = run.execute()
    api_calls = sum(not call.is_token for call in gw.calls[first_call:])
    with store.connect(db, purpose=f"{kind}: finish") as con:
        with store.transaction(con):
            con.execute(UNSENT, {"push_id": push_id, "message": stopped or "Not sent."})
            results = {r for (r,) in con.execute(RESULTS_SO_FAR, [push_id]).fetchall()}
            outcome = (RunOutcome.STOPPED if stopped else RunOutcome.PARTIAL if results & set(PROBLEMS[kind])
                       else RunOutcome.COMPLETE)
            con.execute(FINISH, {"push_id": push_id, "finished_at": _utc_now(), "outcome": outcome,
                                 "message": stopped, "api_calls": api_calls})
            con.execute(COUNT, {"push_ids": [push_id]})
        invoices = invoice_results(con, push_id)
    calls = [c for c in gw.calls[first_call:] if not c.is_token]
    return PushResult(push_id, kind, outcome, stopped, invoices,
                      read_calls=sum(c.method == "GET" for c in calls),
                      update_calls=sum(c.method == "POST" for c in calls),
                      api_calls=api_calls, seconds=time.monotonic() - started, settled=settled, locked=locked[0])


def _start(db, rows: list[dict], locked: tuple[int, int], *, kind: Kind, undo_of: int | None,
           by: access.Actor) -> tuple[int, str]:
    """The push row and all its lines (eligible: 'planned', others: 'locked'), in their own transaction."""
    log = [{**r, "result": Result.PLANNED if r["eligible"] else Result.LOCKED,
            "message": None if r["eligible"] else r["reason"]} for r in rows]
    with store.connect(db, purpose=f"{kind}: log the plan") as con, store.transaction(con):
        push_id, started_at = con.execute(START, [kind, undo_of, _utc_now(), by.who,
                                                  len({r["invoice_id"] for r in rows if r["eligible"]}),
                                                  *locked]).fetchone()
        _with_table(con, "push_log_lines", log, LINE_CHANGE, LOG_LINES, {"push_id": push_id})
    return push_id, f"td-{kind}-{push_id}-{started_at:%Y%m%dT%H%M%S%f}"


class _Run:
    """One execution of a logged push: read, check, send in batches, record; the database is opened only to
    write, between calls to Xero."""

    def __init__(self, gw, db, push_id: int, key_prefix: str, rows: list[dict], synced: dict[str, dict],
                 progress: Progress, inactive: frozenset[str]):
        self.gw, self.db, self.push_id, self.key_prefix, self.progress = gw, db, push_id, key_prefix, progress
        self.synced, self.inactive = synced, inactive
        self.copy: landed_rules.Copy | None = None  # what the rules read, to decide landed batches outside holds
        self.types = {invoice_id: row["type"] for invoice_id, row in synced.items()}
        self.expected: dict[str, dict[str, dict[str, str | None]]] = {}  # invoice → line → category → option now
        self.wanted: dict[str, dict[str, dict[str, str | None]]] = {}
        for r in rows:
            if r["eligible"]:
                self.expected.setdefault(r["invoice_id"], {}).setdefault(r["line_id"], {})[r["category_id"]] = \
                    r["current_option_id"]
                self.wanted.setdefault(r["invoice_id"], {}).setdefault(r["line_id"], {})[r["category_id"]] = \
                    r["wanted_option_id"]

    def execute(self) -> str | None:
        """Run it; returns why it stopped early, or None."""
        try:
            with landed_rules.taken(self.db, list(self.wanted)) as self.copy:
                updates = self._build(self._read())
                batches = [(kind, batch) for kind, ids in _by_type(list(updates), self.types).items()
                           for batch in _chunks([(i, updates[i]) for i in ids], INVOICES_PER_UPDATE)]
                done = 0
                with _out_of_collection():
                    for number, (kind, batch) in enumerate(batches, 1):
                        self.progress(UPDATING, done, len(updates))
                        self._send(number, kind, batch)
                        done += len(batch)
                self.progress(UPDATING, done, len(updates))
        except DayLimitReached as e:
            return str(e)
        except XeroError as e:
            return f"The push stopped: {e}"
        finally:
            self.copy = None
        return None

    def _read(self) -> dict[str, dict]:
        """Xero's current copy of every invoice to send; conflicts are logged and left out."""
        ids = list(self.wanted)
        fresh: dict[str, dict] = {}
        self.progress(READING, 0, len(ids))
        for page in credit_notes.read(self.gw, _by_type(ids, self.types)):
            fresh.update((invoice["InvoiceID"], invoice) for invoice in page)
            self.progress(READING, len(fresh), len(ids))
        ready, conflicts = {}, []
        for invoice_id in ids:
            invoice, synced_utc = fresh.get(invoice_id), self.synced[invoice_id]["updated_utc"]
            problem = self._conflict(invoice, synced_utc, self.expected[invoice_id])
            if not problem and push_plan.may_hide_discount(invoice):
                invoice = credit_notes.read_one(self.gw, invoice_id, self.types[invoice_id])
                problem = self._conflict(invoice, synced_utc, self.expected[invoice_id])
            if problem:
                conflicts.append({"invoice_id": invoice_id, "result": Result.CONFLICT, "message": problem})
            else:
                ready[invoice_id] = invoice
        if conflicts:
            self._record(conflicts, [], purpose="push: log conflicts")
        return ready

    @staticmethod
    def _conflict(invoice: dict | None, synced_utc: datetime, expected) -> str | None:
        if invoice is None:
            return "Xero no longer returns this invoice (deleted or archived?): sync and look again."
        updated = _naive_utc(parse_date(invoice.get("UpdatedDateUTC")))
        if updated is None or updated > synced_utc:
            return (f"Changed in Xero since the last sync (Xero's copy is from {updated or 'an unknown time'} UTC): "
                    "not overwritten; sync and look again.")
        if invoice.get("Status") not in statuses.EDITABLE or invoice.get("AmountPaid") or invoice.get("AmountCredited"):
            return f"Xero says the invoice is {invoice.get('Status')} or has payments: it cannot be edited."
        problems = push_plan.conflicts(invoice, expected)
        if problems:
            return "Not as the last sync saw it: " + "; ".join(problems) + ". Sync and look again."
        return None

    def _build(self, fresh: dict[str, dict]) -> dict[str, tuple[dict, dict]]:
        """Each invoice's update, next to Xero's copy it was built from."""
        return {invoice_id: (invoice, push_plan.build_update(invoice, self.wanted[invoice_id]))
                for invoice_id, invoice in fresh.items()}

    def _send(self, number: int, kind: str, batch: list[tuple[str, tuple[dict, dict]]]) -> None:
        """One batch of one kind of document: POST /Invoices, or POST /CreditNotes."""
        updates = [update for _, (_, update) in batch]
        self._record([{"invoice_id": i, "result": Result.SENDING, "message": None} for i, _ in batch], [],
                     purpose="push: batch sending")
        try:
            answers = credit_notes.update(self.gw, updates, kind, idempotency_key=self._key(number, updates))
        except DayLimitReached as e:
            self._record([{"invoice_id": i, "result": Result.NOT_SENT, "message": str(e)} for i, _ in batch], [])
            raise
        except XeroUnavailable as e:
            self._record([{"invoice_id": i, "result": Result.IN_DOUBT, "message": ANSWER_LOST.format(why=e)}
                          for i, _ in batch], [])
            raise
        except XeroError as e:
            self._record([{"invoice_id": i, "result": Result.FAILED, "message": str(e)} for i, _ in batch], [])
            raise
        by_id = {a.get("InvoiceID"): a for a in answers}
        results, landed, refused = [], [], []
        for position, (invoice_id, (before, sent)) in enumerate(batch):
            answer = by_id.get(invoice_id) or (answers[position] if position < len(answers) else None)
            problems = (push_plan.verify(sent, before, answer) if answer is not None
                        else ["Xero's answer did not include this invoice."])
            if problems:
                results.append({"invoice_id": invoice_id, "result": Result.FAILED, "message": "; ".join(problems)})
                refused += self._refusal(invoice_id, sent, answer)
            else:
                results.append({"invoice_id": invoice_id, "result": Result.LANDED,
                                "message": push_plan.xero_message(answer) or None})
                landed.append(answer)
        self._record(results, landed)
        if refused:
            with self._transaction("push: Xero's refusals") as con:
                refusals.record(con, refused, self.push_id)

    def _refusal(self, invoice_id: str, sent: dict, answer: dict | None) -> list[dict]:
        """A refusal of an invoice that carries options the mirror holds as not ACTIVE is believed to be for them,
        and kept in Xero's words (an undo knows of no such options, so keeps none)."""
        carried = refusals.carried_inactive(sent, self.inactive)
        if not carried or answer is None or not answer.get("HasErrors"):
            return []
        return [{"invoice_id": invoice_id, "updated_utc": self.synced[invoice_id]["updated_utc"],
                 "option_ids": carried, "message": push_plan.xero_message(answer) or "Xero refused it."}]

    def _key(self, number: int, updates: list[dict]) -> str:
        """The same batch of the same push always gets the same key, so Xero applies it at most once."""
        digest = hashlib.sha256(json.dumps(updates, sort_keys=True, default=str).encode()).hexdigest()[:24]
        return f"{self.key_prefix}-b{number}-{digest}"

    def _record(self, results: list[dict], landed: list[dict], *, purpose: str = "push: batch result") -> None:
        """Invoices' results, and the mirror and rules of the landed ones, in one short transaction. The rules are
        decided beforehand in the push's copy (core/landed_rules.py) while it is in step with the database."""
        decided = self._decided(landed) if landed and self.copy else None
        with self._transaction(purpose) as con:
            _with_table(con, "push_log_results", results, INVOICE_RESULT, SET_RESULTS, {"push_id": self.push_id})
            if landed:
                _mirror(con, landed, decided if self.copy else None)

    def _decided(self, landed: list[dict]) -> landed_rules.Decided:
        _mirror(self.copy.con, landed)
        return landed_rules.decided(self.copy, [a["InvoiceID"] for a in landed], _line_ids(landed))

    @contextmanager
    def _transaction(self, purpose: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """One short write of this run, which keeps its copy in step with the database, or drops it."""
        with store.connect(self.db, purpose=purpose, compact=False) as con, store.transaction(con):
            self.copy = landed_rules.in_step(self.copy, con)
            yield con


# --- in-doubt batches ----------------------------------------------------------------------------

def settle_in_doubt(gw, *, db: Path | str | None = None) -> Settled:
    """Finalise dead runs as interrupted and settle every in-doubt line from what Xero holds now.

    The caller holds the run lock (no push is live). Raises XeroError, leaving the lines in doubt,
    when Xero cannot be read: nothing else should go ahead on a guess."""
    with store.connect(db, purpose="settle: finalise dead runs") as con:
        if not con.execute(UNSETTLED).fetchone()[0]:
            return Settled()
        with store.transaction(con):
            interrupted = tuple(push_id for (push_id,) in con.execute(INTERRUPT, {"now": _utc_now()}).fetchall())
            con.execute(INTERRUPT_UNSENT)
            con.execute(INTERRUPT_SENDING, {"message": ANSWER_LOST.format(why="the push was interrupted")})
            if interrupted:
                con.execute(COUNT, {"push_ids": list(interrupted)})
        doubts = store.dicts(con.execute(IN_DOUBT))
    if not doubts:
        return Settled(interrupted=interrupted)
    ids = list(dict.fromkeys(d["invoice_id"] for d in doubts))
    types = {d["invoice_id"]: d["type"] for d in doubts}
    xero = {invoice["InvoiceID"]: invoice for page in credit_notes.read(gw, _by_type(ids, types)) for invoice in page}
    settled = [_settle_line(d, xero.get(d["invoice_id"])) for d in doubts]
    landed_invoices = {d["invoice_id"] for d, s in zip(doubts, settled) if s["result"] == Result.LANDED}
    wholly = landed_invoices - {d["invoice_id"] for d, s in zip(doubts, settled) if s["result"] != Result.LANDED}
    # A partly landed invoice was changed by someone else too: its tracking is mirrored, its date not,
    # so the next push still sees that change as a conflict.
    answers = [xero[i] if i in wholly else {**xero[i], "UpdatedDateUTC": None} for i in landed_invoices]
    with store.connect(db, purpose="settle: record") as con, store.transaction(con):
        _with_table(con, "push_log_settled", settled, LINE_SETTLED, SETTLE, {"now": _utc_now()})
        if answers:
            _mirror(con, answers)
        con.execute(COUNT, {"push_ids": list({d["push_id"] for d in doubts})})
    return Settled(len(ids), len(wholly), len(ids) - len(wholly), interrupted)


def settle_in_doubt_unless_running(gw, *, db: Path | str | None = None) -> Settled:
    """`settle_in_doubt`, unless a push or undo is running (it settles them itself when it next starts)."""
    try:
        with run_lock.hold(db, who="a sync", what="check of earlier pushes"):
            return settle_in_doubt(gw, db=db)
    except run_lock.Busy:
        return Settled()


def _settle_line(doubt: dict, invoice: dict | None) -> dict:
    """Landed when Xero's copy of the line carries what was sent in its category."""
    key = {k: doubt[k] for k in ("push_id", "line_id", "slot")}
    if invoice is None:
        return {**key, "result": Result.NOT_LANDED,
                "message": "Xero's answer was lost, and Xero no longer returns this invoice."}
    line = next((l for l in invoice.get("LineItems") or [] if l.get("LineItemID") == doubt["line_id"]), None)
    if line is not None and push_plan.tracking_of(line).get(doubt["category_id"]) == doubt["after_option_id"]:
        return {**key, "result": Result.LANDED, "message": "Xero's answer was lost; Xero was asked again: it landed."}
    return {**key, "result": Result.NOT_LANDED,
            "message": "Xero's answer was lost; Xero was asked again: it did not land (not sent again)."}


def _mirror(con, answers: list[dict], decided: landed_rules.Decided | None = None) -> None:
    """Xero's answer for landed invoices into the mirror, so the preview shows `same` without a sync, and their
    rules: `decided` in the push's copy, or else decided here."""
    _mirror_tracking(con, answers, decided.tracking_rows if decided else None)
    invoice_ids = [a["InvoiceID"] for a in answers]
    if decided is None:
        rules.refresh_for(con, invoice_ids=invoice_ids)
    else:
        rules.take_for(con, invoice_ids, decided)


def _mirror_tracking(con, answers: list[dict], old_rows: list[int] | None) -> None:
    """The invoices' tracking and update times as Xero answered; `old_rows`: where the lines' tracking sits in the
    database, when the push's copy knows it."""
    line_ids = _line_ids(answers)
    tracking = [{"line_id": line["LineItemID"], "category_id": t["TrackingCategoryID"],
                 "option_id": t.get("TrackingOptionID"), "category_name": t.get("Name"), "option_name": t.get("Option")}
                for a in answers for line in a["LineItems"] for t in line.get("Tracking") or []]
    updated = [{"invoice_id": a["InvoiceID"], "updated_utc": _naive_utc(parse_date(a.get("UpdatedDateUTC")))}
               for a in answers if a.get("UpdatedDateUTC")]
    _with_table(con, "push_log_invoices", updated, INVOICE_UPDATED, MIRROR_INVOICES)
    if old_rows is None:
        _with_table(con, "push_log_line_ids", [{"line_id": i} for i in line_ids], LINE_IDS, MIRROR_DELETE_TRACKING)
    else:
        store.delete_at(con, "line_tracking", "line_id", line_ids, old_rows)
    _with_table(con, "push_log_tracking", tracking, LINE_TRACKING, MIRROR_INSERT_TRACKING)


def _line_ids(answers: list[dict]) -> list[str]:
    return [line["LineItemID"] for a in answers for line in a["LineItems"]]


# --- reading the log ----------------------------------------------------------------------------

def history(con: duckdb.DuckDBPyConnection, limit: int = 50) -> list[dict]:
    """The latest pushes and undos, newest first: the columns of `pushes`, the latest undo of each
    (`undone_by`, `undo_outcome`), its `title` ("Push 3") and a plain-words `summary` of what it did, whether
    it `can_undo`: a push with landed lines that no undo has fully undone (an interrupted push included), and
    whether it `can_retry`: its latest undo left lines it could not put back (`undo(..., retry=True)`)."""
    return [{**row, "title": push_words.title(row["kind"], row["push_id"], row["undo_of"]),
             "summary": history_words(row) + (f" Undone by undo {row['undone_by']}." if row["undone_by"] else ""),
             "can_undo": (row["kind"] == "push" and bool(row["lines_changed"])
                          and row["undo_outcome"] != RunOutcome.COMPLETE),
             "can_retry": row["kind"] == "push" and row["undo_outcome"] in (RunOutcome.PARTIAL, RunOutcome.STOPPED,
                                                                           RunOutcome.INTERRUPTED)}
            for row in store.dicts(con.execute(HISTORY, [limit]))]


def history_words(row: dict) -> str:
    """A `history` row's result in plain words (the same words as `PushResult.summary`)."""
    if not row["finished_at"]:
        return "Running, or stopped without a word: the next push, undo or sync settles what Xero holds."
    counts = push_words.Counts(landed=row["invoices_landed"], lines=row["lines_changed"],
                               locked=row["invoices_locked"], conflicts=row["invoices_conflict"],
                               failed=row["invoices_failed"] - row["invoices_not_sent"],
                               not_sent=row["invoices_not_sent"], in_doubt=row["invoices_in_doubt"],
                               not_landed=row["invoices_not_landed"])
    return push_words.result(row["kind"], counts,
                             stopped=row["message"] if row["outcome"] == RunOutcome.STOPPED else None,
                             interrupted=row["outcome"] == RunOutcome.INTERRUPTED)


def invoice_results(con: duckdb.DuckDBPyConnection, push_id: int) -> list[InvoiceOutcome]:
    """What happened to each invoice of a push."""
    return [InvoiceOutcome(r["invoice_id"], r["number"], r["contact"], r["result"], r["lines"], r["message"],
                           r["document"])
            for r in store.dicts(con.execute(INVOICE_RESULTS, {"push_id": push_id, "order": RESULT_ORDER}))]


def _locked_outcomes(rows: list[dict]) -> list[InvoiceOutcome]:
    by_invoice: dict[str, list[dict]] = {}
    for r in rows:
        by_invoice.setdefault(r["invoice_id"], []).append(r)
    return [InvoiceOutcome(i, rs[0]["number"], rs[0]["contact"], Result.LOCKED, len({r["line_id"] for r in rs}),
                           rs[0]["reason"], rs[0]["document"]) for i, rs in by_invoice.items()]


# --- small helpers -------------------------------------------------------------------------------

@contextmanager
def _out_of_collection() -> Iterator[None]:
    """Keep the objects alive now (the plan and Xero's copies of its invoices) out of Python's garbage collection.

    Now and then the collector walks every object alive: with 10,000 invoices in hand one walk took up to
    0.4 s, and inside a batch's transaction it held the database file that long (`python -m core bench lock`).
    Frozen, they are skipped by every walk until the batches are sent."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _with_table(con, name: str, rows: list[dict], schema: pa.Schema, sql: str, params: dict | None = None) -> None:
    """Run `sql` with `rows` visible as the table `name` (one statement for many rows)."""
    table = pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema=schema)
    con.register(name, table)
    try:
        con.execute(sql, params or {})
    finally:
        con.unregister(name)


def _by_type(ids: list[str], types: dict[str, str]) -> dict[str, list[str]]:
    """Document ids by type (ACCREC, ACCRECCREDIT), in their order."""
    grouped: dict[str, list[str]] = {}
    for document_id in ids:
        grouped.setdefault(types.get(document_id) or credit_notes.INVOICE, []).append(document_id)
    return grouped


def _chunks(items: list, size: int) -> list[list]:
    return [items[start:start + size] for start in range(0, len(items), size)]


def _naive_utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment and moment.tzinfo else moment


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
