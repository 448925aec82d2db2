"""Which Xero the app talks to: the configured organisation, or the demo one on the local sandbox.

With no credentials configured, the demo organisation runs on the sandbox server, started once per
process and database, its state kept in a JSON file beside the database so pushes survive a
restart. Every process (the dashboard, the command line, a second dashboard) serves that one file
under a file lock, so they are one Xero (core/sandbox/state_file.py). On first use the demo database
is synced and the demo's settings are seeded. The sandbox and the demo practice (core/sandbox/) are
loaded only when the demo is used, never at import.

With `auth = "code"` the organisation is the one connected with "Connect to Xero" on Settings
(core/xero/oauth.py); without a client id that flow runs against the local sandbox, to try it.
"""
import dataclasses
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from core import config, rules, store, sync
from core.xero import oauth
from core.xero.gateway import XERO_API_URL, Gateway

if TYPE_CHECKING:
    from core.sandbox.server import Sandbox

DEMO_LABEL = "Demo organisation"

ORGANISATION_NAME = "SELECT name FROM organisation LIMIT 1"
HELD_ORGANISATION = "SELECT organisation_id, name FROM organisation LIMIT 1"

_lock = threading.RLock()
_sandboxes: dict[Path, "Sandbox"] = {}


def is_demo() -> bool:
    return config.xero_config() is None


def connects_with_code() -> bool:
    """Whether the organisation is connected with "Connect to Xero" (else a custom connection, or the demo)."""
    cfg = config.xero_config()
    return cfg is not None and cfg.auth == config.AuthMode.CODE


def xero_config() -> config.XeroConfig:
    """The configured organisation's settings, or the demo sandbox's (started if need be)."""
    cfg = config.xero_config()
    if cfg is None:
        return _sandbox_config(demo_sandbox())
    if cfg.auth == config.AuthMode.CODE and not cfg.client_id:
        box = demo_sandbox()
        return dataclasses.replace(cfg, client_id=box.client_id, api_url=box.api_url, identity_url=box.identity_url,
                                   login_url=box.url)
    return cfg


def gateway() -> Gateway:
    """A gateway to the configured organisation (the one connected on Settings, for Connect to Xero),
    or to the demo sandbox."""
    cfg = xero_config()
    return oauth.gateway(cfg) if cfg.auth == config.AuthMode.CODE else Gateway(cfg)


def fill_demo() -> sync.SyncResult | None:
    """On a demo database's first use: start the sandbox, sync it and seed the demo's settings.

    Returns the first sync's result, or None when the database was filled before."""
    from core.sandbox import demo

    with _lock:
        with store.connect() as con:
            if store.last_sync(con) is not None:
                return None
        result = sync.sync(gateway(), full=True)
        with store.connect() as con:
            if demo.seed_settings(con, demo_sandbox().state):
                with store.transaction(con):
                    rules.refresh(con)
        return result


def demo_state_file() -> Path:
    db = config.db_path()
    return db.with_name(f"{db.stem}.sandbox.json")


def demo_sandbox() -> "Sandbox":
    """The sandbox serving the demo organisation for this database: started once per process."""
    from core.sandbox import server

    state_file = demo_state_file()
    with _lock:
        if state_file not in _sandboxes:
            _sandboxes[state_file] = server.start(state_file=state_file)
        return _sandboxes[state_file]


def create_demo_invoices(count: int) -> list[str]:
    """Create `count` new draft invoices in the demo Xero (core/sandbox/demo.py); their numbers.

    Only for the demo organisation: the caller checks `is_demo()`."""
    from core.sandbox import demo

    return demo.create_new_invoices(gateway(), count)


def describe() -> dict[str, str]:
    """How the app connects to Xero, for people: never the secret."""
    if is_demo():
        return {"Connection": "Demo organisation on the local Xero sandbox (no credentials configured)",
                "API URL": demo_sandbox().api_url}
    cfg = config.xero_config()
    if cfg.auth == config.AuthMode.CODE:
        return _describe_code_flow(xero_config(), on_sandbox=not cfg.client_id)
    return {"Connection": "Custom connection (client credentials)",
            "Client ID": cfg.client_id,
            "Tenant": cfg.tenant_id or "the organisation the custom connection is authorised for",
            "API URL": cfg.api_url or XERO_API_URL}


def organisation_label(con, demo: bool) -> str:
    if demo:
        return DEMO_LABEL
    row = con.execute(ORGANISATION_NAME).fetchone()
    return row[0] if row else "Xero organisation (not synced yet)"


def organisation_held_instead(con, tenant_id: str, tenant_name: str) -> str | None:
    """The name of the organisation this database mirrors when it is not the one picked on Settings, else None.

    Xero does not document a tenant id as the OrganisationID, so a match of either the id or the name counts
    as the same organisation here; the sync compares OrganisationIDs and refuses another (sync.OtherOrganisation)."""
    held = con.execute(HELD_ORGANISATION).fetchone()
    if held is None or tenant_id == held[0] or tenant_name == held[1]:
        return None
    return held[1]


def _describe_code_flow(cfg: config.XeroConfig, *, on_sandbox: bool) -> dict[str, str]:
    saved = oauth.status(cfg)
    details = {"Connection": "Connect to Xero" + (" (on the local Xero sandbox, to try the flow)" if on_sandbox else ""),
               "Organisation": (saved.tenant_name if saved.tenant_id else
                                "connected, organisation not chosen yet" if saved.connected else "not connected"),
               "Client ID": cfg.client_id,
               "API URL": cfg.api_url or XERO_API_URL,
               "Saved connection": str(cfg.token_file)}
    if saved.connected_at:
        details["Connected"] = f"{datetime.fromtimestamp(saved.connected_at, UTC):%d %b %Y %H:%M} UTC"
    return details


def _sandbox_config(box: "Sandbox") -> config.XeroConfig:
    return config.XeroConfig(box.client_id, box.client_secret, "", box.api_url, box.identity_url)

