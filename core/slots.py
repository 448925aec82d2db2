"""The slot map: which Xero tracking category is Tracking Category 1 and which is 2.

Xero allows two ACTIVE categories; the app labels them 1 and 2 everywhere. Until someone saves a
map, the slots are Xero's first two active categories in Xero's order (as the rules read them).
"""
from dataclasses import dataclass

import duckdb

from core import access, rules, store

SLOTS = (1, 2)

CATEGORIES = """
SELECT C.category_id, C.name, C.status,
       count(O.option_id) FILTER (WHERE O.status = 'ACTIVE') AS active_options
FROM tracking_categories C LEFT JOIN tracking_options O USING (category_id)
GROUP BY C.category_id, C.name, C.status, C.position
ORDER BY C.position, C.category_id
"""
SAVED = "SELECT slot, category_id FROM slots ORDER BY slot"
SYNCED_CATEGORIES = "SELECT count(*) > 0 FROM sync_state WHERE entity = 'tracking_categories'"
UPSERT = "INSERT OR REPLACE INTO slots (slot, category_id) VALUES (?, ?)"
LOG_CHANGE = """
INSERT INTO change_log (changed_by, source, entity, entity_id, field, old_value, new_value)
VALUES (?, ?, 'slot', ?, 'Tracking category', ?, ?)
"""

SYNC_HINT = "If you changed tracking categories in Xero recently, sync to see the change here."
XERO_WHERE = "In Xero: Accounting → Advanced → Tracking categories."


class InvalidSlots(Exception):
    """The chosen slot map cannot be used; the message says why in plain words."""


@dataclass(frozen=True)
class Category:
    category_id: str
    name: str
    status: str
    active_options: int

    @property
    def usable(self) -> bool:
        return self.status == "ACTIVE" and self.active_options > 0


def categories(con: duckdb.DuckDBPyConnection) -> list[Category]:
    """Every tracking category synced from Xero (archived ones too), in Xero's order."""
    return [Category(*row) for row in con.execute(CATEGORIES).fetchall()]


def active_categories(con: duckdb.DuckDBPyConnection) -> list[Category]:
    return [c for c in categories(con) if c.status == "ACTIVE"]


def current(con: duckdb.DuckDBPyConnection) -> dict[int, str | None]:
    """slot → category id: the saved map, or else Xero's first two active categories."""
    saved = dict(con.execute(SAVED).fetchall())
    if saved:
        return {slot: saved.get(slot) for slot in SLOTS}
    default = [c.category_id for c in active_categories(con)][:len(SLOTS)]
    return {slot: default[i] if i < len(default) else None for i, slot in enumerate(SLOTS)}


def is_saved(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute(SAVED).fetchall())


def problems(con: duckdb.DuckDBPyConnection) -> list[str]:
    """What stops the slot map from working, in plain words; empty when all is well."""
    if not con.execute(SYNCED_CATEGORIES).fetchone()[0]:
        return ["The tracking categories have not been synced from Xero yet. Sync to read them."]
    found = categories(con)
    active = [c for c in found if c.status == "ACTIVE"]
    notes = []
    if not active:
        notes.append("Xero has no active tracking category. Add two categories with options (or "
                     f"restore archived ones), then sync. {XERO_WHERE}")
    elif len(active) == 1:
        notes.append(f"Xero has only one active tracking category, '{active[0].name}'. Tracking "
                     f"Category 2 needs a second one: add or restore one, then sync. {XERO_WHERE}")
    notes += [f"The tracking category '{c.name}' has no active options in Xero, so no line can be "
              f"assigned to it. Add options to it, then sync. {XERO_WHERE}"
              for c in active if c.active_options == 0]
    by_id = {c.category_id: c for c in found}
    for slot, category_id in current(con).items():
        category = by_id.get(category_id)
        if category_id and category is None:
            notes.append(f"Tracking Category {slot} is mapped to a category that no longer exists in "
                         "Xero (it was deleted). Choose another one below.")
        elif category and category.status != "ACTIVE":
            notes.append(f"Tracking Category {slot} is mapped to '{category.name}', which is "
                         f"{category.status.lower()} in Xero. Choose an active one below.")
    return notes


def validate(con: duckdb.DuckDBPyConnection, tc1_category_id: str, tc2_category_id: str) -> None:
    """Raise InvalidSlots unless both slots name different, active categories that have options."""
    by_id = {c.category_id: c for c in categories(con)}
    if tc1_category_id == tc2_category_id:
        name = by_id[tc1_category_id].name if tc1_category_id in by_id else tc1_category_id
        raise InvalidSlots(f"Tracking Category 1 and Tracking Category 2 must be different categories; "
                           f"both are set to '{name}'.")
    for slot, category_id in zip(SLOTS, (tc1_category_id, tc2_category_id)):
        category = by_id.get(category_id)
        if category is None:
            raise InvalidSlots(f"Tracking Category {slot}: '{category_id}' is not a tracking category "
                               f"in Xero. {SYNC_HINT}")
        if category.status != "ACTIVE":
            raise InvalidSlots(f"Tracking Category {slot}: '{category.name}' is "
                               f"{category.status.lower()} in Xero; choose an active category.")
        if category.active_options == 0:
            raise InvalidSlots(f"Tracking Category {slot}: '{category.name}' has no active options in "
                               f"Xero. Add options to it in Xero, then sync.")


def save(con: duckdb.DuckDBPyConnection, tc1_category_id: str, tc2_category_id: str, *,
         by: access.Actor, source: str = "ui") -> bool:
    """Save the slot map with a change-log row per changed slot; the rules follow. False if unchanged.

    Saving the default map unchanged still writes it, so a later new category in Xero cannot shift it.
    """
    access.require(by, access.Permission.ADMINISTER)
    validate(con, tc1_category_id, tc2_category_id)
    before = current(con)
    wanted = dict(zip(SLOTS, (tc1_category_id, tc2_category_id)))
    changed = [slot for slot in SLOTS if wanted[slot] != before[slot]]
    if not changed and is_saved(con):
        return False
    name = {c.category_id: c.name for c in categories(con)}.get
    with store.transaction(con):
        for slot in SLOTS:
            con.execute(UPSERT, [slot, wanted[slot]])
        for slot in changed:
            con.execute(LOG_CHANGE, [by.who, source, str(slot), name(before[slot], before[slot]), name(wanted[slot])])
        if changed:
            rules.refresh(con)
    return bool(changed)


def category_id_named(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """The id of the category with this name (case and surrounding spaces forgiven)."""
    wanted = name.strip().casefold()
    found = [c for c in categories(con) if c.name.strip().casefold() == wanted]
    if not found:
        known = ", ".join(f"'{c.name}'" for c in active_categories(con)) or "none"
        raise InvalidSlots(f"There is no tracking category named '{name}' in Xero (active ones: {known}). "
                           f"{SYNC_HINT}")
    active = [c for c in found if c.status == "ACTIVE"]
    return (active or found)[0].category_id


def label(slot: int, name: str | None) -> str:
    """How people read a slot: "Tracking Category 2 (Department)", or "Tracking Category 2" while unmapped."""
    return f"Tracking Category {slot}" + (f" ({name})" if name else "")


def names(con: duckdb.DuckDBPyConnection) -> dict[int, str | None]:
    """slot → category name, for people."""
    by_id = {c.category_id: c.name for c in categories(con)}
    return {slot: by_id.get(category_id, category_id) for slot, category_id in current(con).items()}
