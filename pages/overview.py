from datetime import date

import streamlit as st

from core import autopilot, overview, revenue, slots, ui
from pages import charts

ui.page("Overview")

synced = ui.cached(overview.synced)
if not synced.invoices:
    st.warning("No sales invoices synced from Xero yet. Use **Sync** in the sidebar.")
    st.stop()

heading, as_of = st.columns([4, 1], vertical_alignment="bottom")
today = as_of.date_input("As of", value=date.today(), key="overview_today", format="YYYY-MM-DD",
                         help="The day the periods run to.")
money = ui.cached(overview.money, today)
colours = charts.option_colours(money.option_names)
currency = money.currency
heading.subheader(f"Revenue ({currency}, ex tax, as in Xero)")
st.caption(f"AUTHORISED and PAID invoices. {revenue.CREDIT_NOTES_NOTE} Each period runs to {today:%d %b %Y} and is "
           "set against the same stretch of the period before.")
for column, period, (now, before) in zip(st.columns(len(money.periods)), money.periods, money.totals()):
    column.metric(period.name, f"{now:,}", delta=f"{now - before:+,}", border=True,
                  help=f"{period.start:%d %b %Y} – {period.end:%d %b %Y}. The period before "
                       f"({period.before_start:%d %b %Y} – {period.before_end:%d %b %Y}): {before:,} {currency}.")
chosen = st.segmented_control("By option", range(len(money.periods)), default=len(money.periods) - 1,
                              format_func=lambda i: money.periods[i].name, key="overview_period") or 0
period = money.periods[chosen]
for column, slot in zip(st.columns(2), slots.SLOTS):
    table = money.by_option[slot]
    slot_name = money.slot_names[slot]
    column.plotly_chart(charts.now_and_before(table, chosen, slot_name=slot_name, currency=currency,
                                              names=(period.name, "the period before"), colours=colours),
                        key=f"overview_chart_{slot}")
    column.dataframe(table[["option", f"now_{chosen}", f"before_{chosen}"]], hide_index=True, width="stretch",
                     key=f"overview_money_{slot}", column_config={
                         "option": slot_name, f"now_{chosen}": st.column_config.NumberColumn(period.name,
                                                                                              format="accounting"),
                         f"before_{chosen}": st.column_config.NumberColumn("Period before", format="accounting")})
    unassigned = money.unassigned(slot, chosen)
    with column:
        if unassigned:
            st.markdown(f"**{unassigned:,} {currency}** of {period.name.lower()} carries no {slot_name} option in Xero.")
            ui.page_link("pages/preview.py", "See those lines in the Preview", query_params={
                "unassigned": str(slot), "from": str(period.start), "to": str(period.end)})
        else:
            st.markdown(f"Every line of {period.name.lower()} carries a {slot_name} option in Xero.")

st.subheader("Synced from Xero")

invoices, lines, first, last = st.columns(4)
invoices.metric("Sales invoices and credit notes", f"{synced.invoices:,}")
lines.metric("Invoice lines", f"{synced.lines:,}")
first.metric("First invoice", f"{synced.first_date:%d %b %Y}")
last.metric("Last invoice", f"{synced.last_date:%d %b %Y}")

st.subheader("Needs attention")
attention = ui.cached(overview.attention)
to_do = [
    (attention.lines_to_change, f"{attention.lines_to_change:,} lines on {attention.invoices_to_change:,} "
     "invoices would change in Xero", "pages/preview.py", "Preview them"),
    (attention.blocked_lines, f"{attention.blocked_lines:,} lines are blocked (their wanted option "
     "cannot be used)", "pages/preview.py", "See why"),
    (attention.locked_invoices_with_changes, f"{attention.locked_invoices_with_changes:,} locked invoices "
     "(paid, credited or voided) have lines the rules would change; they will not be pushed",
     "pages/preview.py", "See them"),
]
shown = False
for count, text, page_file, link in to_do:
    if count:
        shown = True
        text_column, link_column = st.columns([4, 1], vertical_alignment="center")
        text_column.markdown(text)
        with link_column:
            ui.page_link(page_file, link)
if not shown:
    st.success("Nothing needs attention: Xero already carries what the rules want.")

st.subheader("Autopilot")
state = ui.cached(autopilot.status)
st.markdown(state.policy.describe() + ("" if state.policy.enabled else " An admin can switch it on in Settings."))
last = state.last_pass
if last:
    st.markdown(f"**Last pass** {last['started_at']:%d %b %Y %H:%M} UTC: {last['summary'] or 'running…'}")
    if last["next_pass_at"]:
        st.caption(f"Next pass at {last['next_pass_at']:%H:%M:%S} UTC · {state.calls_today:,} of "
                   f"{state.policy.daily_calls:,} Xero calls used today")
    else:
        st.caption(f"The autopilot loop is not running · {state.calls_today:,} of {state.policy.daily_calls:,} "
                   "Xero calls used today")
attention_table = ui.cached(autopilot.needs_attention)
if not attention_table.empty:
    st.warning(f"{len(attention_table):,} invoices autopilot tagged need a person: autopilot leaves them alone.",
               icon=":material/person_alert:")
    st.dataframe(attention_table.rename(columns=autopilot.HEADERS), hide_index=True, width="stretch")
for state_name, label in (("tagged", "Tagged by autopilot"), ("left", "Left for a person")):
    decided = ui.cached(autopilot.decided, state_name)
    if not decided.empty:
        with st.expander(f"{label} (latest {len(decided):,})"):
            st.dataframe(decided.rename(columns=autopilot.HEADERS), hide_index=True, width="stretch")

st.subheader("Lines per tracking option, as in Xero")
names = ui.cached(slots.names)
for column, slot in zip(st.columns(2), slots.SLOTS):
    column.markdown(f"**Tracking Category {slot}: {names[slot] or '(not set)'}**")
    column.dataframe(ui.cached(overview.lines_per_option, slot), hide_index=True, width="stretch",
                     column_config={"option": "Option", "status": "Status",
                                    "lines": st.column_config.NumberColumn("Lines", format="%d")})
