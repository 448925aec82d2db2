import streamlit as st

from core import connection, pack, reconcile, revenue, ui
from core.statuses import REVENUE, REVENUE_CHOICES
from pages import charts

ui.page("Revenue")

MONEY = st.column_config.NumberColumn(format="accounting")
SHARE = st.column_config.NumberColumn("Share %", format="%.1f")

choices = ui.cached(revenue.choices)

top = st.columns(3)
slot = top[0].radio("Revenue by", revenue.SLOTS, format_func=choices.slot_names.get, horizontal=True, key="slot")
view = top[1].radio("Tracking", list(revenue.VIEWS), format_func=revenue.VIEWS.get, horizontal=True, key="view",
                    help="As in Xero: the options the lines carry in Xero now. After rules: the options the "
                         "lines would carry once the rules are pushed.")
period = top[2].radio("Bars per", revenue.PERIODS, format_func=str.title, horizontal=True, key="period")

row = st.columns([2, 2, 3, 1])
picked = row[0].date_input("Invoice dates", value=(), key="dates", format="YYYY-MM-DD",
                           help="Leave empty to count every invoice, whatever its date.")
statuses = row[1].multiselect("Invoice status", REVENUE_CHOICES, default=REVENUE, key="statuses",
                              help="Voided and deleted invoices never count.")
client_names = dict(choices.clients)
clients = row[2].multiselect("Clients", list(client_names), format_func=client_names.get, key="clients",
                             placeholder="All clients")
currencies = row[3].multiselect("Currency", choices.currencies, key="currencies", placeholder="All")

date_from, date_to = (*picked, None, None)[:2]
try:
    filters = revenue.Filters(date_from=date_from, date_to=date_to, statuses=tuple(statuses),
                              contact_ids=tuple(clients), currencies=tuple(currencies))
except revenue.InvalidFilter as e:
    st.error(str(e), icon=":material/error:")
    st.stop()

summary = ui.cached(revenue.summary, filters)
slot_name, currency = summary.slot_names[slot], summary.base_currency
colours = charts.option_colours(summary.option_names)
st.caption(revenue.CONVERSION_NOTE.format(base=currency))
if not summary.lines:
    st.info("No invoice lines match these filters.", icon=":material/info:")
    st.stop()

ranking = revenue.ranking(summary, slot, view)
figures = st.columns(2)
figures[0].metric(f"Revenue ({currency}, ex tax)", f"{summary.total:,}", help=f"{summary.lines:,} invoice lines")
figures[1].metric(f"Moves to another {slot_name} after rules", f"{revenue.moved(ranking):,}",
                  help="The revenue the rules would move between options (net, option by option).")

st.subheader(f"By {period}")
periods = revenue.by_period(summary, slot, period, view)
side_by_side = st.toggle("Show “As in Xero” and “After rules” side by side", key="side_by_side")
shown_views = list(revenue.VIEWS) if side_by_side else [view]
for column, shown in zip(st.columns(len(shown_views)), shown_views):
    column.plotly_chart(charts.revenue_by_period(periods, shown, slot_name=slot_name, currency=currency,
                                                 colours=colours), key=f"chart_{shown}" if side_by_side else "chart")
st.caption("To save the chart as a PNG, use the camera button in the chart's toolbar (your browser draws it).")
st.download_button("Download by period (CSV)", lambda: revenue.csv_bytes(periods.drop(columns="option_id")),
                   file_name=f"revenue_by_{period}.csv", mime="text/csv", on_click="ignore", key="periods_csv")

st.subheader(f"Ranking of {slot_name} options")
st.caption("Both views side by side; the difference is what the rules would move. The share is of the "
           f"total in the chosen view ({revenue.VIEWS[view]}).")
st.dataframe(ranking.drop(columns="option_id"), hide_index=True, key="ranking", column_config={
    "option": slot_name, "as_in_xero": MONEY | {"label": "As in Xero"},
    "after_rules": MONEY | {"label": "After rules"}, "difference": MONEY | {"label": "Difference"},
    "share_pct": SHARE})
st.download_button("Download ranking (CSV)", lambda: revenue.csv_bytes(ranking.drop(columns="option_id")),
                   file_name=f"revenue_ranking_{slot_name}.csv", mime="text/csv", on_click="ignore",
                   key="ranking_csv")

st.subheader(f"{summary.slot_names[1]} × {summary.slot_names[2]}")
st.caption(revenue.VIEWS[view])
cross = revenue.cross_table(summary, view)
st.dataframe(cross, key="cross", column_config={c: MONEY | {"label": c} for c in cross.columns})
st.download_button("Download cross table (CSV)", lambda: revenue.csv_bytes(cross, index=True),
                   file_name="revenue_cross_table.csv", mime="text/csv", on_click="ignore", key="cross_csv")

st.subheader("Drill down")
names = {option or "": name for option, name in zip(ranking["option_id"], ranking["option"])}
chosen = st.selectbox(f"{slot_name} option ({revenue.VIEWS[view]})", list(names), index=None, format_func=names.get,
                      key="drill", placeholder="Choose an option to see its clients and invoices")
if chosen is not None:
    option = chosen or None  # "" stands for Unassigned, whose option id is None
    drill = ui.cached(revenue.drill, filters, slot, view, option)
    money = {"amount": MONEY | {"label": f"Revenue {currency}"}}
    left, right = st.columns([2, 3])
    left.dataframe(drill.clients.drop(columns="contact_id"), hide_index=True, key="drill_clients", column_config=money)
    left.download_button("Download clients (CSV)", lambda: revenue.csv_bytes(drill.clients),
                         file_name="revenue_clients.csv", mime="text/csv", on_click="ignore", key="clients_csv")
    right.dataframe(drill.invoices.drop(columns="invoice_id"), hide_index=True, key="drill_invoices",
                    column_config=money)
    right.download_button("Download invoices (CSV)", lambda: revenue.csv_bytes(drill.invoices),
                          file_name="revenue_invoices.csv", mime="text/csv", on_click="ignore", key="invoices_csv")

st.subheader("Check against Xero's Profit and Loss")
date_words = f"{date_from} to {date_to}" if date_from and date_to else "every synced invoice's date"
st.caption(f"Reads Xero's Profit and Loss report split by {slot_name} for {date_words} and sets each option's "
           "income next to this page's “As in Xero” figure for AUTHORISED and PAID invoices and credit notes of "
           "every client and currency, as Xero's report counts them. A difference is explained where the data "
           "allows (manual journals that carry the option); what is left is named.")
asked = (slot, date_from, date_to)
if st.button("Check against Xero", icon=":material/fact_check:", key="reconcile"):
    try:
        st.session_state["reconciled"] = asked, reconcile.reconcile(connection.gateway(), slot, date_from, date_to)
    except Exception as e:
        ui.show_error(e)
checked, result = st.session_state.get("reconciled", (None, None))
if result is not None and checked == asked:
    (st.success if not result.unexplained else st.warning)(result.summary())
    st.dataframe(result.table(), hide_index=True, key="reconciliation", column_config={
        "option": slot_name, "xero": MONEY | {"label": "Xero's P&L"}, "dashboard": MONEY | {"label": "As in Xero here"},
        "difference": MONEY | {"label": "Difference"}, "explained": MONEY | {"label": "Explained"},
        "unexplained": MONEY | {"label": "Not explained"}, "explanation": st.column_config.TextColumn("Why", width="large")})

st.subheader("Partner pack")
st.caption("One Excel workbook with these filters: the ranking, revenue by month (with a chart) and the cross table of "
           "both tracking categories, as in Xero and after the rules, amounts as numbers in " + currency + ".")
st.download_button("Download the partner pack (Excel)", lambda: pack.workbook(summary, filters),
                   file_name="partner_pack.xlsx", on_click="ignore", key="pack", icon=":material/download:",
                   mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
