import streamlit as st

from core import connection, slots, ui

ui.page("Settings")

st.subheader("Connection to Xero")
try:
    details = connection.describe()
except Exception as e:
    ui.show_error(e)
else:
    st.markdown("\n".join(f"- **{name}:** {value}" for name, value in details.items()))
with st.expander("How to connect your own Xero organisation"):
    st.markdown("""
Create a **custom connection** in the Xero developer portal (developer.xero.com → My Apps) with the
scopes `accounting.invoices`, `accounting.settings.read` and `accounting.contacts.read`, and authorise
it for your organisation. Then give the app its client id and secret, either as environment variables
before starting it:
```
export XERO_CLIENT_ID=...
export XERO_CLIENT_SECRET=...
```
or in `.streamlit/secrets.toml` (see `.streamlit/secrets.toml.example`; the file is never committed):
```
[xero]
client_id = "..."
client_secret = "..."
```
Restart the app and press **Sync**. The secret is never stored in the database or shown here.
""")

st.subheader("Tracking categories")
st.markdown("Choose which Xero tracking category the app calls **Tracking Category 1** and which "
            "**Tracking Category 2**. Both must be active in Xero and different.")
sync_column, hint_column = st.columns([1, 4], vertical_alignment="center")
hint_column.caption(slots.SYNC_HINT)
if sync_column.button("Sync now", icon=":material/sync:", key="settings_sync"):
    ui.sync_now()

for problem in ui.cached(slots.problems):
    st.warning(problem, icon=":material/warning:")

active = ui.cached(slots.active_categories)
if len(active) < len(slots.SLOTS):
    st.stop()

names = {c.category_id: c.name if c.active_options else f"{c.name} (no active options)" for c in active}
ids = list(names)
current = ui.cached(slots.current)
with st.form("slot_map"):
    tc1, tc2 = (st.selectbox(f"Tracking Category {slot}", ids, format_func=names.get,
                             index=ids.index(current[slot]) if current[slot] in ids else None)
                for slot in slots.SLOTS)
    if st.form_submit_button("Save", type="primary"):
        if tc1 is None or tc2 is None:
            st.error("Choose a category for both Tracking Category 1 and Tracking Category 2.")
        else:
            changed = ui.action(slots.save, tc1, tc2, by=ui.user_name())
            if changed:
                st.success(f"Saved: Tracking Category 1 is {names[tc1]}, Tracking Category 2 is {names[tc2]}.")
            elif changed is False:
                st.info("Nothing to save: that is already the slot map.")
