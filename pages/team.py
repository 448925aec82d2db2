import streamlit as st

from core import edits, record_forms, settings_tables, slots, ui

ui.page("Team")

FORM = "team_form"

ui.show_flash(FORM)
st.caption("Team members own clients. An owner's Tracking Category 2 applies to their clients' lines when "
           "neither the service nor the client sets one, and to alignment fees. Select a member to edit them.")
table = ui.cached(settings_tables.team_table)
slot_names = ui.cached(slots.names)
tc2_options = ui.cached(settings_tables.slot_options, 2)
names = dict(zip(table["member_id"].tolist(), table["name"]))

grid, form = st.columns([3, 2], gap="medium")
with grid:
    chosen = ui.record_grid(
        "team_grid", table, column_order=["name", "email", "tc2", "clients"],
        column_config={"name": "Team member", "email": "Email", "tc2": slot_names[2],
                       "clients": st.column_config.NumberColumn("Clients owned")})

with form:
    selected = ui.selected_row(chosen, table, "member_id")
    member_id = ui.editing_record(FORM, None if selected is None else int(selected), names)
    saved = member_id and ui.cached(record_forms.record, "team_member", member_id)
    if not saved:
        st.info("Select a team member in the list to edit them.", icon=":material/touch_app:")
    else:
        with st.container(border=True, key="team_form_panel"):
            st.subheader(f"Edit team member: {saved['name']}")
            changed = ui.record_form(FORM, member_id, saved["name"], [
                ui.FormField("name", "Name", saved["name"], text=True),
                ui.FormField("email", "Email", saved["email"], text=True),
                ui.FormField("tc2_option_id", slots.label(2, slot_names[2]), saved["tc2_option_id"],
                             ui.cached(record_forms.option_choices, 2, saved["tc2_option_id"]))])
        if changed:
            ui.save_form(FORM, member_id, saved["name"], changed, edits.apply_team_edits, "team member")

add, remove = st.columns(2)
with add.form("team_add", clear_on_submit=True):
    st.markdown("**Add a team member**")
    name = st.text_input("Name", key="team_add_name")
    email = st.text_input("Email (optional)", key="team_add_email")
    tc2 = st.selectbox(slots.label(2, slot_names[2]), list(tc2_options), key="team_add_tc2")
    if st.form_submit_button("Add"):
        member = ui.write(edits.add_team_member, name, by=ui.actor(), email=email or None,
                           tc2_option_id=tc2_options[tc2])
        if member is not None:
            ui.flash_after_rerun(FORM, f"{name.strip()} added.")
            st.rerun()
with remove.form("team_remove"):
    st.markdown("**Remove a team member**")
    member = st.selectbox("Team member", list(names), format_func=names.get, index=None, key="team_remove_member")
    if st.form_submit_button("Remove") and member is not None:
        if ui.write(edits.remove_team_member, member, by=ui.actor()) is not None:
            ui.flash_after_rerun(FORM, f"{names[member]} removed.")
            st.rerun()
