"""The sandbox's identity service for "Connect to Xero": authorize, token, revocation and connections.

It behaves as docs/xero-behaviours.md describes Xero's: a consent page whose Approve button sends the
browser back to the app's redirect_uri with a code (single use, five minutes) and the state; the
token endpoint's authorization_code grant checks the redirect_uri and the PKCE S256 verifier; the
refresh_token grant rotates the refresh token every time (the old one keeps working for a
30-minute grace period) and refuses one unused for 60 days with `invalid_grant`; revocation ends the
grant and its tokens; `GET /Connections` lists the organisations granted to the token.

Grants, consents, codes and tokens are kept in the sandbox state (key "Identity"; codes and tokens as
hashes), so a restarted sandbox, and every process sharing its state file, knows them. Test hooks: `advance(seconds)`,
`revoke_all()`, `expire_access_tokens()`, `refreshes` (refresh grants answered).
"""
import base64
import hashlib
import html
import json
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

AUTHORIZE_PATH = "/identity/connect/authorize"
REVOKE_PATH = "/connect/revocation"
CONNECTIONS_PATH = "/connections"
PATHS = (AUTHORIZE_PATH, REVOKE_PATH, CONNECTIONS_PATH)
CODE_SECONDS = 5 * 60
CONSENT_SECONDS = 30 * 60
ACCESS_SECONDS = 30 * 60
GRACE_SECONDS = 30 * 60
REFRESH_SECONDS = 60 * 86400


class Reply(NamedTuple):
    status: int
    body: bytes
    headers: dict


def _json(status: int, body) -> Reply:
    return Reply(status, json.dumps(body).encode(), {"Content-Type": "application/json; charset=utf-8"})


def _page(status: int, title: str, body: str) -> Reply:
    document = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                "<style>body{font-family:sans-serif;max-width:36rem;margin:3rem auto}button{font-size:1rem;"
                "padding:.5rem 1.2rem;margin-right:.5rem}</style></head>"
                f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return Reply(status, document.encode(), {"Content-Type": "text/html; charset=utf-8"})


def _redirect(uri: str, params: dict) -> Reply:
    parts = urlsplit(uri)
    query = urlencode(parse_qsl(parts.query) + [(k, v) for k, v in params.items() if v is not None])
    return Reply(303, b"", {"Location": urlunsplit(parts._replace(query=query))})


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _challenge(verifier: str) -> str:
    """PKCE S256, worked out here independently of the app's own (core/xero/oauth.py), as Xero would."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0")


class Identity:
    """The identity service of one sandbox. Its owner serialises the calls (the sandbox's lock)."""

    def __init__(self, state: dict, client_id: str, client_secret: str, on_change: Callable[[], None]):
        self._state, self._client_id, self._client_secret = state, client_id, client_secret
        self._on_change = on_change
        self._offset = 0.0
        self.refreshes = 0

    # ---- test hooks ----------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the identity service's clock on (code, token, grace and 60-day lifetimes)."""
        self._offset += seconds

    def revoke_all(self) -> None:
        """Every grant revoked, as if each organisation disconnected the app in Xero."""
        self._store()["Grants"].clear()
        self._store()["RefreshTokens"].clear()
        self._held("AccessTokens").clear()
        self._on_change()

    def expire_access_tokens(self) -> None:
        self._held("AccessTokens").clear()
        self._on_change()

    # ---- used by the sandbox -------------------------------------------------------------------

    def tenants_for(self, access_token: str) -> list[str] | None:
        """The tenant ids an access token of this service may use, or None when it is not one (or expired)."""
        access = self._held("AccessTokens").get(_hash(access_token))
        if access is None:  # a client-credentials token, or none
            return None
        grant = self._store()["Grants"].get(access["Grant"])
        return grant["Tenants"] if grant and access["Expires"] > self._now() else None

    def handle(self, method: str, path: str, query: dict, body: bytes, authorization: str) -> Reply:
        path, fields = path.lower(), parse_qs(body.decode())
        form = {name: values[0] for name, values in fields.items()}
        if path == AUTHORIZE_PATH and method == "GET":
            return self._authorize(query)
        if path == AUTHORIZE_PATH and method == "POST":
            return self._consent(form, fields.get("tenant", []))
        if path == REVOKE_PATH and method == "POST":
            return self._revoke(form)
        if path == CONNECTIONS_PATH and method == "GET":
            return self._connections(authorization)
        return _json(405, {"error": "method_not_allowed"})

    def token(self, form: dict) -> Reply:
        """POST /connect/token for the authorization_code and refresh_token grants."""
        if form.get("client_id") != self._client_id or form.get("client_secret", self._client_secret) != \
                self._client_secret:
            return _json(400, {"error": "invalid_client"})
        if form.get("grant_type") == "authorization_code":
            return self._exchange(form)
        return self._refresh(form)

    # ---- inside --------------------------------------------------------------------------------

    def _now(self) -> float:
        return time.time() + self._offset

    def _store(self) -> dict:
        return self._state.setdefault("Identity", {"Grants": {}, "RefreshTokens": {}})

    def _held(self, kind: str) -> dict:
        """Consents, Codes or AccessTokens (by hash), without those whose time is up."""
        held, now = self._store().setdefault(kind, {}), self._now()
        for key in [key for key, entry in held.items() if entry["Expires"] <= now]:
            del held[key]
        return held

    def _organisations(self) -> list[dict]:
        org = self._state["Organisation"]
        return [{"tenantId": org["OrganisationID"], "tenantName": org["Name"]}]

    def _authorize(self, query: dict) -> Reply:
        if query.get("client_id") != self._client_id:
            return _page(400, "Unknown app", "<p>This client_id is not an app registered with this Xero sandbox.</p>")
        redirect_uri = query.get("redirect_uri") or ""
        if urlsplit(redirect_uri).scheme not in ("http", "https"):
            return _page(400, "Bad redirect", "<p>The redirect_uri must be an http(s) address.</p>")
        state = query.get("state")
        if query.get("response_type") != "code":
            return _redirect(redirect_uri, {"error": "unsupported_response_type", "state": state})
        if not query.get("code_challenge") or query.get("code_challenge_method") != "S256":
            return _redirect(redirect_uri, {"error": "invalid_request", "state": state,
                                            "error_description": "PKCE with code_challenge_method=S256 is required"})
        scopes = (query.get("scope") or "").split()
        if not scopes:
            return _redirect(redirect_uri, {"error": "invalid_scope", "state": state})
        consent = secrets.token_urlsafe(16)
        self._held("Consents")[_hash(consent)] = {"redirect_uri": redirect_uri, "state": state,
                                                  "scope": " ".join(scopes), "challenge": query["code_challenge"],
                                                  "Expires": self._now() + CONSENT_SECONDS}
        self._on_change()
        organisations = "".join(
            f"<label><input type='checkbox' name='tenant' value='{html.escape(o['tenantId'])}' checked> "
            f"{html.escape(o['tenantName'])}</label><br>" for o in self._organisations())
        permissions = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in scopes)
        return _page(200, "Allow access to your Xero organisation?", (
            "<p>An app wants to connect to Xero (this is the local Xero sandbox).</p>"
            f"<p>It asks for:</p><ul>{permissions}</ul>"
            f"<form method='post' action='{AUTHORIZE_PATH}'><input type='hidden' name='consent' value='{consent}'>"
            f"<fieldset><legend>Organisations to connect</legend>{organisations}</fieldset><p>"
            "<button type='submit' name='decision' value='approve'>Approve</button>"
            "<button type='submit' name='decision' value='deny'>Deny</button></p></form>"))

    def _consent(self, form: dict, tenants: list[str]) -> Reply:
        consent = self._held("Consents").pop(_hash(form.get("consent") or ""), None)
        self._on_change()
        if consent is None:
            return _page(400, "This request has expired", "<p>Go back to the app and start again.</p>")
        granted = [o["tenantId"] for o in self._organisations() if o["tenantId"] in tenants]
        if form.get("decision") != "approve" or not granted:
            return _redirect(consent["redirect_uri"], {"error": "access_denied", "state": consent["state"]})
        code = secrets.token_urlsafe(32)
        self._held("Codes")[_hash(code)] = {**consent, "tenants": granted, "Expires": self._now() + CODE_SECONDS,
                                            "used_by": None}
        return _redirect(consent["redirect_uri"], {"code": code, "scope": consent["scope"], "state": consent["state"],
                                                   "session_state": secrets.token_hex(8)})

    def _exchange(self, form: dict) -> Reply:
        code = self._held("Codes").get(_hash(form.get("code") or ""))
        if code is None:
            return _json(400, {"error": "invalid_grant"})
        if code["used_by"]:  # a code used twice: whatever it gave is revoked too
            self._end_grant(code["used_by"])
            return _json(400, {"error": "invalid_grant"})
        if form.get("redirect_uri") != code["redirect_uri"] or \
                _challenge(form.get("code_verifier") or "") != code["challenge"]:
            return _json(400, {"error": "invalid_grant"})
        grant_id = str(uuid.uuid4())
        code["used_by"] = grant_id
        self._on_change()
        self._store()["Grants"][grant_id] = {"Scope": code["scope"], "Tenants": code["tenants"],
                                             "Created": self._now()}
        return self._issue(grant_id)

    def _refresh(self, form: dict) -> Reply:
        if form.get("grant_type") != "refresh_token":
            return _json(400, {"error": "unsupported_grant_type"})
        key = _hash(form.get("refresh_token") or "")
        stored = self._store()["RefreshTokens"].get(key)
        now = self._now()
        if stored is None or stored["Grant"] not in self._store()["Grants"] or now - stored["Issued"] > REFRESH_SECONDS \
                or (stored["Rotated"] is not None and now - stored["Rotated"] > GRACE_SECONDS):
            return _json(400, {"error": "invalid_grant"})
        if stored["Rotated"] is None:
            stored["Rotated"] = now
        self.refreshes += 1
        return self._issue(stored["Grant"])

    def _issue(self, grant_id: str) -> Reply:
        now, grant = self._now(), self._store()["Grants"][grant_id]
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self._held("AccessTokens")[_hash(access)] = {"Expires": now + ACCESS_SECONDS, "Grant": grant_id}
        refresh_tokens = self._store()["RefreshTokens"]
        for key in [k for k, t in refresh_tokens.items() if t["Rotated"] is not None
                    and now - t["Rotated"] > GRACE_SECONDS]:
            del refresh_tokens[key]
        refresh_tokens[_hash(refresh)] = {"Grant": grant_id, "Issued": now, "Rotated": None}
        self._on_change()
        return _json(200, {"access_token": access, "refresh_token": refresh, "expires_in": ACCESS_SECONDS,
                           "token_type": "Bearer", "scope": grant["Scope"]})

    def _revoke(self, form: dict) -> Reply:
        if form.get("client_id") != self._client_id or form.get("client_secret", self._client_secret) != \
                self._client_secret:
            return _json(400, {"error": "invalid_client"})
        stored = self._store()["RefreshTokens"].get(_hash(form.get("token") or ""))
        if stored is not None:
            self._end_grant(stored["Grant"])
        return Reply(200, b"", {})

    def _end_grant(self, grant_id: str) -> None:
        store = self._store()
        store["Grants"].pop(grant_id, None)
        for key in [k for k, t in store["RefreshTokens"].items() if t["Grant"] == grant_id]:
            del store["RefreshTokens"][key]
        tokens = self._held("AccessTokens")
        for key in [k for k, t in tokens.items() if t["Grant"] == grant_id]:
            del tokens[key]
        self._on_change()

    def _connections(self, authorization: str) -> Reply:
        scheme, _, token = authorization.partition(" ")
        tenants = self.tenants_for(token) if scheme.lower() == "bearer" else None
        if tenants is None:
            return _json(401, {"Title": "Unauthorized", "Status": 401, "Detail": "AuthenticationUnsuccessful"})
        grant_id = self._held("AccessTokens")[_hash(token)]["Grant"]
        created = _iso(self._store()["Grants"][grant_id]["Created"])
        return _json(200, [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, grant_id + o["tenantId"])),
                            "authEventId": grant_id, "tenantId": o["tenantId"], "tenantType": "ORGANISATION",
                            "tenantName": o["tenantName"], "createdDateUtc": created, "updatedDateUtc": created}
                           for o in self._organisations() if o["tenantId"] in tenants])
