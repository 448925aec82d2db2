"""The sandbox's read side: Xero's filters, paging and response shapes, as pure functions."""
import json
import re
import time
import uuid

from core.sandbox.records import ms_from_xero, parse_http_moment, unit_amount

PROVIDER_NAME = "Tracking Desk Sandbox"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
_CLAUSE = re.compile(r'^\s*([A-Za-z][\w.]*)\s*==\s*(?:"([^"]*)"|Guid\("([^"]*)"\)|(true|false))\s*$', re.I)


class QueryError(Exception):
    """A query Xero would refuse (answered with a 400)."""


def envelope(key: str, records: list, *, pagination: dict | None = None) -> dict:
    body = {"Id": str(uuid.uuid4()), "Status": "OK", "ProviderName": PROVIDER_NAME,
            "DateTimeUTC": f"/Date({int(time.time() * 1000)})/"}
    if pagination is not None:
        body["pagination"] = pagination
    body[key] = records
    return body


def to_json(body: dict) -> bytes:
    # Records are trees (never cyclic); skipping the check makes a 1,000-invoice page ~25% faster.
    return json.dumps(body, separators=(",", ":"), check_circular=False).encode()


def parse_where(where: str | None) -> list[tuple[list[str], object]]:
    """`Type=="ACCREC" AND Status=="PAID"` → [(["Type"], "ACCREC"), (["Status"], "PAID")]."""
    if not where:
        return []
    clauses = []
    for text in re.split(r"\s+AND\s+|&&", where, flags=re.I):
        match = _CLAUSE.match(text)
        if not match:
            raise QueryError(f"The where clause '{where}' is not supported by this sandbox "
                             "(only Field==\"value\" clauses joined by AND).")
        field, text_value, guid, boolean = match.groups()
        value = boolean.lower() == "true" if boolean else (text_value if text_value is not None else guid)
        clauses.append((field.split("."), value))
    return clauses


def parse_where_alternatives(where: str | None) -> list[list[tuple[list[str], object]]]:
    """`A=="1" OR B=="2" AND C=="3"` → the AND-groups of `parse_where`, any of which may match."""
    if not where:
        return []
    return [parse_where(part) for part in re.split(r"\s+OR\s+|\|\|", where, flags=re.I)]


def matches_any(record: dict, alternatives) -> bool:
    return any(_matches(record, clauses) for clauses in alternatives)


def _field(record: dict, path: list[str]):
    for key in path:
        record = record.get(key) if isinstance(record, dict) else None
    return record


def _matches(record: dict, clauses) -> bool:
    for path, value in clauses:
        actual = _field(record, path)
        if isinstance(value, bool) or actual is None:
            if actual != value:
                return False
        elif str(actual).lower() != str(value).lower():
            return False
    return True


def since_ms(header: str | None) -> int | None:
    if not header:
        return None
    try:
        return parse_http_moment(header)
    except (ValueError, TypeError):
        raise QueryError(f"The If-Modified-Since value '{header}' is not a date.") from None


def split_list(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def select(records: list[dict], *, id_key: str, ids=None, modified_since=None, clauses=(),
           keep=None) -> list[dict]:
    """Records passing every filter, in their stored order."""
    wanted = {i.lower() for i in ids} if ids else None
    chosen = []
    for record in records:
        if wanted is not None and record[id_key].lower() not in wanted:
            continue
        if modified_since is not None and ms_from_xero(record["UpdatedDateUTC"]) <= modified_since:
            continue
        if keep is not None and not keep(record):
            continue
        if clauses and not _matches(record, clauses):
            continue
        chosen.append(record)
    return chosen


def paging(query: dict) -> tuple[int | None, int]:
    try:
        page = int(query["page"]) if query.get("page") else None
        size = int(query["pageSize"]) if query.get("pageSize") else DEFAULT_PAGE_SIZE
    except ValueError:
        raise QueryError("page and pageSize must be whole numbers.") from None
    return (max(page, 1) if page is not None else None), min(max(size, 1), MAX_PAGE_SIZE)


def page_of(records: list, page: int, size: int) -> tuple[list, dict]:
    count = len(records)
    return records[(page - 1) * size: page * size], {
        "page": page, "pageSize": size, "pageCount": -(-count // size), "itemCount": count}


def line_view(line: dict, *, list_form: bool, unitdp: int) -> dict:
    """A line as Xero lists it: list reads omit DiscountAmount; UnitAmount at 2 dp unless unitdp=4."""
    if list_form and "DiscountAmount" in line:
        line = {k: v for k, v in line.items() if k != "DiscountAmount"}
    if unitdp != 4 and "UnitAmount" in line and unit_amount(line["UnitAmount"], 2) != line["UnitAmount"]:
        line = {**line, "UnitAmount": unit_amount(line["UnitAmount"], 2)}
    return line


def invoice_view(invoice: dict, *, lines: bool, list_form: bool, unitdp: int) -> dict:
    if not lines:
        return {**invoice, "LineItems": []}
    shown = [line_view(line, list_form=list_form, unitdp=unitdp) for line in invoice["LineItems"]]
    if all(a is b for a, b in zip(shown, invoice["LineItems"])):
        return invoice
    return {**invoice, "LineItems": shown}


def unitdp_of(query: dict) -> int:
    return 4 if query.get("unitdp") == "4" else 2


def tracking_view(categories: list[dict], include_archived: bool) -> list[dict]:
    """ACTIVE categories and options only, unless includeArchived=true (DELETED never shown)."""
    shown_statuses = {"ACTIVE", "ARCHIVED"} if include_archived else {"ACTIVE"}
    return [{**category, "Options": [o for o in category["Options"] if o["Status"] in shown_statuses]}
            for category in categories if category["Status"] in shown_statuses]
