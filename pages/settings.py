import streamlit as st

from core import autopilot, config, connection, retire, slots, ui
from core.xero import oauth

ui.page("Settings")

st.subheader("Connection to Xero")
xero = None
try:
    if connection.connects_with_code():
        xero = connection.xero_config()
        returned = {key: st.query_params[key] for key in oauth.RETURN_PARAMS if key in st.query_params}
        for key in returned:  # the code and state are used once: off the address bar
            del st.query_params[key]
        if returned:
            oauth.finish(xero, returned, by=ui.actor())
            st.success("Xero approved the connection. Choose the organisation to work with below.")
    details = connection.describe()
except Exception as e:
    ui.show_error(e)
else:
    st.markdown("\n".join(f"- **{name}:** {value}" for name, value in details.items()))
if xero is not None:
    ui.show_flash("xero")
    saved = oauth.status(xero)
    if saved.tenant_id:
        if st.button("Disconnect from Xero", icon=":material/link_off:", key="xero_disconnect",
                     help="Forget the saved connection here and revoke it in Xero"):
            try:
                oauth.disconnect(xero, by=ui.actor())
            except Exception as e:
                ui.show_error(e)
            else:
                ui.flash_after_rerun("xero", "Disconnected from Xero.")
                st.rerun()
    elif saved.organisations:
        names = {o.tenant_id: o.name for o in saved.organisations}
        tenant = st.selectbox("Organisation", list(names), format_func=names.get, key="xero_tenant")
        if held := ui.cached(connection.organisation_held_instead, tenant, names[tenant]):
            st.warning(f"This database holds the data of ‘{held}’, so syncing {names[tenant]} into it will be "
                       f"refused. To work with {names[tenant]}, start the app with a database file of its own "
                       "(set TRACKING_DB=/path/to/another.duckdb).", icon=":material/warning:")
        if st.button("Use this organisation", type="primary", key="xero_choose"):
            try:
                chosen = oauth.choose(xero, tenant, by=ui.actor())
            except Exception as e:
                ui.show_error(e)
            else:
                ui.flash_after_rerun("xero", f"Connected to {chosen.name}. Syncing it now.")
                st.session_state["xero_sync_after_connect"] = True
                st.rerun()
    else:
        link = st.session_state.get("xero_authorize")
        if not oauth.still_usable(xero, link):
            link = oauth.begin(xero, xero.redirect_uri or st.context.url or oauth.DEFAULT_REDIRECT_URI,
                               by=ui.actor())
            st.session_state["xero_authorize"] = link
        st.link_button("Connect to Xero", link.url, type="primary", icon=":material/link:",
                       help="Opens Xero in a new tab: sign in, approve, and you come back here")
    if st.session_state.pop("xero_sync_after_connect", False):
        ui.sync_now(full=True)
with st.expander("How to connect your own Xero organisation"):
    st.markdown("""
**Connect to Xero** (the usual way): register an app in the Xero developer portal (developer.xero.com →
My Apps → New app, type *Web app*, or *Mobile or desktop app* for one without a secret) with the redirect
URI of this page, e.g. `http://localhost:8501/settings`. Give the app its client id (and secret, if it has
one) and turn the flow on, in `.streamlit/secrets.toml` (see `.streamlit/secrets.toml.example`; the file is
never committed) or as `XERO_AUTH`, `XERO_CLIENT_ID`, … environment variables:
```
[xero]
auth = "code"
client_id = "..."
client_secret = "..."        # only for a Web app
redirect_uri = "http://localhost:8501/settings"
```
Restart the app, press **Connect to Xero** here, approve in Xero, and choose the organisation. The tokens
are kept in a file readable only by you beside the database (`token_file` to move it), never in the
database or on a page; the command line (`python -m core sync`) uses the same connection.

**Custom connection** (a paid Xero option for one organisation): create it with the scopes
`accounting.invoices`, `accounting.settings.read` and `accounting.contacts.read`, authorise it for your
organisation, and give the app its client id and secret (without `auth = "code"`):
```
export XERO_CLIENT_ID=...
export XERO_CLIENT_SECRET=...
```
Restart the app and press **Sync**. The secret is never stored in the database or shown here.

To try Connect to Xero without a Xero account, set only `XERO_AUTH=code`: the flow then runs against the
local Xero sandbox and its demo organisation.
""")

st.subheader("Autopilot")
st.markdown("When autopilot is on, new sales invoices get their tracking within minutes, without a person: each "
            "pass (`python -m core autopilot run --every 5m`, see the README) syncs, applies the rules and pushes "
            "the changes of invoices Xero created after it was switched on. Older invoices stay yours, on Push.")
ui.show_flash("autopilot")
policy = ui.cached(autopilot.policy)
st.caption(policy.describe())
with st.form("autopilot_policy"):
    enabled = st.toggle("Autopilot on", value=policy.enabled, key="autopilot_enabled")
    statuses = st.multiselect("Invoice statuses it may tag", autopilot.STATUSES, default=list(policy.statuses),
                              key="autopilot_statuses")
    daily_calls = st.number_input("Xero calls a day it may use", *autopilot.DAILY_CALLS_RANGE,
                                  value=policy.daily_calls, step=100, key="autopilot_daily_calls")
    if st.form_submit_button("Save", type="primary", key="autopilot_save"):
        try:
            if enabled:
                with st.spinner("Syncing with Xero first: what it holds now is not new…"):
                    saved = autopilot.switch_on(connection.gateway(), by=ui.actor(), statuses=tuple(statuses),
                                                daily_calls=int(daily_calls))
            else:
                saved = autopilot.switch_off(by=ui.actor())
        except Exception as e:
            ui.show_error(e)
        else:
            ui.flash_after_rerun("autopilot", saved.describe())
            st.rerun()
if policy.enabled and st.button("Run a pass now", icon=":material/play_arrow:", key="autopilot_run"):
    try:
        with st.spinner("Autopilot: syncing, applying the rules, pushing the new invoices…"):
            ran = autopilot.run_pass(connection.gateway)
    except Exception as e:
        ui.show_error(e)
    else:
        (st.error if ran.outcome == "failed" else st.warning if ran.outcome == "partial" else st.success)(ran.summary)
try:
    demo_organisation = connection.is_demo()
except config.ConfigError:  # the connection section above says what is wrong
    demo_organisation = False
if demo_organisation:
    count, create = st.columns([1, 3], vertical_alignment="bottom")
    new_count = count.number_input("New invoices", 1, 200, 10, key="demo_new_count")
    if create.button("Create new invoices in the demo Xero", icon=":material/note_add:", key="demo_new_invoices"):
        try:
            numbers = connection.create_demo_invoices(int(new_count))
        except Exception as e:
            ui.show_error(e)
        else:
            st.success(f"Created {len(numbers)} draft invoices in the demo Xero ({numbers[0]} to {numbers[-1]}). "
                       "Autopilot's next pass tags them; a sync shows them.")

st.subheader("Sign-in and roles")
if ui.sign_in_configured():
    me = ui.actor()
    st.markdown(f"Sign-in is on: you are signed in as **{me.name}** ({me.who}) with the **{me.role}** role. "
                "People's roles, from `[roles]` in `.streamlit/secrets.toml`:")
    st.dataframe([{"Address": address, "Role": role} for address, role in ui.roles().items()], hide_index=True)
else:
    st.info(ui.LOCAL_MODE_NOTE, icon=":material/lock_open:")
with st.expander("How to turn on sign-in and give people roles"):
    st.markdown("""
Sign-in uses Streamlit's built-in OpenID Connect (Google, Microsoft Entra, Okta, Auth0, …). Register the
app with your identity provider (redirect URI `https://YOUR-ADDRESS/oauth2callback`), then add to
`.streamlit/secrets.toml`:
```
[auth]
redirect_uri = "https://YOUR-ADDRESS/oauth2callback"
cookie_secret = "a long random string"
client_id = "..."
client_secret = "..."
server_metadata_url = "https://accounts.google.com/.well-known/openid-configuration"

[roles]
"partner@practice.com" = "viewer"      # Overview, Preview, Revenue
"billing@practice.com" = "editor"      # also Clients, Services, Team, line overrides, CSV imports, History
"admin@practice.com" = "admin"         # also Push, Undo and Settings (slot map, Xero connection)
# "@practice.com" = "viewer"           # everyone at a domain
# default = "viewer"                   # any other signed-in address; without it they have no access
```
Restart the app. Once sign-in is on, the app may listen on other addresses: start it with
`--server.address 0.0.0.0` (`.streamlit/config.toml` keeps it on localhost).
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
            changed = ui.action(slots.save, tc1, tc2, by=ui.actor())
            if changed:
                st.success(f"Saved: Tracking Category 1 is {names[tc1]}, Tracking Category 2 is {names[tc2]}.")
            elif changed is False:
                st.info("Nothing to save: that is already the slot map.")

st.subheader("Retire an option")
st.markdown("When an option goes (a partner leaves, a department closes), every client, service, team member and "
            "line override that names it can name another option instead, and lines tagged with it by hand get an "
            "override. Nothing is sent to Xero until you push: the Preview shows the changes first.")
ui.show_flash("retire")
slot_names = ui.cached(slots.names)
slot_labels = {slot: slots.label(slot, name) for slot, name in slot_names.items()}
retire_slot = st.radio("Slot", list(slot_labels), format_func=slot_labels.get, horizontal=True, key="retire_slot")
retirable, successors = ui.cached(retire.choices, retire_slot)
old = st.selectbox("Option to retire", retirable, index=None, key="retire_old")
new = st.selectbox("Its clients, services, team members and lines go to", [s for s in successors if s != old],
                   index=None, key="retire_new")
if old and new and st.button("Show what would change", key="retire_check"):
    st.session_state["retire_plan"] = ui.action(retire.retire_option, retire_slot, old, new, by=ui.actor(),
                                                dry_run=True)
plan = st.session_state.get("retire_plan")
if plan is not None and (plan.slot, plan.old, plan.new) == (retire_slot, old, new):
    st.info("\n\n".join(plan.summary()), icon=":material/preview:")
    if plan.changes:
        st.dataframe(plan.changes_table(), hide_index=True)
        if st.button(f"Retire {old} into {new}", type="primary", icon=":material/move_down:", key="retire_apply"):
            done = ui.action(retire.retire_option, retire_slot, old, new, by=ui.actor())
            if done is not None:
                del st.session_state["retire_plan"]
                ui.flash_after_rerun("retire", "\n\n".join(done.summary()))
                st.rerun()
ui.page_link("pages/preview.py", "See the changes in the Preview")
