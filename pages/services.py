import streamlit as st

from core import settings, ui

ui.page("Services")

EDITOR = "services_editor"

ui.show_flash("services")

st.caption("A service's Tracking Category 2 applies to every invoice line of its item (before the client's). "
           "An alignment-fee service takes the client owner's Tracking Category 2 instead, or none.")
search = st.text_input("Search services by code or name", key="services_search",
                       on_change=lambda: st.session_state.pop(EDITOR, None))
table = ui.cached(settings.services_table, search)
slot_names = ui.cached(settings.slot_names)
edited = st.data_editor(
    table, key=EDITOR, hide_index=True, width="stretch", disabled=["item_code", "service"],
    column_config={
        "item_code": st.column_config.TextColumn("Item code"),
        "service": st.column_config.TextColumn("Service"),
        "tc2": st.column_config.SelectboxColumn(slot_names[2], options=list(ui.cached(settings.slot_options, 2)),
                                                required=True),
        "alignment_fee": st.column_config.CheckboxColumn("Alignment fee"),
    })
if st.button("Save", type="primary", key="services_save"):
    outcome = ui.action(settings.save_services, table, edited, by=ui.actor())
    if outcome is not None:
        ui.flash_after_rerun("services", settings.describe(outcome, "service"), outcome.tone)
        st.session_state.pop(EDITOR, None)
        st.rerun()
