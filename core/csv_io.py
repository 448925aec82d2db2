"""CSV import: read a template a person filled in a spreadsheet, check it row by row, apply it.

Reading forgives what spreadsheets write: UTF-8 with or without a BOM, or Windows-1252 (Excel's
"CSV" on Windows); `,` or `;` between cells (Excel where the decimal mark is a comma); header
names in any case with stray spaces, columns in any order. An absent column leaves its field as
it is; a blank cell means none. Rows are numbered as a spreadsheet shows them (header = row 1).
A file whose rows disagree on the encoding (some UTF-8, some not) is refused whole: read either
way, some of its names would come out garbled.

This module turns cells into edits (names → ids) and refuses rows it cannot place; the checks
and the writing are `core.edits`' `read_edits`, `check_edits` and `write_edits`, one transaction
for the whole file. Every step is a dictionary lookup per row, so a file of N rows takes time in
proportion to N. The database is opened briefly twice to read what rows are checked against, and
then only for the apply's transaction; the file is read and checked without holding it.
"""
import difflib
import gc
import io
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from core import access, catalog, edits, store
from core.csv_out import un_neutralise
from core.csv_templates import TEMPLATES
from core.catalog import InvalidChange, quote
from core.edits import Edit, Rejection

MAX_MB = 20
MAX_BYTES = MAX_MB * 1024 * 1024
FIRST_DATA_ROW = 2
NONE = "(none)"
OPTION_FIELDS = {"tc1_option_id": 1, "tc2_option_id": 2}  # the fields naming an option, and their slot

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
XERO_ID_LENGTH = 36  # Xero's ids are UUIDs
# The longest text each text column may hold (core/catalog.py has Xero's field lengths). A yes/no cell is
# checked as one; Service Name is there for people and not read.
COLUMN_LIMITS = {"Client Name": catalog.CONTACT_NAME_MAX, "Xero Contact ID": XERO_ID_LENGTH,
                 "Client Owner": catalog.MEMBER_NAME_MAX, "Xero Tracking Category 1": catalog.OPTION_NAME_MAX,
                 "Xero Tracking Category 2": catalog.OPTION_NAME_MAX, "Tracking Category 2": catalog.OPTION_NAME_MAX,
                 "Item Code": catalog.ITEM_CODE_MAX,
                 "Team Member": catalog.MEMBER_NAME_MAX, "Email": catalog.EMAIL_MAX}
UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")
ROWS_NAMED = 10
# "Did you mean": difflib compares the misspelt name with each candidate, so only the first few misspelt
# names get a suggestion, and only from names with the same first letter and about the same length.
SUGGESTIONS_MAX, CANDIDATES_MAX, LENGTH_SLACK = 20, 500, 3
ENTITIES = {"clients": "client", "services": "service", "team": "team_member"}  # core/edits.py's entities
# The change log's field names (core/edits.py) as the template's columns call them.
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
    changes: list[edits.Change] = field(default_factory=list)
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

    def column(self, change: edits.Change) -> str:
        return FIELD_COLUMNS[self.template].get(change.field, change.field)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def import_csv(template: str, data: bytes, *, file_name: str, by: access.Actor, dry_run: bool = False,
               database: Path | str | None = None) -> ImportResult:
    """Check every row, then apply the valid ones in one transaction (or, dry run, only say what
    would change). The change log records each change with source `import:<file name>`.

    The file is read and its rows placed without holding the database, which is opened for a short read
    first and then for the apply (which checks the edits again against the rows as they are then)."""
    access.require(by, access.Permission.EDIT)
    with _collector_paused():
        table = read_csv(data, template)
        with store.connect(database, purpose="import: read the settings") as con:
            cat, (identify, current) = catalog.read(con), LOOKUPS[template](con)
        row_edits, rejections = _edits(cat, table, template, identify, current)
        with store.connect(database, purpose="import: read the settings edited") as con:
            snapshot = edits.read_edits(con, ENTITIES[template], row_edits)
        checked = edits.check_edits(snapshot)
        outcome = checked.outcome
        if checked.rows and not dry_run:
            with store.connect(database, purpose="import: apply") as con, store.transaction(con):
                outcome = edits.write_edits(con, checked, by=by, source=f"import:{Path(file_name).name}")
    by_row = attrgetter("row")
    return ImportResult(template, len(table), dry_run, sorted(outcome.changes, key=by_row),
                        sorted(rejections + outcome.rejections, key=by_row))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused: a large file makes millions of small objects (cells, edits, changes),
    none in a cycle, and every collection would walk them all again, which took half of a 200,000-row import."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    utf8, other = _rows_by_encoding(data)
    if utf8:
        raise CsvError(f"The file mixes two encodings: {_row_numbers(utf8)} in UTF-8 and {_row_numbers(other)} in another "
                       "(Windows-1252?), so some names would come out garbled. Save the sheet as \"CSV UTF-8\" "
                       "and upload that.")
    try:
        return data.decode("cp1252")  # what Excel's plain "CSV" writes on Windows
    except UnicodeDecodeError:
        raise CsvError("This file's text is neither UTF-8 nor Windows-1252. Save the sheet as \"CSV UTF-8\" "
                       "and upload that.") from None


def _rows_by_encoding(data: bytes) -> tuple[list[int], list[int]]:
    """The spreadsheet rows holding UTF-8 multi-byte characters, and those holding bytes UTF-8 cannot read.

    A row's lines are followed through quoted cells that hold line breaks (an odd count of `"` opens one)."""
    utf8, other = {}, {}
    row, quoted = 0, False
    for line in data.split(b"\n"):
        row += not quoted
        if not line.isascii():
            try:
                line.decode("utf-8")
                if UTF8_MULTIBYTE.search(line):
                    utf8[row] = True
            except UnicodeDecodeError:
                other[row] = True
        quoted ^= line.count(b'"') % 2 == 1
    return list(utf8), list(other)


def _row_numbers(rows: list[int]) -> str:
    shown = ", ".join(map(str, rows[:ROWS_NAMED])) + (f" and {len(rows) - ROWS_NAMED:,} more" if len(rows) > ROWS_NAMED
                                                        else "")
    return f"row{'s' if len(rows) > 1 else ''} {shown}"


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
    shown = ", ".join(quote(name) for name in names[:6])
    return shown + (", …" if len(names) > 6 else "")


# --- rows → edits -----------------------------------------------------------------------------
# Each template's lookups, read in one short visit to the database: `identify(cells)` gives the row's
# key (or raises InvalidChange), and `current` the settings as they are, by key.

Identify = Callable[[dict[str, str]], Any]


def _client_lookups(con: duckdb.DuckDBPyConnection) -> tuple[Identify, dict[Any, dict[str, Any]]]:
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
                raise InvalidChange(f"Unknown client: no Xero contact has the ID {quote(contact_id)}.")
            return contact_id
        if not name:
            raise InvalidChange("No client: the row has neither a Client Name nor a Xero Contact ID.")
        found = by_name.get(name, [])
        if not found:
            raise InvalidChange(f"Unknown client {quote(name)}: no Xero contact has that name.")
        if len(found) > 1:
            raise InvalidChange(f"{len(found)} Xero contacts are named {quote(name)}; give the Xero Contact ID.")
        return found[0]

    return identify, current


def _service_lookups(con: duckdb.DuckDBPyConnection) -> tuple[Identify, dict[Any, dict[str, Any]]]:
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
        raise InvalidChange(f"Unknown item: no Xero item has the code {quote(code)}.")

    return identify, current


def _team_lookups(con: duckdb.DuckDBPyConnection) -> tuple[Identify, dict[Any, dict[str, Any]]]:
    """A name not in the team identifies a new member: the key ("new", folded name)."""
    members, current = {}, {}
    for member_id, name, email, tc2 in con.execute(TEAM).fetchall():
        members[name.strip().casefold()] = member_id
        current[member_id] = {"email": email, "tc2_option_id": tc2}

    def identify(cells: dict[str, str]) -> int | tuple:
        name = cells["Team Member"]
        if not name:
            raise InvalidChange("No team member: the Team Member cell is blank.")
        return members.get(name.casefold(), ("new", name.casefold()))

    return identify, current


def _edits(cat: catalog.Catalog, table: pd.DataFrame, template: str, identify: Identify,
           current: dict[Any, dict[str, Any]]) -> tuple[list[Edit], list[Rejection]]:
    """One edit per row with the fields that differ from `current`; a row that cannot be placed is rejected.
    A new team member's edit has no key and its name among the fields."""
    columns = [column for column in FIELDS[template] if column in table.columns]
    rows = _rows(table)
    keys, rejections = {}, []
    for row, cells in rows.items():
        try:
            _check_cells(cells)
            keys[row] = identify(cells)
        except InvalidChange as e:
            rejections.append(Rejection(row, None, str(e)))
    rows_of: dict[Any, list[int]] = {}
    for row, key in keys.items():
        rows_of.setdefault(key, []).append(row)
    noun = NOUNS[template]
    edits, values = [], {}  # values: (field, cell, current value) → value or problem; cells repeat a lot
    suggest = _Suggestions()
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
                values[name, cell, was] = _value(cat, suggest, column, name, cell, was)
            value = values[name, cell, was]
            if isinstance(value, InvalidChange):
                problems.append(str(value))
                continue
            if value != was:
                fields[name] = value
        if problems:
            rejections.append(Rejection(row, key, " ".join(problems)))
        elif isinstance(key, tuple):
            edits.append(Edit(None, {"name": rows[row][KEY_COLUMNS[template][0]], **fields}, row))
        elif fields:
            edits.append(Edit(key, fields, row))
    return edits, rejections


def _check_cells(cells: dict[str, str]) -> None:
    """Every text cell fits its column and holds no control character or bidirectional override."""
    for column, cell in cells.items():
        if column in COLUMN_LIMITS:
            catalog.check_text(column, cell, COLUMN_LIMITS[column])


def _rows(table: pd.DataFrame) -> dict[int, dict[str, str]]:
    """Row number → cells, through plain lists: `to_dict("index")` is many times slower."""
    columns = table.columns.tolist()
    cells = zip(*(table[column].tolist() for column in columns))
    return {row: dict(zip(columns, values)) for row, values in zip(table.index.tolist(), cells)}


def _value(cat: catalog.Catalog, suggest: "_Suggestions", column: str, name: str, cell: str, was: Any) -> Any:
    """The cell as the settings field's value, or the problem with it (an InvalidChange). A changed
    option is checked here, to suggest a close active name when it is misspelt or archived; an
    unchanged one passes even if archived since."""
    try:
        return _checked(cat, suggest, column, name, cell, was)
    except InvalidChange as e:
        return e


def _checked(cat: catalog.Catalog, suggest: "_Suggestions", column: str, name: str, cell: str, was: Any) -> Any:
    try:
        value = catalog.value_of(cat, name, cell)
        if name in OPTION_FIELDS and value != was:
            return cat.check_option(OPTION_FIELDS[name], value)
        return value
    except InvalidChange as e:
        if name in OPTION_FIELDS:
            choices = cat.active_options(OPTION_FIELDS[name])
            raise InvalidChange(f"{column}: {e}{suggest(cell, name, choices)}") from None
        if name == "owner_id":
            raise InvalidChange(f"Unknown owner. {e}{suggest(cell, name, cat.members.values())}") from None
        if name in ("consolidate", "alignment_fee"):
            raise InvalidChange(f"{column} must be Yes or No, not {quote(cell)}.") from None
        raise


class _Suggestions:
    """"Did you mean …?" for the first SUGGESTIONS_MAX misspelt names of a file, from cheap candidates: the
    names of a kind (owners, a slot's options) are grouped by first letter once."""

    def __init__(self) -> None:
        self.left = SUGGESTIONS_MAX
        self.by_letter: dict[str, dict[str, list[str]]] = {}

    def __call__(self, cell: str, kind: str, names: Iterable[str]) -> str:
        if self.left <= 0 or not cell:
            return ""
        self.left -= 1
        if kind not in self.by_letter:
            self.by_letter[kind] = {}
            for name in names:
                self.by_letter[kind].setdefault(name[:1].casefold(), []).append(name)
        wanted = cell.casefold()
        by_folded = {name.casefold(): name for name in self.by_letter[kind].get(wanted[:1], [])
                     if abs(len(name) - len(wanted)) <= LENGTH_SLACK}
        close = difflib.get_close_matches(wanted, list(by_folded)[:CANDIDATES_MAX], n=1)
        return f" Did you mean {quote(by_folded[close[0]])}?" if close else ""


NOUNS = {"clients": "client", "services": "item", "team": "team member"}
LOOKUPS = {"clients": _client_lookups, "services": _service_lookups, "team": _team_lookups}
