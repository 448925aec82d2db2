"""The sandbox behaves like Xero (docs/xero-behaviours.md), driven through the real xero-python SDK."""
import base64
import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from urllib.parse import quote_plus, urlencode

import pytest
import urllib3
from xero_python.accounting import Contact, Invoice, Invoices, LineAmountTypes, LineItem, LineItemTracking
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi
from xero_python.exceptions import AccountingBadRequestException, HTTPStatusException, RateLimitException

from core.sandbox import server as xero_sandbox
from core.sandbox.records import ms_from_xero

LOCKED = ["Invoice not of valid status for modification",
          "This document cannot be edited as it has a payment or credit note allocated to it."]


@pytest.fixture
def api(xero_api):
    """The SDK client without urllib3's hidden retries, so every answer is seen as it is."""
    xero_api.api_client.rest_client.pool_manager.connection_pool_kw["retries"] = urllib3.Retry(
        total=0, respect_retry_after_header=False)
    return xero_api


def first(sandbox, **wanted) -> dict:
    def fits(invoice):
        return all(test(invoice) if callable(test) else invoice.get(key) == test for key, test in wanted.items())
    return next(i for i in sandbox.state["Invoices"] if fits(i))


def editable(sandbox, lines: int = 2) -> dict:
    return first(sandbox, Type="ACCREC", Status="DRAFT", LineItems=lambda i: len(i["LineItems"]) >= lines)


def option(sandbox, category: str, name: str) -> dict:
    found = next(c for c in sandbox.state["TrackingCategories"] if c["Name"] == category)
    chosen = next(o for o in found["Options"] if o["Name"] == name)
    return {"TrackingCategoryID": found["TrackingCategoryID"], "TrackingOptionID": chosen["TrackingOptionID"]}


def echo(line: dict, **changes) -> LineItem:
    """A line sent back as Xero returned it (every field), with `changes`."""
    line = {**line, **changes}
    return LineItem(
        line_item_id=line.get("LineItemID"), description=line.get("Description"), quantity=line.get("Quantity"),
        unit_amount=line.get("UnitAmount"), item_code=line.get("ItemCode"), account_code=line.get("AccountCode"),
        tax_type=line.get("TaxType"), discount_rate=line.get("DiscountRate"),
        discount_amount=line.get("DiscountAmount"),
        tracking=[LineItemTracking(tracking_category_id=t.get("TrackingCategoryID"),
                                   tracking_option_id=t.get("TrackingOptionID"), name=t.get("Name"),
                                   option=t.get("Option")) for t in line.get("Tracking", [])])


def update(invoice: dict, lines: list[LineItem], **fields) -> Invoice:
    return Invoice(invoice_id=invoice["InvoiceID"], line_amount_types=LineAmountTypes(invoice["LineAmountTypes"]),
                   line_items=lines, **fields)


def post(api, *invoices: Invoice, **kwargs):
    kwargs.setdefault("summarize_errors", False)
    return api.update_or_create_invoices("", Invoices(invoices=list(invoices)), unitdp=4, **kwargs).invoices


# ---- auth ----------------------------------------------------------------------------------------

def test_wrong_credentials_get_invalid_client(sandbox, monkeypatch):
    monkeypatch.setattr(TokenApi, "client_credentials_token_url", sandbox.identity_url + "/connect/token")
    configuration = Configuration()
    configuration.oauth2_token = OAuth2Token(client_id=sandbox.client_id, client_secret="wrong")
    client = ApiClient(configuration, pool_threads=1)
    client.oauth2_token_saver(lambda token: None)
    with pytest.raises(HTTPStatusException) as caught:
        client.get_client_credentials_token()
    assert caught.value.status == 400 and json.loads(caught.value.body) == {"error": "invalid_client"}


def token_request(sandbox, form: dict, authorization: str | None = None):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if authorization:
        headers["Authorization"] = authorization
    return urllib3.request("POST", sandbox.identity_url + "/connect/token", body=urlencode(form), headers=headers,
                           retries=False)


def basic(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: id and secret form-encoded, joined by a colon, base64."""
    return "Basic " + base64.b64encode(f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()).decode()


def test_token_endpoint_takes_http_basic_client_authentication(sandbox, api):
    answer = token_request(sandbox, {"grant_type": "client_credentials"}, basic(sandbox.client_id,
                                                                                sandbox.client_secret))
    token = answer.json()
    assert answer.status == 200 and token["token_type"] == "Bearer" and token["expires_in"] == 1800
    items = urllib3.request("GET", sandbox.api_url + "/Items",
                            headers={"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"})
    assert items.status == 200 and items.json()["Items"]


@pytest.mark.parametrize("authorization, form, error", [
    ("wrong secret", {"grant_type": "client_credentials"}, "invalid_client"),
    ("both ways at once", {"grant_type": "client_credentials", "client_secret": "x"}, "invalid_request"),
    ("not base64", {"grant_type": "client_credentials"}, "invalid_request"),
])
def test_token_endpoint_refuses_bad_basic_authentication(sandbox, authorization, form, error):
    header = {"wrong secret": basic(sandbox.client_id, "wrong"), "both ways at once": basic(sandbox.client_id,
              sandbox.client_secret), "not base64": "Basic %%%"}[authorization]
    answer = token_request(sandbox, form, header)
    assert (answer.status, answer.json()) == (400, {"error": error})


def test_expired_tokens_get_401_until_renewed(sandbox, api):
    sandbox.expire_tokens()
    with pytest.raises(HTTPStatusException) as caught:
        api.get_organisations("")
    assert caught.value.status == 401
    api.api_client.get_client_credentials_token()
    assert api.get_organisations("").organisations[0].name == "Demo Practice Ltd"


# ---- reads ---------------------------------------------------------------------------------------

def test_invoices_paged_with_lines_only_when_paged(sandbox, api):
    accrec = [i for i in sandbox.state["Invoices"] if i["Type"] == "ACCREC"]
    pages = [api.get_invoices("", where='Type=="ACCREC"', page=n, page_size=1000) for n in (1, 2, 3)]
    assert [len(p.invoices) for p in pages] == [1000, len(accrec) - 1000, 0]
    assert (pages[0].pagination.page_count, pages[0].pagination.item_count) == (2, len(accrec))
    assert [i.invoice_id for p in pages for i in p.invoices] == [i["InvoiceID"] for i in accrec]
    assert all(i.line_items for i in pages[0].invoices)
    unpaged = api.get_invoices("", where='Type=="ACCREC"')
    assert len(unpaged.invoices) == len(accrec) and all(i.line_items == [] for i in unpaged.invoices)


def test_default_page_size_is_100(api):
    assert len(api.get_invoices("", page=1).invoices) == 100


def test_invoices_by_ids_and_statuses(sandbox, api):
    wanted = [i["InvoiceID"] for i in sandbox.state["Invoices"][5:8]]
    assert [i.invoice_id for i in api.get_invoices("", i_ds=wanted, page=1).invoices] == wanted
    voided = api.get_invoices("", statuses=["VOIDED"], page=1, page_size=1000).invoices
    assert voided and {i.status for i in voided} == {"VOIDED"}
    bills = api.get_invoices("", where='Type=="ACCPAY"', page=1, page_size=1000).invoices
    assert bills and {i.type for i in bills} == {"ACCPAY"}


def test_if_modified_since_returns_only_later_changes(sandbox, api):
    latest = max(i["UpdatedDateUTC"] for i in sandbox.state["Invoices"])
    since = dt.datetime.fromtimestamp(ms_from_xero(latest) / 1000, dt.timezone.utc)
    assert api.get_invoices("", if_modified_since=since, page=1).invoices == []
    edited = editable(sandbox)
    sandbox.edit_invoice(edited["InvoiceID"], lambda i: i.update(Reference="changed in Xero"))
    changed = api.get_invoices("", if_modified_since=since, page=1).invoices
    assert [(i.invoice_id, i.reference) for i in changed] == [(edited["InvoiceID"], "changed in Xero")]
    assert changed[0].updated_date_utc > since


def test_contacts_and_items_if_modified_since(sandbox, api):
    latest = max(ms_from_xero(r["UpdatedDateUTC"]) for r in sandbox.state["Contacts"] + sandbox.state["Items"])
    since = dt.datetime.fromtimestamp(latest / 1000, dt.timezone.utc)
    assert api.get_contacts("", if_modified_since=since, page=1).contacts == []
    assert api.get_items("", if_modified_since=since).items == []
    assert len(api.get_items("", if_modified_since=since - dt.timedelta(days=400)).items) == 12


def test_unsupported_where_is_a_400(api):
    with pytest.raises(AccountingBadRequestException) as caught:
        api.get_invoices("", where="Total > 100", page=1)
    assert caught.value.error_data["Type"] == "QueryParseException"


def test_list_reads_omit_discount_amount_single_reads_keep_it(sandbox, api):
    discounted = first(sandbox, LineItems=lambda i: any("DiscountAmount" in l for l in i["LineItems"]))
    listed = api.get_invoices("", i_ds=[discounted["InvoiceID"]], page=1).invoices[0]
    single = api.get_invoice("", discounted["InvoiceID"]).invoices[0]
    assert {l.discount_amount for l in listed.line_items} == {None}
    assert Decimal("25.0") in {l.discount_amount for l in single.line_items}


def test_unit_amounts_at_two_places_unless_unitdp_4(sandbox, api):
    invoice = editable(sandbox)
    sandbox.edit_invoice(invoice["InvoiceID"], lambda i: i["LineItems"][0].update(UnitAmount=10.1234))
    assert api.get_invoice("", invoice["InvoiceID"]).invoices[0].line_items[0].unit_amount == Decimal("10.12")
    four = api.get_invoice("", invoice["InvoiceID"], unitdp=4).invoices[0]
    assert four.line_items[0].unit_amount == Decimal("10.1234")


def test_tracking_categories_archived_only_on_request(api):
    def shown(categories):
        return {c.name: (c.status, sorted(o.name for o in c.options)) for c in categories.tracking_categories}
    active = shown(api.get_tracking_categories(""))
    everything = shown(api.get_tracking_categories("", include_archived=True))
    assert set(active) == {"Partner", "Department"} and "Company Secretarial" not in active["Department"][1]
    assert everything["Region"][0] == "ARCHIVED" and "Company Secretarial" in everything["Department"][1]


def test_contacts_paged_archived_on_request(sandbox, api):
    archived = [c["ContactID"] for c in sandbox.state["Contacts"] if c["ContactStatus"] == "ARCHIVED"]
    active = api.get_contacts("", page=1, page_size=50)
    assert len(active.contacts) == 50 and active.pagination.item_count == len(sandbox.state["Contacts"]) - len(archived)
    every = api.get_contacts("", page=1, include_archived=True).contacts
    assert len(every) == len(sandbox.state["Contacts"])
    assert [c.contact_id for c in api.get_contacts("", i_ds=archived, include_archived=True).contacts] == archived


def test_items_and_organisation(api):
    assert "ALIGN" in {item.code for item in api.get_items("").items}
    assert api.get_organisations("").organisations[0].base_currency.value == "GBP"


def test_rate_limit_headers_on_every_response(api):
    _, status, headers = api.get_organisations("", _return_http_data_only=False)
    assert status == 200 and int(headers["X-MinLimit-Remaining"]) > 0 and int(headers["X-DayLimit-Remaining"]) > 0


# ---- updates -------------------------------------------------------------------------------------

def test_update_replaces_lines(sandbox, api):
    invoice = editable(sandbox, lines=2)
    kept, dropped = invoice["LineItems"][0], invoice["LineItems"][1]
    tax = option(sandbox, "Department", "Tax")
    new_line = echo({"Description": "Extra work", "Quantity": 2.0, "UnitAmount": 50.0, "AccountCode": "200",
                     "TaxType": "OUTPUT2"})
    result = post(api, update(invoice, [echo(kept, Tracking=[tax]), new_line]))[0]
    assert result.status_attribute_string == "OK"
    stored = sandbox.invoice(invoice["InvoiceID"])
    assert [l["Description"] for l in stored["LineItems"]] == ["Extra work", kept["Description"]]
    assert stored["LineItems"][1]["LineItemID"] == kept["LineItemID"]
    assert stored["LineItems"][0]["LineItemID"] not in {l["LineItemID"] for l in invoice["LineItems"]}
    assert dropped["LineItemID"] not in {l["LineItemID"] for l in stored["LineItems"]}
    assert stored["LineItems"][1]["Tracking"] == [{"Name": "Department", "Option": "Tax", **tax}]
    assert stored["SubTotal"] == kept["LineAmount"] + 100.0
    assert stored["Total"] == stored["SubTotal"] + stored["TotalTax"]
    assert stored["UpdatedDateUTC"] > invoice["UpdatedDateUTC"]


def test_line_sent_without_its_id_is_recreated(sandbox, api):
    invoice = editable(sandbox, lines=1)
    lines = [echo(line, LineItemID=None) for line in invoice["LineItems"]]
    post(api, update(invoice, lines))
    stored = sandbox.invoice(invoice["InvoiceID"])
    assert not {l["LineItemID"] for l in stored["LineItems"]} & {l["LineItemID"] for l in invoice["LineItems"]}


def test_fields_omitted_on_a_line_are_cleared(sandbox, api):
    invoice = first(sandbox, Status="DRAFT", LineItems=lambda i: any("DiscountRate" in l for l in i["LineItems"]))
    lines = [echo(line, DiscountRate=None, Tracking=[]) for line in invoice["LineItems"]]
    post(api, update(invoice, lines))
    stored = sandbox.invoice(invoice["InvoiceID"])
    assert not any("DiscountRate" in l or l["Tracking"] for l in stored["LineItems"])
    assert stored["SubTotal"] > invoice["SubTotal"]


def test_omitted_line_amount_types_fall_back_to_exclusive(sandbox, api):
    invoice = first(sandbox, Type="ACCREC", Status=lambda i: i["Status"] in ("DRAFT", "SUBMITTED"),
                    LineAmountTypes="Inclusive")
    post(api, Invoice(invoice_id=invoice["InvoiceID"], line_items=[echo(l) for l in invoice["LineItems"]]))
    stored = sandbox.invoice(invoice["InvoiceID"])
    assert stored["LineAmountTypes"] == "Exclusive" and stored["Total"] > invoice["Total"]


def test_omitted_line_items_recreate_every_line(sandbox, api):
    invoice = editable(sandbox)
    post(api, Invoice(invoice_id=invoice["InvoiceID"], reference="only the reference"))
    stored = sandbox.invoice(invoice["InvoiceID"])
    assert [l["Description"] for l in stored["LineItems"]] == [l["Description"] for l in invoice["LineItems"]]
    assert not {l["LineItemID"] for l in stored["LineItems"]} & {l["LineItemID"] for l in invoice["LineItems"]}


def test_unchanged_update_keeps_updated_date(sandbox, api):
    invoice = editable(sandbox, lines=1)
    post(api, update(invoice, [echo(line) for line in invoice["LineItems"]]))
    assert sandbox.invoice(invoice["InvoiceID"])["UpdatedDateUTC"] == invoice["UpdatedDateUTC"]


@pytest.mark.parametrize("kind", ["PAID", "VOIDED", "DELETED", "part-paid"])
def test_locked_invoices_are_refused_with_xeros_messages(sandbox, api, kind):
    invoice = (first(sandbox, Type="ACCREC", Status="AUTHORISED", AmountPaid=lambda i: i["AmountPaid"] > 0)
               if kind == "part-paid" else first(sandbox, Type="ACCREC", Status=kind))
    result = post(api, update(invoice, [echo(line, Tracking=[]) for line in invoice["LineItems"]]))[0]
    assert (result.has_errors, [e.message for e in result.validation_errors]) == (True, LOCKED)
    assert sandbox.invoice(invoice["InvoiceID"]) == invoice


@pytest.mark.parametrize("tracking, message", [
    ([{"Name": "Department", "Option": "Company Secretarial"}], "is archived and cannot be used"),
    ([{"Name": "Department", "Option": "Marketing"}], "does not exist in the tracking category 'Department'"),
    ([{"Name": "Region", "Option": "North"}], "tracking category 'Region' is archived"),
    ([{"Name": "Partner", "Option": "Ben Okafor"}, {"Name": "Department", "Option": "Tax"},
      {"Name": "Partner", "Option": "Clara Singh"}], "maximum of 2 tracking categories"),
])
def test_bad_tracking_is_refused(sandbox, api, tracking, message):
    invoice = editable(sandbox, lines=1)
    lines = [echo(invoice["LineItems"][0], Tracking=tracking)] + [echo(l) for l in invoice["LineItems"][1:]]
    result = post(api, update(invoice, lines))[0]
    assert result.status_attribute_string == "ERROR" and message in result.validation_errors[0].message
    assert sandbox.invoice(invoice["InvoiceID"]) == invoice


def test_tracking_by_name_and_last_entry_per_category_wins(sandbox, api):
    invoice = editable(sandbox, lines=1)
    tracking = [{"Name": "Partner", "Option": "Ben Okafor"}, {"Name": "partner", "Option": "Emma Walsh"}]
    post(api, update(invoice, [echo(invoice["LineItems"][0], Tracking=tracking)]))
    stored = sandbox.invoice(invoice["InvoiceID"])
    assert stored["LineItems"][0]["Tracking"] == [{"Name": "Partner", "Option": "Emma Walsh",
                                                   **option(sandbox, "Partner", "Emma Walsh")}]


def test_one_bad_invoice_does_not_sink_the_batch(sandbox, api):
    good, bad = editable(sandbox), first(sandbox, Status="SUBMITTED")
    sandbox.fail_invoice(bad["InvoiceID"], "Injected failure")
    tax = option(sandbox, "Department", "Tax")
    results = post(api, update(good, [echo(l, Tracking=[tax]) for l in good["LineItems"]]),
                   update(bad, [echo(l, Tracking=[tax]) for l in bad["LineItems"]]))
    assert [(r.status_attribute_string, r.has_errors) for r in results] == [("OK", False), ("ERROR", True)]
    assert results[1].validation_errors[0].message == "Injected failure"
    assert all(l["Tracking"] == [{"Name": "Department", "Option": "Tax", **tax}]
               for l in sandbox.invoice(good["InvoiceID"])["LineItems"])
    assert sandbox.invoice(bad["InvoiceID"]) == bad


def test_summarized_errors_answer_400_but_save_the_valid_ones(sandbox, api):
    good, paid = editable(sandbox), first(sandbox, Status="PAID")
    with pytest.raises(AccountingBadRequestException) as caught:
        post(api, update(good, [echo(l, Tracking=[]) for l in good["LineItems"]]),
             update(paid, [echo(l) for l in paid["LineItems"]]), summarize_errors=True)
    assert caught.value.reason == LOCKED[0]
    assert [e["InvoiceID"] for e in caught.value.error_data["Elements"]] == [paid["InvoiceID"]]
    assert sandbox.invoice(good["InvoiceID"])["UpdatedDateUTC"] > good["UpdatedDateUTC"]


def test_status_changes_follow_xeros_table(sandbox, api):
    draft, authorised = editable(sandbox), first(sandbox, Status="AUTHORISED", AmountPaid=0.0, Type="ACCREC")
    results = post(api, update(draft, [echo(l) for l in draft["LineItems"]], status="AUTHORISED"),
                   update(authorised, [echo(l) for l in authorised["LineItems"]], status="DRAFT"))
    assert [r.status_attribute_string for r in results] == ["OK", "ERROR"]
    assert results[1].validation_errors[0].message == LOCKED[0]


def test_create_invoice(sandbox, api):
    contact = sandbox.state["Contacts"][0]
    created = post(api, Invoice(type="ACCREC", contact=Contact(contact_id=contact["ContactID"]), line_items=[
        echo({"Description": "New work", "Quantity": 1.0, "UnitAmount": 100.0, "TaxType": "OUTPUT2"})]))[0]
    assert created.status_attribute_string == "OK" and created.total == Decimal("120.0")
    assert sandbox.invoice(created.invoice_id)["Status"] == "DRAFT"


def test_idempotency_key_replays_without_applying_twice(sandbox, api):
    invoice = editable(sandbox)
    new_line = echo({"Description": "Once only", "Quantity": 1.0, "UnitAmount": 10.0, "TaxType": "OUTPUT2"})
    lines = [new_line] + [echo(l) for l in invoice["LineItems"]]
    first_answer = post(api, update(invoice, lines), idempotency_key="push-1-batch-1")
    after_first = sandbox.invoice(invoice["InvoiceID"])
    replay = post(api, update(invoice, lines), idempotency_key="push-1-batch-1")
    assert sandbox.invoice(invoice["InvoiceID"]) == after_first
    assert replay[0].line_items[0].line_item_id == first_answer[0].line_items[0].line_item_id
    with pytest.raises(AccountingBadRequestException) as caught:
        post(api, update(invoice, lines[1:]), idempotency_key="push-1-batch-1")
    assert caught.value.error_data["Message"] == "Idempotency Key: push-1-batch-1 is used with a different request."


def test_edit_invoice_behind_the_apps_back(sandbox):
    invoice = editable(sandbox)
    edited = sandbox.edit_invoice(invoice["InvoiceID"], lambda i: i["LineItems"].append(
        {"Description": "Added in Xero", "Quantity": 1.0, "UnitAmount": 10.0, "TaxType": "OUTPUT2", "Tracking": []}))
    assert edited["SubTotal"] == invoice["SubTotal"] + 10.0 and edited["LineItems"][-1]["LineItemID"]
    assert edited["UpdatedDateUTC"] > invoice["UpdatedDateUTC"]


# ---- failures and limits -------------------------------------------------------------------------

def test_minute_limit_answers_429_with_retry_after(sandbox, api):
    sandbox.set_minute_limit(2)
    api.get_items("")
    api.get_items("")
    with pytest.raises(RateLimitException) as caught:
        api.get_items("")
    assert caught.value.rate_limit == "minute" and 0 < int(caught.value.headers["Retry-After"]) <= 60
    assert caught.value.headers["Content-Type"].startswith("application/json")
    body = json.loads(caught.value.body)
    assert (body["Status"], body["Title"]) == (429, "Too Many Requests") and "minute" in body["Detail"]
    sandbox.set_minute_limit(None)
    assert api.get_items("").items


def test_injected_day_limit_and_503(sandbox, api):
    sandbox.fail_next(429, problem="day", retry_after=3600)
    with pytest.raises(RateLimitException) as caught:
        api.get_invoices("", page=1)
    assert (caught.value.rate_limit, caught.value.headers["Retry-After"]) == ("day", "3600")
    assert json.loads(caught.value.body)["Status"] == 429 and "day" in json.loads(caught.value.body)["Detail"]
    sandbox.fail_next(503, times=2, path="/Invoices")
    assert api.get_items("").items
    for _ in range(2):
        with pytest.raises(HTTPStatusException) as caught:
            api.get_invoices("", page=1)
        assert caught.value.status == 503
    assert api.get_invoices("", page=1).invoices
    assert [(r.path, r.status) for r in sandbox.requests[-4:]] == [
        ("/api.xro/2.0/Items", 200), ("/api.xro/2.0/Invoices", 503), ("/api.xro/2.0/Invoices", 503),
        ("/api.xro/2.0/Invoices", 200)]


def test_delay_makes_a_client_timeout(sandbox, api):
    sandbox.delay_next(1.0)
    with pytest.raises(urllib3.exceptions.HTTPError):
        api.get_organisations("", _request_timeout=(2, 0.2))
    assert api.get_organisations("").organisations


def test_concurrent_reads_and_edits(sandbox, api):
    drafts = [i for i in sandbox.state["Invoices"] if i["Status"] == "DRAFT"][:8]

    def read(n):
        return len(api.get_invoices("", page=n % 3 + 1, page_size=100).invoices)

    def edit(invoice):
        return sandbox.edit_invoice(invoice["InvoiceID"], lambda i: i.update(Reference="busy"))["Reference"]

    with ThreadPoolExecutor(max_workers=4) as pool:
        reads = list(pool.map(read, range(12)))
        edits = list(pool.map(edit, drafts))
    assert reads == [100] * 12 and edits == ["busy"] * 8
    assert sum(r.path.endswith("/Invoices") and r.status == 200 for r in sandbox.requests) == 12


# ---- state ---------------------------------------------------------------------------------------

def test_state_file_keeps_changes_across_restarts(tmp_path, start_sandbox):
    path = tmp_path / "sandbox.json"
    first_run = start_sandbox(state_file=path)
    invoice = editable(first_run)
    first_run.edit_invoice(invoice["InvoiceID"], lambda i: i.update(Reference="kept"))
    first_run.stop()
    second_run = start_sandbox(state_file=path)
    assert second_run.invoice(invoice["InvoiceID"])["Reference"] == "kept"
    second_run.save(tmp_path / "copy.json")
    assert xero_sandbox.load(tmp_path / "copy.json") == second_run.state
