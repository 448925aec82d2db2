import streamlit as st

from core import edits, record_forms, settings_tables, slots, ui

ui.page("Clients")

FORM = "client_form"

ui.show_flash(FORM)
st.caption("Select a client to edit its owner, Tracking Category 1 and 2 and whether its invoice lines are "
           "consolidated. Only options active in Xero can be chosen.")
search = st.text_input("Search clients by name", key="clients_search")
table = ui.cached(settings_tables.clients_table, search)
total = ui.cached(settings_tables.client_count, search)
slot_names = ui.cached(slots.names)
names = dict(zip(table["contact_id"], table["client"]))

grid, form = st.columns([3, 2], gap="medium")
with grid:
    chosen = ui.record_grid(
        "clients_grid", table, column_order=["client", "owner", "tc1", "tc2", "consolidate"],
        column_config={"client": "Client", "owner": "Owner", "tc1": slot_names[1], "tc2": slot_names[2],
                       "consolidate": st.column_config.CheckboxColumn("Consolidate lines")})
    if total > len(table):
        st.caption(f"Showing {len(table):,} of {total:,} clients: search to find the others.")

with form:
    contact_id = ui.editing_record(FORM, ui.selected_row(chosen, table, "contact_id"), names)
    saved = contact_id and ui.cached(record_forms.record, "client", contact_id)
    if not saved:
        st.info("Select a client in the list to edit it.", icon=":material/touch_app:")
        st.stop()
    with st.container(border=True, key="client_form_panel"):
        st.subheader(f"Edit client: {saved['name']}")
        changed = ui.record_form(FORM, contact_id, saved["name"], [
            ui.FormField("owner_id", "Client owner", saved["owner_id"], ui.cached(settings_tables.owner_options)),
            *(ui.FormField(f"tc{slot}_option_id", slots.label(slot, slot_names[slot]),
                           saved[f"tc{slot}_option_id"],
                           ui.cached(record_forms.option_choices, slot, saved[f"tc{slot}_option_id"]))
              for slot in slots.SLOTS),
            ui.FormField("consolidate", "Consolidate lines", saved["consolidate"])])
        st.markdown("**Effective rules** (as saved):")
        rules_now = ui.cached(record_forms.client_rules, contact_id, slot_names)
        st.markdown("\n".join(f"- **{slot_names[slot]}:** {rules_now[slot]}" for slot in slots.SLOTS))
    if changed:
        ui.save_form(FORM, contact_id, saved["name"], changed, edits.apply_client_edits, "client")
