import pandas as pd
import streamlit as st

from core import history, ui

ui.page("History")

st.caption("Settings changes, pushes and undos, newest first: who, from where (the dashboard, the command line or "
           "a CSV import), and what changed. Select a push or an undo to see every line it sent.")
kinds, who = st.columns(2)
kind = kinds.selectbox("What", [None, *ui.cached(history.entities), *history.PUSH_KINDS], key="history_entity",
                       format_func=lambda e: "Everything" if e is None else history.EVENT_KINDS.get(e, e))
person = who.selectbox("Who", [None, *ui.cached(history.people)], key="history_person",
                       format_func=lambda p: "Everyone" if p is None else p)

SHOWN = 1000
events = pd.DataFrame(ui.cached(history.events, kind, person, SHOWN),
                      columns=["when", "who", "source", "what", "name", "change", "push_id"])
if events.empty:
    st.info("No changes yet." if kind is None and person is None else "No changes match.")
    st.stop()

chosen = st.dataframe(
    events, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="history_events",
    column_order=["when", "who", "source", "what", "name", "change"],
    column_config={"when": st.column_config.DatetimeColumn("When (UTC)", format="D MMM YYYY HH:mm", width=140),
                   "who": st.column_config.TextColumn("Who", width=150),
                   "source": st.column_config.TextColumn("From", width=110),
                   "what": st.column_config.TextColumn("What", width=100),
                   "name": st.column_config.TextColumn("Name", width=170),
                   "change": st.column_config.TextColumn("Change", width="large")})
if len(events) == SHOWN:
    st.caption(f"Showing the newest {SHOWN:,}; the download of the settings changes holds them all.")
st.download_button("Download the settings changes (CSV)", lambda: ui.action(history.csv_bytes, kind, person),
                   file_name="change_log.csv", mime="text/csv", on_click="ignore", icon=":material/download:",
                   key="history_csv")

selected = events.iloc[chosen.selection.rows[0]] if chosen.selection.rows else None
if selected is not None and not pd.isna(selected["push_id"]):
    push_id = int(selected["push_id"])
    st.subheader(f"{selected['name']}: line by line")
    st.markdown(selected["change"])
    log = pd.DataFrame(ui.cached(history.push_log, push_id))
    st.dataframe(log, hide_index=True, width="stretch", key="history_push_log",
                 column_order=list(history.PUSH_LOG_HEADERS), column_config=history.PUSH_LOG_HEADERS)
    st.download_button(f"Download the lines of {selected['name'].lower()} (CSV)",
                       lambda: ui.action(history.push_log_csv, push_id), file_name=f"push_{push_id}_lines.csv",
                       mime="text/csv", on_click="ignore", icon=":material/download:", key="history_push_csv")
