"""Tracking Desk: the router. Every page file guards itself with `ui.page`, so this only navigates."""
import streamlit as st

from core import config, ui

st.set_page_config(page_title="Tracking Desk", layout="wide")
sections: dict[str, list[st.Page]] = {}
for file, title, icon, section in ui.PAGES:
    sections.setdefault(section, []).append(
        st.Page(config.ROOT / file, title=title, icon=icon, default=file == "pages/overview.py"))
st.navigation(sections).run()
