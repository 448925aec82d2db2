import streamlit as st

from core import csv_io, csv_templates, ui

ui.page("Import CSV")

st.markdown("Download a template filled with the current settings, edit it in a spreadsheet, and upload "
            "it here. You see what would change before anything is saved. An absent column leaves its "
            "field as it is; a blank cell means none.")

template = st.radio("Template", list(csv_templates.TEMPLATES), format_func=str.capitalize, horizontal=True,
                    key="csv_template")
st.caption("Columns: " + ", ".join(csv_templates.TEMPLATES[template]))
st.download_button(f"Download the {template} template", ui.cached(csv_templates.export_csv, template),
                   file_name=f"{template}.csv", mime="text/csv", on_click="ignore", icon=":material/download:")

# A new key empties the uploader after Confirm or Cancel.
upload_key = f"csv_upload_{st.session_state.setdefault('csv_uploads', 0)}"
upload = st.file_uploader(f"Upload a {template} CSV file", type=["csv", "txt"], key=upload_key,
                          max_upload_size=csv_io.MAX_MB)
if done := st.session_state.pop("csv_done", None):
    st.success(done, icon=":material/check:")
if upload is None:
    st.stop()


def finish(message: str) -> None:
    st.session_state["csv_done"] = message
    st.session_state["csv_uploads"] += 1
    st.rerun()


def run_import(dry_run: bool) -> csv_io.ImportResult | None:
    return ui.attempt(csv_io.import_csv, template, upload.getvalue(), file_name=upload.name,
                      by=ui.actor(), dry_run=dry_run)


result = run_import(dry_run=True)
if result is None:  # the file could not be read; ui.action showed why
    st.stop()

rows, changes, rejected = st.columns(3)
rows.metric("Rows in the file", f"{result.rows:,}")
changes.metric("Changes", f"{len(result.changes):,}")
rejected.metric("Rows rejected", f"{result.rejected_rows:,}")
st.info(result.summary(), icon=":material/preview:")
if result.changes:
    st.subheader("What would change")
    st.dataframe(result.changes_table(), hide_index=True)
if result.rejections:
    st.subheader("Rejected rows")
    st.caption("Row numbers as your spreadsheet shows them (the header is row 1). Rejected rows are not applied.")
    st.dataframe(result.rejections_table(), hide_index=True)

buttons = st.container(horizontal=True)
if result.changes and buttons.button("Confirm", type="primary", key="csv_confirm", icon=":material/check:"):
    applied = run_import(dry_run=False)
    if applied is not None:
        finish(f"{upload.name}: {applied.summary()}")
if buttons.button("Cancel", key="csv_cancel"):
    finish(f"Cancelled: nothing from {upload.name} was saved.")
