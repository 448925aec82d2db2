"""The only door to Xero: the official xero-python SDK with the traps of docs/xero-behaviours.md handled.

Reads ask the SDK for the raw response (`_preload_content=False`) and parse the JSON body
here, so records are plain dicts in Xero's own shape (money as Decimal). That keeps an enum
value the SDK does not know from losing a page, and spares big syncs the SDK's slow model
deserialisation.

One Gateway holds one ApiClient, its own token and its own call log. The retry policy
lives in `_send`: 429 for the minute limit waits Retry-After and goes on; 429 for the day
limit stops; 5xx and timeouts are retried with bounded backoff; a 401 renews the token once;
other 4xx are never retried.

Tokens come two ways (XeroConfig.auth). A custom connection asks for a client-credentials token.
An app connected with "Connect to Xero" (core/xero/oauth.py) keeps its token set in a file
(core/xero/tokens.py) shared by every browser session and the command line: Xero rotates the
refresh token on every refresh, so a refresh happens under the file's lock, re-reads the file
first (another process may have refreshed already) and saves the new set before using it.

The SDK has no call for the token endpoint's authorization_code grant, and its TokenApi
(refresh, revoke) reads its URLs from class attributes and takes no timeout; so every identity
request goes through this gateway's own SDK ApiClient (`ApiClient.call_api`, the SDK's REST
client), with this connection's URLs and the same retry policy. `GET /Connections` uses the
SDK's IdentityApi.
"""
import json
import math
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

import urllib3
from xero_python.accounting import AccountingApi
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi
from xero_python.exceptions import ApiException
from xero_python.identity import IdentityApi

from core.config import CODE, XeroConfig
from core.xero import tokens

XERO_API_URL = AccountingApi.base_url
XERO_TOKEN_URL = TokenApi.client_credentials_token_url
XERO_REVOKE_URL = TokenApi.revoke_token_url
XERO_CONNECTIONS_URL = IdentityApi.base_url
API_PATH = "/api.xro/2.0"
TOKEN_PATH = "/connect/token"
REVOKE_PATH = "/connect/revocation"
CONNECTIONS_PATH = "/Connections"
IDENTITY_PATHS = (TOKEN_PATH, REVOKE_PATH, CONNECTIONS_PATH)

PAGE_SIZE = 1000
IDS_PER_CALL = 50
INVOICES_PER_UPDATE = 50
SALES_INVOICES = 'Type=="ACCREC"'
SALES_CREDIT_NOTES = 'Type=="ACCRECCREDIT"'
# GET /CreditNotes has no IDs parameter (docs/xero-behaviours.md): a re-read asks by a `where` of OR-ed
# CreditNoteID clauses, 25 a call (about 1,800 characters of URL, under the length 50 IDs take).
CREDIT_NOTE_IDS_PER_CALL = 25
POSTED_JOURNALS = 'Status=="POSTED"'
UNIT_DECIMALS = 4

TOKEN_SECONDS = 30 * 60  # an access token's life, when Xero does not say
TOKEN_RENEW_AFTER_SECONDS = 25 * 60  # Xero's tokens last 30 minutes
REFRESH_TOKEN_DAYS = 60  # an unused refresh token dies after 60 days
TIMEOUT_SECONDS = (10, 120)  # (connect, read); the SDK ignores floats
TRIES = 4  # for 5xx and timeouts
BACKOFF_SECONDS = 1  # doubled after each failed try
MINUTE_LIMIT_WAITS = 10  # consecutive minute-limit 429s on one call before giving up

_MS_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")


class XeroError(Exception):
    """Talking to Xero failed; the message says what happened in plain words."""


class XeroAuthError(XeroError):
    """Xero refused the credentials or the token."""


class NotConnected(XeroAuthError):
    """No organisation has been connected with "Connect to Xero" (or none chosen yet)."""


class ReconnectNeeded(XeroAuthError):
    """The saved connection no longer works (refresh token refused or too old): connect again."""


RECONNECT = ("Xero no longer accepts the saved connection ({why}). Nothing was changed. Reconnect: "
             "Settings → Connection to Xero → Connect to Xero.")


class XeroUnavailable(XeroError):
    """Xero could not be reached, or kept failing after the retries."""


class DayLimitReached(XeroError):
    """The organisation's daily API allowance is used up; `retry_at` says when it comes back."""

    def __init__(self, message: str, retry_at: datetime):
        super().__init__(message)
        self.retry_at = retry_at


class XeroBadResponse(XeroError):
    """Xero answered with something that is not the JSON we expect."""


class Call(NamedTuple):
    """One HTTP request made; `status` is None when no answer came (timeout, connection lost)."""
    method: str
    endpoint: str
    status: int | None

    @property
    def is_token(self) -> bool:
        """A call to Xero's identity service (token, revocation, connections), not to the Accounting API."""
        return self.endpoint in IDENTITY_PATHS


class Page(list):
    """One page of records, with Xero's paging figures when the response had them."""

    def __init__(self, records: list[dict], page: int = 1, page_count: int | None = None,
                 item_count: int | None = None):
        super().__init__(records)
        self.page, self.page_count, self.item_count = page, page_count, item_count


def parse_date(value: str | None) -> datetime | None:
    """Xero's "/Date(1541176290160+0000)/" as a UTC datetime (None stays None).

    The milliseconds count from the Unix epoch in UTC; the offset is only informational.
    For a calendar date (Date, DueDate) take `.date()` of the result.
    """
    if value is None:
        return None
    match = _MS_DATE.fullmatch(value.strip())
    if not match:
        raise XeroBadResponse(f"Xero sent a date we cannot read: {value!r}")
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=int(match.group(1)))


def parse_day(value: str | None) -> date | None:
    moment = parse_date(value)
    return moment.date() if moment else None


def _drop_nones(value):
    """The SDK cannot serialise None (and Xero reads an absent field as "leave it")."""
    if isinstance(value, dict):
        return {k: _drop_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nones(v) for v in value]
    return value


def _timeout(value) -> int | tuple[int, int]:
    if isinstance(value, tuple):
        return tuple(max(1, math.ceil(v)) for v in value)
    return max(1, math.ceil(value))


class Gateway:
    """A connection to one Xero organisation. Not shared between threads."""

    def __init__(self, cfg: XeroConfig, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 timeout: int | tuple[int, int] = TIMEOUT_SECONDS):
        self.cfg = cfg
        self.api_url = (cfg.api_url or XERO_API_URL).rstrip("/")
        identity = cfg.identity_url.rstrip("/") if cfg.identity_url else None
        self.token_url = identity + TOKEN_PATH if identity else XERO_TOKEN_URL
        self.revoke_url = identity + REVOKE_PATH if identity else XERO_REVOKE_URL
        self.calls: list[Call] = []
        self._sleep, self._clock, self._timeout = sleep, clock, _timeout(timeout)
        self._token: dict | None = None
        self._token_at: float | None = None  # client credentials: when the token came (monotonic clock)
        self._renew_at: float | None = None  # Connect to Xero: when the saved token is to be renewed (wall clock)
        self._refused_access_token: str | None = None

        configuration = Configuration()
        configuration.oauth2_token = OAuth2Token(client_id=cfg.client_id, client_secret=cfg.client_secret)
        self._client = ApiClient(configuration, pool_threads=1,
                                 oauth2_token_getter=lambda: self._token,
                                 oauth2_token_saver=self._save_token)
        # urllib3's default Retry sleeps through Retry-After (hours, for the day limit) and
        # retries behind our back; every retry is decided in `_send` instead.
        self._client.rest_client.pool_manager.connection_pool_kw["retries"] = urllib3.Retry(
            total=0, redirect=0, respect_retry_after_header=False, raise_on_status=False)
        self._api = AccountingApi(self._client, base_url=self.api_url)
        api_root = self.api_url[:-len(API_PATH)] if self.api_url.endswith(API_PATH) else XERO_CONNECTIONS_URL
        self._identity = IdentityApi(self._client, base_url=api_root)

    @property
    def api_calls(self) -> int:
        """HTTP calls to the Accounting API (calls to the identity service not counted)."""
        return sum(not call.is_token for call in self.calls)

    # --- reads -------------------------------------------------------------------------

    def organisation(self) -> dict:
        organisations = self._read("/Organisation", "Organisations", self._api.get_organisations)
        if not organisations:
            raise XeroBadResponse("Xero sent no organisation for this connection.")
        return organisations[0]

    def tracking_categories(self) -> list[dict]:
        return self._read("/TrackingCategories", "TrackingCategories", self._api.get_tracking_categories,
                          include_archived=True)

    def contacts(self, modified_since: datetime | None = None) -> Iterator[Page]:
        return self._pages("/Contacts", "Contacts", self._api.get_contacts,
                           if_modified_since=modified_since, include_archived=True)

    def items(self, modified_since: datetime | None = None) -> list[dict]:
        return self._read("/Items", "Items", self._api.get_items,
                          if_modified_since=modified_since, unitdp=UNIT_DECIMALS)

    def invoices(self, modified_since: datetime | None = None, *, ids=None, statuses=None) -> Iterator[Page]:
        """Sales invoices (ACCREC) with their lines, 1000 a page; `ids` are asked 50 at a time."""
        query = dict(if_modified_since=modified_since, where=SALES_INVOICES, unitdp=UNIT_DECIMALS,
                     statuses=list(statuses) if statuses else None)
        if ids is None:
            yield from self._pages("/Invoices", "Invoices", self._api.get_invoices, **query)
            return
        ids = list(ids)
        for start in range(0, len(ids), IDS_PER_CALL):
            yield from self._pages("/Invoices", "Invoices", self._api.get_invoices,
                                   i_ds=ids[start:start + IDS_PER_CALL], **query)

    def invoice(self, invoice_id: str) -> dict:
        invoices = self._read("/Invoices/{id}", "Invoices", self._api.get_invoice,
                              invoice_id=invoice_id, unitdp=UNIT_DECIMALS)
        if not invoices:
            raise XeroBadResponse(f"Xero sent no invoice for {invoice_id}.")
        return invoices[0]

    def credit_notes(self, modified_since: datetime | None = None, *, ids=None) -> Iterator[Page]:
        """Sales credit notes (ACCRECCREDIT) with their lines, 1000 a page; `ids` are asked 25 a call."""
        query = dict(if_modified_since=modified_since, unitdp=UNIT_DECIMALS)
        if ids is None:
            yield from self._pages("/CreditNotes", "CreditNotes", self._api.get_credit_notes,
                                   where=SALES_CREDIT_NOTES, **query)
            return
        ids = list(ids)
        for start in range(0, len(ids), CREDIT_NOTE_IDS_PER_CALL):
            chosen = " OR ".join(f'CreditNoteID==Guid("{i}")' for i in ids[start:start + CREDIT_NOTE_IDS_PER_CALL])
            yield from self._pages("/CreditNotes", "CreditNotes", self._api.get_credit_notes, where=chosen, **query)

    def credit_note(self, credit_note_id: str) -> dict:
        notes = self._read("/CreditNotes/{id}", "CreditNotes", self._api.get_credit_note,
                           credit_note_id=credit_note_id, unitdp=UNIT_DECIMALS)
        if not notes:
            raise XeroBadResponse(f"Xero sent no credit note for {credit_note_id}.")
        return notes[0]

    def manual_journals(self, modified_since: datetime | None = None) -> Iterator[Page]:
        """POSTED manual journals with their lines, 1000 a page."""
        return self._pages("/ManualJournals", "ManualJournals", self._api.get_manual_journals,
                           if_modified_since=modified_since, where=POSTED_JOURNALS)

    def profit_and_loss(self, date_from: date, date_to: date, tracking_category_id: str | None = None) -> dict:
        """Xero's Profit and Loss report for the period (accruals basis), split by the tracking category's options
        when one is given: the report dict of the ReportWithRows answer (values are strings)."""
        reports = self._read("/Reports/ProfitAndLoss", "Reports", self._api.get_report_profit_and_loss,
                             from_date=date_from, to_date=date_to, tracking_category_id=tracking_category_id)
        if not reports or not isinstance(reports[0].get("Rows"), list):
            raise XeroBadResponse("Xero sent no Profit and Loss report.")
        return reports[0]

    # --- writes ------------------------------------------------------------------------

    def update_invoices(self, invoices: list[dict], *, idempotency_key: str) -> list[dict]:
        """POST /Invoices for at most 50 invoices (Xero's JSON shape); one result dict per invoice.

        summarizeErrors=false: an invoice Xero refuses comes back with HasErrors and its
        ValidationErrors while the others are saved. Retries reuse the idempotency key, so
        Xero applies the batch at most once.
        """
        return self._write_invoices("POST", self._api.update_or_create_invoices, invoices, idempotency_key)

    def create_invoices(self, invoices: list[dict], *, idempotency_key: str) -> list[dict]:
        """PUT /Invoices: create at most 50 invoices (no InvoiceID), as `update_invoices` updates them."""
        return self._write_invoices("PUT", self._api.create_invoices, invoices, idempotency_key)

    def _write_invoices(self, method: str, sdk_call, invoices: list[dict], idempotency_key: str) -> list[dict]:
        if len(invoices) > INVOICES_PER_UPDATE:
            raise ValueError(f"{method} /Invoices takes at most {INVOICES_PER_UPDATE} invoices, got {len(invoices)}")
        payload = _drop_nones({"Invoices": invoices})
        answer = self._send(method, "/Invoices", lambda: sdk_call(
            self.cfg.tenant_id, payload, summarize_errors=False, unitdp=UNIT_DECIMALS,
            idempotency_key=idempotency_key, _preload_content=False, _request_timeout=self._timeout))
        return self._records_from(self._json(answer, "/Invoices"), "/Invoices", "Invoices")

    def update_credit_notes(self, credit_notes: list[dict], *, idempotency_key: str) -> list[dict]:
        """POST /CreditNotes for at most 50 credit notes, as `update_invoices` does for invoices."""
        if len(credit_notes) > INVOICES_PER_UPDATE:
            raise ValueError(f"update_credit_notes takes at most {INVOICES_PER_UPDATE} credit notes, "
                             f"got {len(credit_notes)}")
        payload = _drop_nones({"CreditNotes": credit_notes})
        answer = self._send("POST", "/CreditNotes", lambda: self._api.update_or_create_credit_notes(
            self.cfg.tenant_id, payload, summarize_errors=False, unitdp=UNIT_DECIMALS,
            idempotency_key=idempotency_key, _preload_content=False, _request_timeout=self._timeout))
        return self._records_from(self._json(answer, "/CreditNotes"), "/CreditNotes", "CreditNotes")

    # --- the identity service (Connect to Xero) ------------------------------------------

    def exchange_code(self, code: str, verifier: str, redirect_uri: str) -> dict:
        """The authorization_code grant with its PKCE verifier: the new token set, as `token_record` makes it."""
        answer = self._token_request({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                                      "code_verifier": verifier}, refused=_code_refused)
        return self._token_record(answer)

    def connections(self) -> list[dict]:
        """GET /Connections: the tenants this token may use, as Xero's dicts (tenantId, tenantName, tenantType…)."""
        body = self._json(self._send("GET", CONNECTIONS_PATH, lambda: self._identity.get_connections(
            _preload_content=False, _request_timeout=self._timeout)), CONNECTIONS_PATH)
        if not isinstance(body, list) or not all(isinstance(c, dict) and c.get("tenantId") for c in body):
            raise XeroBadResponse("Xero's answer to /Connections is not a list of connections.")
        return body

    def revoke(self, refresh_token: str) -> None:
        """Revoke a refresh token (and with it the access tokens and the app's connections in Xero)."""
        self._send("POST", REVOKE_PATH, lambda: self._client.call_api(
            self.revoke_url, "POST", header_params=_FORM_HEADERS,
            post_params=self._client_params({"token": refresh_token}),
            auth_settings=None, _preload_content=False, _request_timeout=self._timeout)[0])

    # --- paging and parsing ------------------------------------------------------------

    def _pages(self, endpoint: str, key: str, method, **query) -> Iterator[Page]:
        page = 1
        while True:
            body = self._get(endpoint, method, page=page, page_size=PAGE_SIZE, **query)
            paging = (body.get("pagination") or {}) if isinstance(body, dict) else {}
            records = Page(self._records_from(body, endpoint, key), page,
                           paging.get("pageCount"), paging.get("itemCount"))
            yield records
            if len(records) < PAGE_SIZE or (records.page_count is not None and page >= records.page_count):
                return
            page += 1

    def _read(self, endpoint: str, key: str, method, **query) -> list[dict]:
        return self._records_from(self._get(endpoint, method, **query), endpoint, key)

    def _get(self, endpoint: str, method, **query):
        query = {name: value for name, value in query.items() if value is not None}
        body = self._send("GET", endpoint, lambda: method(
            self.cfg.tenant_id, **query, _preload_content=False, _request_timeout=self._timeout))
        return self._json(body, endpoint)

    @staticmethod
    def _json(body: bytes | None, endpoint: str):
        if body is None:  # 304 Not Modified
            return {}
        try:
            return json.loads(body, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise XeroBadResponse(f"Xero sent a response to {endpoint} that is not JSON.") from None

    @staticmethod
    def _records_from(body, endpoint: str, key: str) -> list[dict]:
        if body == {}:
            return []
        records = body.get(key) if isinstance(body, dict) else None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise XeroBadResponse(f"Xero's response to {endpoint} has no list of {key}.")
        return records

    # --- auth --------------------------------------------------------------------------

    def _save_token(self, token: dict) -> None:
        self._token = token

    def _token_is_fresh(self) -> bool:
        if self.cfg.auth == CODE:
            return self._token is not None and time.time() < self._renew_at
        return self._token_at is not None and self._clock() - self._token_at < TOKEN_RENEW_AFTER_SECONDS

    def _forget_token(self) -> None:
        """Xero answered 401: the next call renews (a saved token another process refreshed will do)."""
        if self.cfg.auth == CODE and self._token:
            self._refused_access_token = self._token["access_token"]
        self._token = self._token_at = self._renew_at = None

    def _renew_token(self) -> None:
        if self.cfg.auth == CODE:
            self._use_token(self._saved_or_refreshed_token())
            return
        token = self._token_request({"grant_type": "client_credentials"}, refused=_credentials_refused)
        self._use_token(token)
        self._token_at = self._clock()

    def _use_token(self, token: dict) -> None:
        """Hand the access token to the SDK. Without expires_at and refresh_token the SDK treats it as always
        valid and never tries a refresh of its own: expiry is tracked here."""
        self._save_token({"access_token": token["access_token"], "token_type": token.get("token_type") or "Bearer",
                          "expires_in": token.get("expires_in"), "scope": token.get("scope") or ""})
        self._client.configuration.oauth2_token.update_token(**self._token)
        if self.cfg.auth == CODE:
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
                answer = self._token_request({"grant_type": "refresh_token",
                                              "refresh_token": connection["refresh_token"]}, refused=_refresh_refused)
                connection.update(self._token_record(answer))
                tokens.write(path, saved)  # saved before it is used: the old refresh token is now on borrowed time
        self._refused_access_token = None
        return connection

    def _token_request(self, form: dict, *, refused: Callable[[str], XeroError]) -> dict:
        # The URL comes from this gateway's config, never from TokenApi's class attribute, and the
        # request has a timeout (TokenApi's own calls take none).
        body = self._send("POST", TOKEN_PATH, lambda: self._client.call_api(
            self.token_url, "POST", header_params=_FORM_HEADERS, post_params=self._client_params(form),
            auth_settings=None, _preload_content=False, _request_timeout=self._timeout)[0], refused=refused)
        token = self._json(body, TOKEN_PATH)
        if not isinstance(token, dict) or not token.get("access_token"):
            raise XeroBadResponse("Xero's identity service sent no access token.")
        return token

    def _client_params(self, form: dict) -> dict:
        """The form with the client's credentials (a public PKCE app has no secret)."""
        credentials = {"client_id": self.cfg.client_id}
        if self.cfg.client_secret:
            credentials["client_secret"] = self.cfg.client_secret
        return {**form, **credentials}

    def _token_record(self, answer: dict) -> dict:
        """What the token file keeps of a token response: the times are wall-clock seconds."""
        if not answer.get("refresh_token"):
            raise XeroBadResponse("Xero sent no refresh token: the app must ask for the offline_access scope.")
        now = time.time()
        return {"access_token": answer["access_token"], "refresh_token": answer["refresh_token"],
                "token_type": answer.get("token_type") or "Bearer", "scope": answer.get("scope") or "",
                "expires_in": answer.get("expires_in") or TOKEN_SECONDS,
                "expires_at": now + (answer.get("expires_in") or TOKEN_SECONDS), "refreshed_at": now}

    # --- the retry policy --------------------------------------------------------------

    def _send(self, method: str, endpoint: str, request: Callable[[], object], *,
              refused: Callable[[str], XeroError] | None = None) -> bytes | None:
        """Make one logical call, retrying as the policy says; returns the body (None for 304).

        `refused` turns the OAuth error code of a token-endpoint refusal into the error to raise."""
        is_token = endpoint in (TOKEN_PATH, REVOKE_PATH)
        renewed = False
        failures = minute_waits = 0
        while True:
            if not is_token and not self._token_is_fresh():
                self._renew_token()
            try:
                response = request()
                body = response.data
            except ApiException as error:
                status = error.http_resp.status if error.http_resp is not None else None
                self.calls.append(Call(method, endpoint, status))
                if status == 304:
                    return None
                if status == 401 and not is_token and not renewed:
                    renewed = True
                    self._forget_token()
                    continue
                if status == 429:
                    wait = self._rate_limit_wait(error, endpoint)
                    minute_waits += 1
                    if minute_waits > MINUTE_LIMIT_WAITS:
                        raise XeroUnavailable(f"Xero kept answering 'too many requests' for {method} {endpoint}; "
                                              "try again in a few minutes.") from None
                    self._sleep(wait)
                    continue
                if status is not None and status >= 500:
                    failures += 1
                    if failures < TRIES:
                        self._sleep(BACKOFF_SECONDS * 2 ** (failures - 1))
                        continue
                    raise XeroUnavailable(f"Xero kept failing (HTTP {status}) for {method} {endpoint} "
                                          f"after {TRIES} tries; try again later.") from None
                if refused and status in (400, 401, 403):
                    raise refused(_oauth_error(error)) from None
                raise self._refusal(error, status, method, endpoint, is_token) from None
            except urllib3.exceptions.HTTPError as error:
                self.calls.append(Call(method, endpoint, None))
                cause = error.reason if isinstance(error, urllib3.exceptions.MaxRetryError) else error
                if isinstance(cause, urllib3.exceptions.NewConnectionError):
                    raise XeroUnavailable(f"Could not reach Xero at {self._host(endpoint)}: "
                                          "the connection was refused or the address is unknown.") from None
                failures += 1
                if failures < TRIES:
                    self._sleep(BACKOFF_SECONDS * 2 ** (failures - 1))
                    continue
                raise XeroUnavailable(f"Xero at {self._host(endpoint)} did not answer {method} {endpoint} "
                                      f"after {TRIES} tries (timed out or the connection dropped).") from None
            self.calls.append(Call(method, endpoint, response.status))
            return None if response.status == 304 else body

    def _host(self, endpoint: str) -> str:
        return {TOKEN_PATH: self.token_url, REVOKE_PATH: self.revoke_url}.get(endpoint, self.api_url)

    def _rate_limit_wait(self, error: ApiException, endpoint: str) -> float:
        headers = error.http_resp.getheaders() or {}
        try:
            wait = max(0.0, float(headers.get("Retry-After", 60)))
        except ValueError:
            wait = 60.0
        problem = (headers.get("X-Rate-Limit-Problem") or "").lower()
        if problem == "day":
            retry_at = datetime.now(UTC) + timedelta(seconds=wait)
            raise DayLimitReached(
                f"Xero's daily API limit for this organisation is used up (at {endpoint}); "
                f"try again after {retry_at:%Y-%m-%d %H:%M} UTC (in about {_duration(wait)}).", retry_at)
        return wait

    @staticmethod
    def _refusal(error: ApiException, status: int | None, method: str, endpoint: str, is_token: bool) -> XeroError:
        if is_token and status in (400, 401, 403):
            return _credentials_refused("")
        if status in (401, 403):
            return XeroAuthError(f"Xero refused access to {endpoint} (HTTP {status}): the connection may lack "
                                 "the scope, or have been disconnected in Xero.")
        detail = _validation_message(error)
        return XeroError(f"Xero refused {method} {endpoint} (HTTP {status})" + (f": {detail}" if detail else "."))


_FORM_HEADERS = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}


def _renew_time(token: dict) -> float:
    """When a saved access token is renewed: five minutes before it expires, as for client credentials."""
    return token["expires_at"] - (TOKEN_SECONDS - TOKEN_RENEW_AFTER_SECONDS)


def _oauth_error(error: ApiException) -> str:
    """The `error` code of an OAuth refusal ({"error": "invalid_grant"}), or "" when the body has none."""
    try:
        body = json.loads(error.http_resp.data or b"")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return ""
    return str(body.get("error") or "") if isinstance(body, dict) else ""


def _credentials_refused(code: str) -> XeroError:
    return XeroAuthError("Xero refused the client id/secret: check XERO_CLIENT_ID and XERO_CLIENT_SECRET "
                         "(or [xero] in .streamlit/secrets.toml) and that the custom connection is active.")


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


def _validation_message(error: ApiException) -> str:
    try:
        body = json.loads(error.http_resp.data or b"")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return ""
    if not isinstance(body, dict):
        return ""
    messages = [v.get("Message") for element in body.get("Elements") or []
                for v in element.get("ValidationErrors") or [] if isinstance(v, dict)]
    return "; ".join(m for m in messages if m) or str(body.get("Message") or body.get("Detail") or "")


def _duration(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
