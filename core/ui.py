"""Streamlit glue: the page guard, cached queries, errors in plain words, the sidebar.

The only module under `core/` that imports Streamlit. A `pages/` folder sits beside app.py, so a
cold deep link runs a page file without app.py (STREAMLIT_NOTES §1.1): `page()`, called first in
every page file, therefore does everything a page needs on its own.
"""
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from core import config, connection, store, sync

DEMO_BANNER = ("This is the demo organisation on a local Xero sandbox. "
               "To connect your own Xero organisation, see Settings.")
LOCAL_USER = "Local user"

# Exceptions whose message is written for people; matched by name (subclasses too), so this
# module does not import every feature module just to recognise its error.
PLAIN_WORD_ERRORS = {
    "core.config.ConfigError",
    "core.store.DatabaseBusy",
    "core.xero.gateway.XeroError",
    "core.settings.InvalidChange",
    "core.slots.InvalidSlots",
    "core.csv_io.CsvError",
    "core.push.PushError",
    "core.revenue.InvalidFilter",
}

# The app's pages as (file, title, icon, section), in navigation order.
PAGES = [
    ("pages/overview.py", "Overview", ":material/dashboard:", "Tracking"),
    ("pages/preview.py", "Preview", ":material/table_view:", "Tracking"),
    ("pages/push.py", "Push", ":material/cloud_upload:", "Tracking"),
    ("pages/revenue.py", "Revenue", ":material/bar_chart:", "Reports"),
    ("pages/clients.py", "Clients", ":material/groups:", "Assignments"),
    ("pages/services.py", "Services", ":material/sell:", "Assignments"),
    ("pages/team.py", "Team", ":material/badge:", "Assignments"),
    ("pages/import_csv.py", "Import CSV", ":material/upload_file:", "Assignments"),
    ("pages/history.py", "History", ":material/history:", "Admin"),
    ("pages/settings.py", "Settings", ":material/settings:", "Admin"),
]

log = logging.getLogger(__name__)


def page(title: str) -> None:
    """The guard every page file calls first: bootstrap, demo banner, sidebar, title."""
    st.set_page_config(page_title=f"{title} · Tracking Desk", layout="wide")
    demo = _demo_mode()
    if demo:
        try:
            _bootstrap_demo(str(config.db_path()))
        except Exception as e:
            show_error(e)
        st.info(DEMO_BANNER, icon=":material/science:")
    sidebar(demo)
    st.title(title)


def page_link(file: str, label: str) -> None:
    """A link to another page; a page file run on its own (as AppTest does) has no navigation, so a plain link."""
    try:
        st.page_link(file, label=label, icon=":material/arrow_forward:")
    except StreamlitPageNotFoundError:
        st.markdown(f"[{label}](/{Path(file).stem})")


def flash_after_rerun(key: str, message: str, tone: str = "success") -> None:
    """Keep `message` for `show_flash(key)` to show once the `st.rerun()` ending an action has run."""
    st.session_state[f"flash_{key}"] = message, tone


def show_flash(key: str) -> None:
    if kept := st.session_state.pop(f"flash_{key}", None):
        message, tone = kept
        getattr(st, tone)(message)


def user_name() -> str:
    """Who is acting, for the change log (sign-in does not exist yet)."""
    return LOCAL_USER


def cached(fn: Callable, *args: Any) -> Any:
    """`fn(con, *args)`, cached until the next write to the database (keyed on `data_version`)."""
    db = str(config.db_path())
    with store.connect(db) as con:
        version = store.data_version(con)
    return _cached_call(f"{fn.__module__}.{fn.__qualname__}", db, version, fn, args)


@st.cache_data(show_spinner=False, max_entries=512)
def _cached_call(name: str, db: str, version: int, _fn: Callable, args: tuple) -> Any:
    with store.connect(db) as con:
        return _fn(con, *args)


def action(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Run `fn(con, *args, **kwargs)` on a fresh connection; a known error is shown, and None returned."""
    try:
        with store.connect() as con:
            return fn(con, *args, **kwargs)
    except Exception as e:
        if not is_plain_words(e):
            raise
        show_error(e)
        return None


def is_plain_words(error: BaseException) -> bool:
    return any(f"{k.__module__}.{k.__qualname__}" in PLAIN_WORD_ERRORS for k in type(error).__mro__)


def show_error(error: BaseException) -> None:
    """An error as a plain-words `st.error`; an unexpected one is logged and named, never a traceback."""
    if is_plain_words(error):
        st.error(str(error), icon=":material/error:")
        return
    log.exception("unexpected error", exc_info=error)
    st.error(f"Something went wrong ({type(error).__name__}). The details are in the server log.",
             icon=":material/error:")


def sidebar(demo: bool) -> None:
    with st.sidebar:
        st.markdown(f"**{cached(connection.organisation_label, demo)}**")
        last_sync = st.empty()
        if st.button("Sync", icon=":material/sync:", key="sidebar_sync", width="stretch",
                     help="Read what changed in Xero since the last sync"):
            sync_now()
        last = cached(connection.last_sync)
        last_sync.caption(f"Last sync: {_when(last)}" if last else "Not synced yet")
        st.caption(f"Signed in as: {user_name()}")


def sync_now(*, full: bool = False) -> None:
    """Sync from Xero with a progress bar per entity, then show the counts."""
    with st.status("Syncing with Xero…", expanded=True) as status:
        bar = st.progress(0.0, text="Connecting to Xero")

        def progress(entity: str, done: int, total: int | None) -> None:
            fraction = min(done / total, 1.0) if total else 0.0
            name = entity.replace("_", " ").capitalize()
            bar.progress(fraction, text=f"{name}: {done:,}" + (f" of {total:,}" if total else ""))

        try:
            gateway = connection.gateway()
            with store.connect() as con:
                result = sync.sync(con, gateway, full=full, progress=progress)
        except Exception as e:
            status.update(label="Sync failed", state="error")
            show_error(e)
            return
        bar.progress(1.0, text="Done")
        st.write(result.summary())
        status.update(label="Synced with Xero", state="complete", expanded=False)


def _demo_mode() -> bool:
    try:
        return connection.is_demo()
    except config.ConfigError as e:
        show_error(e)
        return False


@st.cache_resource(show_spinner="Starting the demo organisation and syncing it (first start only)…")
def _bootstrap_demo(db: str) -> bool:
    """Fill the demo database on first use: checked once per process and database."""
    connection.fill_demo()
    return True


def _when(moment: datetime) -> str:
    return f"{moment:%d %b %Y %H:%M} UTC"
