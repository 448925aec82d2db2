"""The only door to Xero: the official xero-python SDK with the traps of docs/xero-behaviours.md handled.

Reads ask the SDK for the raw response (`_preload_content=False`) and parse the JSON body
here, so records are plain dicts in Xero's own shape (money as Decimal). That keeps an enum
value the SDK does not know from losing a page, and spares big syncs the SDK's slow model
deserialisation.

One Gateway holds one ApiClient, its own token (core/xero/token_store.py) and its own call log.
Every request goes through `_send`, which retries as one RetryPolicy says (core/xero/retry.py):
429 for the minute limit waits Retry-After and goes on; 429 for the day limit stops; 5xx and
timeouts are retried with bounded backoff; a 401 renews the token once; other 4xx are never retried.

The token grants and the revocation go to Xero's identity service through this gateway's own SDK
ApiClient (`ApiClient.call_api`, the SDK's REST client), with this connection's URLs; the SDK's
TokenApi reads its URLs from class attributes and takes no timeout. `GET /Connections` uses the
SDK's IdentityApi.
"""
import json
import math
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import NamedTuple

import urllib3
from xero_python.accounting import AccountingApi
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi
from xero_python.exceptions import ApiException
from xero_python.identity import IdentityApi

from core.config import XeroConfig
from core.xero.errors import DayLimitReached, XeroAuthError, XeroBadResponse, XeroError, XeroUnavailable
from core.xero.retry import RetryPolicy, retry_after
from core.xero.token_store import Refused, TokenStore

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

TIMEOUT_SECONDS = (10, 120)  # (connect, read); the SDK ignores floats

_MS_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")


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

    def __init__(self, records: list[dict], page: int, page_count: int | None, item_count: int | None):
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


class _Answer(NamedTuple):
    """What one request got: `status` None and a urllib3 error when no answer came."""
    status: int | None
    body: bytes | None
    error: Exception | None


class _Verdict(Enum):
    """What `_classify` makes of an answer."""
    DONE = "done"
    RENEW = "renew the token"
    TRANSIENT = "5xx or timeout"
    RATE_LIMITED = "minute limit"


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
        self.retry = RetryPolicy(sleep=sleep)
        self.tokens = TokenStore(cfg, self._token_request, clock)
        self._timeout = _timeout(timeout)

        configuration = Configuration()
        configuration.oauth2_token = OAuth2Token(client_id=cfg.client_id, client_secret=cfg.client_secret)
        self._client = ApiClient(configuration, pool_threads=1, oauth2_token_getter=lambda: self.tokens.token)
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

    def invoices(self, modified_since: datetime | None = None, *, ids=None) -> Iterator[Page]:
        """Sales invoices (ACCREC) with their lines, 1000 a page; `ids` are asked 50 at a time."""
        query = dict(if_modified_since=modified_since, where=SALES_INVOICES, unitdp=UNIT_DECIMALS)
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

    def manual_journals(self) -> Iterator[Page]:
        """POSTED manual journals with their lines, 1000 a page."""
        return self._pages("/ManualJournals", "ManualJournals", self._api.get_manual_journals, where=POSTED_JOURNALS)

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

    def connections(self) -> list[dict]:
        """GET /Connections: the tenants this token may use, as Xero's dicts (tenantId, tenantName, tenantType…)."""
        body = self._json(self._send("GET", CONNECTIONS_PATH, lambda: self._identity.get_connections(
            _preload_content=False, _request_timeout=self._timeout)), CONNECTIONS_PATH)
        if not isinstance(body, list) or not all(isinstance(c, dict) and c.get("tenantId") for c in body):
            raise XeroBadResponse("Xero's answer to /Connections is not a list of connections.")
        return body

    def revoke(self, refresh_token: str) -> None:
        """Revoke a refresh token (and with it the access tokens and the app's connections in Xero)."""
        self._post_form(REVOKE_PATH, {"token": refresh_token})

    def _token_request(self, form: dict, refused: Refused | None) -> dict:
        """A grant (TokenStore's): Xero's token answer; `refused` names the error when Xero refuses it."""
        token = self._json(self._post_form(TOKEN_PATH, form, refused=refused), TOKEN_PATH)
        if not isinstance(token, dict) or not token.get("access_token"):
            raise XeroBadResponse("Xero's identity service sent no access token.")
        return token

    def _post_form(self, endpoint: str, form: dict, *, refused: Refused | None = None) -> bytes | None:
        """POST the form, with the client's credentials, to the identity service. The URL comes from this
        gateway's config, never from TokenApi's class attribute, and the request has a timeout."""
        credentials = {"client_id": self.cfg.client_id}
        if self.cfg.client_secret:  # a public PKCE app has no secret
            credentials["client_secret"] = self.cfg.client_secret
        return self._send("POST", endpoint, lambda: self._client.call_api(
            self._host(endpoint), "POST", header_params=_FORM_HEADERS, post_params={**form, **credentials},
            auth_settings=None, _preload_content=False, _request_timeout=self._timeout)[0], refused=refused)

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

    # --- sending, and the retry policy --------------------------------------------------

    def _send(self, method: str, endpoint: str, request: Callable[[], object], *,
              refused: Refused | None = None) -> bytes | None:
        """Make one logical call, retrying as `self.retry` says; returns the body (None for 304).

        `refused` turns the OAuth error code of a token-endpoint refusal into the error to raise."""
        identity = endpoint in (TOKEN_PATH, REVOKE_PATH)  # sent without the access token
        renewed = False
        failures = {_Verdict.TRANSIENT: 0, _Verdict.RATE_LIMITED: 0}  # on this call, each kind apart
        while True:
            if not identity:
                self.tokens.ensure_fresh()
            answer = self._send_once(method, endpoint, request)
            verdict = self._classify(answer, method, endpoint, identity=identity, renewed=renewed, refused=refused)
            if verdict is _Verdict.DONE:
                return answer.body
            if verdict is _Verdict.RENEW:
                renewed = True
                self.tokens.forget()
                continue
            failures[verdict] += 1
            self.retry.sleep(self._retry_wait(verdict, failures[verdict], answer, method, endpoint))

    def _send_once(self, method: str, endpoint: str, request: Callable[[], object]) -> _Answer:
        """One HTTP request, logged in `calls`: an error status or a lost answer is returned, not raised."""
        try:
            response = request()
            body = response.data
            answer = _Answer(response.status, None if response.status == 304 else body, None)
        except ApiException as error:
            answer = _Answer(error.http_resp.status if error.http_resp is not None else None, None, error)
        except urllib3.exceptions.HTTPError as error:
            answer = _Answer(None, None, error)
        self.calls.append(Call(method, endpoint, answer.status))
        return answer

    def _classify(self, answer: _Answer, method: str, endpoint: str, *, identity: bool, renewed: bool,
                  refused: Refused | None) -> _Verdict:
        """What the answer calls for: done, a renewed token, or a wait and another try; raises when it is final."""
        error, status = answer.error, answer.status
        if error is None or status == 304:
            return _Verdict.DONE
        if isinstance(error, urllib3.exceptions.HTTPError):
            cause = error.reason if isinstance(error, urllib3.exceptions.MaxRetryError) else error
            if isinstance(cause, urllib3.exceptions.NewConnectionError):
                raise XeroUnavailable(f"Could not reach Xero at {self._host(endpoint)}: "
                                      "the connection was refused or the address is unknown.") from None
            return _Verdict.TRANSIENT
        if status == 401 and not identity and not renewed:
            return _Verdict.RENEW
        if status == 429:
            headers = error.http_resp.getheaders() or {}
            if (headers.get("X-Rate-Limit-Problem") or "").lower() == "day":
                raise _day_limit(retry_after(headers), endpoint) from None
            return _Verdict.RATE_LIMITED
        if status is not None and status >= 500:
            return _Verdict.TRANSIENT
        if refused and status in (400, 401, 403):
            raise refused(_oauth_error(error)) from None
        raise self._refusal(error, status, method, endpoint, identity) from None

    def _retry_wait(self, verdict: _Verdict, failures: int, answer: _Answer, method: str, endpoint: str) -> float:
        """The seconds to wait before the next try; raises XeroUnavailable when the policy gives up."""
        if verdict is _Verdict.RATE_LIMITED:
            wait = self.retry.wait(failures, retry_after(answer.error.http_resp.getheaders() or {}))
            if wait is None:
                raise XeroUnavailable(f"Xero kept answering 'too many requests' for {method} {endpoint}; "
                                      "try again in a few minutes.")
            return wait
        wait = self.retry.wait(failures)
        if wait is not None:
            return wait
        if answer.status is None:
            raise XeroUnavailable(f"Xero at {self._host(endpoint)} did not answer {method} {endpoint} "
                                  f"after {self.retry.attempts} tries (timed out or the connection dropped).")
        raise XeroUnavailable(f"Xero kept failing (HTTP {answer.status}) for {method} {endpoint} "
                              f"after {self.retry.attempts} tries; try again later.")

    def _host(self, endpoint: str) -> str:
        return {TOKEN_PATH: self.token_url, REVOKE_PATH: self.revoke_url}.get(endpoint, self.api_url)

    @staticmethod
    def _refusal(error: ApiException, status: int | None, method: str, endpoint: str, identity: bool) -> XeroError:
        if identity and status in (400, 401, 403):
            return XeroAuthError("Xero refused the client id/secret: check XERO_CLIENT_ID and XERO_CLIENT_SECRET "
                                 "(or [xero] in .streamlit/secrets.toml) and that the custom connection is active.")
        if status in (401, 403):
            return XeroAuthError(f"Xero refused access to {endpoint} (HTTP {status}): the connection may lack "
                                 "the scope, or have been disconnected in Xero.")
        detail = _validation_message(error)
        return XeroError(f"Xero refused {method} {endpoint} (HTTP {status})" + (f": {detail}" if detail else "."))


_FORM_HEADERS = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}


def _oauth_error(error: ApiException) -> str:
    """The `error` code of an OAuth refusal ({"error": "invalid_grant"}), or "" when the body has none."""
    try:
        body = json.loads(error.http_resp.data or b"")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return ""
    return str(body.get("error") or "") if isinstance(body, dict) else ""


def _day_limit(wait: float, endpoint: str) -> DayLimitReached:
    retry_at = datetime.now(UTC) + timedelta(seconds=wait)
    return DayLimitReached(f"Xero's daily API limit for this organisation is used up (at {endpoint}); "
                           f"try again after {retry_at:%Y-%m-%d %H:%M} UTC (in about {_duration(wait)}).", retry_at)


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
