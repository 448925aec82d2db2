"""The access token a Gateway sends, and how a new one is granted (XeroConfig.auth).

A custom connection asks for a client-credentials token. An app connected with "Connect to Xero"
(core/xero/oauth.py) keeps its token set in a file (core/xero/tokens.py) shared by every browser
session and the command line: Xero rotates the refresh token on every refresh, so a refresh
happens under the file's lock, re-reads the file first (another process may have refreshed
already) and saves the new set before using it.

The grant requests themselves are sent by the gateway (`grant`): the SDK has no call for the token
endpoint's authorization_code grant, and its TokenApi reads its URLs from class attributes and takes
no timeout, so they go through the gateway's own ApiClient, URLs and retry policy.
"""
import time
from collections.abc import Callable

from core.config import AuthMode, XeroConfig
from core.xero import tokens
from core.xero.errors import NotConnected, ReconnectNeeded, XeroAuthError, XeroBadResponse, XeroError

TOKEN_SECONDS = 30 * 60  # an access token's life, when Xero does not say
TOKEN_RENEW_AFTER_SECONDS = 25 * 60  # Xero's tokens last 30 minutes
REFRESH_TOKEN_DAYS = 60  # an unused refresh token dies after 60 days
RECONNECT = ("Xero no longer accepts the saved connection ({why}). Nothing was changed. Reconnect: "
             "Settings → Connection to Xero → Connect to Xero.")

Refused = Callable[[str], XeroError]  # the OAuth error code of a refused grant → the error to raise
Grant = Callable[[dict, Refused | None], dict]  # POST the form to the token endpoint → Xero's token answer


class TokenStore:
    """The token of one Gateway: renewed before Xero's 30 minutes are up, and once more when Xero refuses it."""

    def __init__(self, cfg: XeroConfig, grant: Grant, clock: Callable[[], float]):
        self.cfg = cfg
        self._grant, self._clock = grant, clock
        self.token: dict | None = None  # what the SDK sends (its oauth2_token_getter)
        self._token_at: float | None = None  # client credentials: when the token came (monotonic clock)
        self._renew_at: float | None = None  # Connect to Xero: when the saved token is to be renewed (wall clock)
        self._refused_access_token: str | None = None

    def ensure_fresh(self) -> None:
        if not self._is_fresh():
            self._renew()

    def forget(self) -> None:
        """Xero answered 401: the next call renews (a saved token another process refreshed will do)."""
        if self.cfg.auth == AuthMode.CODE and self.token:
            self._refused_access_token = self.token["access_token"]
        self.token = self._token_at = self._renew_at = None

    def exchange_code(self, code: str, verifier: str, redirect_uri: str) -> dict:
        """The authorization_code grant with its PKCE verifier: the new token set, as the token file keeps it."""
        answer = self._grant({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                              "code_verifier": verifier}, _code_refused)
        return _token_record(answer)

    def _is_fresh(self) -> bool:
        if self.cfg.auth == AuthMode.CODE:
            return self.token is not None and time.time() < self._renew_at
        return self._token_at is not None and self._clock() - self._token_at < TOKEN_RENEW_AFTER_SECONDS

    def _renew(self) -> None:
        if self.cfg.auth == AuthMode.CODE:
            self._use(self._saved_or_refreshed_token())
            return
        # A refused client-credentials grant is the gateway's own "check the client id/secret".
        self._use(self._grant({"grant_type": "client_credentials"}, None))
        self._token_at = self._clock()

    def _use(self, token: dict) -> None:
        """Hand the access token to the SDK. Without expires_at and refresh_token the SDK treats it as always
        valid and never tries a refresh of its own: expiry is tracked here."""
        self.token = {"access_token": token["access_token"], "token_type": token.get("token_type") or "Bearer",
                      "expires_in": token.get("expires_in"), "scope": token.get("scope") or ""}
        if self.cfg.auth == AuthMode.CODE:
            self._renew_at = _renew_time(token)

    def _saved_or_refreshed_token(self) -> dict:
        """The saved token set, refreshed first if it is stale or Xero refused it, under the file's lock."""
        path = self.cfg.token_file
        with tokens.locked(path):
            saved = tokens.read(path)
            connection = saved.get("connection")
            if not connection or connection.get("client_id") != self.cfg.client_id:
                raise NotConnected("Not connected to Xero: press Connect to Xero on the Settings page.")
            now = time.time()
            if connection["access_token"] == self._refused_access_token or now >= _renew_time(connection):
                if now - connection["refreshed_at"] > REFRESH_TOKEN_DAYS * 86400:
                    raise ReconnectNeeded(RECONNECT.format(why=f"it was not used for {REFRESH_TOKEN_DAYS} days"))
                answer = self._grant({"grant_type": "refresh_token", "refresh_token": connection["refresh_token"]},
                                     _refresh_refused)
                connection.update(_token_record(answer))
                tokens.write(path, saved)  # saved before it is used: the old refresh token is now on borrowed time
        self._refused_access_token = None
        return connection


def _token_record(answer: dict) -> dict:
    """What the token file keeps of a token response: the times are wall-clock seconds."""
    if not answer.get("refresh_token"):
        raise XeroBadResponse("Xero sent no refresh token: the app must ask for the offline_access scope.")
    now = time.time()
    return {"access_token": answer["access_token"], "refresh_token": answer["refresh_token"],
            "token_type": answer.get("token_type") or "Bearer", "scope": answer.get("scope") or "",
            "expires_in": answer.get("expires_in") or TOKEN_SECONDS,
            "expires_at": now + (answer.get("expires_in") or TOKEN_SECONDS), "refreshed_at": now}


def _renew_time(token: dict) -> float:
    """When a saved access token is renewed: five minutes before it expires, as for client credentials."""
    return token["expires_at"] - (TOKEN_SECONDS - TOKEN_RENEW_AFTER_SECONDS)


def _app_refused() -> XeroError:
    return XeroAuthError("Xero refused the app's client id/secret: check XERO_CLIENT_ID and XERO_CLIENT_SECRET "
                         "(or [xero] in .streamlit/secrets.toml).")


def _refresh_refused(code: str) -> XeroError:
    if code == "invalid_client":
        return _app_refused()
    return ReconnectNeeded(RECONNECT.format(why="it was disconnected in Xero, or has expired"))


def _code_refused(code: str) -> XeroError:
    if code == "invalid_client":
        return _app_refused()
    return XeroAuthError("Xero did not accept the approval it sent back (it is used once and lasts a few minutes): "
                         "press Connect to Xero again.")
