"""The three CSV templates (DESIGN.md "CSV templates") and their export, filled with the current settings.

Exports are UTF-8 with a BOM (so Excel shows accents right) and neutralise any cell a spreadsheet
would run as a formula: OWASP's "CSV injection" advice, a leading `'`.
"""
import csv
import io

import duckdb

TEMPLATES: dict[str, tuple[str, ...]] = {
    "clients": ("Client Name", "Xero Contact ID", "Client Owner", "Xero Tracking Category 1",
                "Xero Tracking Category 2", "Consolidate Lines"),
    "services": ("Item Code", "Service Name", "Tracking Category 2", "Alignment Fee"),
    "team": ("Team Member", "Email", "Tracking Category 2"),
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
YES, NO = "Yes", "No"

EXPORT_SQL = {
    "clients": """
        SELECT C.name, C.contact_id, M.name, O1.name, O2.name,
               CASE WHEN S.consolidate THEN 'Yes' ELSE 'No' END
        FROM contacts C
        LEFT JOIN client_settings S USING (contact_id)
        LEFT JOIN team_members M ON M.member_id = S.owner_id
        LEFT JOIN tracking_options O1 ON O1.option_id = S.tc1_option_id
        LEFT JOIN tracking_options O2 ON O2.option_id = S.tc2_option_id
        ORDER BY lower(C.name), C.contact_id""",
    "services": """
        SELECT I.code, I.name, O.name, CASE WHEN S.alignment_fee THEN 'Yes' ELSE 'No' END
        FROM items I
        LEFT JOIN services S ON S.item_code = I.code
        LEFT JOIN tracking_options O ON O.option_id = S.tc2_option_id
        ORDER BY lower(I.code), I.code""",
    "team": """
        SELECT M.name, M.email, O.name
        FROM team_members M
        LEFT JOIN tracking_options O ON O.option_id = M.tc2_option_id
        ORDER BY lower(M.name), M.name""",
}


def neutralise(cell: str | None) -> str:
    if cell is None:
        return ""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def un_neutralise(cell: str) -> str:
    """Undo `neutralise`, so that an export imported back changes nothing."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def export_csv(con: duckdb.DuckDBPyConnection, template: str) -> bytes:
    """The template filled with the current settings, one row per client / service / team member."""
    rows = con.execute(EXPORT_SQL[template]).fetchall()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TEMPLATES[template])
    writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")
