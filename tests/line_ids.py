"""Lines in tests have names ('l1', 'second'); the mirror keeps Xero's line ids as UUIDs (core/store.py, migration
0018). A test writes a line under a GUID that spells its name, the name's bytes right-aligned in the 16 (`line_id`),
and reads the name back from it (`line_name`). In SQL, `line_id('l1')` is the same GUID, once `define(con)` has run.
"""
import uuid

SQL_MACRO = "CREATE OR REPLACE TEMP MACRO line_id(name) AS lpad(hex(name), 32, '0')::UUID::VARCHAR"


def line_id(name: str) -> str:
    """'l1' → '00000000-0000-0000-0000-000000006c31'."""
    return str(uuid.UUID(bytes=name.encode().rjust(16, b"\0")))


def line_name(value) -> str:
    """The name a line id spells: a GUID string or uuid.UUID from `line_id`."""
    return uuid.UUID(str(value)).bytes.lstrip(b"\0").decode()


def define(con) -> None:
    """Make `line_id(name)` callable in SQL on this connection."""
    con.execute(SQL_MACRO)
