"""Tracking Desk: the router. Every page file guards itself with `ui.page`, which also draws the app's
menu, so this only navigates: to the pages the signed-in person's role may open (before sign-in, every
page shows the sign-in screen). Streamlit's own menu stays hidden, as on a page opened cold from its URL."""
import streamlit as st

from core import ui

st.set_page_config(page_title="Tracking Desk", layout="wide", initial_sidebar_state="auto")
st.navigation(ui.navigation(), position="hidden").run()
