"""The "Connect to Xero" button: the OAuth 2.0 authorization-code flow with PKCE, and the saved connection.

The person leaves the app for Xero's consent page and comes back on a new page load (often in a
new browser tab, so a new Streamlit session): the `state` and PKCE verifier of each attempt are
therefore kept server-side in the token file (core/xero/tokens.py), for ten minutes, and taken
out when the answer comes back, so each can be used once. The code is exchanged, the token set
saved, and `GET /Connections` lists the organisations granted; the person picks one and its
tenant id goes with every call. All Xero traffic goes through the gateway (the SDK).
"""
import base64
import hashlib
import secrets
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import NamedTuple
from urllib.parse import urlencode

from core import access
from core.config import XeroConfig
from core.xero import tokens
from core.xero.errors import NotConnected, ReconnectNeeded, XeroAuthError, XeroError
from core.xero.gateway import Gateway

XERO_LOGIN_URL = "https://login.xero.com"
AUTHORIZE_PATH = "/identity/connect/authorize"
SCOPES = "offline_access accounting.invoices accounting.settings.read accounting.contacts.read"
PENDING_SECONDS = 10 * 60
REUSE_SECONDS = 5 * 60  # a Connect link is offered again only while it has this long left
DEFAULT_REDIRECT_URI = "http://localhost:8501/settings"
RETURN_PARAMS = ("code", "state", "scope", "session_state", "error", "error_description")

STATE_UNKNOWN = ("This answer from Xero does not belong to a Connect to Xero started here, or it came back after "
                 "more than ten minutes, or it was already used. Nothing was saved: press Connect to Xero again.")


class AuthorizationFailed(XeroAuthError):
    """The way back from Xero's consent page did not end in a connection."""


class Authorization(NamedTuple):
    """A Connect to Xero attempt: the address to send the person to, and its `state`."""
    url: str
    state: str
    expires_at: float


class Organisation(NamedTuple):
    tenant_id: str
    name: str


class Status(NamedTuple):
    """The saved connection as people may see it: never a token."""
    connected: bool
    organisations: list[Organisation]
    tenant_id: str | None
    tenant_name: str | None
    connected_at: float | None


def begin(cfg: XeroConfig, redirect_uri: str, *, by: access.Actor, now: float | None = None) -> Authorization:
    """Start an attempt: keep its state and PKCE verifier server-side and build Xero's authorize address."""
    access.require(by, access.Permission.ADMINISTER)
    now = time.time() if now is None else now
    state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(64)
    with tokens.locked(cfg.token_file):
        saved = tokens.read(cfg.token_file)
        pending = {key: attempt for key, attempt in saved.get("pending", {}).items() if attempt["expires_at"] > now}
        pending[state] = {"verifier": verifier, "redirect_uri": redirect_uri, "expires_at": now + PENDING_SECONDS}
        saved["pending"] = pending
        tokens.write(cfg.token_file, saved)
    query = {"response_type": "code", "client_id": cfg.client_id, "redirect_uri": redirect_uri, "scope": SCOPES,
             "state": state, "code_challenge": _challenge(verifier), "code_challenge_method": "S256"}
    url = (cfg.login_url or XERO_LOGIN_URL).rstrip("/") + AUTHORIZE_PATH + "?" + urlencode(query)
    return Authorization(url, state, now + PENDING_SECONDS)


def still_usable(cfg: XeroConfig, attempt: Authorization | None, *, now: float | None = None) -> bool:
    """Whether a Connect link shown before may be offered again (not used, and not about to expire)."""
    now = time.time() if now is None else now
    if attempt is None or attempt.expires_at - now < REUSE_SECONDS:
        return False
    return attempt.state in tokens.read(cfg.token_file).get("pending", {})


def finish(cfg: XeroConfig, returned: Mapping[str, str], *, by: access.Actor,
           now: float | None = None) -> list[Organisation]:
    """The way back: check the state, exchange the code, save the token set, list the organisations granted."""
    access.require(by, access.Permission.ADMINISTER)
    now = time.time() if now is None else now
    attempt = _take_pending(cfg, returned.get("state") or "", now)
    if returned.get("error"):
        raise AuthorizationFailed(_refusal_message(returned["error"]))
    if attempt is None:
        raise AuthorizationFailed(STATE_UNKNOWN)
    if not returned.get("code"):
        raise AuthorizationFailed("Xero came back without an approval code. Nothing was saved: press Connect to Xero "
                                  "again.")
    gateway = Gateway(cfg)
    token = gateway.tokens.exchange_code(returned["code"], attempt["verifier"], attempt["redirect_uri"])
    with tokens.locked(cfg.token_file):
        saved = tokens.read(cfg.token_file)
        saved["connection"] = {**token, "client_id": cfg.client_id, "connected_at": now, "organisations": []}
        tokens.write(cfg.token_file, saved)
    organisations = [Organisation(c["tenantId"], c.get("tenantName") or c["tenantId"])
                     for c in gateway.connections() if (c.get("tenantType") or "ORGANISATION") == "ORGANISATION"]
    if not organisations:
        raise AuthorizationFailed("Xero connected the app but granted no organisation: press Connect to Xero again "
                                  "and tick an organisation on Xero's page.")
    _change_connection(cfg, lambda connection: connection.update(organisations=[list(o) for o in organisations]))
    return organisations


def choose(cfg: XeroConfig, tenant_id: str, *, by: access.Actor) -> Organisation:
    """Work with this organisation from now on (one of those Xero granted)."""
    access.require(by, access.Permission.ADMINISTER)
    organisations = {o.tenant_id: o for o in status(cfg).organisations}
    if tenant_id not in organisations:
        raise AuthorizationFailed("That organisation is not one Xero granted to this app: press Connect to Xero "
                                  "again.")
    chosen = organisations[tenant_id]
    _change_connection(cfg, lambda connection: connection.update(tenant_id=chosen.tenant_id, tenant_name=chosen.name))
    return chosen


def status(cfg: XeroConfig) -> Status:
    connection = _saved_connection(cfg)
    if connection is None:
        return Status(False, [], None, None, None)
    return Status(True, [Organisation(*o) for o in connection.get("organisations", [])],
                  connection.get("tenant_id"), connection.get("tenant_name"), connection.get("connected_at"))


def gateway(cfg: XeroConfig) -> Gateway:
    """A gateway to the chosen organisation, checked with Xero before anything is read or written."""
    connection = _saved_connection(cfg)
    if connection is None:
        raise NotConnected("Not connected to Xero: press Connect to Xero on the Settings page.")
    if not connection.get("tenant_id"):
        raise NotConnected("Connected to Xero, but no organisation is chosen yet: choose it on the Settings page.")
    chosen = Gateway(replace(cfg, tenant_id=connection["tenant_id"]))
    if connection["tenant_id"] not in {c["tenantId"] for c in chosen.connections()}:
        raise ReconnectNeeded(f"{connection.get('tenant_name')} is no longer connected to this app in Xero. Nothing "
                              "was changed. Reconnect: Settings → Connection to Xero → Connect to Xero.")
    return chosen


def disconnect(cfg: XeroConfig, *, by: access.Actor) -> None:
    """Forget the saved connection, then ask Xero to revoke its refresh token (which ends the connection there)."""
    access.require(by, access.Permission.ADMINISTER)
    with tokens.locked(cfg.token_file):
        saved = tokens.read(cfg.token_file)
        connection = saved.pop("connection", None)
        tokens.write(cfg.token_file, saved)
    if connection is None:
        return
    try:
        Gateway(cfg).revoke(connection["refresh_token"])
    except XeroError as e:
        raise XeroError(f"Disconnected here, but Xero could not be told ({e}). To finish, remove the app under "
                        "Settings → Connected apps in Xero.") from None


def _take_pending(cfg: XeroConfig, state: str, now: float) -> dict | None:
    """Take the attempt out (single use); expired attempts are dropped on the way."""
    with tokens.locked(cfg.token_file):
        saved = tokens.read(cfg.token_file)
        pending = {key: attempt for key, attempt in saved.get("pending", {}).items() if attempt["expires_at"] > now}
        attempt = pending.pop(state, None) if state else None
        saved["pending"] = pending
        if not pending:
            del saved["pending"]
        tokens.write(cfg.token_file, saved)
    return attempt


def _saved_connection(cfg: XeroConfig) -> dict | None:
    connection = tokens.read(cfg.token_file).get("connection")
    return connection if connection and connection.get("client_id") == cfg.client_id else None


def _change_connection(cfg: XeroConfig, change) -> None:
    with tokens.locked(cfg.token_file):
        saved = tokens.read(cfg.token_file)
        if not saved.get("connection"):
            raise NotConnected("Not connected to Xero (it was disconnected meanwhile): press Connect to Xero again.")
        change(saved["connection"])
        tokens.write(cfg.token_file, saved)


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _refusal_message(error: str) -> str:
    if error == "access_denied":
        return "Xero was not given access (the request was cancelled on Xero's page). Nothing was saved."
    code = error if error.replace("_", "").isalpha() else "an error"
    return f"Xero did not connect the app (it answered {code}). Nothing was saved: press Connect to Xero again."
