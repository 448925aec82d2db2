import math
from datetime import date

import pandas as pd
import streamlit as st

from core import access, edits, explain, history, preview, rules, settings_tables, slots, statuses, ui

ui.page("Preview")

MONEY = st.column_config.NumberColumn("Amount", format="%.2f", width=90)

slot_names = ui.cached(slots.names)
client_names = dict(ui.cached(preview.clients))


def any_of(label: str):
    return lambda value: label if value is None else value


# A link can open the page filtered (the Overview's "unassigned" link): ?unassigned=SLOT&from=DATE&to=DATE.
linked = st.query_params
linked_dates = tuple(date.fromisoformat(linked[k]) for k in ("from", "to") if linked.get(k))
linked_slot = int(linked["unassigned"]) if linked.get("unassigned") in ("1", "2") else None

with st.container(horizontal=True):  # wraps onto more rows on a narrow screen
    contact_id = st.selectbox("Client", [None, *client_names], key="preview_client", width=260,
                              format_func=lambda c: "All clients" if c is None else client_names[c])
    invoice_number = st.text_input("Invoice number", key="preview_invoice", placeholder="Any", width=150,
                                   help="An invoice's or a sales credit note's number").strip()
    picked = st.date_input("Invoice dates", value=linked_dates, key="preview_dates", width=230)
    invoice_status = st.selectbox("Invoice status", [None, *statuses.ALL], key="preview_invoice_status",
                                  format_func=any_of("Any"), width=160)
    line_status = st.selectbox("Line status", [None, *rules.STATUSES], key="preview_line_status", width=160,
                               format_func=lambda s: "Any" if s is None else explain.status_words(s))
    source = st.selectbox("Source (either slot)", [None, *rules.SOURCES], key="preview_source", width=160,
                          format_func=any_of("Any"))
    unassigned_in = st.selectbox(
        "No option in Xero", [None, *slots.SLOTS], index=[None, *slots.SLOTS].index(linked_slot),
        key="preview_unassigned", format_func=lambda s: "Any" if s is None else slot_names[s] or f"Slot {s}",
        help="Only lines of AUTHORISED and PAID invoices and credit notes (revenue) that carry no option of this "
             "tracking category in Xero.", width=160)
filters = preview.Filters(contact_id=contact_id, invoice_number=invoice_number or None,
                          date_from=picked[0] if len(picked) > 0 else None,
                          date_to=picked[1] if len(picked) > 1 else None,
                          invoice_status=invoice_status, line_status=line_status, source=source,
                          unassigned_in=unassigned_in)

totals = ui.cached(preview.totals, filters)
for column, (status, n) in zip(st.columns(len(totals)), totals.items()):
    column.metric(explain.status_words(status), f"{n:,}", help=f"Lines whose status is “{status}”")
matching = sum(totals.values())
if not matching:
    st.info("No invoice lines match these filters.", icon=":material/info:")
    st.stop()

st.download_button(f"Download the {matching:,} lines (CSV)", lambda: ui.action(preview.csv_bytes, filters),
                   file_name="preview.csv", mime="text/csv", on_click="ignore", key="preview_csv")

# The decisive columns first, narrow enough to be seen whole at 1400 px; the rest to the right.
LINE_COLUMNS = {
    "invoice_number": st.column_config.TextColumn("Invoice", width=90),
    "line": st.column_config.NumberColumn("Line", width=45),
    "description": st.column_config.TextColumn("Description", width=200),
    "tc1": st.column_config.TextColumn(f"{slot_names[1]}: now → wanted", width=190),
    "tc2": st.column_config.TextColumn(f"{slot_names[2]}: now → wanted", width=190),
    "status": st.column_config.TextColumn("Status", width=125),
    "reason": st.column_config.TextColumn("Reason", width="large"),
    "tc1_source": st.column_config.TextColumn(f"{slot_names[1]} source", width=90),
    "tc2_source": st.column_config.TextColumn(f"{slot_names[2]} source", width=90),
    "line_amount": MONEY,
    "invoice_date": st.column_config.DateColumn("Date", width=95),
    "client_name": st.column_config.TextColumn("Client", width=180),
    "document": st.column_config.TextColumn("Document", width=95),
}


def lines_table(rows: list[dict]) -> tuple[pd.DataFrame, object]:
    """The rows people read. A slot a push would write is highlighted; each status has its own look."""
    frame = pd.DataFrame(rows)
    shown = frame.assign(line=frame["position"] + 1,
                         tc1=[preview.slot_cell(row, 1) for row in rows],
                         tc2=[preview.slot_cell(row, 2) for row in rows],
                         status=[f"{ui.STATUS_LOOKS.get(s, ('', ''))[0]} {explain.status_words(s)}"
                                 for s in frame["status"]])[list(LINE_COLUMNS)]

    def look(row: pd.Series) -> list[str]:
        line = frame.loc[row.name]
        writes = {"tc1": line["tc1_changes"], "tc2": line["tc2_changes"]}
        status_look = ui.STATUS_LOOKS.get(line["status"], ("", ""))[1]
        return [ui.WRITE_HIGHLIGHT if writes.get(column) else status_look if column == "status" else ""
                for column in row.index]

    return frame, shown.style.apply(look, axis=1)


def line_panel(line_id: str) -> None:
    """The selected line explained: which rule set each slot, what its status means, and its history."""
    line = ui.cached(preview.line_detail, line_id)
    if line is None:
        return
    with st.container(border=True, key="preview_line_panel"):
        st.markdown(f"**{line['invoice_number']} · line {line['position'] + 1} · {line['description'] or ''}**  \n"
                    f"{line['client_name']} · {line['invoice_date']:%d %b %Y} · {line['invoice_status']}")
        st.markdown(explain.sentence(line))
        tone, icon = ui.STATUS_MESSAGE.get(line["status"], ("info", None))
        getattr(st, tone)(f"**{explain.status_words(line['status'])}.** {explain.status_sentence(line)}", icon=icon)
        if line["override_note"]:
            st.caption(f"Override note: {line['override_note']}")
        changes = ui.cached(history.line_history, line_id)
        if changes:
            st.dataframe(pd.DataFrame(changes), hide_index=True, width="stretch", key="preview_line_history",
                         column_config={"when": st.column_config.DatetimeColumn("When (UTC)", format="D MMM YYYY HH:mm"),
                                        "who": "Who", "what": "What", "change": "Change"})
        else:
            st.caption("History: no changes to this line, its client or its service, and no pushes of it yet.")


by_line, by_invoice = st.tabs(["Lines", "Invoices"])

with by_line:
    pages = math.ceil(matching / preview.PAGE_SIZE)
    number = st.number_input(f"Page (of {pages:,}, {preview.PAGE_SIZE} lines each)", 1, pages, 1,
                             key="preview_page", width=260)
    frame, styled = lines_table(ui.cached(preview.page, filters, number))
    st.caption("Highlighted: what a push would write to Xero. Blocked and locked lines are never sent. "
               "Select a line to see why the rules chose its options.")
    event = st.dataframe(styled, hide_index=True, column_config=LINE_COLUMNS, on_select="rerun",
                         selection_mode="multi-row", key="preview_lines")
    selected_line_ids = frame.iloc[event.selection.rows]["line_id"].tolist()
    if selected_line_ids:
        line_panel(selected_line_ids[-1])

    st.subheader("Override the selected lines")
    ui.show_flash("preview_overrides")
    if not ui.may(access.Permission.EDIT):
        st.caption(f"Your role ({ui.actor().role}) can see the lines but not override them.")
    elif not selected_line_ids:
        st.caption("Select lines in the table above to set or clear their override.")
    else:
        choices = {slot: ui.cached(settings_tables.override_options, slot) for slot in slots.SLOTS}
        with st.form("preview_override"):
            st.caption(f"{len(selected_line_ids)} line(s) selected. An override beats every rule for its slot; "
                       f"“{settings_tables.CLEAR_CHOICE}” empties the slot in Xero.")
            tc1, tc2 = (st.selectbox(slots.label(slot, slot_names[slot]), list(choices[slot]),
                                     key=f"preview_override_tc{slot}") for slot in slots.SLOTS)
            note = st.text_input("Note (optional)", key="preview_override_note")
            set_override = st.form_submit_button("Set override", type="primary")
            clear_override = st.form_submit_button("Clear override")
        outcome = None
        if set_override:
            outcome = ui.write(edits.set_line_overrides, selected_line_ids, by=ui.actor(),
                               tc1=choices[1][tc1], tc2=choices[2][tc2], note=note or None)
        elif clear_override:
            outcome = ui.write(edits.clear_line_overrides, selected_line_ids, by=ui.actor())
        if outcome is not None:
            ui.flash_after_rerun("preview_overrides", edits.describe(outcome, "line"), ui.outcome_tone(outcome))
            st.rerun()

with by_invoice:
    invoice_pages = math.ceil(ui.cached(preview.invoice_count, filters) / preview.PAGE_SIZE)
    invoice_page = st.number_input(f"Page (of {invoice_pages:,}, {preview.PAGE_SIZE} invoices each)",
                                   1, invoice_pages, 1, key="preview_invoice_page", width=260)
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
