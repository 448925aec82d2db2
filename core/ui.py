"""Streamlit glue: the page guard, cached queries, errors in plain words, the sidebar.

The only module under `core/` that imports Streamlit. A `pages/` folder sits beside app.py, so a
cold deep link runs a page file without app.py (docs/architecture.md, "Streamlit facts"): `page()`, called first in
every page file, therefore does everything a page needs on its own.
"""
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from core import access, busy, config, connection, edits, record_forms, store, sync

DEMO_BANNER = ("This is the demo organisation on a local Xero sandbox. "
               "To connect your own Xero organisation, see Settings.")
LOCAL_MODE_NOTE = ("Sign-in is not configured: everyone who can open this address acts as the local user, with "
                   "the admin role; the app listens on localhost only.")
NOT_SIGNED_IN = access.Actor("Not signed in", None, None)
SYNC_STATUS = "_sidebar_sync_status"

# Below 1000 px, a row of columns (filters, figures) wraps instead of squeezing each one into a stub, and
# figures take a smaller font rather than being cut off with an ellipsis;
# and, on a narrow screen's first visit, the sidebar starts collapsed (Streamlit's "auto" collapses
# it only up to 768 px, and st.context does not know the viewport): Streamlit then remembers that.
NARROW_SCREEN_CSS = """<style>
@media (max-width: 1000px) {
  [data-testid="stHorizontalBlock"] { flex-wrap: wrap; }
  [data-testid="stHorizontalBlock"] > [data-testid="stColumn"] { min-width: min(100%, 11rem); }
  [data-testid="stMetricValue"] { font-size: 1.75rem; }
  [data-testid="stMetricLabel"] p { white-space: normal; }
}
</style>"""
NARROW_SIDEBAR_JS = """<script>
if (window.innerWidth <= 1000 && !sessionStorage.getItem("td-narrow-sidebar")) {
  sessionStorage.setItem("td-narrow-sidebar", "1");
  const collapse = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
  if (collapse && collapse.getAttribute("aria-expanded") === "true") collapse.click();
}
</script>"""
# The page's unsaved edits: a click on a link, a reload or leaving asks first (a client-side page change
# in Streamlit's menu fires no "beforeunload", so links are caught too). Keyed to the page's path.
LEAVE_GUARD_JS = """<script>
window.tdUnsaved = {path: window.location.pathname, message: MESSAGE};
if (!window.tdLeaveGuard) {
  window.tdLeaveGuard = true;
  const pending = () => window.tdUnsaved && window.tdUnsaved.message
    && window.tdUnsaved.path === window.location.pathname ? window.tdUnsaved.message : null;
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (!link || !pending() || new URL(link.href).pathname === window.location.pathname) return;
    if (!window.confirm(pending())) { event.preventDefault(); event.stopImmediatePropagation(); }
  }, true);
  window.addEventListener("beforeunload", (event) => { if (pending()) { event.preventDefault(); } });
}
</script>"""

# How the preview grid shows a line's status (core/explain.py words it): only `change` looks like a write
# (the highlight); each status a push will not send has its own look.
WRITE_HIGHLIGHT = "background-color: #fff3b0"
STATUS_LOOKS = {
    "same": ("✓", ""),
    "change": ("✎", WRITE_HIGHLIGHT),
    "blocked": ("✕", "background-color: #fde0dc; color: #8a1c12"),
    "locked": ("⊟", "background-color: #e8e8ea; color: #44464f"),
    "may be refused": ("⚠", "background-color: #ffe3c2; color: #7a4100"),
}
STATUS_MESSAGE = {"same": ("success", ":material/check:"), "change": ("info", ":material/edit:"),
                  "blocked": ("error", ":material/block:"), "locked": ("warning", ":material/lock:"),
                  "may be refused": ("warning", ":material/report:")}

# Exceptions whose message is written for people; matched by name (subclasses too), so this
# module does not import every feature module just to recognise its error.
PLAIN_WORD_ERRORS = {
    "core.config.ConfigError",
    "core.access.Forbidden",
    "core.store.DatabaseBusy",
    "core.xero.errors.XeroError",
    "core.catalog.InvalidChange",
    "core.slots.InvalidSlots",
    "core.csv_io.CsvError",
    "core.push.PushError",
    "core.revenue.InvalidFilter",
    "core.autopilot.AutopilotError",
    "core.reconcile.ReconcileError",
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
# What opening each page needs (see core/access.py). A page without an entry cannot be opened (`may_open`).
PAGE_NEEDS = {"Overview": access.Permission.VIEW, "Preview": access.Permission.VIEW, "Push": access.Permission.PUSH,
              "Revenue": access.Permission.VIEW, "Clients": access.Permission.EDIT,
              "Services": access.Permission.EDIT, "Team": access.Permission.EDIT,
              "Import CSV": access.Permission.EDIT, "History": access.Permission.HISTORY,
              "Settings": access.Permission.ADMINISTER}

log = logging.getLogger(__name__)


def page(title: str) -> None:
    """The guard every page file calls first: sign-in, bootstrap, demo banner, sidebar with the app's menu,
    title, role. Streamlit's own page list is off (`client.showSidebarNavigation` in .streamlit/config.toml):
    a page opened cold from its URL runs without app.py and would list the raw file names."""
    st.set_page_config(page_title=f"{title} · Tracking Desk", layout="wide", initial_sidebar_state="auto")
    st.html(NARROW_SCREEN_CSS)
    person = signed_in_or_stop()
    _stop_on_error(_wait_for_the_database)
    demo = _demo_mode()
    if demo:
        _stop_on_error(_bootstrap_demo, str(config.db_path()))
        st.info(DEMO_BANNER, icon=":material/science:")
    sidebar(demo, person)
    st.title(title)
    if not may_open(person, title):
        st.error(f"Your role ({person.role}) cannot open this page.", icon=":material/block:")
        st.stop()


def navigation() -> dict[str, list]:
    """app.py's pages by section: the pages the person's role may open; before sign-in every page, so
    that a link to any page opens the sign-in screen (each page's guard) rather than "Page not found".
    Streamlit's menu stays hidden: each page's guard draws the app's own (`menu`)."""
    sections: dict[str, list] = {}
    for file, title, icon, section in _pages_for(_actor_or_nobody(), everything_before_sign_in=True):
        sections.setdefault(section, []).append(
            st.Page(config.ROOT / file, title=title, icon=icon, default=file == "pages/overview.py"))
    return sections


def menu(person: access.Actor) -> None:
    """The app's menu in the sidebar: its sections and the pages the person's role may open, by title."""
    section_shown = None
    for file, title, icon, section in _pages_for(person):
        if section != section_shown:
            st.caption(section)
            section_shown = section
        page_link(file, title, icon)


def _pages_for(person: access.Actor, *, everything_before_sign_in: bool = False) -> list[tuple]:
    if person.role is None:
        return PAGES if everything_before_sign_in else []
    return [p for p in PAGES if may_open(person, p[1])]


def may_open(person: access.Actor, title: str) -> bool:
    """Whether `person` may open the page `title`; never a page PAGE_NEEDS does not name (fails closed)."""
    return access.may(person, PAGE_NEEDS.get(title))


def _actor_or_nobody() -> access.Actor:
    try:
        return actor()
    except config.ConfigError:  # a wrong [roles] table: each page's guard says what is wrong
        return NOT_SIGNED_IN


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


def may(permission: access.Permission) -> bool:
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
    """A table of `.streamlit/secrets.toml` as Streamlit reads it (st.login reads [auth] there too).

    The file is checked by core.config first: Streamlit ignores a file it cannot parse as TOML and
    fails with a traceback on one that is not text, where we name the file and what to do."""
    config.secrets()
    try:
        return config.table(section, st.secrets.get(section) or {})
    except FileNotFoundError:  # no secrets.toml at all: StreamlitSecretNotFoundError
        return {}


def page_link(file: str, label: str, icon: str = ":material/arrow_forward:",
              query_params: dict[str, str] | None = None) -> None:
    """A link to another page; a page file run on its own (as AppTest does) has no navigation, so a plain link."""
    try:
        st.page_link(file, label=label, icon=icon, query_params=query_params)
    except StreamlitPageNotFoundError:
        query = ("?" + urlencode(query_params)) if query_params else ""
        st.markdown(f"[{label}](/{Path(file).stem}{query})")


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
    with _connect(db) as con:
        return _cached_call(f"{fn.__module__}.{fn.__qualname__}", db, store.data_version(con), fn, args, con)


@st.cache_data(show_spinner=False, max_entries=512)
def _cached_call(name: str, db: str, version: int, _fn: Callable, args: tuple, _con) -> Any:
    return _fn(_con, *args)


def action(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Run `fn(con, *args, **kwargs)` on a fresh connection; a known error is shown, and None returned."""
    def on_a_connection() -> Any:
        with _connect() as con:
            return fn(con, *args, **kwargs)
    return attempt(on_a_connection)


def write(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """`action` in one transaction: `fn(con, *args, **kwargs)` writes all or nothing (core/edits.py)."""
    def in_a_transaction(con, *args: Any, **kwargs: Any) -> Any:
        with store.transaction(con):
            return fn(con, *args, **kwargs)
    return action(in_a_transaction, *args, **kwargs)


def outcome_tone(outcome: edits.Outcome) -> str:
    """How to show a save: "warning" when edits were rejected, "success" when saved, "info" when nothing changed."""
    return "warning" if outcome.rejections else "success" if outcome.changes else "info"


def attempt(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Run `fn(*args, **kwargs)` (which opens the database itself when it needs it); a known error is shown,
    and None returned."""
    try:
        return fn(*args, **kwargs)
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
        menu(person)
        st.divider()
        st.markdown(f"**{cached(connection.organisation_label, demo)}**")
        st.session_state[SYNC_STATUS] = st.empty()
        if st.button("Sync", icon=":material/sync:", key="sidebar_sync", width="stretch",
                     help="Read what changed in Xero since the last sync"):
            sync_now()
        show_sync_status()
        if sign_in_configured():
            st.caption(f"Signed in as {person.name} ({person.role})")
            sign_out_button()
        else:
            st.caption(f"{person.name} ({person.role}): sign-in is not configured")
        st.html(NARROW_SIDEBAR_JS, unsafe_allow_javascript=True)


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
    show_sync_status()


def show_sync_status() -> None:
    """The sidebar's "Last sync" line, (re)drawn after anything in the run that syncs, so that it never
    disagrees with what the page says."""
    slot = st.session_state.get(SYNC_STATUS)
    if slot is not None:
        last = last_sync()
        slot.caption(f"Last sync: {_when(last)}" if last else "Not synced yet")


def last_sync() -> datetime | None:
    """When the database was last synced with Xero; None when never."""
    return cached(store.last_sync)


def leave_guard(unsaved: str | None) -> None:
    """While `unsaved` names edits not yet saved, the browser asks before leaving this page (a link in the
    menu, a reload or closing the tab)."""
    message = json.dumps(f"{unsaved} Leave without saving?" if unsaved else "")
    with st.sidebar:
        st.html(LEAVE_GUARD_JS.replace("MESSAGE", message), unsafe_allow_javascript=True)


@contextmanager
def _connect(db: str | None = None) -> Iterator:
    """`store.connect` for a page. While a sync or push elsewhere holds the database, a note says so
    where the page waits; if it stays busy (busy.GIVE_UP_SECONDS), the page says to try again and stops."""
    notes, opened = [], False
    try:
        with busy.connect(db, say=lambda: notes.append(st.info(busy.NOTE, icon=":material/hourglass_top:"))) as con:
            opened = True
            _clear(notes)
            yield con
    except store.DatabaseBusy as e:
        if opened:  # raised by the work done on the connection, not by opening it: the caller's to show
            raise
        _clear(notes)
        show_error(e)
        st.stop()


def _clear(notes: list) -> None:
    for note in notes:
        note.empty()


def _wait_for_the_database() -> None:
    """Before anything else reads the database: while another process writes to it, the note is at the top of the
    page; a path that is no database, or one from a newer version, is named up front."""
    with _connect():
        pass


def _demo_mode() -> bool:
    """Whether the demo runs; a configuration error is shown and the page goes on (Settings says how to fix it)."""
    try:
        return connection.is_demo()
    except config.ConfigError as e:
        show_error(e)
        return False


def _stop_on_error(fn: Callable, *args: Any) -> Any:
    """`fn(*args)`; when it fails, the error in plain words and the page stops: nothing below could work."""
    try:
        return fn(*args)
    except Exception as e:
        show_error(e)
        st.stop()


@st.cache_resource(show_spinner="Starting the demo organisation and syncing it (first start only)…")
def _bootstrap_demo(db: str) -> bool:
    """Fill the demo database on first use: checked once per process and database."""
    connection.fill_demo()
    return True


def _when(moment: datetime) -> str:
    return f"{moment:%d %b %Y %H:%M} UTC"


# --- the form beside a grid (Clients, Services, Team) ----------------------------------------------

@dataclass(frozen=True)
class FormField:
    """One field of a record's form: `choices` (label → value) makes it a dropdown; else `text` an input,
    else a yes/no toggle. `saved` is the saved value."""
    name: str
    label: str
    saved: Any
    choices: Mapping[str, Any] | None = None
    text: bool = False


def editing_record(form: str, selected: Any, name_of: Mapping[Any, str]) -> Any:
    """The record the form edits: the one selected in the grid, unless the form holds unsaved edits of
    another, which stays open (with a warning) until they are saved or discarded."""
    editing = st.session_state.get(f"{form}_editing")
    unsaved = st.session_state.get(f"{form}_unsaved")
    if selected is not None and selected != editing:
        if editing is not None and unsaved:
            st.warning(f"Save or discard the changes to {name_of.get(editing, editing)} before opening "
                       f"{name_of.get(selected, selected)}.", icon=":material/edit_note:")
        else:
            editing = selected
    st.session_state[f"{form}_editing"] = editing
    return editing


def record_form(form: str, key: Any, title: str, fields: list[FormField]) -> dict | None:
    """A record's labelled fields; what differs from the saved values is listed as not saved yet, and
    leaving the page then asks first. Returns the changed fields (name → value) when Save is pressed."""
    prefix = f"{form}_{key}_"
    draft, saved_shown, draft_shown = {}, {}, {}
    for field in fields:
        widget = prefix + field.name
        if field.choices is not None:
            labels = list(field.choices)
            saved_label = record_forms.label_of(field.choices, field.saved)
            chosen = st.selectbox(field.label, labels, index=labels.index(saved_label), key=widget)
            draft[field.name], saved_shown[field.label], draft_shown[field.label] = (
                field.choices[chosen], saved_label, chosen)
        elif field.text:
            value = st.text_input(field.label, value=field.saved or "", key=widget).strip()
            draft[field.name], saved_shown[field.label], draft_shown[field.label] = (
                value or None, field.saved or "", value)
        else:
            value = st.toggle(field.label, value=bool(field.saved), key=widget)
            draft[field.name], saved_shown[field.label], draft_shown[field.label] = value, bool(field.saved), value
    changes = record_forms.unsaved(saved_shown, draft_shown)
    st.session_state[f"{form}_unsaved"] = bool(changes)
    if changes:
        st.warning("**Not saved yet:**\n" + "\n".join(f"- {change}" for change in changes),
                   icon=":material/edit_note:")
    leave_guard(f"Your changes to {title} are not saved." if changes else None)
    save, discard = st.columns(2)
    if save.button("Save", type="primary", disabled=not changes, key=f"{form}_save", width="stretch"):
        return {f.name: draft[f.name] for f in fields if draft_shown[f.label] != saved_shown[f.label]}
    if discard.button("Discard changes", disabled=not changes, key=f"{form}_discard", width="stretch"):
        forget_form(form, key)
        st.rerun()
    return None


def record_grid(key: str, table, **config: Any):
    """A read-only grid of records; selecting a row opens it in the form beside it (`editing_record`)."""
    return st.dataframe(table, key=key, hide_index=True, width="stretch", on_select="rerun",
                        selection_mode="single-row", **config)


def save_form(form: str, key: Any, name: str, changed: dict, apply: Callable, noun: str) -> None:
    """Save a record form's changed fields with `apply` (a core/edits.py `apply_*_edits`), say how it went
    after the rerun (`show_flash(form)`), and show the saved values; a rejected edit keeps its draft."""
    outcome = write(apply, [edits.Edit(key, changed, name)], by=actor())
    if outcome is not None:
        flash_after_rerun(form, edits.describe(outcome, noun), outcome_tone(outcome))
        if not outcome.rejections:
            forget_form(form, key)
        st.rerun()


def forget_form(form: str, key: Any) -> None:
    """Drop a record form's draft, so that it shows the saved values again."""
    for name in [k for k in st.session_state if str(k).startswith(f"{form}_{key}_")]:
        del st.session_state[name]
    st.session_state[f"{form}_unsaved"] = False


def selected_row(event, table, column: str) -> Any:
    """The value of `column` in the row selected in a single-row st.dataframe, or None."""
    rows = event.selection.rows
    return table.iloc[rows[0]][column] if rows else None
