"""Streamlit glue: the page guard, cached queries, errors in plain words, the sidebar.

The only module under `core/` that imports Streamlit. A `pages/` folder sits beside app.py, so a
cold deep link runs a page file without app.py (STREAMLIT_NOTES §1.1): `page()`, called first in
every page file, therefore does everything a page needs on its own.
"""
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from core import access, config, connection, store, sync

DEMO_BANNER = ("This is the demo organisation on a local Xero sandbox. "
               "To connect your own Xero organisation, see Settings.")
LOCAL_MODE_NOTE = ("Sign-in is not configured: everyone who can open this address acts as the local user, with "
                   "the admin role; the app listens on localhost only.")
NOT_SIGNED_IN = access.Actor("Not signed in", None, None)

# Exceptions whose message is written for people; matched by name (subclasses too), so this
# module does not import every feature module just to recognise its error.
PLAIN_WORD_ERRORS = {
    "core.config.ConfigError",
    "core.access.Forbidden",
    "core.store.DatabaseBusy",
    "core.xero.gateway.XeroError",
    "core.settings.InvalidChange",
    "core.slots.InvalidSlots",
    "core.csv_io.CsvError",
    "core.push.PushError",
    "core.revenue.InvalidFilter",
    "core.autopilot.AutopilotError",
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
# What opening a page needs (see core/access.py); the other pages need access.VIEW.
PAGE_NEEDS = {"Push": access.PUSH, "Clients": access.EDIT, "Services": access.EDIT, "Team": access.EDIT,
              "Import CSV": access.EDIT, "History": access.HISTORY, "Settings": access.ADMINISTER}

log = logging.getLogger(__name__)


def page(title: str) -> None:
    """The guard every page file calls first: sign-in, bootstrap, demo banner, sidebar, title, role."""
    st.set_page_config(page_title=f"{title} · Tracking Desk", layout="wide")
    person = signed_in_or_stop()
    demo = _demo_mode()
    if demo:
        try:
            _bootstrap_demo(str(config.db_path()))
        except Exception as e:
            show_error(e)
        st.info(DEMO_BANNER, icon=":material/science:")
    sidebar(demo, person)
    st.title(title)
    if not access.may(person, PAGE_NEEDS.get(title, access.VIEW)):
        st.error(f"Your role ({person.role}) cannot open this page.", icon=":material/block:")
        st.stop()


def navigation() -> tuple[dict[str, list], str]:
    """app.py's pages by section, and where their menu goes: the pages the person's role may open, in
    the sidebar; before sign-in every page, with the menu hidden, so that a link to any page opens the
    sign-in screen (each page's guard) rather than "Page not found"."""
    try:
        person = actor()
    except config.ConfigError:  # a wrong [roles] table: each page's guard says what is wrong
        person = NOT_SIGNED_IN
    sections: dict[str, list] = {}
    for file, title, icon, section in PAGES:
        if person.role is None or access.may(person, PAGE_NEEDS.get(title, access.VIEW)):
            sections.setdefault(section, []).append(
                st.Page(config.ROOT / file, title=title, icon=icon, default=file == "pages/overview.py"))
    return sections, "hidden" if person.role is None else "sidebar"


def sign_in_configured() -> bool:
    return bool(_secrets("auth"))


def actor() -> access.Actor:
    """Who is using the app: the local user (an admin) when sign-in is not configured, else the
    signed-in person with their role from `[roles]` (NOT_SIGNED_IN before sign-in)."""
    if not sign_in_configured():
        return access.LOCAL_USER
    if not st.user.get("is_logged_in"):  # .get: `st.user.is_logged_in` exists only with an [auth] section
        return NOT_SIGNED_IN
    return access.signed_in(st.user, _secrets("roles"))


def may(permission: str) -> bool:
    return access.may(actor(), permission)


def roles() -> dict[str, str]:
    """The `[roles]` table (address or "@domain" or "default" → role), for Settings."""
    return access.roles_table(_secrets("roles"))


def signed_in_or_stop() -> access.Actor:
    """The person using the app; before sign-in, or without a role, a screen that says so, then stop."""
    try:
        person = actor()
    except config.ConfigError as e:
        show_error(e)
        st.stop()
    if person.role is not None:
        return person
    st.title("Tracking Desk")
    if person is NOT_SIGNED_IN:
        st.markdown("Sign in to see and change how the practice's sales invoices are tracked in Xero.")
        for provider in _providers():
            if st.button("Sign in" + (f" with {provider}" if provider else ""), type="primary",
                         icon=":material/login:", key=f"sign_in_{provider or 'default'}"):
                st.login(*([provider] if provider else []))
    else:
        st.warning(f"You are signed in as {person.who}, but this address has no role in Tracking Desk. "
                   f"{access.ROLES_HELP}", icon=":material/block:")
        sign_out_button()
    st.stop()


def sign_out_button() -> None:
    if st.button("Sign out", icon=":material/logout:", key="sign_out"):
        st.logout()


def _providers() -> list[str | None]:
    """None for the provider set directly in [auth]; the names of its [auth.NAME] tables."""
    auth = _secrets("auth")
    named = [name for name, value in auth.items() if isinstance(value, Mapping)]
    return ([None] if "client_id" in auth or not named else []) + named


def _secrets(section: str) -> Mapping:
    """A table of `.streamlit/secrets.toml` as Streamlit reads it (st.login reads [auth] there too)."""
    try:
        return st.secrets.get(section) or {}
    except FileNotFoundError:  # no secrets.toml at all: StreamlitSecretNotFoundError
        return {}


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


def sidebar(demo: bool, person: access.Actor) -> None:
    with st.sidebar:
        st.markdown(f"**{cached(connection.organisation_label, demo)}**")
        last_sync = st.empty()
        if st.button("Sync", icon=":material/sync:", key="sidebar_sync", width="stretch",
                     help="Read what changed in Xero since the last sync"):
            sync_now()
        last = cached(connection.last_sync)
        last_sync.caption(f"Last sync: {_when(last)}" if last else "Not synced yet")
        if sign_in_configured():
            st.caption(f"Signed in as {person.name} ({person.role})")
            sign_out_button()
        else:
            st.caption(f"{person.name} ({person.role}): sign-in is not configured")


def sync_now(*, full: bool = False) -> None:
    """Sync from Xero with a progress bar per entity, then show the counts."""
    with st.status("Syncing with Xero…", expanded=True) as status:
        bar = st.progress(0.0, text="Connecting to Xero")

        def progress(entity: str, done: int, total: int | None) -> None:
            fraction = min(done / total, 1.0) if total else 0.0
            name = entity.replace("_", " ").capitalize()
            bar.progress(fraction, text=f"{name}: {done:,}" + (f" of {total:,}" if total else ""))

        try:
            result = sync.sync(connection.gateway(), full=full, progress=progress)
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
