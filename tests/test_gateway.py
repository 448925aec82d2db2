"""The gateway through the real xero-python SDK against the sandbox over loopback."""
import socket
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from xero_python.api_client.oauth2 import TokenApi

from core.config import XeroConfig
from core.xero import gateway as gateway_module
from core.xero.errors import DayLimitReached, XeroAuthError, XeroBadResponse, XeroError, XeroUnavailable
from core.xero.gateway import Call, Gateway, parse_date, parse_day
from core.xero.retry import RetryPolicy, retry_after
from tests.conftest import config_for


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def api_calls(gw) -> list[Call]:
    return [call for call in gw.calls if not call.is_token]


def test_reads_are_plain_dicts_in_xero_shape_with_decimal_money(gw, sandbox):
    org = gw.organisation()
    assert org["OrganisationID"] == sandbox.state["Organisation"]["OrganisationID"]
    invoice = next(iter(gw.invoices()))[0]
    assert isinstance(invoice["Total"], Decimal)
    assert invoice["LineItems"] and isinstance(invoice["LineItems"][0]["LineAmount"], (Decimal, int))
    assert parse_date(invoice["UpdatedDateUTC"]).tzinfo == UTC
    assert gw.calls[0] == Call("POST", "/connect/token", 200)


def test_tracking_categories_include_archived_ones_and_options(gw, sandbox):
    categories = gw.tracking_categories()
    stored = sandbox.state["TrackingCategories"]
    assert [c["TrackingCategoryID"] for c in categories] == [
        c["TrackingCategoryID"] for c in stored if c["Status"] != "DELETED"]
    statuses = {o["Status"] for c in categories for o in c["Options"]} | {c["Status"] for c in categories}
    assert "ARCHIVED" in statuses


def test_invoices_are_sales_invoices_only_with_lines_paged_by_1000(gw, sandbox):
    pages = list(gw.invoices())
    sales = [i for i in sandbox.state["Invoices"] if i["Type"] == "ACCREC"]
    assert sum(len(page) for page in pages) == len(sales)
    assert {i["Type"] for page in pages for i in page} == {"ACCREC"}
    assert all(i["LineItems"] for page in pages for i in page)
    assert len(pages) == -(-len(sales) // 1000) == len(api_calls(gw))
    assert pages[0].item_count == len(sales)


def test_ids_are_asked_fifty_at_a_time(gw, sandbox):
    ids = [i["InvoiceID"] for i in sandbox.state["Invoices"] if i["Type"] == "ACCREC"][:120]
    found = [i["InvoiceID"] for page in gw.invoices(ids=ids) for i in page]
    assert sorted(found) == sorted(ids)
    assert api_calls(gw) == [Call("GET", "/Invoices", 200)] * 3


def test_if_modified_since_returns_only_later_changes(gw, sandbox):
    invoice_id = sandbox.state["Invoices"][0]["InvoiceID"]
    since = datetime.now(UTC) - timedelta(seconds=1)
    assert [i for page in gw.invoices(since) for i in page] == []
    sandbox.edit_invoice(invoice_id, lambda i: i.update(Reference="edited"))
    assert [i["InvoiceID"] for page in gw.invoices(since) for i in page] == [invoice_id]


def test_minute_limit_waits_retry_after_then_goes_on(gw, sandbox, sleeps):
    sandbox.fail_next(429, retry_after=7, problem="minute")
    assert gw.organisation()
    assert sleeps == [7]
    assert [c.status for c in api_calls(gw)] == [429, 200]


def test_day_limit_stops_with_when_to_retry(gw, sandbox, sleeps):
    sandbox.fail_next(429, retry_after=3 * 3600, problem="day")
    with pytest.raises(DayLimitReached) as caught:
        gw.organisation()
    assert "daily API limit" in str(caught.value) and "try again after" in str(caught.value)
    assert caught.value.retry_at - datetime.now(UTC) > timedelta(hours=2, minutes=59)
    assert sleeps == []


def test_transient_503s_are_retried_with_growing_waits(gw, sandbox, sleeps):
    sandbox.fail_next(503, times=2)
    assert gw.items() is not None
    assert [c.status for c in api_calls(gw)] == [503, 503, 200]
    assert sleeps == [1, 2]


def test_persistent_5xx_gives_up_after_four_tries(gw, sandbox, sleeps):
    sandbox.fail_next(500, times=10)
    with pytest.raises(XeroUnavailable, match="after 4 tries"):
        gw.items()
    assert len(api_calls(gw)) == 4 and len(sleeps) == 3


def test_the_retry_policy_doubles_its_wait_then_gives_up():
    policy = RetryPolicy()
    assert [policy.wait(failures) for failures in range(1, 5)] == [1, 2, 4, None]
    assert RetryPolicy(attempts=10, max_delay=30).wait(9) == 30
    assert policy.wait(10, retry_after=7) == 7 and policy.wait(11, retry_after=7) is None


def test_retry_after_is_read_in_seconds_with_a_minute_when_unreadable():
    assert retry_after({"Retry-After": "7"}) == 7
    assert retry_after({"Retry-After": "-3"}) == 0
    assert retry_after({"Retry-After": "soon"}) == retry_after({}) == 60


def test_a_timeout_is_retried(sandbox, sleeps):
    gw = Gateway(config_for(sandbox), sleep=sleeps.append, timeout=(2, 1))
    gw.organisation()  # token first, so the delay hits the API call
    sandbox.delay_next(2, path="/Items")
    assert gw.items() is not None
    assert [c.status for c in api_calls(gw)] == [200, None, 200]


def test_validation_errors_are_not_retried(gw, sandbox, sleeps):
    sandbox.fail_next(400)
    with pytest.raises(XeroError, match="HTTP 400"):
        gw.items()
    assert len(api_calls(gw)) == 1 and sleeps == []


def test_an_expired_token_is_renewed_once(gw, sandbox):
    gw.organisation()
    sandbox.expire_tokens()
    assert gw.organisation()
    assert [(c.endpoint, c.status) for c in gw.calls] == [
        ("/connect/token", 200), ("/Organisation", 200), ("/Organisation", 401),
        ("/connect/token", 200), ("/Organisation", 200)]


def test_the_token_is_renewed_before_xeros_thirty_minutes(sandbox):
    clock = Clock()
    gw = Gateway(config_for(sandbox), clock=clock)
    gw.organisation()
    clock.now += 24 * 60
    gw.organisation()
    clock.now += 2 * 60
    gw.organisation()
    assert [c.endpoint for c in gw.calls].count("/connect/token") == 2
    assert all(c.status == 200 for c in gw.calls)


def test_wrong_credentials_are_refused_in_plain_words_without_the_secret(sandbox):
    gw = Gateway(config_for(sandbox, client_secret="not-the-secret"))
    with pytest.raises(XeroAuthError, match="Xero refused the client id/secret") as caught:
        gw.organisation()
    assert "not-the-secret" not in str(caught.value)
    assert gw.calls == [Call("POST", "/connect/token", 400)]


def test_unreachable_xero_is_named(sleeps):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    gw = Gateway(XeroConfig("id", "secret", "", url + "/api.xro/2.0", url), sleep=sleeps.append)
    with pytest.raises(XeroUnavailable, match=f"Could not reach Xero at {url}"):
        gw.organisation()


def test_a_response_without_the_expected_records_is_a_bad_response(gw, sandbox):
    sandbox.fail_next(200, path="/Items")
    with pytest.raises(XeroBadResponse, match="no list of Items"):
        gw.items()


def test_an_unknown_enum_value_does_not_lose_the_page(gw, sandbox):
    invoice_id = sandbox.state["Invoices"][0]["InvoiceID"]
    sandbox.edit_invoice(invoice_id, lambda i: i.update(Status="ARCHIVED", CurrencyCode="XYZ"))
    invoices = {i["InvoiceID"]: i for page in gw.invoices() for i in page}
    assert (invoices[invoice_id]["Status"], invoices[invoice_id]["CurrencyCode"]) == ("ARCHIVED", "XYZ")
    assert len(invoices) == sum(i["Type"] == "ACCREC" for i in sandbox.state["Invoices"])


def editable_invoice(sandbox) -> dict:
    return next(i for i in sandbox.state["Invoices"]
                if i["Type"] == "ACCREC" and i["Status"] == "DRAFT" and not i.get("AmountPaid"))


def test_update_invoices_returns_per_invoice_results_and_keeps_the_rest(gw, sandbox):
    good, bad = [i for i in sandbox.state["Invoices"] if i["Type"] == "ACCREC" and i["Status"] == "DRAFT"][:2]
    sandbox.fail_invoice(bad["InvoiceID"], "Refused for the test")
    sent = [{"InvoiceID": inv["InvoiceID"], "Reference": "pushed",
             "LineItems": [{"LineItemID": line["LineItemID"], "Description": line.get("Description"),
                            "Quantity": Decimal(str(line["Quantity"])), "UnitAmount": Decimal(str(line["UnitAmount"])),
                            "AccountCode": line.get("AccountCode"), "TaxType": line.get("TaxType"),
                            "Tracking": line.get("Tracking") or []} for line in inv["LineItems"]]}
            for inv in (good, bad)]
    results = gw.update_invoices(sent, idempotency_key="push-1-batch-1")
    assert [(r["InvoiceID"], r.get("HasErrors", False)) for r in results] == [
        (good["InvoiceID"], False), (bad["InvoiceID"], True)]
    assert results[1]["ValidationErrors"][0]["Message"] == "Refused for the test"
    assert sandbox.invoice(good["InvoiceID"])["Reference"] == "pushed"
    assert [c for c in api_calls(gw) if c.method == "POST"] == [Call("POST", "/Invoices", 200)]


def test_a_retried_update_reuses_its_idempotency_key(gw, sandbox, sleeps):
    invoice = editable_invoice(sandbox)
    sandbox.fail_next(503, path="/Invoices")
    sent = [{"InvoiceID": invoice["InvoiceID"], "Reference": "once"}]
    results = gw.update_invoices(sent, idempotency_key="push-2-batch-1")
    assert results[0]["InvoiceID"] == invoice["InvoiceID"]
    assert [c.status for c in api_calls(gw)] == [503, 200]
    posts = [r for r in sandbox.requests if r.method == "POST" and "Invoices" in r.path]
    assert len(posts) == 2
    again = gw.update_invoices(sent, idempotency_key="push-2-batch-1")  # Xero answers from its memory
    assert again[0]["UpdatedDateUTC"] == results[0]["UpdatedDateUTC"]


def test_more_than_fifty_invoices_per_update_is_a_programming_error(gw):
    with pytest.raises(ValueError):
        gw.update_invoices([{"InvoiceID": str(n)} for n in range(51)], idempotency_key="k")


def test_gateways_keep_their_own_token_and_urls(sandbox):
    other = Gateway(config_for(sandbox, client_secret="wrong"))
    gw = Gateway(config_for(sandbox))
    assert gw.organisation()
    with pytest.raises(XeroAuthError):
        other.organisation()
    assert gw.organisation()
    assert TokenApi.client_credentials_token_url == gateway_module.XERO_TOKEN_URL


def test_parse_date_reads_xeros_ms_json_dates():
    assert parse_date("/Date(1541176290160+0000)/") == datetime(2018, 11, 2, 16, 31, 30, 160000, tzinfo=UTC)
    assert parse_day("/Date(1539993600000+0000)/").isoformat() == "2018-10-20"
    assert parse_date(None) is None
    with pytest.raises(XeroBadResponse):
        parse_date("2018-10-20")
