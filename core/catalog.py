"""What edits are checked against: the slot map, the tracking categories and options, the team members, the
clients; the checks of text people type; and the one translation of what a person writes for a setting (an
option's or owner's name, yes or no, "none") into the value the edits store (`value_of`), used by the pages'
choices, CSV import and the command line alike.

Keyword arguments left at `UNSET` leave a field as it is; `None` means none (clears it).
"""
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from core import slots


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self) -> str:  # pickled (e.g. by st.cache_data) as the module's own marker
        return self.name


UNSET: Any = _Marker("UNSET")              # leave the field as it is
NO_OVERRIDE: Any = _Marker("NO_OVERRIDE")  # a line slot without override: the rules decide it
NONE_CHOICE = "None"
SLOT_LABELS = {1: "Tracking Category 1", 2: "Tracking Category 2"}

# Text is held to Xero's own field lengths (its Accounting API: Contact Name 255, Item Code 30,
# TrackingOption Name 100, EmailAddress 255); a team member's name is kept as long as a contact's, a
# line's note as long as a line's Description (4000).
CONTACT_NAME_MAX, ITEM_CODE_MAX, OPTION_NAME_MAX, EMAIL_MAX, NOTE_MAX = 255, 30, 100, 255, 4000
MEMBER_NAME_MAX = CONTACT_NAME_MAX
# Control characters, and the bidirectional overrides and isolates that can make a name read as another.
UNSAFE_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
QUOTE_MAX = 80


class InvalidChange(Exception):
    """An edit that cannot be made; the message names what is wrong, in plain words."""


def quote(value: Any) -> str:
    """A value as a message shows it: quoted, escaped, at most its first 80 characters."""
    return repr(shorten(str(value)))


def shorten(text: str) -> str:
    """At most the first 80 characters of `text`, with "…" when it was longer."""
    return text if len(text) <= QUOTE_MAX else text[:QUOTE_MAX] + "…"


def check_text(label: str, value: str, limit: int) -> str:
    """`value` when it fits in `limit` characters and holds no control character or bidirectional override;
    the one check of text people type, on the pages, the command line and in CSV files."""
    if len(value) > limit:
        raise InvalidChange(f"{label} is {len(value):,} characters long; at most {limit:,} fit: {quote(value)}.")
    if unsafe := UNSAFE_CHARACTER.search(value):
        kind = "a control character" if unsafe.group() < "\u202a" else "a bidirectional override"
        raise InvalidChange(f"{label} holds {kind} (U+{ord(unsafe.group()):04X}), which can disguise text; remove "
                            f"it: {quote(value)}.")
    return value


# --- the slot map and the options -------------------------------------------------------------

CATEGORIES = "SELECT category_id, name, status FROM tracking_categories"
OPTIONS = "SELECT option_id, category_id, name, status FROM tracking_options"
MEMBERS = "SELECT member_id, name FROM team_members"


@dataclass
class Catalog:
    """What edits are checked against: the slot map, categories, options and team members.

    Names are looked up through indexes by folded name, so checking a file of N rows takes N lookups."""
    slots: dict[int, str | None]
    categories: dict[str, tuple[str, str]]        # category id → (name, status)
    options: dict[str, tuple[str, str, str]]      # option id → (category id, name, status)
    members: dict[int, str]                       # member id → name

    def __post_init__(self) -> None:
        self._options_named: dict[str, list[str]] = {}
        for option_id, (_, name, _) in self.options.items():
            self._options_named.setdefault(name.lower(), []).append(option_id)
        self._members_named: dict[str, int] = {}
        for member_id, name in self.members.items():
            self._members_named.setdefault(name.lower(), member_id)

    def set_member(self, member_id: int, name: str) -> None:
        """Record a member's new or changed name (an edit checked after it sees it)."""
        old = self.members.get(member_id)
        if old is not None and self._members_named.get(old.lower()) == member_id:
            del self._members_named[old.lower()]
        self.members[member_id] = name
        self._members_named.setdefault(name.lower(), member_id)

    def member_named(self, name: str) -> int | None:
        """The id of the member with this name (case forgiven), or None."""
        return self._members_named.get(name.strip().lower())

    def slot_name(self, slot: int) -> str:
        category = self.categories.get(self.slots[slot] or "")
        return f"{SLOT_LABELS[slot]} ({category[0]})" if category else SLOT_LABELS[slot]

    def active_options(self, slot: int) -> dict[str, str]:
        """Name → option id of the active options of the slot's category."""
        category = self.slots[slot]
        active = [(name, option_id) for option_id, (cat, name, status) in self.options.items()
                  if cat == category and status == "ACTIVE"]
        return dict(sorted(active, key=lambda option: option[0].lower()))

    def check_option(self, slot: int, option_id: str | None) -> str | None:
        if option_id is None:
            return None
        category_id = self.slots[slot]
        category = self.categories.get(category_id or "")
        if category is None:
            raise InvalidChange(f"{SLOT_LABELS[slot]} is not mapped to a Xero tracking category; "
                                "choose one on the Settings page.")
        if category[1] != "ACTIVE":
            raise InvalidChange(f"{self.slot_name(slot)} is {category[1].lower()} in Xero; "
                                "map an active category on the Settings page.")
        if option_id not in self.options:
            raise InvalidChange(f"There is no tracking option with ID {quote(option_id)} in Xero.")
        option_category, name, status = self.options[option_id]
        if option_category != category_id:
            other = self.categories.get(option_category, ("another category",))[0]
            raise InvalidChange(f"{quote(name)} is an option of {quote(other)}, not of {self.slot_name(slot)}.")
        if status != "ACTIVE":
            raise InvalidChange(f"{quote(name)} is {status.lower()} in {quote(category[0])}; choose an active option.")
        return option_id

    def check_member(self, member_id: int | None) -> int | None:
        if member_id is None:
            return None
        if member_id not in self.members:
            raise InvalidChange(f"There is no team member with ID {member_id}.")
        return int(member_id)

    def option_name(self, option_id: str | None) -> str | None:
        return None if option_id is None else self.options.get(option_id, (None, option_id))[1]

    def member_name(self, member_id: int | None) -> str | None:
        return None if member_id is None else self.members.get(member_id, str(member_id))

    def option_id(self, slot: int, name: str | None) -> str | None:
        """The option called `name` for this slot ("None" or blank: none). An option of that name
        in another category or archived is returned too, so that the check names the problem."""
        if blank(name) or name.strip().lower() == NONE_CHOICE.lower():
            return None
        matches = [(self.options[option_id][0] != self.slots[slot], self.options[option_id][2] != "ACTIVE", option_id)
                   for option_id in self._options_named.get(name.strip().lower(), [])]
        if not matches:
            category = self.categories.get(self.slots[slot] or "", (SLOT_LABELS[slot],))[0]
            raise InvalidChange(f"There is no option called {quote(name.strip())} in {quote(category)}.")
        return min(matches)[2]

    def member_id(self, name: str | None) -> int | None:
        """The team member called `name` ("None" or blank: none)."""
        if blank(name) or name.strip().lower() == NONE_CHOICE.lower():
            return None
        member_id = self.member_named(name)
        if member_id is None:
            raise InvalidChange(f"There is no team member called {quote(name.strip())}.")
        return member_id


def read(con: duckdb.DuckDBPyConnection) -> Catalog:
    return Catalog(
        slots=slots.current(con),
        categories={c: (name, status) for c, name, status in con.execute(CATEGORIES).fetchall()},
        options={o: (c, name, status) for o, c, name, status in con.execute(OPTIONS).fetchall()},
        members=dict(con.execute(MEMBERS).fetchall()),
    )


def blank(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value is None or bool(pd.isna(value))


CLIENTS_NAMED = "SELECT contact_id, name FROM contacts WHERE contact_id = ? OR lower(name) = lower(?) ORDER BY name"


def find_client(con: duckdb.DuckDBPyConnection, name_or_id: str) -> str:
    """The contact ID of the client with this contact ID, or else this name (case forgiven)."""
    wanted = name_or_id.strip()
    found = con.execute(CLIENTS_NAMED, [wanted, wanted]).fetchall()
    by_id = [contact_id for contact_id, _ in found if contact_id == wanted]
    if by_id:
        return by_id[0]
    if not found:
        raise InvalidChange(f"There is no client called {quote(wanted)} (nor with that contact ID).")
    if len(found) > 1:
        raise InvalidChange(f"{len(found)} clients are called {quote(wanted)}; give the contact ID instead: "
                            + ", ".join(contact_id for contact_id, _ in found) + ".")
    return found[0][0]


# --- what people write → the values the edits take ---------------------------------------------

YES, NO = {"yes", "y", "true", "1"}, {"no", "n", "false", "0", ""}


def _yes_no(_: Catalog, text: str) -> bool:
    if text.strip().casefold() in YES | NO:
        return text.strip().casefold() in YES
    raise InvalidChange(f"{quote(text)} is not yes or no.")


def _text(_: Catalog, text: str) -> str | None:
    return None if blank(text) or text.strip().lower() == NONE_CHOICE.lower() else text.strip()


# Each field of core/edits.py's edits, from the text a person gives for it: an owner or an option by name (in its
# slot's category; "None" or blank: none), yes or no, an email ("None" or blank: none). A line's override "None" is
# an explicit None, which clears the slot in Xero.
NAMED: dict[str, Callable[[Catalog, str], Any]] = {
    "owner_id": lambda cat, text: cat.member_id(text),
    "tc1_option_id": lambda cat, text: cat.option_id(1, text),
    "tc2_option_id": lambda cat, text: cat.option_id(2, text),
    "tc1": lambda cat, text: cat.option_id(1, text), "tc2": lambda cat, text: cat.option_id(2, text),
    "consolidate": _yes_no, "alignment_fee": _yes_no,
    "email": _text,
}


def value_of(cat: Catalog, field: str, text: str) -> Any:
    """The value of an edit's `field` from the text a person gave for it (a CSV cell, a command-line argument);
    InvalidChange, in plain words, for a name that is not there or a yes/no that is neither."""
    return NAMED[field](cat, text)
