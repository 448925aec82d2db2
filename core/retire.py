"""Retire a tracking option: every setting that names it names its successor instead.

The case: "Partner F left; her clients and open invoices go to Partner A". In the retired option's
slot, the clients' option, the services' and team members' TC2 (slot 2) and the line overrides
that name it take the successor, through core/edits.py's own edits (their checks, one change-log
row per change, the rules refreshed), all in one transaction. A line that carries the old option
in Xero with no setting deciding its slot (tagged by hand) gets a line override to the successor,
so that no open invoice keeps the old option after the next push.

Replacing one option by another in every setting turns each line's wanted old option into the
successor and leaves every other verdict as it was, so what would change can be told from the
rules as they stand: a dry run writes nothing. Lines of locked invoices (paid, voided, credited,
allocated credit notes) that carry the old option then want a change that only Xero's Find &
Recode can make; they are listed in the Push page's locked-lines worklist.
"""
from contextlib import nullcontext
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from core import access, catalog, edits, store
from core.push_words import plural
from core.catalog import InvalidChange, quote
from core.edits import Change, Edit

SOURCE = "retire:{old} → {new}"  # the change log's source, read by core/history.py
ENTITY_NOUNS = {"client": "client", "service": "service", "team_member": "team member", "line": "line override"}

# The settings naming an option in a slot ({slot} is 1 or 2); services and team members only hold a TC2.
CLIENTS_NAMING = "SELECT contact_id FROM client_settings WHERE tc{slot}_option_id = $option ORDER BY contact_id"
SERVICES_NAMING = "SELECT item_code FROM services WHERE tc2_option_id = $option ORDER BY item_code"
MEMBERS_NAMING = "SELECT member_id FROM team_members WHERE tc2_option_id = $option ORDER BY member_id"
OVERRIDES_NAMING = """
SELECT line_id FROM line_overrides WHERE tc{slot}_override AND tc{slot}_option_id = $option ORDER BY line_id
"""
# Lines carrying the option in Xero whose slot no setting decides (the push would leave the option there).
UNDECIDED_CARRYING = """
SELECT line_id FROM line_rules WHERE tc{slot}_current_option_id = $option AND NOT tc{slot}_apply ORDER BY line_id
"""
CARRYING = """
SELECT count(*) FILTER (status <> 'locked') AS open_lines,
       count(*) FILTER (status = 'locked') AS locked_lines,
       count(DISTINCT invoice_id) FILTER (status = 'locked') AS locked_invoices
FROM line_rules WHERE tc{slot}_current_option_id = $option
"""


@dataclass
class Retirement:
    """What retiring `old` into `new` in a slot changes (or, dry run, would change)."""
    slot: int
    old: str
    new: str
    dry_run: bool
    changes: list[Change] = field(default_factory=list)
    open_lines: int = 0       # lines of editable invoices carrying the old option: the Preview shows their change
    locked_lines: int = 0     # lines of locked invoices carrying it: the Find & Recode worklist
    locked_invoices: int = 0

    def counts(self) -> dict[str, int]:
        """Changed settings by kind, e.g. {"client": 12, "line override": 3}."""
        counted: dict[str, int] = {}
        for change in self.changes:
            noun = ENTITY_NOUNS.get(change.entity, change.entity)
            counted[noun] = counted.get(noun, 0) + 1
        return counted

    def changes_table(self) -> pd.DataFrame:
        """The changes as the page lists them: what, its name, the field, old → new."""
        return pd.DataFrame([(ENTITY_NOUNS.get(c.entity, c.entity), c.name, c.old or catalog.NONE_CHOICE,
                              c.new or catalog.NONE_CHOICE) for c in self.changes],
                            columns=["Setting", "Name", "Old", "New"])

    def summary(self) -> list[str]:
        """The outcome in a few sentences: the settings, the open invoices, the locked ones."""
        verb = "would" if self.dry_run else "will"
        settings_changed = ", ".join(plural(n, noun) for noun, n in self.counts().items())
        lines = [f"{'Would replace' if self.dry_run else 'Replaced'} {quote(self.old)} by {quote(self.new)} in "
                 f"{settings_changed}." if self.changes else f"No setting names {quote(self.old)}."]
        if self.open_lines:
            lines.append(f"{plural(self.open_lines, 'line')} of open invoices carry {quote(self.old)}: the Preview "
                         f"{'would show' if self.dry_run else 'shows'} their change, which a push sends to Xero.")
        if self.locked_lines:
            lines.append(f"{plural(self.locked_lines, 'line')} on {plural(self.locked_invoices, 'locked invoice')} "
                         f"carry {quote(self.old)} and {verb} want {quote(self.new)}, which Xero's API cannot "
                         "write: they are in the Find & Recode worklist (Push page, Locked invoices, "
                         "\"Download the locked lines\").")
        if self.dry_run:
            lines.append("Dry run: nothing was changed.")
        return lines


def choices(con: duckdb.DuckDBPyConnection, slot: int) -> tuple[list[str], list[str]]:
    """The options of the slot's category that can be retired (archived ones too) and those that can take
    their place (the active ones), by name."""
    cat = catalog.read(con)
    retirable = sorted((name for category, name, _ in cat.options.values() if category == cat.slots[slot]),
                       key=str.lower)
    return retirable, list(cat.active_options(slot))


def retire_option(con: duckdb.DuckDBPyConnection, slot: int, old_name: str, new_name: str, *, by: access.Actor,
                  dry_run: bool = False) -> Retirement:
    """Replace the option `old_name` of the slot's category by `new_name` in every setting, in one transaction.

    InvalidChange, in plain words, for an unknown option, a successor that is archived or of the other
    category, or an option retired into itself."""
    access.require(by, access.Permission.EDIT)
    if slot not in catalog.SLOT_LABELS:
        raise InvalidChange(f"There is no slot {slot}: choose slot 1 or 2.")
    cat = catalog.read(con)
    old, new = _options(cat, slot, old_name, new_name)
    retirement = Retirement(slot, cat.option_name(old), cat.option_name(new), dry_run)
    edits = _edits(con, slot, old, new)
    carrying = con.execute(CARRYING.format(slot=slot), {"option": old}).fetchone()
    retirement.open_lines, retirement.locked_lines, retirement.locked_invoices = carrying
    source = SOURCE.format(old=retirement.old, new=retirement.new)
    with nullcontext() if dry_run or not edits else store.transaction(con):
        for apply, entity_edits in edits.items():
            outcome = apply(con, entity_edits, by=by, source=source, dry_run=dry_run)
            if outcome.rejections:  # the successor was checked above: only a setting changed meanwhile
                raise InvalidChange(f"Nothing was retired: {outcome.rejections[0].message}")
            retirement.changes += outcome.changes
    return retirement


def _options(cat: catalog.Catalog, slot: int, old_name: str, new_name: str) -> tuple[str, str]:
    """The ids of the option retired (of the slot's category, active or not) and of its successor (active)."""
    old = cat.option_id(slot, old_name)
    if old is None:
        raise InvalidChange("Name the option to retire.")
    if cat.options[old][0] != cat.slots[slot]:
        try:
            cat.check_option(slot, old)
        except InvalidChange as e:
            raise InvalidChange(f"Cannot retire {quote(old_name.strip())}: {e}") from None
    new = cat.option_id(slot, new_name)
    if new is None:
        raise InvalidChange(f"Name the option that takes the place of {quote(cat.option_name(old))}.")
    if new == old:
        raise InvalidChange(f"{quote(cat.option_name(old))} cannot be retired into itself: choose another option "
                            "to take its place.")
    try:
        cat.check_option(slot, new)
    except InvalidChange as e:
        raise InvalidChange(f"{quote(cat.option_name(new))} cannot take the place of {quote(cat.option_name(old))}: "
                            f"{e}") from None
    return old, new


def _edits(con: duckdb.DuckDBPyConnection, slot: int, old: str, new: str) -> dict:
    """The settings edits of the retirement, by the core/edits.py function that applies them."""
    named = {"option": old}
    clients = [Edit(contact_id, {f"tc{slot}_option_id": new})
               for (contact_id,) in con.execute(CLIENTS_NAMING.format(slot=slot), named).fetchall()]
    lines = [Edit(line_id, {f"tc{slot}": new}) for line_id in sorted(
        line_id for sql in (OVERRIDES_NAMING, UNDECIDED_CARRYING)
        for (line_id,) in con.execute(sql.format(slot=slot), named).fetchall())]
    by_apply = {edits.apply_client_edits: clients, edits.apply_line_edits: lines}
    if slot == 2:
        by_apply[edits.apply_service_edits] = [
            Edit(code, {"tc2_option_id": new}) for (code,) in con.execute(SERVICES_NAMING, named).fetchall()]
        by_apply[edits.apply_team_edits] = [
            Edit(member_id, {"tc2_option_id": new}) for (member_id,) in con.execute(MEMBERS_NAMING, named).fetchall()]
    return {apply: entity_edits for apply, entity_edits in by_apply.items() if entity_edits}
