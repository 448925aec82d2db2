import math

import pandas as pd
import streamlit as st

from core import access, preview, rules, settings, slots, ui

ui.page("Preview")

INVOICE_STATUSES = ["DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED"]
CHANGED = "background-color: #fff3b0"
MONEY = st.column_config.NumberColumn("Amount", format="%.2f")

slot_names = ui.cached(slots.names)
client_names = dict(ui.cached(preview.clients))


def any_of(label: str):
    return lambda value: label if value is None else value


client, number, dates, invoice_status, line_status, source = st.columns([3, 2, 3, 2, 2, 2])
contact_id = client.selectbox("Client", [None, *client_names], key="preview_client",
                              format_func=lambda c: "All clients" if c is None else client_names[c])
invoice_number = number.text_input("Invoice number", key="preview_invoice", placeholder="Any").strip()
picked = dates.date_input("Invoice dates", value=(), key="preview_dates")
invoice_status = invoice_status.selectbox("Invoice status", [None, *INVOICE_STATUSES], key="preview_invoice_status",
                                          format_func=any_of("Any"))
line_status = line_status.selectbox("Line status", [None, *rules.STATUSES], key="preview_line_status",
                                    format_func=any_of("Any"))
source = source.selectbox("Source (either slot)", [None, *rules.SOURCES], key="preview_source",
                          format_func=any_of("Any"))
filters = preview.Filters(contact_id=contact_id, invoice_number=invoice_number or None,
                          date_from=picked[0] if len(picked) > 0 else None,
                          date_to=picked[1] if len(picked) > 1 else None,
                          invoice_status=invoice_status, line_status=line_status, source=source)

totals = ui.cached(preview.totals, filters)
for column, (status, n) in zip(st.columns(len(totals)), totals.items()):
    column.metric(f"Lines {status}", f"{n:,}")
matching = sum(totals.values())
if not matching:
    st.info("No invoice lines match these filters.", icon=":material/info:")
    st.stop()

st.download_button(f"Download the {matching:,} lines (CSV)", lambda: ui.action(preview.csv_bytes, filters),
                   file_name="preview.csv", mime="text/csv", on_click="ignore", key="preview_csv")

LINE_COLUMNS = {
    "invoice_number": "Invoice", "client_name": "Client", "invoice_date": "Date", "description": "Description",
    "line_amount": MONEY,
    "tc1_current_name": f"{slot_names[1]} now", "tc1_wanted_name": f"{slot_names[1]} wanted",
    "tc1_source": f"{slot_names[1]} source",
    "tc2_current_name": f"{slot_names[2]} now", "tc2_wanted_name": f"{slot_names[2]} wanted",
    "tc2_source": f"{slot_names[2]} source",
    "status": "Status", "reason": "Reason",
}


def lines_table(rows: list[dict]) -> tuple[pd.DataFrame, object]:
    """The rows people read, with the wanted option of a slot the push would change highlighted."""
    frame = pd.DataFrame(rows)
    shown = frame[list(LINE_COLUMNS)]

    def highlight(row: pd.Series) -> list[str]:
        changes = frame.loc[row.name, ["tc1_changes", "tc2_changes"]]
        return [CHANGED if (column == "tc1_wanted_name" and changes["tc1_changes"])
                or (column == "tc2_wanted_name" and changes["tc2_changes"]) else "" for column in row.index]

    return frame, shown.style.apply(highlight, axis=1)


by_line, by_invoice = st.tabs(["Lines", "Invoices"])

with by_line:
    pages = math.ceil(matching / preview.PAGE_SIZE)
    number = st.number_input(f"Page (of {pages:,}, {preview.PAGE_SIZE} lines each)", 1, pages, 1,
                             key="preview_page")
    frame, styled = lines_table(ui.cached(preview.page, filters, number))
    st.caption("A highlighted option is one the push would write. Select lines to override them below.")
    event = st.dataframe(styled, hide_index=True, column_config=LINE_COLUMNS, on_select="rerun",
                         selection_mode="multi-row", key="preview_lines")
    selected_line_ids = frame.iloc[event.selection.rows]["line_id"].tolist()

    st.subheader("Override the selected lines")
    ui.show_flash("preview_overrides")
    if not ui.may(access.EDIT):
        st.caption(f"Your role ({ui.actor().role}) can see the lines but not override them.")
    elif not selected_line_ids:
        st.caption("Select lines in the table above to set or clear their override.")
    else:
        choices = {slot: ui.cached(settings.override_options, slot) for slot in slots.SLOTS}
        with st.form("preview_override"):
            st.caption(f"{len(selected_line_ids)} line(s) selected. An override beats every rule for its slot; "
                       f"“{settings.CLEAR_CHOICE}” empties the slot in Xero.")
            tc1, tc2 = (st.selectbox(f"Tracking Category {slot} ({slot_names[slot]})", list(choices[slot]),
                                     key=f"preview_override_tc{slot}") for slot in slots.SLOTS)
            note = st.text_input("Note (optional)", key="preview_override_note")
            set_override = st.form_submit_button("Set override", type="primary")
            clear_override = st.form_submit_button("Clear override")
        outcome = None
        if set_override:
            outcome = ui.action(settings.set_line_overrides, selected_line_ids, by=ui.actor(),
                                tc1=choices[1][tc1], tc2=choices[2][tc2], note=note or None)
        elif clear_override:
            outcome = ui.action(settings.clear_line_overrides, selected_line_ids, by=ui.actor())
        if outcome is not None:
            ui.flash_after_rerun("preview_overrides", settings.describe(outcome, "line"), outcome.tone)
            st.rerun()

with by_invoice:
    invoice_pages = math.ceil(ui.cached(preview.invoice_count, filters) / preview.PAGE_SIZE)
    invoice_page = st.number_input(f"Page (of {invoice_pages:,}, {preview.PAGE_SIZE} invoices each)",
                                   1, invoice_pages, 1, key="preview_invoice_page")
    invoices = pd.DataFrame(ui.cached(preview.invoice_page, filters, invoice_page))
    st.caption("Lines matching the filters, counted by status. Select an invoice to see its lines.")
    chosen = st.dataframe(
        invoices.drop(columns=["invoice_id"]), hide_index=True, on_select="rerun", selection_mode="single-row",
        key="preview_invoices", column_config={
            "invoice_number": "Invoice", "client_name": "Client", "invoice_date": "Date",
            "invoice_status": "Invoice status", "lines": "Lines", "amount": MONEY, "same": "Same",
            "change": "Change", "blocked": "Blocked", "locked": "Locked", "locked_reason": "Why locked"})
    if chosen.selection.rows:
        invoice = invoices.iloc[chosen.selection.rows[0]]
        st.subheader(f"Invoice {invoice['invoice_number']} · {invoice['client_name']}")
        _, styled = lines_table(ui.cached(preview.page, preview.Filters(invoice_id=invoice["invoice_id"]), 1))
        st.dataframe(styled, hide_index=True, column_config=LINE_COLUMNS, key="preview_invoice_lines")
