"""CSV import: read a template a person filled in a spreadsheet, check it row by row, apply it.

Reading forgives what spreadsheets write: UTF-8 with or without a BOM, or Windows-1252 (Excel's
"CSV" on Windows); `,` or `;` between cells (Excel where the decimal mark is a comma); header
names in any case with stray spaces, columns in any order. An absent column leaves its field as
it is; a blank cell means none. Rows are numbered as a spreadsheet shows them (header = row 1).

This module turns cells into edits (names → ids) and refuses rows it cannot place; the checks
and the writing are `core.settings`' bulk `apply_*_edits`, one transaction for the whole file.
"""
import difflib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from core import access, settings
from core.csv_templates import TEMPLATES, un_neutralise
from core.settings import Edit, InvalidChange, Rejection

MAX_MB = 20
MAX_BYTES = MAX_MB * 1024 * 1024
FIRST_DATA_ROW = 2
NONE = "(none)"
YES = {"yes", "y", "true", "1"}
NO = {"no", "n", "false", "0", ""}

CONTACTS = "SELECT contact_id, name FROM contacts"
ITEMS = "SELECT DISTINCT code FROM items"
CLIENT_SETTINGS = "SELECT contact_id, owner_id, tc1_option_id, tc2_option_id, consolidate FROM client_settings"
SERVICE_SETTINGS = "SELECT item_code, tc2_option_id, alignment_fee FROM services"
TEAM = "SELECT member_id, name, email, tc2_option_id FROM team_members"

# Template column → the settings field it fills, per template. The key columns are handled apart.
FIELDS = {
    "clients": {"Client Owner": "owner_id", "Xero Tracking Category 1": "tc1_option_id",
                "Xero Tracking Category 2": "tc2_option_id", "Consolidate Lines": "consolidate"},
    "services": {"Tracking Category 2": "tc2_option_id", "Alignment Fee": "alignment_fee"},
    "team": {"Email": "email", "Tracking Category 2": "tc2_option_id"},
}
DEFAULTS = {"owner_id": None, "tc1_option_id": None, "tc2_option_id": None, "consolidate": False,
            "alignment_fee": False, "email": None}
KEY_COLUMNS = {"clients": ("Xero Contact ID", "Client Name"), "services": ("Item Code",), "team": ("Team Member",)}
APPLY = {"clients": settings.apply_client_edits, "services": settings.apply_service_edits,
         "team": settings.apply_team_edits}
# The change log's field names (core.settings) as the template's columns call them.
FIELD_COLUMNS = {
    "clients": {"owner": "Client Owner", "tc1": "Xero Tracking Category 1", "tc2": "Xero Tracking Category 2",
                "consolidate": "Consolidate Lines"},
    "services": {"tc2": "Tracking Category 2", "alignment_fee": "Alignment Fee"},
    "team": {"name": "Team Member", "email": "Email", "tc2": "Tracking Category 2"},
}


class CsvError(Exception):
    """The file as a whole cannot be imported as this template; the message says why, in plain words."""


@dataclass
class ImportResult:
    template: str
    rows: int
    dry_run: bool
    changes: list[settings.Change] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.rejections else 0

    @property
    def changed_rows(self) -> int:
        return len({c.row for c in self.changes})

    @property
    def rejected_rows(self) -> int:
        return len({r.row for r in self.rejections})

    def summary(self) -> str:
        text = "No changes." if not self.changes else (
            f"{'Would apply' if self.dry_run else 'Applied'} {_count(len(self.changes), 'change')} "
            f"in {_count(self.changed_rows, 'row')}.")
        if self.rejected_rows:
            text += f" {_count(self.rejected_rows, 'row')} of {self.rows:,} rejected."
        return text

    def changes_table(self) -> pd.DataFrame:
        return pd.DataFrame([(c.row, c.name, self.column(c), c.old or NONE, c.new or NONE) for c in self.changes],
                            columns=["Row", "Name", "Field", "Old", "New"])

    def rejections_table(self) -> pd.DataFrame:
        return pd.DataFrame([(r.row, r.message) for r in self.rejections], columns=["Row", "Reason"])

    def column(self, change: settings.Change) -> str:
        return FIELD_COLUMNS[self.template].get(change.field, change.field)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def import_csv(con: duckdb.DuckDBPyConnection, template: str, data: bytes, *, file_name: str, by: access.Actor,
               dry_run: bool = False) -> ImportResult:
    """Check every row, then apply the valid ones in one transaction (or, dry run, only say what
    would change). The change log records each change with source `import:<file name>`."""
    access.require(by, access.EDIT)
    table = read_csv(data, template)
    edits, rejections = EDITS[template](con, table)
    outcome = APPLY[template](con, edits, by=by, source=f"import:{Path(file_name).name}", dry_run=dry_run)
    by_row = attrgetter("row")
    return ImportResult(template, len(table), dry_run, sorted(outcome.changes, key=by_row),
                        sorted(rejections + outcome.rejections, key=by_row))


# --- reading ----------------------------------------------------------------------------------

def read_csv(data: bytes, template: str) -> pd.DataFrame:
    """The file's cells under the template's column names, one string per cell ("" when blank),
    indexed by spreadsheet row number, without blank rows. Absent columns are absent; columns
    the template does not know are dropped."""
    columns = TEMPLATES[template]
    text = _decode(data)
    try:
        # dtype=object: plain str cells, many times faster to loop over than pandas 3's Arrow strings
        raw = pd.read_csv(io.StringIO(text), sep=_separator(text), header=None, dtype=object,
                          keep_default_na=False, skip_blank_lines=False)
    except pd.errors.ParserError as e:
        raise CsvError(f"The file is not a well-formed CSV: {_parser_problem(e)}") from None
    except pd.errors.EmptyDataError:
        raise CsvError("The file is empty.") from None
    header = [_header_key(name) for name in raw.iloc[0]]
    wanted = {_header_key(name): name for name in columns}
    found = [name for name in header if name in wanted]
    if not found:
        raise CsvError(f"None of the {template} template's columns is in the file. Expected: "
                       f"{', '.join(columns)}. Found: {_sample(raw.iloc[0].tolist())}.")
    twice = sorted({wanted[name] for name in found if found.count(name) > 1})
    if twice:
        raise CsvError(f"The column {', '.join(twice)} appears more than once; keep one.")
    keys = KEY_COLUMNS[template]
    if not any(_header_key(key) in found for key in keys):
        raise CsvError(f"The file needs a {' or '.join(keys)} column to say which row is which.")
    table = raw.iloc[1:, [i for i, name in enumerate(header) if name in wanted]]
    table.columns = [wanted[name] for name in found]
    table.index = range(FIRST_DATA_ROW, FIRST_DATA_ROW + len(table))
    table = table.fillna("").apply(lambda column: column.str.strip())
    table = table[(table != "").any(axis=1)]
    return table.apply(lambda column: column.map(un_neutralise) if column.str.startswith("'").any() else column)


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise CsvError(f"The file is {len(data) / 1024 / 1024:.0f} MB; the limit is {MAX_MB} MB. "
                       "Split it into smaller files.")
    if not data.strip():
        raise CsvError("The file is empty.")
    if b"\x00" in data:
        raise CsvError("This is not a CSV file: it holds binary data. Save the sheet as CSV and upload that.")
    for encoding in ("utf-8-sig", "cp1252"):  # cp1252: what Excel's plain "CSV" writes on Windows
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CsvError("This file's text is neither UTF-8 nor Windows-1252. Save the sheet as \"CSV UTF-8\" "
                   "and upload that.")


def _separator(text: str) -> str:
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def _header_key(name: Any) -> str:
    return " ".join(str(name).split()).casefold()


def _parser_problem(error: pd.errors.ParserError) -> str:
    message = str(error).removeprefix("Error tokenizing data. C error: ").strip()
    if message.startswith("Expected ") and " fields in line " in message and ", saw " in message:
        expected, rest = message.removeprefix("Expected ").split(" fields in line ")
        line, saw = rest.split(", saw ")
        return f"row {line} has {saw} cells but the header has {expected}."
    return message


def _sample(names: list) -> str:
    shown = ", ".join(repr(str(name)[:40]) for name in names[:6])
    return shown + (", …" if len(names) > 6 else "")


# --- rows → edits -----------------------------------------------------------------------------

def _client_edits(con: duckdb.DuckDBPyConnection, table: pd.DataFrame) -> tuple[list[Edit], list[Rejection]]:
    contacts = dict(con.execute(CONTACTS).fetchall())
    by_name: dict[str, list[str]] = {}
    for contact_id, name in contacts.items():
        by_name.setdefault(name.strip(), []).append(contact_id)
    current = {row[0]: dict(zip(FIELDS["clients"].values(), row[1:]))
               for row in con.execute(CLIENT_SETTINGS).fetchall()}

    def identify(cells: dict[str, str]) -> str:
        contact_id, name = cells.get("Xero Contact ID", ""), cells.get("Client Name", "")
        if contact_id:
            if contact_id not in contacts:
                raise InvalidChange(f"Unknown client: no Xero contact has the ID {contact_id!r}.")
            return contact_id
        if not name:
            raise InvalidChange("No client: the row has neither a Client Name nor a Xero Contact ID.")
        found = by_name.get(name, [])
        if not found:
            raise InvalidChange(f"Unknown client {name!r}: no Xero contact has that name.")
        if len(found) > 1:
            raise InvalidChange(f"{len(found)} Xero contacts are named {name!r}; give the Xero Contact ID.")
        return found[0]

    return _edits(con, table, "clients", "client", identify, current)


def _service_edits(con: duckdb.DuckDBPyConnection, table: pd.DataFrame) -> tuple[list[Edit], list[Rejection]]:
    codes = {code for (code,) in con.execute(ITEMS).fetchall()}
    folded: dict[str, list[str]] = {}
    for code in codes:
        folded.setdefault(code.casefold(), []).append(code)
    current = {row[0]: dict(zip(FIELDS["services"].values(), row[1:]))
               for row in con.execute(SERVICE_SETTINGS).fetchall()}

    def identify(cells: dict[str, str]) -> str:
        code = cells["Item Code"]
        if not code:
            raise InvalidChange("No item: the Item Code is blank.")
        if code in codes:
            return code
        if len(folded.get(code.casefold(), [])) == 1:
            return folded[code.casefold()][0]
        raise InvalidChange(f"Unknown item: no Xero item has the code {code!r}.")

    return _edits(con, table, "services", "item", identify, current)


def _team_edits(con: duckdb.DuckDBPyConnection, table: pd.DataFrame) -> tuple[list[Edit], list[Rejection]]:
    members, current = {}, {}
    for member_id, name, email, tc2 in con.execute(TEAM).fetchall():
        members[name.strip().casefold()] = member_id
        current[member_id] = {"email": email, "tc2_option_id": tc2}

    def identify(cells: dict[str, str]) -> int | tuple:
        name = cells["Team Member"]
        if not name:
            raise InvalidChange("No team member: the Team Member cell is blank.")
        return members.get(name.casefold(), ("new", name.casefold()))

    edits, rejections = _edits(con, table, "team", "team member", identify, current)
    added = [Edit(None, {"name": table.at[e.row, "Team Member"], **e.fields}, e.row)
             for e in edits if isinstance(e.key, tuple)]
    return [e for e in edits if not isinstance(e.key, tuple)] + added, rejections


def _edits(con: duckdb.DuckDBPyConnection, table: pd.DataFrame, template: str, noun: str,
           identify: Callable[[dict[str, str]], Any], current: dict[Any, dict[str, Any]]
           ) -> tuple[list[Edit], list[Rejection]]:
    """One edit per row with the fields that differ from `current`; a row that cannot be placed is rejected."""
    catalog = settings.catalog(con)
    columns = [column for column in FIELDS[template] if column in table.columns]
    rows = _rows(table)
    keys, rejections = {}, []
    for row, cells in rows.items():
        try:
            keys[row] = identify(cells)
        except InvalidChange as e:
            rejections.append(Rejection(row, None, str(e)))
    rows_of: dict[Any, list[int]] = {}
    for row, key in keys.items():
        rows_of.setdefault(key, []).append(row)
    edits, values = [], {}  # values: (field, cell, current value) → value or problem; cells repeat a lot
    for row, key in keys.items():
        if len(rows_of[key]) > 1:
            others = ", ".join(str(other) for other in rows_of[key] if other != row)
            rejections.append(Rejection(row, key, f"The {noun} is listed more than once (also in row "
                                                  f"{others}); keep one row."))
            continue
        fields, problems = {}, []
        old = current.get(key, DEFAULTS)
        for column in columns:
            name, cell = FIELDS[template][column], rows[row][column]
            was = old.get(name, DEFAULTS[name])
            if (name, cell, was) not in values:
                values[name, cell, was] = _value(catalog, column, name, cell, was)
            value = values[name, cell, was]
            if isinstance(value, InvalidChange):
                problems.append(str(value))
                continue
            if value != was:
                fields[name] = value
        if problems:
            rejections.append(Rejection(row, key, " ".join(problems)))
        elif fields or isinstance(key, tuple):
            edits.append(Edit(key, fields, row))
    return edits, rejections


def _rows(table: pd.DataFrame) -> dict[int, dict[str, str]]:
    """Row number → cells, through plain lists: `to_dict("index")` is many times slower."""
    columns = table.columns.tolist()
    cells = zip(*(table[column].tolist() for column in columns))
    return {row: dict(zip(columns, values)) for row, values in zip(table.index.tolist(), cells)}


def _value(catalog: settings.Catalog, column: str, name: str, cell: str, was: Any) -> Any:
    """The cell as the settings field's value, or the problem with it (an InvalidChange). A changed
    option is checked here, to suggest a close active name when it is misspelt or archived; an
    unchanged one passes even if archived since."""
    try:
        return _checked(catalog, column, name, cell, was)
    except InvalidChange as e:
        return e


def _checked(catalog: settings.Catalog, column: str, name: str, cell: str, was: Any) -> Any:
    if name in ("tc1_option_id", "tc2_option_id"):
        slot = int(name[2])
        try:
            option = catalog.option_id(slot, cell)
            return option if option == was else catalog.check_option(slot, option)
        except InvalidChange as e:
            raise InvalidChange(f"{column}: {e}{_did_you_mean(cell, catalog.active_options(slot))}") from None
    if name == "owner_id":
        try:
            return catalog.member_id(cell)
        except InvalidChange as e:
            raise InvalidChange(f"Unknown owner. {e}{_did_you_mean(cell, catalog.members.values())}") from None
    if name in ("consolidate", "alignment_fee"):
        if cell.casefold() in YES | NO:
            return cell.casefold() in YES
        raise InvalidChange(f"{column} must be Yes or No, not {cell!r}.")
    return cell or None


def _did_you_mean(cell: str, names) -> str:
    by_folded = {name.casefold(): name for name in names}
    close = difflib.get_close_matches(cell.casefold(), list(by_folded), n=1)
    return f" Did you mean {by_folded[close[0]]!r}?" if close else ""


EDITS = {"clients": _client_edits, "services": _service_edits, "team": _team_edits}
