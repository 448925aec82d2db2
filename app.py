"""Tracking Desk: the router. Every page file guards itself with `ui.page`, so this only navigates:
to the pages the signed-in person's role may open (before sign-in, every page shows the sign-in screen)."""
import streamlit as st

from core import ui

st.set_page_config(page_title="Tracking Desk", layout="wide")
pages, menu = ui.navigation()
st.navigation(pages, position=menu).run()
