import streamlit as st

from core import settings, ui

ui.page("Clients")

EDITOR = "clients_editor"
LINE_COLUMNS = {"invoice_number": "Invoice", "invoice_date": "Date", "invoice_status": "Invoice status",
                "description": "Description", "line_amount": "Amount",
                "tc1_current_name": "TC1 in Xero", "tc1_wanted_name": "TC1 wanted", "tc1_source": "TC1 source",
                "tc2_current_name": "TC2 in Xero", "tc2_wanted_name": "TC2 wanted", "tc2_source": "TC2 source",
                "status": "Status", "reason": "Reason"}

ui.show_flash("clients")

st.caption("Each client's owner, Tracking Category 1 and 2 and whether its invoice lines are consolidated. "
           "Only options active in Xero can be chosen.")
search = st.text_input("Search clients by name", key="clients_search",
                       on_change=lambda: st.session_state.pop(EDITOR, None))
table = ui.cached(settings.clients_table, search)
total = ui.cached(settings.client_count, search)
slot_names = ui.cached(settings.slot_names)
edited = st.data_editor(
    table, key=EDITOR, hide_index=True, width="stretch",
    column_order=["client", "owner", "tc1", "tc2", "consolidate"], disabled=["contact_id", "client"],
    column_config={
        "client": st.column_config.TextColumn("Client"),
        "owner": st.column_config.SelectboxColumn("Owner", options=list(ui.cached(settings.owner_options)),
                                                  required=True),
        "tc1": st.column_config.SelectboxColumn(slot_names[1], options=list(ui.cached(settings.slot_options, 1)),
                                                required=True),
        "tc2": st.column_config.SelectboxColumn(slot_names[2], options=list(ui.cached(settings.slot_options, 2)),
                                                required=True),
        "consolidate": st.column_config.CheckboxColumn("Consolidate lines"),
    })
if total > len(table):
    st.caption(f"Showing {len(table):,} of {total:,} clients: search to find the others.")
if st.button("Save", type="primary", key="clients_save"):
    outcome = ui.action(settings.save_clients, table, edited, by=ui.actor())
    if outcome is not None:
        ui.flash_after_rerun("clients", settings.describe(outcome, "client"), outcome.tone)
        st.session_state.pop(EDITOR, None)
        st.rerun()

st.subheader("Client detail")
names = dict(zip(table["contact_id"], table["client"]))
client = st.selectbox("Client", list(names), format_func=names.get, index=None, key="clients_detail",
                      placeholder="Choose a client to see its invoice lines as the rules see them")
if client:
    lines = ui.cached(settings.client_lines, client)
    if lines.empty:
        st.info(f"{names[client]} has no sales invoices.")
    else:
        st.dataframe(lines.rename(columns=LINE_COLUMNS), hide_index=True, width="stretch")
