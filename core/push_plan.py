"""One invoice update, built from the invoice exactly as Xero just returned it, and the check of Xero's answer.

Pure functions over Xero-shaped dicts (PascalCase keys, money as Decimal). Xero deletes every line an
update leaves out and recreates every line sent without its LineItemID (docs/xero-behaviours.md), so an update
carries every line with its LineItemID and all its fields, and only `Tracking` differs from what Xero
holds. `wanted` maps a line's LineItemID to {TrackingCategoryID: TrackingOptionID, or None to remove
that category's entry}; categories not named there keep their entries untouched.
"""
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal

INVOICE_FIELDS = ("InvoiceID", "Type", "Status", "LineAmountTypes")
LINE_FIELDS = ("LineItemID", "Description", "Quantity", "UnitAmount", "ItemCode", "AccountCode",
               "TaxType", "TaxAmount", "DiscountRate", "DiscountAmount", "LineAmount")
TOTAL_FIELDS = ("SubTotal", "TotalTax", "Total")
CENT = Decimal("0.01")

Wanted = Mapping[str, Mapping[str, str | None]]


def tracking_of(line: dict) -> dict[str, str | None]:
    """A line's tracking as {category id: option id}."""
    return {t["TrackingCategoryID"]: t.get("TrackingOptionID") for t in line.get("Tracking") or []}


def retrack(entries: list[dict], wanted: Mapping[str, str | None]) -> list[dict]:
    """The Tracking array with the wanted categories set (or removed), the others as they were."""
    kept = [dict(t) for t in entries if t["TrackingCategoryID"] not in wanted]
    added = [{"TrackingCategoryID": category, "TrackingOptionID": option}
             for category, option in wanted.items() if option is not None]
    return kept + added


def build_update(invoice: dict, wanted: Wanted) -> dict:
    """The POST /Invoices element that changes only the wanted tracking of `invoice`."""
    missing = set(wanted) - {line["LineItemID"] for line in invoice["LineItems"]}
    if missing:
        raise ValueError(f"lines {sorted(missing)} are not on invoice {invoice['InvoiceID']}")
    update = {field: invoice[field] for field in INVOICE_FIELDS if invoice.get(field) is not None}
    update["Contact"] = {"ContactID": invoice["Contact"]["ContactID"]}
    update["LineItems"] = [_line_update(line, wanted.get(line["LineItemID"], {}))
                           for line in invoice["LineItems"]]
    return update


def _line_update(line: dict, wanted: Mapping[str, str | None]) -> dict:
    update = {field: line[field] for field in LINE_FIELDS if line.get(field) is not None}
    update["Tracking"] = retrack(line.get("Tracking") or [], wanted)
    return update


def may_hide_discount(invoice: dict) -> bool:
    """True when a list read of `invoice` may have left out a line's DiscountAmount (Xero-OpenAPI#592), so
    sending the list copy back could drop it: only the single GET /Invoices/{id} shows it.

    The one rule of when to read an invoice on its own: a line hides nothing when its LineAmount is
    what Xero computes from its quantity, unit amount and discount rate (`explained_amount`); any
    other amount may be net of a discount amount the list left out.
    """
    return any(line.get("LineAmount") is None or Decimal(line["LineAmount"]) != explained_amount(line)
               for line in invoice["LineItems"])


def explained_amount(line: dict) -> Decimal | None:
    """Xero's LineAmount for a line without a discount amount: round(quantity × unit amount ×
    (1 − rate/100), 2), half away from zero. Both are tax-exclusive, or both tax-inclusive, as the
    invoice's LineAmountTypes says, so the rule holds for each."""
    unit = line.get("UnitAmount")
    if unit is None:
        return None
    quantity = Decimal(line.get("Quantity") if line.get("Quantity") is not None else 1)
    rate = Decimal(line.get("DiscountRate") or 0)
    return (quantity * Decimal(unit) * (1 - rate / 100)).quantize(CENT, ROUND_HALF_UP)


def conflicts(invoice: dict, expected: Wanted) -> list[str]:
    """Why the lines of `invoice` are not as the plan expects them (`expected`: the options it holds now)."""
    lines = {line["LineItemID"]: line for line in invoice["LineItems"]}
    problems = []
    for line_id, categories in expected.items():
        if line_id not in lines:
            problems.append(f"line {line_id} is no longer on the invoice")
            continue
        held = tracking_of(lines[line_id])
        problems += [f"line {line_id} now has a different option in category {category}"
                     for category, option in categories.items() if held.get(category) != option]
    return problems


def verify(sent: dict, before: dict, answer: dict) -> list[str]:
    """What is wrong with Xero's answer to `sent` (built from `before`); empty when the update landed intact.

    Xero can answer 200 and still drop tracking or recreate lines (docs/xero-behaviours.md), so the tracking,
    the line set, every sent field of every line and the invoice totals are compared.
    """
    if answer.get("HasErrors") or answer.get("StatusAttributeString") == "ERROR":
        return [xero_message(answer) or "Xero refused the update without saying why."]
    sent_lines = {line["LineItemID"]: line for line in sent["LineItems"]}
    got_lines = {line.get("LineItemID"): line for line in answer.get("LineItems") or []}
    if set(got_lines) != set(sent_lines) or len(answer.get("LineItems") or []) != len(sent_lines):
        return ["Xero's answer does not have the same lines (LineItemIDs) as the invoice had: "
                "lines may have been recreated or removed."]
    problems = []
    for line_id, line in sent_lines.items():
        got = got_lines[line_id]
        changed = [field for field in LINE_FIELDS
                   if field in line and field in got and not _same(line[field], got[field])]
        if changed:
            problems.append(f"line {line_id}: {', '.join(changed)} changed")
        if _tracking_set(got) != _tracking_set(line):
            problems.append(f"line {line_id}: the tracking did not land as sent")
    problems += [f"invoice {field} changed from {before[field]} to {answer[field]}"
                 for field in TOTAL_FIELDS
                 if field in before and field in answer and not _same(before[field], answer[field])]
    return problems


def _same(a, b) -> bool:
    if isinstance(a, (int, float, Decimal)) and isinstance(b, (int, float, Decimal)):
        return Decimal(str(a)) == Decimal(str(b))
    return a == b


def _tracking_set(line: dict) -> set[tuple[str, str | None]]:
    return set(tracking_of(line).items())


def xero_message(answer: dict) -> str:
    """Xero's validation errors and warnings on one element, in one line."""
    messages = [e.get("Message") for e in (answer.get("ValidationErrors") or []) + (answer.get("Warnings") or [])]
    return "; ".join(dict.fromkeys(m for m in messages if m))
