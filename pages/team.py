import streamlit as st

from core import settings, ui

ui.page("Team")

EDITOR = "team_editor"

ui.show_flash("team")

st.caption("Team members own clients. An owner's Tracking Category 2 applies to their clients' lines when "
           "neither the service nor the client sets one, and to alignment fees.")
table = ui.cached(settings.team_table)
slot_names = ui.cached(settings.slot_names)
tc2_options = ui.cached(settings.slot_options, 2)
edited = st.data_editor(
    table, key=EDITOR, hide_index=True, width="stretch", column_order=["name", "email", "tc2", "clients"],
    disabled=["member_id", "clients"],
    column_config={
        "name": st.column_config.TextColumn("Team member", required=True),
        "email": st.column_config.TextColumn("Email"),
        "tc2": st.column_config.SelectboxColumn(slot_names[2], options=list(tc2_options), required=True),
        "clients": st.column_config.NumberColumn("Clients owned"),
    })
if st.button("Save", type="primary", key="team_save"):
    outcome = ui.action(settings.save_team, table, edited, by=ui.actor())
    if outcome is not None:
        ui.flash_after_rerun("team", settings.describe(outcome, "team member"), outcome.tone)
        st.session_state.pop(EDITOR, None)
        st.rerun()

add, remove = st.columns(2)
with add.form("team_add", clear_on_submit=True):
    st.markdown("**Add a team member**")
    name = st.text_input("Name", key="team_add_name")
    email = st.text_input("Email (optional)", key="team_add_email")
    tc2 = st.selectbox(slot_names[2], list(tc2_options), key="team_add_tc2")
    if st.form_submit_button("Add"):
        member = ui.action(settings.add_team_member, name, by=ui.actor(), email=email or None,
                           tc2_option_id=tc2_options[tc2])
        if member is not None:
            ui.flash_after_rerun("team", f"{name.strip()} added.")
            st.rerun()
with remove.form("team_remove"):
    st.markdown("**Remove a team member**")
    members = dict(zip(table["member_id"].tolist(), table["name"]))
    member = st.selectbox("Team member", list(members), format_func=members.get, index=None, key="team_remove_member")
    if st.form_submit_button("Remove") and member is not None:
        if ui.action(settings.remove_team_member, member, by=ui.actor()) is not None:
            ui.flash_after_rerun("team", f"{members[member]} removed.")
            st.rerun()
