"""Autopilot: new sales invoices get their tracking within minutes of reaching Xero, without a person.

**Policy.** Off by default. An admin switches it on (Settings, or `python -m core autopilot on`) with
the invoice statuses it may touch (default DRAFT and SUBMITTED) and a daily call budget (default
1,000 of Xero's 5,000 a day). Older invoices stay a person's decision, on the Push page.

**Which invoices are new.** Xero's Invoice carries no creation time (the OpenAPI spec's Invoice has
only UpdatedDateUTC, which moves with every edit and payment, so it cannot tell an old invoice edited
today from a new one). So switching on syncs first and records every invoice then in the mirror as
`known`; an invoice is new when a sync after that brings it for the first time, and the next pass
registers it `pending`, remembering Xero's UpdatedDateUTC of that moment. Switching off and on again
is a fresh start: every invoice known then and not yet handled becomes `known`.

**A pass** (`run_pass`): an incremental sync (which also refreshes the rules), then one verdict per
pending invoice:
- `left` for a person: not in the chosen statuses, changed in Xero since autopilot first saw it, a
  line blocked or locked, or its push came back as a conflict or a failure (the same checks as a
  person's push);
- `right`: the rules want nothing changed;
- `tagged`: pushed, as a normal push "by autopilot" (at most 50 invoices a push, so a stop request
  takes effect between batches).
An invoice not sent (the budget or Xero's day limit ran out, the pass was stopped) stays pending, and so
does one whose push lost Xero's answer (in doubt): the next push settles it from Xero, and the next pass
counts it tagged if it landed.
Autopilot judges an invoice once: tagged, right and left are final, so what a person does after is
theirs. A tagged invoice that the rules now want changed (someone changed its tracking in Xero, or
set a line override here) is listed by `needs_attention`, and autopilot leaves it alone.

**Limits.** One pass at a time (core/run_lock.py's autopilot lock); a pass skips while a person's push
or undo holds the push lock; the calls of the day's passes (UTC) count against the budget, and a push takes only as many
invoices as the rest of the budget pays for (2 calls per 50 invoices, 1 more per discounted invoice,
which the push reads singly). Xero's minute limit (429) is waited out by the gateway.
"""
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from core import access, push, run_lock, store, sync
from core.statuses import DRAFT, EDITABLE, SUBMITTED
from core.xero.errors import XeroError
from core.xero.gateway import INVOICES_PER_UPDATE

DEFAULT_STATUSES = (DRAFT, SUBMITTED)
STATUSES = EDITABLE
DEFAULT_DAILY_CALLS = 1000
DAILY_CALLS_RANGE = (10, 5000)  # an idle pass costs about 5 calls; Xero allows 5,000 a day
CALLS_PER_PUSH = 2  # one read of up to 50 invoices, one update
LISTED = 3  # invoice numbers named per reason in a summary line

POLICY = "SELECT enabled, statuses, daily_calls, switched_on_at, changed_by, changed_at FROM autopilot_policy"
SAVE_POLICY = """
INSERT OR REPLACE INTO autopilot_policy (policy, enabled, statuses, daily_calls, switched_on_at, changed_by, changed_at)
VALUES (1, $enabled, $statuses, $daily_calls, $switched_on_at, $by, $now)
"""
LOG_POLICY = """
INSERT INTO change_log (changed_by, source, entity, entity_id, field, old_value, new_value)
VALUES (?, ?, 'autopilot', 'policy', ?, ?, ?)
"""
# Switching on: every invoice synced so far is not autopilot's, nor is any left pending from before.
BASELINE = """
INSERT INTO autopilot_invoices (invoice_id, state, first_seen_at, seen_updated_utc)
SELECT invoice_id, 'known', $now, updated_utc FROM invoices ANTI JOIN autopilot_invoices USING (invoice_id)
"""
FORGET_PENDING = "UPDATE autopilot_invoices SET state = 'known' WHERE state = 'pending'"
# An invoice whose push lost Xero's answer stays pending; once the push log says it landed, it is tagged.
SETTLED_LANDED = """
UPDATE autopilot_invoices SET state = 'tagged', reason = NULL
WHERE state = 'pending' AND push_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM push_lines p WHERE p.push_id = autopilot_invoices.push_id
              AND p.invoice_id = autopilot_invoices.invoice_id AND p.result = 'landed')
"""
REGISTER_NEW = """
INSERT INTO autopilot_invoices (invoice_id, state, first_seen_at, seen_updated_utc, pass_id)
SELECT invoice_id, 'pending', $now, updated_utc, $pass_id FROM invoices ANTI JOIN autopilot_invoices USING (invoice_id)
"""
# One row per pending invoice: what the rules say about its lines, and what a push of it costs.
PENDING = """
SELECT a.invoice_id, i.number, i.status, list_contains($statuses::VARCHAR[], i.status) AS in_statuses,
       i.updated_utc > a.seen_updated_utc AS changed_in_xero,
       count(r.line_id) FILTER (WHERE r.status = 'change') AS changes,
       min(r.reason) FILTER (WHERE r.status = 'blocked') AS blocked,
       min(r.reason) FILTER (WHERE r.status = 'locked' AND (
           (r.tc1_apply AND r.tc1_current_option_id IS DISTINCT FROM r.tc1_wanted_option_id)
           OR (r.tc2_apply AND r.tc2_current_option_id IS DISTINCT FROM r.tc2_wanted_option_id))) AS locked,
       bool_or(coalesce(l.discount_rate, 0) <> 0 OR coalesce(l.discount_amount, 0) <> 0) AS discounted
FROM autopilot_invoices a
JOIN invoices i USING (invoice_id)
LEFT JOIN line_rules r USING (invoice_id)
LEFT JOIN invoice_lines l ON l.line_id = r.line_id
WHERE a.state = 'pending'
GROUP BY ALL
ORDER BY i.number, a.invoice_id
"""
SET_VERDICT = """
UPDATE autopilot_invoices SET state = ?, reason = ?, push_id = ?, pass_id = ? WHERE invoice_id = ?
"""
START_PASS = "INSERT INTO autopilot_passes (started_at, outcome) VALUES (?, 'running') RETURNING pass_id"
FINISH_PASS = """
UPDATE autopilot_passes SET finished_at = $finished_at, outcome = $outcome, new_invoices = $new, tagged = $tagged,
    already_right = $right, left_for_person = $left, api_calls = $api_calls, summary = $summary
WHERE pass_id = $pass_id
"""
SKIPPED_PASS = """
INSERT INTO autopilot_passes (started_at, finished_at, outcome, summary) VALUES (?, ?, 'skipped', ?)
"""
CALLS_SINCE = "SELECT coalesce(sum(api_calls), 0) FROM autopilot_passes WHERE started_at >= ?"
SET_NEXT = "UPDATE autopilot_passes SET next_pass_at = ? WHERE pass_id = (SELECT max(pass_id) FROM autopilot_passes)"
CLEAR_NEXT = "UPDATE autopilot_passes SET next_pass_at = NULL WHERE next_pass_at IS NOT NULL"
LAST_PASS = """
SELECT pass_id, started_at, finished_at, outcome, new_invoices, tagged, already_right, left_for_person, api_calls,
       summary, (SELECT max(next_pass_at) FROM autopilot_passes) AS next_pass_at  -- also while a pass runs
FROM autopilot_passes ORDER BY pass_id DESC LIMIT 1
"""
# What autopilot did with invoices, newest first.
DECIDED = """
SELECT i.number AS invoice, coalesce(c.name, i.contact_id) AS client, i.status,
       a.push_id, coalesce(a.reason, '') AS why, p.started_at AS pass_started_at
FROM autopilot_invoices a
JOIN invoices i USING (invoice_id)
LEFT JOIN contacts c ON c.contact_id = i.contact_id
LEFT JOIN autopilot_passes p USING (pass_id)
WHERE a.state = $state
ORDER BY a.pass_id DESC, i.number DESC
LIMIT $limit
"""
# Tagged invoices the rules now want changed: autopilot will not touch them again, so a person should look.
NEEDS_ATTENTION = """
SELECT i.number AS invoice, coalesce(c.name, i.contact_id) AS client, a.push_id AS tagged_by_push,
       CASE WHEN EXISTS (SELECT 1 FROM push_lines p
                         LEFT JOIN line_tracking t ON t.line_id = p.line_id AND t.category_id = p.category_id
                         WHERE p.push_id = a.push_id AND p.invoice_id = a.invoice_id AND p.result = 'landed'
                           AND t.option_id IS DISTINCT FROM p.after_option_id)
                THEN 'Its tracking was changed in Xero after autopilot tagged it'
            WHEN EXISTS (SELECT 1 FROM line_overrides o JOIN invoice_lines l USING (line_id)
                         WHERE l.invoice_id = a.invoice_id)
                THEN 'A line override was set here after autopilot tagged it'
            ELSE 'The rules changed after autopilot tagged it' END AS why
FROM autopilot_invoices a
JOIN invoices i USING (invoice_id)
LEFT JOIN contacts c ON c.contact_id = i.contact_id
WHERE a.state = 'tagged'
  AND EXISTS (SELECT 1 FROM line_rules r WHERE r.invoice_id = a.invoice_id AND r.status IN ('change', 'blocked'))
ORDER BY i.number
"""
# The columns of `decided` and `needs_attention`, for people.
HEADERS = {"invoice": "Invoice", "client": "Client", "status": "Status", "push_id": "Push",
           "tagged_by_push": "Tagged by push", "why": "Why", "pass_started_at": "Pass (UTC)"}


class AutopilotError(Exception):
    """A policy that cannot be set; the message says why in plain words."""


@dataclass(frozen=True)
class Policy:
    enabled: bool = False
    statuses: tuple[str, ...] = DEFAULT_STATUSES
    daily_calls: int = DEFAULT_DAILY_CALLS
    switched_on_at: datetime | None = None
    changed_by: str | None = None
    changed_at: datetime | None = None

    def describe(self) -> str:
        if not self.enabled:
            return "Autopilot is off."
        return (f"Autopilot is on since {self.switched_on_at:%d %b %Y %H:%M} UTC: it tags new sales invoices in "
                f"{_listing(self.statuses)} with a budget of {self.daily_calls:,} Xero calls a day.")


@dataclass
class PassResult:
    """One pass: `outcome` is 'off', 'skipped', 'done', 'partial' (an invoice failed or conflicted, or a
    push stopped) or 'failed' (the sync or Xero failed; `summary` says why)."""
    outcome: str
    summary: str
    pass_id: int | None = None
    new: int = 0
    tagged: int = 0
    right: int = 0
    left: int = 0
    waiting: int = 0
    api_calls: int = 0
    push_ids: list[int] = field(default_factory=list)
    reasons: list[tuple[str, str]] = field(default_factory=list)  # (why, invoice number) per invoice left
    why_waiting: str | None = None

    @property
    def exit_code(self) -> int:
        """As for push: 0 success (or nothing to do), 1 partial, 2 a configuration or Xero error."""
        return {"partial": 1, "failed": 2}.get(self.outcome, 0)


@dataclass(frozen=True)
class Status:
    policy: Policy
    calls_today: int
    last_pass: dict | None


# --- the seam to sync and push: the only calls into them ----------------------------------------

def _sync(gw, db: Path | None) -> None:
    sync.sync(gw, db=db)


def _push(gw, db: Path | None, invoice_ids: list[str]) -> push.PushResult:
    return push.push(gw, by=access.AUTOPILOT, invoice_ids=invoice_ids, db=db)


def _person_pushing(db: Path | None) -> str | None:
    """"a push by …" while a person's push or undo holds the push lock, else None."""
    holder = run_lock.running(db)
    return f"a {holder.what} by {holder.who} is running" if holder else None


# --- the policy ---------------------------------------------------------------------------------

def policy(con: duckdb.DuckDBPyConnection) -> Policy:
    row = con.execute(POLICY).fetchone()
    if row is None:
        return Policy()
    enabled, statuses, daily_calls, switched_on_at, changed_by, changed_at = row
    return Policy(enabled, tuple(statuses), daily_calls, switched_on_at, changed_by, changed_at)


def switch_on(gw, *, by: access.Actor, statuses: tuple[str, ...] = DEFAULT_STATUSES,
              daily_calls: int = DEFAULT_DAILY_CALLS, source: str = "settings", db: Path | None = None) -> Policy:
    """Switch autopilot on (syncing first, so that what Xero has now is not new), or change the statuses
    and budget of an autopilot already on (which keeps the moment it was switched on)."""
    access.require(by, access.Permission.ADMINISTER)
    statuses = _checked_statuses(statuses)
    if not DAILY_CALLS_RANGE[0] <= daily_calls <= DAILY_CALLS_RANGE[1]:
        raise AutopilotError(f"The daily call budget must be between {DAILY_CALLS_RANGE[0]:,} and "
                             f"{DAILY_CALLS_RANGE[1]:,} (Xero allows 5,000 calls a day), not {daily_calls:,}.")
    with store.connect(db) as con:
        was = policy(con)
    if not was.enabled:
        _sync(gw, db)
    now = _now()
    wanted = Policy(True, statuses, daily_calls, was.switched_on_at if was.enabled else now, by.who, now)
    with store.connect(db) as con, store.transaction(con):
        if not was.enabled:
            con.execute(BASELINE, {"now": now})
            con.execute(FORGET_PENDING)
        _save(con, was, wanted, by, source)
    return wanted


def switch_off(*, by: access.Actor, source: str = "settings", db: Path | None = None) -> Policy:
    access.require(by, access.Permission.ADMINISTER)
    with store.connect(db) as con, store.transaction(con):
        was = policy(con)
        off = Policy(False, was.statuses, was.daily_calls, None, by.who, _now())
        _save(con, was, off, by, source)
    return off


def _checked_statuses(statuses) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(s.strip().upper() for s in statuses if s.strip()))
    wrong = [s for s in chosen if s not in STATUSES]
    if wrong or not chosen:
        raise AutopilotError(f"Autopilot can handle invoices in {_listing(STATUSES)} (Xero lets no others be "
                             f"edited); {'not ' + ', '.join(wrong) if wrong else 'choose at least one'}.")
    return tuple(s for s in STATUSES if s in chosen)


def _save(con, was: Policy, now: Policy, by: access.Actor, source: str) -> None:
    con.execute(SAVE_POLICY, {"enabled": now.enabled, "statuses": list(now.statuses), "daily_calls": now.daily_calls,
                              "switched_on_at": now.switched_on_at, "by": by.who, "now": now.changed_at})
    for name, old, new in (("enabled", was.enabled, now.enabled), ("statuses", was.statuses, now.statuses),
                           ("daily_calls", was.daily_calls, now.daily_calls)):
        if old != new:
            con.execute(LOG_POLICY, [by.who, source, name, _shown(old), _shown(new)])


def _shown(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return ", ".join(value) if isinstance(value, tuple) else str(value)


# --- a pass -------------------------------------------------------------------------------------

def run_pass(gw_factory: Callable[[], object], *, db: Path | None = None,
             stop: Callable[[], bool] = lambda: False) -> PassResult:
    """One pass: sync, the rules, and a push of the eligible new invoices (see the module docstring).

    `gw_factory` gives the gateway (called only when the pass goes ahead); `stop` is asked between
    push batches. A busy database (a person's push or sync from another process) skips the pass."""
    try:
        with run_lock.hold(db, who=access.AUTOPILOT.who, what="autopilot pass", lock=run_lock.AUTOPILOT):
            return _locked_pass(gw_factory, db, stop)
    except run_lock.Busy:
        return PassResult("skipped", "Skipped: another autopilot pass is running.")
    except store.DatabaseBusy:
        return PassResult("skipped", "Skipped: the database is busy (a person's push or sync is running); "
                                     "the next pass will try again.")


def _locked_pass(gw_factory, db: Path | None, stop: Callable[[], bool]) -> PassResult:
    started = _now()
    with store.connect(db) as con:
        current = policy(con)
        if not current.enabled:
            return PassResult("off", "Autopilot is off: nothing done.")
        used = _calls_today(con, started)
        over_budget = (f"today's budget of {current.daily_calls:,} Xero calls is used ({used:,} calls); "
                       "autopilot resumes at 00:00 UTC") if used >= current.daily_calls else None
        note = _person_pushing(db) or over_budget
        if note:
            with store.transaction(con):
                con.execute(SKIPPED_PASS, [started, _now(), f"Skipped: {note}."])
            return PassResult("skipped", f"Skipped: {note}.")
        with store.transaction(con):
            pass_id = con.execute(START_PASS, [started]).fetchone()[0]
    gw = gw_factory()
    calls_before = gw.api_calls
    result = PassResult("done", "", pass_id)
    try:
        _sync(gw, db)
        _judge_and_push(gw, db, current, used, calls_before, result, stop)
    except XeroError as error:
        result.outcome = "failed"
        result.summary = f"The pass stopped: {error}"
    result.api_calls = gw.api_calls - calls_before
    if result.outcome != "failed":
        result.summary = _summary(result)
    with store.connect(db) as con, store.transaction(con):
        con.execute(FINISH_PASS, {"pass_id": pass_id, "finished_at": _now(), "outcome": result.outcome,
                                  "new": result.new, "tagged": result.tagged, "right": result.right,
                                  "left": result.left, "api_calls": result.api_calls, "summary": result.summary})
    return result


def _judge_and_push(gw, db, current: Policy, used: int, calls_before: int, result: PassResult,
                    stop: Callable[[], bool]) -> None:
    with store.connect(db) as con, store.transaction(con):
        con.execute(SETTLED_LANDED)
        con.execute(REGISTER_NEW, {"now": _now(), "pass_id": result.pass_id})
        pending = store.dicts(con.execute(PENDING, {"statuses": list(current.statuses)}))
        judged = [(*_verdict(invoice, current), None, invoice) for invoice in pending]
        _record(con, [v for v in judged if v[0] != "push"], result.pass_id)
    result.new = len(pending)
    result.right = sum(state == "right" for state, *_ in judged)
    result.reasons = [(reason, invoice["number"]) for state, reason, _, invoice in judged if state == "left"]
    result.left = len(result.reasons)
    batches = _batches([invoice for state, _, _, invoice in judged if state == "push"])
    for number, batch in enumerate(batches):
        cost = CALLS_PER_PUSH + sum(invoice["discounted"] for invoice in batch)
        if stop() or used + (gw.api_calls - calls_before) + cost > current.daily_calls:
            result.waiting += sum(map(len, batches[number:]))
            result.why_waiting = "stopped on request" if stop() else (
                f"today's budget of {current.daily_calls:,} Xero calls is used; autopilot resumes at 00:00 UTC")
            return
        outcome = _push(gw, db, [invoice["invoice_id"] for invoice in batch])
        _take_push(db, outcome, batch, result)
        if outcome.outcome == push.RunOutcome.STOPPED:
            result.outcome = "partial"
            result.waiting += sum(map(len, batches[number + 1:]))
            result.why_waiting = outcome.message
            return


def _verdict(invoice: dict, current: Policy) -> tuple[str, str | None]:
    if not invoice["in_statuses"]:
        return "left", f"{invoice['status']}: autopilot handles {_listing(current.statuses)} only"
    if invoice["changed_in_xero"]:
        return "left", "changed in Xero since autopilot first saw it"
    if invoice["blocked"]:
        return "left", f"blocked: {invoice['blocked']}"
    if invoice["locked"]:
        return "left", f"locked: {invoice['locked']}"
    return ("push", None) if invoice["changes"] else ("right", None)


def _batches(invoices: list[dict]) -> list[list[dict]]:
    return [invoices[start:start + INVOICES_PER_UPDATE] for start in range(0, len(invoices), INVOICES_PER_UPDATE)]


def _take_push(db, outcome: push.PushResult, batch: list[dict], result: PassResult) -> None:
    """A push's results as verdicts: landed → tagged; conflict, failed, locked → left; not sent or in doubt
    → still pending (an in-doubt one with its push, to be counted tagged once it is settled as landed)."""
    by_id = {o.invoice_id: o for o in outcome.invoices}
    verdicts = []
    for invoice in batch:
        done = by_id.get(invoice["invoice_id"])
        if done is None or done.result in ("not sent", "in doubt", "not landed"):
            result.waiting += 1
            if done is not None and done.result == "in doubt":
                verdicts.append(("pending", None, outcome.push_id, invoice))
                result.why_waiting = result.why_waiting or "Xero's answer was lost: the next push asks Xero"
        elif done.result == "landed":
            verdicts.append(("tagged", None, outcome.push_id, invoice))
            result.tagged += 1
        else:
            reason = f"{done.result}: {done.message or 'no message from Xero'}"
            verdicts.append(("left", reason, outcome.push_id, invoice))
            result.reasons.append((reason, invoice["number"]))
            result.left += 1
            if done.result in ("conflict", "failed"):
                result.outcome = "partial"
    if outcome.push_id is not None:
        result.push_ids.append(outcome.push_id)
    with store.connect(db) as con, store.transaction(con):
        _record(con, verdicts, result.pass_id)


def _record(con, verdicts: list[tuple], pass_id: int) -> None:
    if verdicts:
        con.executemany(SET_VERDICT, [[state, reason, push_id, pass_id, invoice["invoice_id"]]
                                      for state, reason, push_id, invoice in verdicts])


def _summary(result: PassResult) -> str:
    """"12 new invoices: 9 tagged, 2 already right, 1 left for a person (blocked: INV-0042)", and the calls."""
    if not result.new:
        return f"No new invoices · {result.api_calls:,} Xero calls."
    parts = [f"{result.tagged} tagged"]
    if result.right:
        parts.append(f"{result.right} already right")
    if result.left:
        parts.append(f"{result.left} left for a person ({_reasons(result.reasons)})")
    if result.waiting:
        parts.append(f"{result.waiting} waiting for the next pass ({result.why_waiting})")
    return (f"{result.new} new invoice{'s' if result.new != 1 else ''}: {', '.join(parts)} · "
            f"{result.api_calls:,} Xero calls.")


def _reasons(reasons: list[tuple[str, str]]) -> str:
    """Reasons grouped by kind (the text before the colon), each with a few invoice numbers."""
    kinds: dict[str, list[str]] = {}
    for reason, number in reasons:
        kinds.setdefault(reason.split(":")[0], []).append(number)
    return "; ".join(f"{kind}: {', '.join(numbers[:LISTED])}" + (f" and {len(numbers) - LISTED} more"
                                                               if len(numbers) > LISTED else "")
                     for kind, numbers in kinds.items())


# --- the loop -----------------------------------------------------------------------------------

def run_every(seconds: float, gw_factory: Callable[[], object], *, stop: threading.Event,
              report: Callable[[PassResult], None], db: Path | None = None) -> int:
    """Passes every `seconds` (start to start) until `stop` is set; the exit code of the last pass.

    The next pass's time is written on the latest pass, for the Overview, and cleared on the way out."""
    code = 0
    try:
        while not stop.is_set():
            began = datetime.now(UTC)
            result = run_pass(gw_factory, db=db, stop=stop.is_set)
            if result.outcome != "off":
                code = result.exit_code
            wait = max(0.0, seconds - (datetime.now(UTC) - began).total_seconds())
            _set_next(db, _now() + timedelta(seconds=wait))
            report(result)
            stop.wait(wait)
    finally:
        _set_next(db, None)
    return code


def _set_next(db: Path | None, moment: datetime | None) -> None:
    try:
        with store.connect(db) as con, store.transaction(con):
            con.execute(SET_NEXT, [moment]) if moment else con.execute(CLEAR_NEXT)
    except store.DatabaseBusy:
        pass  # only the Overview's "next pass" line: the next pass writes it again


def parse_interval(text: str) -> float:
    """"5m", "90s", "1h" or a number of seconds → seconds (ValueError for anything else or below 1 s)."""
    units = {"s": 1, "m": 60, "h": 3600}
    text = text.strip().lower()
    number, unit = (text[:-1], units[text[-1]]) if text and text[-1] in units else (text, 1)
    seconds = float(number) * unit
    if not math.isfinite(seconds) or seconds < 1:
        raise ValueError(f"not an interval of at least 1 s: {text!r}")
    return seconds


# --- what it did, for people -------------------------------------------------------------------

def status(con: duckdb.DuckDBPyConnection) -> Status:
    row = con.execute(LAST_PASS).fetchone()
    names = ("pass_id", "started_at", "finished_at", "outcome", "new_invoices", "tagged", "already_right",
             "left_for_person", "api_calls", "summary", "next_pass_at")
    return Status(policy(con), _calls_today(con, _now()), dict(zip(names, row)) if row else None)


def decided(con: duckdb.DuckDBPyConnection, state: str, limit: int = 100):
    """The latest invoices autopilot `tagged`, or `left` for a person (with why), as a table (HEADERS names
    its columns for people)."""
    return con.execute(DECIDED, {"state": state, "limit": limit}).df()


def needs_attention(con: duckdb.DuckDBPyConnection):
    """Invoices autopilot tagged that the rules now want changed: a person changed their tracking in
    Xero, or set a line override here (or the rules changed); autopilot leaves them to a person."""
    return con.execute(NEEDS_ATTENTION).df()


def _calls_today(con, now: datetime) -> int:
    return con.execute(CALLS_SINCE, [now.replace(hour=0, minute=0, second=0, microsecond=0)]).fetchone()[0]




def _listing(statuses) -> str:
    statuses = list(statuses)
    return statuses[0] if len(statuses) == 1 else ", ".join(statuses[:-1]) + " and " + statuses[-1]


def _now() -> datetime:
    """UTC, naive: how the database stores moments."""
    return datetime.now(UTC).replace(tzinfo=None)
