"""Edits of the rules' inputs: clients, services, team members and single lines, with an audit log.

Every edit goes the same way: check it against the current rows (core/catalog.py), write the new rows and
one `change_log` row per changed field (values as people read them: option and owner names), and recompute
the rules for the lines it touches.

The `apply_*` functions take many edits at once and return an `Outcome` (what changed, which
edits were rejected and why), so a page's Save or a CSV import of 10,000 rows is one
transaction that applies the valid edits; with `dry_run=True` they only say what would change.
The single-edit functions (`set_client`, …) raise `InvalidChange` instead.

Every function that writes takes a connection already in the caller's transaction
(`with store.transaction(con): …`), so the edits, their log and the rules change together or not at all.

Keyword arguments left at `UNSET` leave the field as it is; `None` means none (clears it).
"""
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa

from core import access, rules, store
from core.catalog import (EMAIL_MAX, MEMBER_NAME_MAX, NONE_CHOICE, NO_OVERRIDE, NOTE_MAX, UNSET, Catalog,
                          InvalidChange, blank, check_text, quote)
from core.catalog import read as catalog

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


# Edits, changes and rejections are named tuples: a file of 200,000 rows makes a million of them, and a frozen
# dataclass takes six times as long to make.
class Edit(NamedTuple):
    """One entity's edit: `key` is its id (contact ID, item code, member id, line ID; None adds a
    team member); `fields` maps field names to new values (ids, booleans, text); `row` is the
    caller's label for it in rejections, e.g. a CSV row number."""
    key: Any
    fields: dict[str, Any]
    row: Any = None


class Change(NamedTuple):
    entity: str
    entity_id: str
    name: str
    field: str
    old: str | None
    new: str | None
    row: Any = None


class Rejection(NamedTuple):
    row: Any
    key: Any
    message: str

    def __str__(self) -> str:
        return f"{self.row}: {self.message}" if self.row is not None else self.message


@dataclass
class Outcome:
    changes: list[Change] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def saved(self) -> int:
        """How many entities changed."""
        return len({(c.entity, c.entity_id) for c in self.changes})


# --- the fields of each entity ----------------------------------------------------------------

@dataclass(frozen=True)
class _Field:
    label: str                                    # the change log's field name
    check: Callable[[Catalog, Any], Any]          # the value to store, or raises InvalidChange
    show: Callable[[Catalog, Any], str | None]    # the value as people read it


def _yes_no(_: Catalog, value: Any) -> bool:
    if value in (True, False):
        return bool(value)
    raise InvalidChange(f"{quote(value)} is not yes or no.")


def _show_yes_no(_: Catalog, value: bool) -> str:
    return "yes" if value else "no"


def _option_field(slot: int) -> _Field:
    return _Field(f"tc{slot}", lambda cat, v: cat.check_option(slot, v), lambda cat, v: cat.option_name(v))


def _override_field(slot: int) -> _Field:
    def check(cat: Catalog, value: Any) -> Any:
        return NO_OVERRIDE if value is NO_OVERRIDE else cat.check_option(slot, value)

    def show(cat: Catalog, value: Any) -> str | None:
        if value is NO_OVERRIDE:
            return None
        return NONE_CHOICE if value is None else cat.option_name(value)

    return _Field(f"tc{slot}", check, show)


def _text(label: str, limit: int) -> Callable[[Catalog, Any], str | None]:
    def check(_: Catalog, value: Any) -> str | None:
        return None if blank(value) else check_text(label, str(value).strip(), limit)
    return check


def _email(_: Catalog, value: Any) -> str | None:
    if blank(value):
        return None
    value = check_text("Email", str(value).strip(), EMAIL_MAX)
    if not EMAIL.fullmatch(value):
        raise InvalidChange(f"{quote(value)} is not an email address.")
    return value


def _show(_: Catalog, value: Any) -> str | None:
    return None if value is None else str(value)


OWNER = _Field("owner", lambda cat, v: cat.check_member(v), lambda cat, v: cat.member_name(v))
CLIENT_FIELDS = {"owner_id": OWNER, "tc1_option_id": _option_field(1), "tc2_option_id": _option_field(2),
                 "consolidate": _Field("consolidate", _yes_no, _show_yes_no)}
SERVICE_FIELDS = {"tc2_option_id": _option_field(2), "alignment_fee": _Field("alignment_fee", _yes_no, _show_yes_no)}
TEAM_FIELDS = {"name": _Field("name", _text("Name", MEMBER_NAME_MAX), _show), "email": _Field("email", _email, _show),
               "tc2_option_id": _option_field(2)}
LINE_FIELDS = {"tc1": _override_field(1), "tc2": _override_field(2),
               "note": _Field("note", _text("Note", NOTE_MAX), _show)}


def _edited(cat: Catalog, fields: dict[str, _Field], current: dict[str, Any], edit: Edit) -> dict[str, Any]:
    if not edit.fields.keys() <= fields.keys():
        raise InvalidChange(f"Unknown field(s): {', '.join(sorted(edit.fields.keys() - fields.keys()))}.")
    new = dict(current)
    for name, value in edit.fields.items():
        if value is not UNSET:
            new[name] = fields[name].check(cat, value)
    return new


def _changes(cat: Catalog, entity: str, fields: dict[str, _Field], key: Any, name: str,
             old: dict[str, Any], new: dict[str, Any], row: Any) -> list[Change]:
    return [Change(entity, str(key), name, f.label, f.show(cat, old[n]), f.show(cat, new[n]), row)
            for n, f in fields.items() if old[n] != new[n]]


def _apply(cat: Catalog, entity: str, fields: dict[str, _Field], edits: Iterable[Edit],
           current: dict[Any, tuple[str, dict[str, Any]]], missing: Callable[[Any], str],
           claim: Callable[[Any, dict[str, Any]], str | None] = lambda key, row: None
           ) -> tuple[Outcome, dict[Any, dict[str, Any]]]:
    """Check the edits in order against `current` (key → (name, row)); returns the outcome and the new rows.

    `claim(key, new row)` names a problem with the row as a whole, or records it for the edits after it."""
    outcome, rows = Outcome(), {}
    for edit in edits:
        try:
            if edit.key not in current:
                raise InvalidChange(missing(edit.key))
            name, old = current[edit.key]
            new = _edited(cat, fields, old, edit)
            if problem := claim(edit.key, new):
                raise InvalidChange(problem)
        except InvalidChange as e:
            outcome.rejections.append(Rejection(edit.row, edit.key, str(e)))
            continue
        changed = _changes(cat, entity, fields, edit.key, name, old, new, edit.row)
        if changed:
            outcome.changes += changed
            current[edit.key] = (name, new)
            rows[edit.key] = new
    return outcome, rows


LOG_CHANGES = """
INSERT INTO change_log (changed_by, source, entity, entity_id, field, old_value, new_value)
SELECT ?, ?, entity, entity_id, field, old_value, new_value FROM edited_rows
"""
TEXT = pa.string()


def _log(con: duckdb.DuckDBPyConnection, changes: list[Change], by: access.Actor, source: str) -> None:
    if changes:
        _with_columns(con, {
            "entity": (TEXT, [c.entity for c in changes]), "entity_id": (TEXT, [c.entity_id for c in changes]),
            "field": (TEXT, [c.field for c in changes]), "old_value": (TEXT, [c.old for c in changes]),
            "new_value": (TEXT, [c.new for c in changes])}, LOG_CHANGES, [by.who, source])


def _with_columns(con: duckdb.DuckDBPyConnection, columns: dict[str, tuple[pa.DataType, list]], sql: str,
                  params: list | None = None) -> list[tuple]:
    """Run `sql`, which reads `columns` (name → (type, values)) as the table `edited_rows`: many rows in one
    statement. An Arrow table, because DuckDB converts a Python list bound as a parameter value by value, 20
    times slower; DuckDB finds it by its variable name (a replacement scan), as `con.register` would refuse
    while a caller's earlier result is unread."""
    edited_rows = pa.table({column: pa.array(values, type=kind) for column, (kind, values) in columns.items()})
    result = con.execute(sql, params or []).fetchall()
    del edited_rows
    return result


def _keys(con: duckdb.DuckDBPyConnection, sql: str, edits: list[Edit]) -> list[tuple]:
    """`sql`'s rows for the edits' keys, seen as the table `edited_rows` (column `key`)."""
    return _with_columns(con, {"key": (TEXT, [str(e.key) for e in edits])}, sql)


def _columns(key: str, rows: dict[Any, dict[str, Any]], types: dict[str, pa.DataType], key_type: pa.DataType = TEXT
             ) -> dict[str, tuple[pa.DataType, list]]:
    """The rows (key → field → value) as `_with_columns` takes them, the keys in column `key`."""
    values = list(rows.values())
    return {key: (key_type, list(rows)), **{field: (kind, [row[field] for row in values]) for field, kind in types.items()}}


def _single(outcome: Outcome) -> list[Change]:
    if outcome.rejections:
        raise InvalidChange(outcome.rejections[0].message)
    return outcome.changes


def _given(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not UNSET}


# --- reading, checking and writing many edits ---------------------------------------------------
# An import reads the settings in one short visit, checks its edits without holding the database, and
# opens it again only for the write: `read_edits`, `check_edits`, `write_edits`. The pages and the
# command line do the three at once: `apply_edits`.

@dataclass
class Snapshot:
    """The settings edits of one entity are checked against, as read at `version` of the database."""
    entity: str
    edits: list[Edit]
    version: int
    catalog: Catalog
    current: dict[Any, tuple[str, dict[str, Any]]]   # key → (name, row)


@dataclass
class Checked:
    """Edits checked against a snapshot: what would change and what is rejected, and the new rows."""
    snapshot: Snapshot
    outcome: Outcome
    rows: dict[Any, dict[str, Any]]


def read_edits(con: duckdb.DuckDBPyConnection, entity: str, edits: Iterable[Edit]) -> Snapshot:
    edits = list(edits)
    return Snapshot(entity, edits, store.data_version(con), catalog(con), ENTITIES[entity].read(con, edits))


def check_edits(snapshot: Snapshot) -> Checked:
    """Pure: needs no database."""
    return Checked(snapshot, *ENTITIES[snapshot.entity].check(snapshot))


def write_edits(con: duckdb.DuckDBPyConnection, checked: Checked, *, by: access.Actor, source: str) -> Outcome:
    """Write what `check_edits` found, with its change log and the rules, in the caller's transaction; when the
    database changed since the snapshot was read, the edits are read and checked again in it first."""
    access.require(by, access.Permission.EDIT)
    if store.data_version(con) != checked.snapshot.version:
        checked = check_edits(read_edits(con, checked.snapshot.entity, checked.snapshot.edits))
    if checked.rows:
        checked.outcome.changes = ENTITIES[checked.snapshot.entity].write(con, checked)
        _log(con, checked.outcome.changes, by, source)
    return checked.outcome


def apply_edits(con: duckdb.DuckDBPyConnection, entity: str, edits: Iterable[Edit], *, by: access.Actor,
                source: str = "ui", dry_run: bool = False) -> Outcome:
    """Check the edits of an entity ("client", "service", "team_member") and, unless `dry_run`, write them."""
    access.require(by, access.Permission.EDIT)
    checked = check_edits(read_edits(con, entity, edits))
    if dry_run or not checked.rows:
        return checked.outcome
    return write_edits(con, checked, by=by, source=source)


# --- clients ----------------------------------------------------------------------------------

CLIENTS_CURRENT = """
SELECT c.contact_id, c.name, s.owner_id, s.tc1_option_id, s.tc2_option_id, coalesce(s.consolidate, false)
FROM contacts c LEFT JOIN client_settings s USING (contact_id)
WHERE c.contact_id IN (SELECT key FROM edited_rows)
"""
CLIENTS_UPSERT = """
INSERT OR REPLACE INTO client_settings (contact_id, owner_id, tc1_option_id, tc2_option_id, consolidate)
SELECT contact_id, owner_id, tc1_option_id, tc2_option_id, consolidate FROM edited_rows
"""
CLIENT_TYPES = {"owner_id": pa.int32(), "tc1_option_id": TEXT, "tc2_option_id": TEXT, "consolidate": pa.bool_()}


def apply_client_edits(con: duckdb.DuckDBPyConnection, edits: Iterable[Edit], *, by: access.Actor, source: str = "ui",
                       dry_run: bool = False) -> Outcome:
    """Edits keyed by contact ID with fields owner_id, tc1_option_id, tc2_option_id, consolidate."""
    return apply_edits(con, "client", edits, by=by, source=source, dry_run=dry_run)


def _read_clients(con: duckdb.DuckDBPyConnection, edits: list[Edit]) -> dict[Any, tuple[str, dict[str, Any]]]:
    return {contact_id: (name, {"owner_id": owner, "tc1_option_id": tc1, "tc2_option_id": tc2, "consolidate": cons})
            for contact_id, name, owner, tc1, tc2, cons in _keys(con, CLIENTS_CURRENT, edits)}


def set_client(con: duckdb.DuckDBPyConnection, contact_id: str, *, by: access.Actor, source: str = "ui",
               owner_id: Any = UNSET, tc1_option_id: Any = UNSET, tc2_option_id: Any = UNSET,
               consolidate: Any = UNSET) -> list[Change]:
    fields = _given(owner_id=owner_id, tc1_option_id=tc1_option_id, tc2_option_id=tc2_option_id,
                    consolidate=consolidate)
    return _single(apply_client_edits(con, [Edit(contact_id, fields)], by=by, source=source))


# --- services ---------------------------------------------------------------------------------

SERVICES_CURRENT = """
SELECT i.code, coalesce(i.name, i.code), s.tc2_option_id, coalesce(s.alignment_fee, false)
FROM (SELECT code, min(name) AS name FROM items GROUP BY code) i
LEFT JOIN services s ON s.item_code = i.code
WHERE i.code IN (SELECT key FROM edited_rows)
"""
SERVICES_UPSERT = """
INSERT OR REPLACE INTO services (item_code, tc2_option_id, alignment_fee)
SELECT item_code, tc2_option_id, alignment_fee FROM edited_rows
"""
SERVICE_TYPES = {"tc2_option_id": TEXT, "alignment_fee": pa.bool_()}


def apply_service_edits(con: duckdb.DuckDBPyConnection, edits: Iterable[Edit], *, by: access.Actor, source: str = "ui",
                        dry_run: bool = False) -> Outcome:
    """Edits keyed by item code with fields tc2_option_id, alignment_fee; a service row is created when needed."""
    return apply_edits(con, "service", edits, by=by, source=source, dry_run=dry_run)


def _read_services(con: duckdb.DuckDBPyConnection, edits: list[Edit]) -> dict[Any, tuple[str, dict[str, Any]]]:
    return {code: (name, {"tc2_option_id": tc2, "alignment_fee": fee})
            for code, name, tc2, fee in _keys(con, SERVICES_CURRENT, edits)}


def set_service(con: duckdb.DuckDBPyConnection, item_code: str, *, by: access.Actor, source: str = "ui",
                tc2_option_id: Any = UNSET, alignment_fee: Any = UNSET) -> list[Change]:
    fields = _given(tc2_option_id=tc2_option_id, alignment_fee=alignment_fee)
    return _single(apply_service_edits(con, [Edit(item_code, fields)], by=by, source=source))


# --- team members -----------------------------------------------------------------------------

TEAM_CURRENT = "SELECT member_id, name, email, tc2_option_id FROM team_members"
TEAM_INSERT = """
INSERT INTO team_members (name, email, tc2_option_id) SELECT name, email, tc2_option_id FROM edited_rows
RETURNING name, member_id
"""
TEAM_UPDATE = """
UPDATE team_members SET name = edited.name, email = edited.email, tc2_option_id = edited.tc2_option_id
FROM edited_rows edited WHERE team_members.member_id = edited.member_id
"""
TEAM_TYPES = {"name": TEXT, "email": TEXT, "tc2_option_id": TEXT}
TEAM_DELETE = "DELETE FROM team_members WHERE member_id = ?"
OWNED_CLIENTS = """
SELECT coalesce(c.name, s.contact_id) FROM client_settings s LEFT JOIN contacts c USING (contact_id)
WHERE s.owner_id = ? ORDER BY 1
"""
NEW_MEMBER = {"name": None, "email": None, "tc2_option_id": None}


def apply_team_edits(con: duckdb.DuckDBPyConnection, edits: Iterable[Edit], *, by: access.Actor, source: str = "ui",
                     dry_run: bool = False) -> Outcome:
    """Edits keyed by member id with fields name, email, tc2_option_id; key None adds a member."""
    return apply_edits(con, "team_member", edits, by=by, source=source, dry_run=dry_run)


def _read_team(con: duckdb.DuckDBPyConnection, _: list[Edit]) -> dict[Any, tuple[str, dict[str, Any]]]:
    return {member_id: (name, {"name": name, "email": email, "tc2_option_id": tc2})
            for member_id, name, email, tc2 in con.execute(TEAM_CURRENT).fetchall()}


def _check_team(snapshot: "Snapshot") -> tuple[Outcome, dict]:
    cat, current, keyed = snapshot.catalog, snapshot.current, []
    for number, edit in enumerate(snapshot.edits, start=1):
        if edit.key is None:  # a new member's stand-in id until it is written
            edit = Edit(-number, edit.fields, edit.row)
            current[edit.key] = ("" if blank(name := edit.fields.get("name")) else str(name).strip(), NEW_MEMBER)
        keyed.append(edit)

    def claim(key: int, row: dict[str, Any]) -> str | None:
        problem = _name_problem(cat, key, row)
        if problem is None:
            cat.set_member(key, row["name"])
        return problem

    outcome, rows = _apply(cat, "team_member", TEAM_FIELDS, keyed, current,
                           lambda k: f"There is no team member with ID {k}.", claim)
    outcome.rejections = [Rejection(r.row, None, r.message) if r.key < 0 else r for r in outcome.rejections]
    return outcome, rows


def _write_team(con: duckdb.DuckDBPyConnection, checked: "Checked") -> list[Change]:
    """Writes the members and returns the changes with the new members' ids in place of their stand-ins."""
    ids = {str(key): str(member_id) for key, member_id in _write_members(con, checked.rows).items() if key < 0}
    changes = [Change(c.entity, ids[c.entity_id], c.name, c.field, c.old, c.new, c.row) if c.entity_id in ids else c
               for c in checked.outcome.changes]
    rules.refresh_for(con, member_ids=[key if key > 0 else int(ids[str(key)]) for key in checked.rows])
    return changes


def _name_problem(cat: Catalog, key: int, row: dict[str, Any]) -> str | None:
    if row["name"] is None:
        return "A team member needs a name."
    if cat.member_named(row["name"]) not in (None, key):
        return f"There is already a team member called {quote(row['name'])}."
    return None


def _write_members(con: duckdb.DuckDBPyConnection, rows: dict[int, dict[str, Any]]) -> dict[int, int]:
    """Update the members edited and insert the new ones (negative keys), one statement each; key → member id."""
    edited = {key: row for key, row in rows.items() if key > 0}
    added = {key: row for key, row in rows.items() if key < 0}
    if edited:
        _with_columns(con, _columns("member_id", edited, TEAM_TYPES, key_type=pa.int32()),
                      TEAM_UPDATE)
    ids = {key: key for key in edited}
    if added:
        named = dict(_with_columns(con, _columns("member_id", added, TEAM_TYPES, key_type=pa.int32()), TEAM_INSERT))
        ids.update({key: named[row["name"]] for key, row in added.items()})
    return ids


@dataclass(frozen=True)
class _Entity:
    read: Callable[[duckdb.DuckDBPyConnection, list[Edit]], dict[Any, tuple[str, dict[str, Any]]]]
    check: Callable[[Snapshot], tuple[Outcome, dict[Any, dict[str, Any]]]]
    write: Callable[[duckdb.DuckDBPyConnection, Checked], list[Change]]  # the rows and the rules; the changes


def _check_fields(entity: str, fields: dict[str, _Field], missing: Callable[[Any], str]
                  ) -> Callable[[Snapshot], tuple[Outcome, dict[Any, dict[str, Any]]]]:
    return lambda snapshot: _apply(snapshot.catalog, entity, fields, snapshot.edits, snapshot.current, missing)


def _upsert(key: str, types: dict[str, pa.DataType], sql: str, scope: str
            ) -> Callable[[duckdb.DuckDBPyConnection, Checked], list[Change]]:
    """Write the rows in one statement and refresh the rules of the lines they touch (`rules.refresh_for`'s
    `scope`, the rows' keys)."""
    def write(con: duckdb.DuckDBPyConnection, checked: Checked) -> list[Change]:
        _with_columns(con, _columns(key, checked.rows, types), sql)
        rules.refresh_for(con, **{scope: list(checked.rows)})
        return checked.outcome.changes
    return write


ENTITIES = {"client": _Entity(_read_clients,
                              _check_fields("client", CLIENT_FIELDS, lambda k: f"There is no client with contact ID {quote(k)}."),
                              _upsert("contact_id", CLIENT_TYPES, CLIENTS_UPSERT, "contact_ids")),
            "service": _Entity(_read_services,
                               _check_fields("service", SERVICE_FIELDS, lambda k: f"There is no item with code {quote(k)}."),
                               _upsert("item_code", SERVICE_TYPES, SERVICES_UPSERT, "item_codes")),
            "team_member": _Entity(_read_team, _check_team, _write_team)}


def add_team_member(con: duckdb.DuckDBPyConnection, name: str, *, by: access.Actor, source: str = "ui",
                    email: str | None = None, tc2_option_id: str | None = None) -> int:
    """Adds a member and returns the new member id."""
    outcome = apply_team_edits(con, [Edit(None, {"name": name, "email": email, "tc2_option_id": tc2_option_id})],
                               by=by, source=source)
    return int(_single(outcome)[0].entity_id)


def set_team_member(con: duckdb.DuckDBPyConnection, member_id: int, *, by: access.Actor, source: str = "ui",
                    name: Any = UNSET, email: Any = UNSET, tc2_option_id: Any = UNSET) -> list[Change]:
    fields = _given(name=name, email=email, tc2_option_id=tc2_option_id)
    return _single(apply_team_edits(con, [Edit(member_id, fields)], by=by, source=source))


def remove_team_member(con: duckdb.DuckDBPyConnection, member_id: int, *, by: access.Actor, source: str = "ui"
                       ) -> list[Change]:
    """Removes a member who owns no client; refused with the list of clients otherwise."""
    access.require(by, access.Permission.EDIT)
    cat = catalog(con)
    current = {m: (name, {"name": name, "email": email, "tc2_option_id": tc2})
               for m, name, email, tc2 in con.execute(TEAM_CURRENT).fetchall()}
    if member_id not in current:
        raise InvalidChange(f"There is no team member with ID {member_id}.")
    name, old = current[member_id]
    owned = [client for (client,) in con.execute(OWNED_CLIENTS, [member_id]).fetchall()]
    if owned:
        raise InvalidChange(f"{name} still owns {len(owned)} client{'s' if len(owned) > 1 else ''}: "
                            f"{', '.join(owned)}. Give them another owner first.")
    changes = _changes(cat, "team_member", TEAM_FIELDS, member_id, name, old, NEW_MEMBER, None)
    _log(con, changes, by, source)
    con.execute(TEAM_DELETE, [member_id])
    rules.refresh_for(con, member_ids=[member_id])
    return changes


# --- line overrides ---------------------------------------------------------------------------

LINES_CURRENT = """
SELECT l.line_id::VARCHAR, coalesce(i.number, i.invoice_id) || ' line ' || (l.position + 1),
       o.line_id IS NOT NULL AND o.tc1_override, o.tc1_option_id,
       o.line_id IS NOT NULL AND o.tc2_override, o.tc2_option_id, o.note
FROM invoice_lines l JOIN invoices i USING (invoice_id) LEFT JOIN line_overrides o USING (line_id)
WHERE l.line_id IN (""" + store.mirror_line_ids("?") + ")"
OVERRIDES_DELETE = "DELETE FROM line_overrides WHERE line_id IN (SELECT unnest(?::VARCHAR[]))"
OVERRIDES_INSERT = """
INSERT INTO line_overrides (line_id, tc1_override, tc1_option_id, tc2_override, tc2_option_id, note)
SELECT unnest(?::VARCHAR[]), unnest(?::BOOLEAN[]), unnest(?::VARCHAR[]), unnest(?::BOOLEAN[]),
       unnest(?::VARCHAR[]), unnest(?::VARCHAR[])
"""
CLEARED = {"tc1": NO_OVERRIDE, "tc2": NO_OVERRIDE, "note": None}


def _override_columns(rows: Iterable[dict[str, Any]]) -> list[list[Any]]:
    """The columns of OVERRIDES_INSERT after the line IDs: each slot's flag and option, the note."""
    rows, columns = list(rows), []
    for slot in ("tc1", "tc2"):
        columns.append([r[slot] is not NO_OVERRIDE for r in rows])
        columns.append([None if r[slot] is NO_OVERRIDE else r[slot] for r in rows])
    return [*columns, [r["note"] for r in rows]]


def apply_line_edits(con: duckdb.DuckDBPyConnection, edits: Iterable[Edit], *, by: access.Actor, source: str = "ui",
                     dry_run: bool = False) -> Outcome:
    """Edits keyed by line ID with fields tc1, tc2 (an option id; None: an explicit "None" that
    clears the slot in Xero; NO_OVERRIDE: no override, the rules decide) and note."""
    access.require(by, access.Permission.EDIT)
    edits = list(edits)
    current = {line_id: (name, {"tc1": option1 if has1 else NO_OVERRIDE, "tc2": option2 if has2 else NO_OVERRIDE,
                                "note": note})
               for line_id, name, has1, option1, has2, option2, note
               in con.execute(LINES_CURRENT, [[str(e.key) for e in edits]]).fetchall()}
    outcome, rows = _apply(catalog(con), "line", LINE_FIELDS, edits, current,
                           lambda key: f"There is no invoice line with ID {quote(key)}.")
    labels = {edit.key: edit.row for edit in edits}
    for key, row in rows.items():  # a note alone is no override
        if row["tc1"] is NO_OVERRIDE and row["tc2"] is NO_OVERRIDE and row["note"] is not None:
            outcome.rejections.append(Rejection(labels[key], key, "Choose an override for Tracking Category 1 or 2."))
    rejected = {r.key for r in outcome.rejections}
    outcome.changes = [c for c in outcome.changes if c.entity_id not in rejected]
    rows = {k: r for k, r in rows.items() if k not in rejected}
    if rows and not dry_run:
        kept = {k: r for k, r in rows.items() if r["tc1"] is not NO_OVERRIDE or r["tc2"] is not NO_OVERRIDE}
        _log(con, outcome.changes, by, source)
        con.execute(OVERRIDES_DELETE, [list(rows)])
        con.execute(OVERRIDES_INSERT, [list(kept), *_override_columns(kept.values())])
        rules.refresh_for(con, line_ids=list(rows))
    return outcome


def set_line_overrides(con: duckdb.DuckDBPyConnection, line_ids: Iterable[str], *, by: access.Actor, source: str = "ui",
                       tc1: Any = UNSET, tc2: Any = UNSET, note: str | None = None) -> Outcome:
    """The same override on many lines (the Preview page's selection). A slot left UNSET keeps its
    override; `note` None keeps the lines' notes, "" removes them."""
    fields = _given(tc1=tc1, tc2=tc2, note=UNSET if note is None else note)
    if "tc1" not in fields and "tc2" not in fields:
        raise InvalidChange("Choose an override for Tracking Category 1 or 2.")
    return apply_line_edits(con, [Edit(line_id, fields) for line_id in line_ids], by=by, source=source)


def set_line_override(con: duckdb.DuckDBPyConnection, line_id: str, *, by: access.Actor, source: str = "ui",
                      tc1: Any = UNSET, tc2: Any = UNSET, note: str | None = None) -> list[Change]:
    """Override one line's TC1 and/or TC2 (an option id, or None for an explicit "None")."""
    return _single(set_line_overrides(con, [line_id], by=by, source=source, tc1=tc1, tc2=tc2, note=note))


def clear_line_overrides(con: duckdb.DuckDBPyConnection, line_ids: Iterable[str], *, by: access.Actor,
                         source: str = "ui") -> Outcome:
    """Remove the lines' overrides: the rules decide them again."""
    return apply_line_edits(con, [Edit(line_id, CLEARED) for line_id in line_ids], by=by, source=source)


def clear_line_override(con: duckdb.DuckDBPyConnection, line_id: str, *, by: access.Actor, source: str = "ui"
                        ) -> list[Change]:
    return _single(clear_line_overrides(con, [line_id], by=by, source=source))


def describe(outcome: Outcome, noun: str) -> str:
    """A save's confirmation: "Client saved.", or "12 clients saved, 1 rejected:" and a list of reasons."""
    saved, rejected = outcome.saved, outcome.rejections
    if not rejected:
        if saved == 0:
            return "Nothing to save: no changes."
        return f"{noun[0].upper()}{noun[1:]} saved." if saved == 1 else f"{saved} {noun}s saved."
    return (f"{saved} {noun if saved == 1 else noun + 's'} saved, {len(rejected)} rejected:\n"
            + "\n".join(f"- {rejection}" for rejection in rejected))
