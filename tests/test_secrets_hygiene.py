"""Secrets never leave: a full demo run through the pages (first start and sync, an edit, a CSV import,
a push, a failed sign-in to Xero) and the command line (sync, push, export), with every logger at DEBUG,
then a scan of the database, the logs, stdout/stderr (where the SDK's debug output would go), the exported
files and every element of every page rendered, for the client secret and every token the sandbox issued.

The sandbox's own state file is not scanned: it is Xero's side, where the credentials live by design. So is
the saved Connect-to-Xero token file (core/xero/tokens.py), which exists to hold the tokens.
"""
import io
import json
import logging

import pytest
from streamlit.testing.v1 import AppTest  # imported before capfd: Streamlit's log handlers keep the stderr they find

from core import config, connection, csv_templates, history, preview, push, revenue, store
from core.__main__ import main
from core.sandbox import server as sandbox

A_SERVICE = """
SELECT i.code, coalesce(s.alignment_fee, false) FROM items i LEFT JOIN services s ON s.item_code = i.code
WHERE i.code IS NOT NULL ORDER BY i.code LIMIT 1
"""
LOGGERS = ("", "core", "urllib3", "xero_python", "streamlit", "httpx", "authlib")


@pytest.fixture
def issued(monkeypatch):
    """Every token any sandbox answers with from now on (access, refresh or id token, whichever grant).

    The hook sits on `Sandbox.handle`, which answers every request, so the authorization-code and
    refresh grants of Connect to Xero are recorded as well as client credentials."""
    tokens: dict[str, str] = {}  # token → its kind ("access_token", "refresh_token", …)
    answer = sandbox.Sandbox.handle

    def recording(self, method, target, headers, body):
        reply = answer(self, method, target, headers, body)
        try:
            fields = json.loads(reply.body or b"null")
        except ValueError:
            return reply
        if isinstance(fields, dict):
            tokens.update({value: key for key, value in fields.items()
                           if key.endswith("_token") and isinstance(value, str)})
        return reply

    monkeypatch.setattr(sandbox.Sandbox, "handle", recording)
    return tokens


@pytest.fixture
def debug_log():
    """All log records of every library, at DEBUG, formatted with their arguments, as one growing text."""
    text = io.StringIO()
    handler = logging.StreamHandler(text)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    saved = {name: (logging.getLogger(name).level, logging.getLogger(name).propagate) for name in LOGGERS}
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).propagate = False  # each record once, through this handler
    yield text
    for name, (level, propagate) in saved.items():
        logging.getLogger(name).removeHandler(handler)
        logging.getLogger(name).setLevel(level)
        logging.getLogger(name).propagate = propagate


def rendered(at) -> str:
    """Every element of a page as AppTest received it (its protobuf message, value and label)."""
    parts = []

    def walk(node):
        if getattr(node, "proto", None) is not None:
            parts.append(str(node.proto))
        for attribute in ("value", "label"):
            try:
                parts.append(str(getattr(node, attribute, "")))
            except Exception:  # some elements have no readable value
                pass
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    walk(at.sidebar)
    return "\n".join(parts)


def database_text(db) -> str:
    """Every value of every table as text (the file's bytes may hold strings compressed)."""
    with store.connect(db) as con:
        tables = [name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return "\n".join(str(con.execute(f'SELECT * FROM "{table}"').fetchall()) for table in tables)


@pytest.fixture
def pages():
    """`pages.open(file, **session_state)` and `pages.again(at)`: page runs, each kept for the scan."""
    class Pages(list):
        def open(self, file: str, **state) -> AppTest:
            at = AppTest.from_file(str(config.ROOT / file), default_timeout=180)
            for key, value in state.items():
                at.session_state[key] = value
            return self.again(at)

        def again(self, at: AppTest) -> AppTest:
            self.append(at.run())
            assert not at.exception, at
            return at

    return Pages()


def exports(tmp_path) -> bytes:
    """The command line's export, and every CSV a page offers for download (their bytes come from core)."""
    assert main(["export", "clients", str(tmp_path / "clients.csv")]) == 0
    with store.connect() as con:
        files = [(tmp_path / "clients.csv").read_bytes(), preview.csv_bytes(con), history.csv_bytes(con),
                 push.locked_worklist_csv(con), *(csv_templates.export_csv(con, t) for t in csv_templates.TEMPLATES),
                 revenue.csv_bytes(revenue.cross_table(revenue.summary(con, revenue.Filters()), "rules"), index=True)]
    return b"\n".join(files)


def leaks(secrets: dict[str, str], *, db_path, debug_log, capfd, exported: bytes, pages) -> list[str]:
    """Where any of the secrets shows up: in the database, the logs, stdout/stderr, the exports or the pages."""
    out, err = capfd.readouterr()
    places = {
        "the database file": b"".join(path.read_bytes() for path in db_path.parent.glob(f"{db_path.name}*")
                                       if path.is_file()).decode("latin-1"),
        "the database's values": database_text(db_path),
        "the log": debug_log.getvalue(),
        "stdout and stderr": out + err,
        "the exported files": exported.decode("utf-8", "replace"),
        "the pages": "\n".join(rendered(at) for at in pages),
    }
    assert "urllib3" in debug_log.getvalue()  # the libraries did log at DEBUG
    return [f"{what} in {where}" for what, value in secrets.items() for where, text in places.items() if value in text]


def named(client_secret: str, tokens: dict[str, str]) -> dict[str, str]:
    return {"the client secret": client_secret, **{f"{kind} {token[:6]}…": token for token, kind in tokens.items()}}


def test_no_secret_reaches_the_database_logs_exports_or_pages(demo_mode, db_path, streamlit_caches, issued,
                                                              debug_log, capfd, pages, tmp_path):
    overview = pages.open("app.py")                               # first start: the demo is synced and seeded
    overview.sidebar.button(key="sidebar_sync").click()
    pages.again(overview)                                         # an incremental sync from the sidebar
    clients = pages.open("pages/clients.py", clients_grid={"selection": {"rows": [0], "columns": [], "cells": []}})
    clients.toggle[0].set_value(not clients.toggle[0].value)
    pages.again(clients)
    clients.button(key="client_form_save").click()
    pages.again(clients)                                          # an edit
    importing = pages.open("pages/import_csv.py")
    with store.connect() as con:
        code, fee = con.execute(A_SERVICE).fetchone()
    importing.radio(key="csv_template").set_value("services")
    pages.again(importing)
    importing.file_uploader[0].upload("services.csv", f"Item Code,Alignment Fee\n{code},{'no' if fee else 'yes'}\n"
                                      .encode(), "text/csv")
    pages.again(importing)
    importing.button(key="csv_confirm").click()
    pages.again(importing)                                        # a CSV import
    assert importing.success[0].value == "services.csv: Applied 1 change in 1 row."
    pushing = pages.open("pages/push.py")
    pushing.button(key="push_open").click()
    pages.again(pushing)
    connection.demo_sandbox().expire_tokens()                     # the push has to fetch a fresh token
    pushing.button(key="push_confirmed").click()
    pages.again(pushing)                                          # a push
    assert (pushing.success or pushing.warning)[0].value.startswith("Push 1: ")
    connection.demo_sandbox().expire_tokens()
    connection.demo_sandbox().fail_next(400, path="/connect/token")
    failing = pages.open("pages/settings.py")
    failing.button(key="settings_sync").click()
    pages.again(failing)                                          # Xero refuses the credentials: an error on a page
    assert failing.error
    for file in ("pages/preview.py", "pages/revenue.py", "pages/history.py", "pages/overview.py"):
        pages.open(file)
    assert main(["sync", "--full"]) == 0                          # the command line
    assert main(["push"]) in (0, 1)

    assert len(issued) >= 3  # first start, after the expiry before the push, the command line
    assert set(issued.values()) == {"access_token"}
    assert leaks(named(connection.demo_sandbox().client_secret, issued), db_path=db_path, debug_log=debug_log,
                 capfd=capfd, exported=exports(tmp_path), pages=pages) == []


def test_connect_to_xero_leaks_no_refresh_token_either(issued, debug_log, connected, sandbox, db_path,
                                                       streamlit_caches, capfd, pages, tmp_path):
    """Connected with the authorization-code flow (core/xero/oauth.py): access and refresh tokens, rotated."""
    assert main(["sync"]) == 0
    sandbox.expire_tokens()
    overview = pages.open("app.py")                               # the page refreshes the token, then syncs
    overview.sidebar.button(key="sidebar_sync").click()
    pages.again(overview)
    sandbox.expire_tokens()
    assert main(["sync"]) == 0                                    # another refresh, from the command line
    for file in ("pages/settings.py", "pages/preview.py", "pages/push.py"):
        pages.open(file)

    assert list(issued.values()).count("refresh_token") >= 3  # connecting, then two refreshes (rotated)
    assert leaks(named(connected.client_secret, issued), db_path=db_path, debug_log=debug_log, capfd=capfd,
                 exported=exports(tmp_path), pages=pages) == []
