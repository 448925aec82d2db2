"""The three CSV templates (docs/csv-templates.md) and their export, filled with the current settings.

Exports are UTF-8 with a BOM (so Excel shows accents right), written by core/csv_out.py, which
neutralises any cell a spreadsheet would run as a formula.
"""
import duckdb

from core import csv_out

TEMPLATES: dict[str, tuple[str, ...]] = {
    "clients": ("Client Name", "Xero Contact ID", "Client Owner", "Xero Tracking Category 1",
                "Xero Tracking Category 2", "Consolidate Lines"),
    "services": ("Item Code", "Service Name", "Tracking Category 2", "Alignment Fee"),
    "team": ("Team Member", "Email", "Tracking Category 2"),
}
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


def export_csv(con: duckdb.DuckDBPyConnection, template: str) -> bytes:
    """The template filled with the current settings, one row per client / service / team member."""
    rows = con.execute(EXPORT_SQL[template]).fetchall()
    return csv_out.write(TEMPLATES[template], rows).encode("utf-8-sig")
