"""A local Xero: the subset of the Accounting API this project uses, over loopback HTTP.

The demo runs on it, and every test of Xero traffic drives the real xero-python SDK against
it. It speaks Xero's shapes and semantics (docs/xero-behaviours.md): client-credentials tokens,
paged reads with line items only when paged, If-Modified-Since, POST /Invoices with full
line replacement, refusals, summarizeErrors, Idempotency-Key, and the rate-limit headers.
The read side lives in `reads`, the update rules in `writes`, and the
"Connect to Xero" identity service (authorize, code and refresh grants, revocation,
connections) in `identity`.

A sandbox given a state file shares it with every other process serving that file, as one Xero
(`state_file`): everything Xero would remember lives in the state (records, grants and tokens
of Connect to Xero, idempotency keys), while each process keeps its own request log, rate-limit
counters, client-credentials tokens and test hooks.
"""
import base64
import binascii
import hashlib
import json
import math
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs, unquote, unquote_plus, urlsplit

from core.sandbox import credit_notes, demo, identity, reads, reports
from core.sandbox.state_file import StateFile, load, write_json  # load: read a saved state, for callers
from core.sandbox.records import ms_from_xero, settle, updated_fields
from core.sandbox.writes import ARCHIVED_READINGS, Book, apply_invoices

API_PREFIX = "/api.xro/2.0"
TOKEN_PATH = "/connect/token"
TOKEN_SECONDS = 1800
DAY_LIMIT = 5000
MINUTE_LIMIT = 60
APP_MINUTE_LIMIT = 10000
SCOPE = "accounting.invoices accounting.settings.read accounting.contacts.read"
IDEMPOTENCY_SECONDS = 24 * 3600  # how long Xero keeps a key is unconfirmed (docs/xero-behaviours.md)


class Request(NamedTuple):
    method: str
    path: str
    status: int


@dataclass
class _Failure:
    status: int
    times: int
    path: str | None
    retry_after: int | None
    problem: str | None


@dataclass
class _Delay:
    seconds: float
    times: int
    path: str | None


class _Reply(NamedTuple):
    status: int
    body: bytes
    headers: dict


def _json_reply(status: int, body: dict, headers: dict | None = None) -> _Reply:
    return _Reply(status, reads.to_json(body), {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


def _problem(status: int, detail: str) -> dict:
    """The problem+json shape Xero answers 401s (and other gateway-level errors) with."""
    return {"Type": None, "Title": HTTPStatus(status).phrase, "Status": status, "Detail": detail,
            "Instance": secrets.token_hex(16), "Extensions": {}}


def _too_many(retry_after: int, problem: str) -> _Reply:
    """Xero's 429: Retry-After (seconds), X-Rate-Limit-Problem, and a problem+json body saying which limit."""
    return _json_reply(429, _problem(429, f"Rate limit exceeded: the {problem} limit was reached"),
                       {"Retry-After": str(retry_after), "X-Rate-Limit-Problem": problem})


def _client_form(form: dict, authorization: str) -> dict | None:
    """The token request's form with the client's id and secret, from the form or from HTTP Basic
    authentication (RFC 6749 §2.3.1: each part form-encoded, then base64); None when the client
    authenticates both ways at once or the Basic header cannot be read."""
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic":
        return form
    if "client_secret" in form:
        return None
    try:
        client_id, colon, secret = base64.b64decode(credentials, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not colon:
        return None
    return {**form, "client_id": unquote_plus(client_id), "client_secret": unquote_plus(secret)}


def _validation_error(message: str, elements: list[dict] | None = None) -> dict:
    return {"ErrorNumber": 10, "Type": "ValidationException", "Message": message, "Elements": elements or []}


class Sandbox:
    """A running sandbox. Every public method is safe to call from any thread."""

    def __init__(self, state: dict, shared: StateFile | None, port: int = 0):
        self._state = state
        self._shared = shared
        self.state_file = shared.path if shared else None
        self._depth = 0
        self._dirty = False
        self.client_id = state["Credentials"]["ClientID"]
        self.client_secret = state["Credentials"]["ClientSecret"]
        self.requests: list[Request] = []
        self._lock = threading.RLock()
        self._book = Book(state)
        self._version = 0
        self._selection: tuple = (None, None)
        self._tokens: dict[str, float] = {}
        self._failures: list[_Failure] = []
        self._delays: list[_Delay] = []
        self._invoice_failures: dict[str, str] = {}
        self._last_tick = _latest_update(state)
        self._minute_limit: int | None = None
        self._window_seconds = 60.0
        self._window_start = 0.0
        self._window_calls = 0
        self._day_calls = 0
        self.identity = identity.Identity(state, self.client_id, self.client_secret, on_change=self._changed)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> dict:
        """The organisation as it stands now (with another process's changes, for a shared state file)."""
        with self._synced():
            return self._state

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    @property
    def identity_url(self) -> str:
        return self.url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def save(self, path: Path | str) -> None:
        with self._synced():
            write_json(Path(path), self._state)

    # ---- test hooks ---------------------------------------------------------------------------

    def fail_next(self, status: int, times: int = 1, *, path: str | None = None,
                  retry_after: int | None = None, problem: str | None = None) -> None:
        """Answer the next `times` API calls (those whose path contains `path`, when given) with `status`.

        The token endpoint is only failed when `path` names it ("/connect/token"). A 429 carries
        `X-Rate-Limit-Problem: problem` (default "minute") and `Retry-After` (default 1 s).
        """
        with self._lock:
            self._failures.append(_Failure(status, times, path, retry_after, problem))

    def delay_next(self, seconds: float, times: int = 1, *, path: str | None = None) -> None:
        """Sleep `seconds` before answering the next `times` API calls (for timeout tests)."""
        with self._lock:
            self._delays.append(_Delay(seconds, times, path))

    def fail_invoice(self, invoice_id: str, message: str | None) -> None:
        """Refuse every update of this invoice with a validation error `message` (None lifts it)."""
        with self._lock:
            if message is None:
                self._invoice_failures.pop(invoice_id.lower(), None)
            else:
                self._invoice_failures[invoice_id.lower()] = message

    def set_archived_reading(self, reading: str) -> None:
        """How Xero treats an archived option on a line it is sent (unconfirmed, so both are played):
        "refuse" any line carrying one, or "keep" it where the line already had it (writes)."""
        if reading not in ARCHIVED_READINGS:
            raise ValueError(f"reading must be one of {ARCHIVED_READINGS}")
        with self._lock:
            self._book.archived = reading

    def edit_invoice(self, invoice_id: str, mutate: Callable[[dict], None]) -> dict:
        """Change an invoice "in Xero" behind the app's back: `mutate` edits a copy of the stored
        record (lines without a LineItemID get one); totals are recomputed and UpdatedDateUTC bumped."""
        with self._synced():
            stored = self._book.invoice(invoice_id)
            if stored is None:
                raise KeyError(f"no invoice {invoice_id} in the sandbox")
            invoice = json.loads(json.dumps(stored))
            mutate(invoice)
            for line in invoice["LineItems"]:
                line.setdefault("LineItemID", str(uuid.uuid4()))
            settle(invoice)
            invoice.update(updated_fields(self._tick()))
            self._book.put(invoice)
            self._changed()
            return json.loads(json.dumps(invoice))

    def add_manual_journal(self, day, lines: list[dict], narration: str = "Manual journal") -> dict:
        """Post a manual journal "in Xero" (lines: AccountCode, LineAmount — positive debits, negative
        credits — and Tracking by Name/Option or ids); it counts in the Profit and Loss report."""
        with self._synced():
            journal = reports.add_manual_journal(self._state, day, lines, narration, self._tick())
            self._changed()
            return json.loads(json.dumps(journal))

    def expire_tokens(self) -> None:
        with self._synced():
            self._tokens.clear()
            self.identity.expire_access_tokens()

    def revoke_all(self) -> None:
        """Every Connect-to-Xero grant revoked, as if the organisation disconnected the app in Xero."""
        with self._synced():
            self.identity.revoke_all()

    def set_minute_limit(self, n: int | None, *, window_seconds: float = 60.0) -> None:
        """Allow `n` API calls per window (None: no limit); the call after answers 429 "minute"."""
        with self._lock:
            self._minute_limit, self._window_seconds = n, window_seconds
            self._window_start, self._window_calls = time.monotonic(), 0

    def invoice(self, invoice_id: str) -> dict:
        """A copy of the stored invoice, as GET /Invoices/{id} would return it."""
        with self._synced():
            return json.loads(json.dumps(self._book.invoice(invoice_id)))

    # ---- inside ------------------------------------------------------------------------------

    def _tick(self) -> int:
        """Now in ms, strictly increasing, so every change gets a later UpdatedDateUTC."""
        self._last_tick = max(int(time.time() * 1000), self._last_tick + 1)
        return self._last_tick

    def _changed(self) -> None:
        self._version += 1
        self._dirty = True

    @contextmanager
    def _synced(self) -> Iterator[None]:
        """Hold the sandbox. With a state file, hold it against the other processes too: their changes are
        loaded first, and this one's written back before letting go."""
        with self._lock:
            if self._shared is None or self._depth:
                yield
                return
            self._depth += 1
            try:
                with self._shared.locked():
                    if self._shared.changed() and self._shared.exists():
                        self._reload(self._shared.read())
                    try:
                        yield
                    finally:
                        if self._dirty:
                            self._shared.write(self._state)
                            self._dirty = False
            finally:
                self._depth -= 1

    def _reload(self, state: dict) -> None:
        """Take another process's state, in place: the book and the identity service hold this dict."""
        self._state.clear()
        self._state.update(state)
        self._book.reindex()
        self._version += 1
        self._last_tick = max(self._last_tick, _latest_update(state))

    def _start(self) -> "Sandbox":
        # serve_forever notices `stop` only between polls: a short poll makes stopping all but immediate.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="xero-sandbox", daemon=True)
        self._thread.start()
        return self

    def _take(self, hooks: list, path: str, *, token_call: bool):
        for hook in hooks:
            if hook.path is None and token_call:
                continue
            if hook.path is None or hook.path.lower() in path.lower():
                hook.times -= 1
                if hook.times <= 0:
                    hooks.remove(hook)
                return hook
        return None

    def _limit_headers(self) -> dict:
        limit = self._minute_limit or MINUTE_LIMIT
        return {"X-MinLimit-Remaining": str(max(limit - self._window_calls, 0)),
                "X-DayLimit-Remaining": str(max(DAY_LIMIT - self._day_calls, 0)),
                "X-AppMinLimit-Remaining": str(max(APP_MINUTE_LIMIT - self._window_calls, 0))}

    def _count_call(self) -> _Reply | None:
        now = time.monotonic()
        if now - self._window_start >= self._window_seconds:
            self._window_start, self._window_calls = now, 0
        if self._minute_limit and self._window_calls >= self._minute_limit:
            wait = max(1, math.ceil(self._window_start + self._window_seconds - now))
            return _too_many(wait, "minute")
        self._window_calls += 1
        self._day_calls += 1
        return None

    def _injected(self, failure: _Failure) -> _Reply:
        headers = {}
        if failure.retry_after is not None or failure.status == 429:
            headers["Retry-After"] = str(failure.retry_after if failure.retry_after is not None else 1)
        if failure.status == 429:
            return _too_many(int(headers["Retry-After"]), failure.problem or "minute")
        if failure.status == 400:
            return _json_reply(400, _validation_error("A validation exception occurred"), headers)
        return _json_reply(failure.status, _problem(failure.status, "Injected by the sandbox"), headers)

    def handle(self, method: str, target: str, headers, body: bytes) -> _Reply:
        """Answer one HTTP request (called by the handler threads)."""
        path = urlsplit(target).path
        token_call = path.lower() in (TOKEN_PATH, *identity.PATHS)
        with self._lock:
            delay = self._take(self._delays, path, token_call=token_call)
        if delay:
            time.sleep(delay.seconds)
        with self._synced():
            failure = self._take(self._failures, path, token_call=token_call)
            if failure:
                reply = self._injected(failure)
            elif path.lower() == TOKEN_PATH and method == "POST":
                reply = self._token(body, headers.get("Authorization", ""))
            elif token_call:
                query = {k: v[-1] for k, v in parse_qs(urlsplit(target).query).items()}
                reply = self.identity.handle(method, path, query, body, headers.get("Authorization", ""))
            elif not path.lower().startswith(API_PREFIX.lower()):
                reply = _json_reply(404, _problem(404, "The resource you're looking for cannot be found"))
            elif not self._authorised(headers.get("Authorization", "")):
                reply = _json_reply(401, _problem(401, "AuthenticationUnsuccessful"),
                                    {"WWW-Authenticate": 'Bearer error="invalid_token"'})
            elif not self._tenant_allowed(headers):
                reply = _json_reply(403, _problem(403, "AuthorizationUnsuccessful"))
            else:
                reply = self._count_call() or self._api(method, target, headers, body)
            if failure and failure.problem == "day":
                reply.headers["X-DayLimit-Remaining"] = "0"
            reply = _Reply(reply.status, reply.body, {**self._limit_headers(), **reply.headers})
            self.requests.append(Request(method, path, reply.status))
            return reply

    def _token(self, body: bytes, authorization: str) -> _Reply:
        form = _client_form({k: v[0] for k, v in parse_qs(body.decode()).items()}, authorization)
        if form is None:
            return _json_reply(400, {"error": "invalid_request"})
        if form.get("grant_type") in ("authorization_code", "refresh_token"):
            return self.identity.token(form)
        if form.get("grant_type") != "client_credentials":
            return _json_reply(400, {"error": "unsupported_grant_type"})
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return _json_reply(400, {"error": "invalid_client"})
        token = secrets.token_urlsafe(32)
        self._tokens[token] = time.monotonic() + TOKEN_SECONDS
        return _json_reply(200, {"access_token": token, "expires_in": TOKEN_SECONDS,
                                 "token_type": "Bearer", "scope": SCOPE})

    def _authorised(self, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        return scheme.lower() == "bearer" and (self._tokens.get(token, 0) > time.monotonic()
                                               or self.identity.tenants_for(token) is not None)

    def _tenant_allowed(self, headers) -> bool:
        """A Connect-to-Xero token must name one of its granted organisations (custom connections need not)."""
        tenants = self.identity.tenants_for(headers.get("Authorization", "").partition(" ")[2])
        return tenants is None or headers.get("xero-tenant-id", "") in tenants

    def _api(self, method: str, target: str, headers, body: bytes) -> _Reply:
        parts = urlsplit(target)
        route = unquote(parts.path)[len(API_PREFIX):].strip("/").split("/")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        resource = route[0].lower()
        try:
            if method == "GET" and len(route) == 1 and resource in _READS:
                return _json_reply(200, _READS[resource](self, query, headers))
            if method == "GET" and len(route) == 2 and resource == "invoices":
                return self._get_invoice(route[1], query)
            if method == "POST" and resource == "invoices" and len(route) <= 2:
                return self._post_invoices(target, route[1:], query, headers, body)
            if method == "PUT" and resource == "invoices" and len(route) == 1:
                return self._post_invoices(target, [], query, headers, body, create_only=True)
            if method == "GET" and resource == "creditnotes" and len(route) == 1:
                return _json_reply(200, credit_notes.get_list(self._state, query, headers))
            if method == "GET" and resource == "creditnotes" and len(route) == 2:
                return _found(credit_notes.get_one(self._state, route[1], query))
            if method == "POST" and resource == "creditnotes" and len(route) <= 2:
                return self._post_credit_notes(target, route[1:], query, headers, body)
            if method == "GET" and [part.lower() for part in route] == ["reports", "profitandloss"]:
                return _json_reply(200, reports.profit_and_loss(self._state, query))
            if method == "GET" and resource == "manualjournals" and len(route) == 1:
                return _json_reply(200, reports.get_manual_journals(self._state, query, headers))
        except reads.QueryError as e:
            return _json_reply(400, {"ErrorNumber": 16, "Type": "QueryParseException", "Message": str(e)})
        return _json_reply(404, _problem(404, "The resource you're looking for cannot be found"))

    # ---- reads -------------------------------------------------------------------------------

    def _selected(self, key: tuple, choose: Callable[[], list]) -> list:
        """Filtered invoice lists are cached per state version, so reading page after page is cheap."""
        if self._selection[0] != (self._version, key):
            self._selection = ((self._version, key), choose())
        return self._selection[1]

    def _get_organisation(self, query, headers) -> dict:
        return reads.envelope("Organisations", [self._state["Organisation"]])

    def _get_tracking_categories(self, query, headers) -> dict:
        include = query.get("includeArchived", "").lower() == "true"
        return reads.envelope("TrackingCategories", reads.tracking_view(self._state["TrackingCategories"], include))

    def _get_items(self, query, headers) -> dict:
        chosen = reads.select(self._state["Items"], id_key="ItemID",
                              modified_since=reads.since_ms(headers.get("If-Modified-Since")),
                              clauses=reads.parse_where(query.get("where")))
        return reads.envelope("Items", chosen)

    def _get_contacts(self, query, headers) -> dict:
        include = query.get("includeArchived", "").lower() == "true"
        chosen = reads.select(self._state["Contacts"], id_key="ContactID", ids=reads.split_list(query.get("IDs")),
                              modified_since=reads.since_ms(headers.get("If-Modified-Since")),
                              clauses=reads.parse_where(query.get("where")),
                              keep=None if include else (lambda c: c.get("ContactStatus") != "ARCHIVED"))
        page, size = reads.paging(query)
        if page is None:
            return reads.envelope("Contacts", chosen)
        records, pagination = reads.page_of(chosen, page, size)
        return reads.envelope("Contacts", records, pagination=pagination)

    def _get_invoices(self, query, headers) -> dict:
        ids, statuses = reads.split_list(query.get("IDs")), reads.split_list(query.get("Statuses"))
        numbers, contacts = reads.split_list(query.get("InvoiceNumbers")), reads.split_list(query.get("ContactIDs"))
        since = reads.since_ms(headers.get("If-Modified-Since"))
        clauses = reads.parse_where(query.get("where"))
        page, size = reads.paging(query)
        keep = _invoice_filter(statuses, numbers, contacts)
        key = (tuple(ids or ()), tuple(statuses or ()), tuple(numbers or ()), tuple(contacts or ()), since,
               query.get("where"))
        if ids:
            found = [self._book.invoice(i) for i in ids]
            chosen = reads.select([f for f in found if f], id_key="InvoiceID", modified_since=since, clauses=clauses,
                                  keep=keep)
        else:
            chosen = self._selected(key, lambda: reads.select(self._state["Invoices"], id_key="InvoiceID",
                                                              modified_since=since, clauses=clauses, keep=keep))
        unitdp = reads.unitdp_of(query)
        if page is None:
            return reads.envelope("Invoices", [reads.invoice_view(i, lines=False, list_form=True, unitdp=unitdp)
                                               for i in chosen])
        records, pagination = reads.page_of(chosen, page, size)
        return reads.envelope("Invoices", [reads.invoice_view(i, lines=True, list_form=True, unitdp=unitdp)
                                           for i in records], pagination=pagination)

    def _get_invoice(self, invoice_id: str, query: dict) -> _Reply:
        invoice = self._book.invoice(invoice_id)
        if invoice is None:
            return _json_reply(404, _problem(404, "The resource you're looking for cannot be found"))
        view = reads.invoice_view(invoice, lines=True, list_form=False, unitdp=reads.unitdp_of(query))
        return _json_reply(200, reads.envelope("Invoices", [view]))

    # ---- writes ------------------------------------------------------------------------------

    def _post_invoices(self, target: str, route: list[str], query: dict, headers, body: bytes, *,
                       create_only: bool = False) -> _Reply:
        """POST /Invoices (create or update), or with `create_only` PUT /Invoices (create)."""
        return self._idempotent(f"{create_only}{target}", headers, body,
                                lambda: self._update(route, query, body, create_only=create_only))

    def _post_credit_notes(self, target: str, route: list[str], query: dict, headers, body: bytes) -> _Reply:
        """POST /CreditNotes (update)."""
        return self._idempotent(target, headers, body, lambda: _json_reply(*credit_notes.post(
            self._state, self._book, route, query, body, failures=self._invoice_failures, tick=self._tick,
            changed=self._changed)))

    def _idempotent(self, request: str, headers, body: bytes, answer: Callable[[], _Reply]) -> _Reply:
        """Xero's Idempotency-Key: the same key with the same request replays the first answer, with another
        request it is refused."""
        key = headers.get("Idempotency-Key")
        fingerprint = hashlib.sha256(request.encode() + b"\n" + body).hexdigest()
        keys = self._state.setdefault("IdempotencyKeys", {})
        if key and key in keys:
            seen = keys[key]
            if seen["Request"] == fingerprint:
                return _Reply(seen["Status"], seen["Body"].encode(), seen["Headers"])
            return _json_reply(400, _validation_error(f"Idempotency Key: {key} is used with a different request."))
        reply = answer()
        if key:
            now = time.time()
            for old in [k for k, seen in keys.items() if now - seen["At"] > IDEMPOTENCY_SECONDS]:
                del keys[old]
            keys[key] = {"Request": fingerprint, "At": now, "Status": reply.status, "Body": reply.body.decode(),
                         "Headers": reply.headers}
            self._changed()
        return reply

    def _update(self, route: list[str], query: dict, body: bytes, *, create_only: bool = False) -> _Reply:
        try:
            sent = json.loads(body or b"{}").get("Invoices")
            if not isinstance(sent, list) or not all(isinstance(s, dict) for s in sent):
                raise ValueError
        except (ValueError, AttributeError):
            return _json_reply(400, {"ErrorNumber": 14, "Type": "PostDataInvalidException",
                                     "Message": "The request body is not a valid {\"Invoices\": [...]} document."})
        if route:
            sent = [{**sent[0], "InvoiceID": route[0]}] if sent else []
        results = apply_invoices(self._book, sent, unitdp=reads.unitdp_of(query),
                                 failures=self._invoice_failures, tick=self._tick, create_only=create_only)
        if any(not errors for _, errors in results):
            self._changed()
        unitdp = reads.unitdp_of(query)
        elements = [_result_element(record, errors, unitdp) for record, errors in results]
        if query.get("summarizeErrors", "true").lower() == "false":
            return _json_reply(200, reads.envelope("Invoices", elements))
        failed = [element for element, (_, errors) in zip(elements, results) if errors]
        if failed:
            return _json_reply(400, _validation_error("A validation exception occurred", failed))
        return _json_reply(200, reads.envelope("Invoices", elements))


_READS = {"organisation": Sandbox._get_organisation, "trackingcategories": Sandbox._get_tracking_categories,
          "contacts": Sandbox._get_contacts, "items": Sandbox._get_items, "invoices": Sandbox._get_invoices}


def _found(body: dict | None) -> _Reply:
    if body is None:
        return _json_reply(404, _problem(404, "The resource you're looking for cannot be found"))
    return _json_reply(200, body)


def _invoice_filter(statuses, numbers, contacts):
    if not (statuses or numbers or contacts):
        return None
    statuses = {s.upper() for s in statuses or ()}
    contacts = {c.lower() for c in contacts or ()}
    numbers = set(numbers or ())
    return lambda i: ((not statuses or i["Status"] in statuses) and (not numbers or i.get("InvoiceNumber") in numbers)
                      and (not contacts or i["Contact"]["ContactID"].lower() in contacts))


def _result_element(record: dict, errors: list[str], unitdp: int) -> dict:
    if errors:
        return {**record, "HasErrors": True, "StatusAttributeString": "ERROR",
                "ValidationErrors": [{"Message": message} for message in errors]}
    view = reads.invoice_view(record, lines=True, list_form=False, unitdp=unitdp)
    return {**view, "StatusAttributeString": "OK"}


def _handler_for(sandbox: Sandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out separately: Nagle + delayed ACK cost 40 ms a call

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            reply = sandbox.handle(self.command, self.path, self.headers, body)
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format, *args) -> None:  # the request log is `sandbox.requests`
            pass

    return Handler


def _latest_update(state: dict) -> int:
    """The latest UpdatedDateUTC held, in ms: a change made after it must be dated later."""
    return max((ms_from_xero(record["UpdatedDateUTC"]) for kind in ("Invoices", "CreditNotes", "Contacts", "Items")
                for record in state.get(kind, ()) if record.get("UpdatedDateUTC")), default=0)


def start(state: dict | None = None, *, port: int = 0, state_file: Path | None = None) -> Sandbox:
    """Start a sandbox on 127.0.0.1 in a daemon thread.

    The state comes from `state`, else from `state_file` when it exists, else the demo
    practice (`demo.demo_state()`). The sandbox owns the dict it is given: pass a copy to keep
    yours. With `state_file`, the state is written there now (unless it was read from it), and
    the sandbox shares the file with every other process serving it (`state_file`).
    """
    if state_file is None:
        return Sandbox(state if state is not None else demo.demo_state(), None, port)._start()
    shared = StateFile(state_file)
    with shared.locked():  # two processes starting at once: the second reads what the first wrote
        if state is None and shared.exists():
            state = shared.read()
        else:
            state = state if state is not None else demo.demo_state()
            shared.write(state)
    return Sandbox(state, shared, port)._start()
