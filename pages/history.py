import streamlit as st

from core import history, ui

ui.page("History")

st.caption("Every change to the settings, newest first: who made it, from where (the pages, the command line "
           "or a CSV import), and the value before and after.")
kinds, who = st.columns(2)
entity = kinds.selectbox("What", [None, *ui.cached(history.entities)], key="history_entity",
                         format_func=lambda e: "Everything" if e is None else history.ENTITIES.get(e, e))
person = who.selectbox("Who", [None, *ui.cached(history.people)], key="history_person",
                       format_func=lambda p: "Everyone" if p is None else p)

SHOWN = 1000
log = ui.cached(history.changes, entity, person, SHOWN)
if log.empty:
    st.info("No changes yet." if entity is None and person is None else "No changes match.")
else:
    st.dataframe(log.assign(entity=log["entity"].map(lambda e: history.ENTITIES.get(e, e))),
                 hide_index=True, width="stretch",
                 column_config=dict(zip(history.COLUMNS, history.HEADERS)))
    if len(log) == SHOWN:
        st.caption(f"Showing the newest {SHOWN:,} changes; the download holds them all.")
    st.download_button("Download CSV", lambda: ui.action(history.csv_bytes, entity, person),
                       file_name="change_log.csv", mime="text/csv", on_click="ignore", icon=":material/download:")
