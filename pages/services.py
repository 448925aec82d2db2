import streamlit as st

from core import edits, record_forms, settings_tables, slots, ui

ui.page("Services")

FORM = "service_form"

ui.show_flash(FORM)
st.caption("A service's Tracking Category 2 applies to every invoice line of its item (before the client's). "
           "An alignment-fee service takes the client owner's Tracking Category 2 instead, or none. "
           "Select a service to edit it.")
search = st.text_input("Search services by code or name", key="services_search")
table = ui.cached(settings_tables.services_table, search)
slot_names = ui.cached(slots.names)
names = dict(zip(table["item_code"], table["service"]))

grid, form = st.columns([3, 2], gap="medium")
with grid:
    chosen = ui.record_grid(
        "services_grid", table, column_config={"item_code": "Item code", "service": "Service", "tc2": slot_names[2],
                       "alignment_fee": st.column_config.CheckboxColumn("Alignment fee")})

with form:
    item_code = ui.editing_record(FORM, ui.selected_row(chosen, table, "item_code"), names)
    saved = item_code and ui.cached(record_forms.record, "service", item_code)
    if not saved:
        st.info("Select a service in the list to edit it.", icon=":material/touch_app:")
        st.stop()
    with st.container(border=True, key="service_form_panel"):
        st.subheader(f"Edit service: {saved['name']} ({item_code})")
        changed = ui.record_form(FORM, item_code, saved["name"], [
            ui.FormField("tc2_option_id", slots.label(2, slot_names[2]), saved["tc2_option_id"],
                         ui.cached(record_forms.option_choices, 2, saved["tc2_option_id"])),
            ui.FormField("alignment_fee", "Alignment fee (takes the client owner's instead)", saved["alignment_fee"])])
    if changed:
        ui.save_form(FORM, item_code, saved["name"], changed, edits.apply_service_edits, "service")
