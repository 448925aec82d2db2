"""The demo practice: a deterministic, realistic Xero organisation for the sandbox.

"Demo Practice Ltd" (GBP, UK VAT) has about 80 clients, a "Partner" category (6 partners), a
"Department" category (5 active options and one archived), an archived "Region" category,
12 services including the alignment fee "ALIGN", and 18 months (May 2025 – October 2026) of
about 1,500 sales invoices in every status, some lines already tagged (rightly, wrongly, or
with archived options), some discounted or in foreign currency, plus supplier bills (ACCPAY)
that the app must ignore. About 6% of the sales invoices' value is credited back by sales
credit notes (ACCRECCREDIT) carrying the credited lines' tracking: some refunded or allocated to
their invoice (locked), some AUTHORISED with nothing allocated (editable), some DRAFT, a few
VOIDED. A small chart of accounts names the accounts the lines post to, for the sandbox's Profit
and Loss report. `seed_settings` loads the app-owned tables so every rule has examples.
"""
import datetime as dt
import functools
import json
import random
import time
import uuid

from core import store
from core.sandbox.records import (date_fields, iso_of, money, ms_from_xero, ms_of, settle, settle_credit_note,
                                  updated_fields, xero_date)
from core.xero.gateway import INVOICES_PER_UPDATE

NAMESPACE = uuid.UUID("5b0b6a3c-7f55-4d9c-9a51-2f3c6f0d7e11")
FIRST_MONTH, MONTHS = dt.date(2025, 5, 1), 18
CLIENT_COUNT = 80
ARCHIVED_CLIENTS = (13, 44)  # positions in _client_names()
CREDENTIALS = {"ClientID": "DEMO-SANDBOX-CLIENT", "ClientSecret": "demo-sandbox-secret"}

PARTNERS = ["Alice Morgan", "Ben Okafor", "Clara Singh", "David Chen", "Emma Walsh", "Farid Haddad"]
DEPARTMENTS = ["Central Bookkeeping", "Tax", "Advisory", "Audit", "Payroll"]
ARCHIVED_DEPARTMENT = "Company Secretarial"
ARCHIVED_CATEGORY, ARCHIVED_CATEGORY_OPTIONS = "Region", ["North", "South"]
# (code, name, unit price, department; None = no department of its own)
SERVICES = [
    ("BOOK", "Monthly bookkeeping", 350, "Central Bookkeeping"),
    ("VAT", "VAT return", 180, "Tax"),
    ("ACCS", "Annual accounts", 1450, "Central Bookkeeping"),
    ("CT600", "Corporation tax return", 650, "Tax"),
    ("SATR", "Self assessment tax return", 295, "Tax"),
    ("PAYR", "Payroll run", 120, "Payroll"),
    ("AUDIT", "Statutory audit", 4800, "Audit"),
    ("ADV", "Advisory (per hour)", 160, "Advisory"),
    ("MGMT", "Management accounts", 420, "Advisory"),
    ("COSEC", "Company secretarial", 95, ARCHIVED_DEPARTMENT),
    ("CONS", "Consulting (per hour)", 140, None),
    ("ALIGN", "Alignment fee", 75, None),
]
ALIGNMENT_FEE_CODE = "ALIGN"
# Team: the partners (their Department, None = none) and three staff.
TEAM = [("Alice Morgan", "Advisory"), ("Ben Okafor", "Tax"), ("Clara Singh", "Audit"), ("David Chen", None),
        ("Emma Walsh", "Central Bookkeeping"), ("Farid Haddad", "Payroll"),
        ("Grace Lee", "Tax"), ("Hugo Brandt", None), ("Isla Novak", "Central Bookkeeping")]
SUPPLIERS = ["Office Supplies Direct", "CloudSoft Licensing", "City Serviced Offices"]
FOREIGN = {"Atlantic Ventures Inc": ("USD", 1.27), "Rhein Maschinenbau GmbH": ("EUR", 1.16),
           "Lyon Design SARL": ("EUR", 1.16)}
# (code, name, type): the accounts the demo's lines post to.
ACCOUNTS = [("200", "Sales", "REVENUE"), ("260", "Other Revenue", "REVENUE"), ("429", "General Expenses", "EXPENSE")]
CREDITED_SHARE = 0.3  # of the invoices that count as revenue: each gets a credit note for one of its lines
DEMO_END = dt.date(2026, 10, 31)
_FIRST = ["Abbott", "Bramley", "Castle", "Dunmore", "Elm", "Fairfax", "Granite", "Harbour", "Ironside", "Juniper",
          "Kestrel", "Linden", "Meridian", "Northgate", "Oakridge", "Pembroke", "Quayside", "Riverside", "Saxon",
          "Thornbury"]
_SECOND = ["Bakery", "Builders", "Consulting", "Dental", "Engineering", "Florists", "Garages", "Holdings"]
_SUFFIX = ["Ltd", "LLP", "& Co", "Ltd"]


def demo_id(kind: str, key) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


def _client_names() -> list[str]:
    names = [f"{_FIRST[n % 20]} {_SECOND[(n * 7 + n // 20) % 8]} {_SUFFIX[n % 4]}" for n in range(CLIENT_COUNT - 3)]
    return names + list(FOREIGN)


def _client_plan(n: int) -> dict:
    """Who owns client n, its own Partner/Department (None = not set) and whether it is consolidated."""
    rng = random.Random(1000 + n)
    owner = None if n % 17 == 5 else (TEAM[rng.randrange(6)][0] if n % 9 else TEAM[6 + n % 3][0])
    partner = owner if owner in PARTNERS and n % 11 != 3 else None
    department = rng.choice(DEPARTMENTS) if n % 4 == 1 else None
    return {"owner": owner, "partner": partner, "department": department, "consolidate": n % 25 == 7}


def _organisation() -> dict:
    return {
        "OrganisationID": demo_id("org", 1), "APIKey": "", "Name": "Demo Practice Ltd",
        "LegalName": "Demo Practice Ltd", "PaysTax": True, "Version": "UK", "OrganisationType": "ACCOUNTING_PRACTICE",
        "BaseCurrency": "GBP", "CountryCode": "GB", "IsDemoCompany": False, "OrganisationStatus": "ACTIVE",
        "FinancialYearEndDay": 31, "FinancialYearEndMonth": 3, "SalesTaxBasis": "ACCRUALS",
        "SalesTaxPeriod": "QUARTERLY1", "DefaultSalesTax": "Tax Exclusive", "DefaultPurchasesTax": "Tax Exclusive",
        "CreatedDateUTC": xero_date(ms_of(dt.datetime(2019, 4, 1, 9, 30))), "Timezone": "GMTSTANDARDTIME",
        "OrganisationEntityType": "ACCOUNTING_PRACTICE", "ShortCode": "!dEmP0", "Class": "STANDARD",
        "Edition": "BUSINESS", "LineOfBusiness": "Accounting services", "Addresses": [], "Phones": [],
        "ExternalLinks": [], "PaymentTerms": {},
    }


def _category(name: str, status: str, options: list[tuple[str, str]]) -> dict:
    return {"TrackingCategoryID": demo_id("category", name), "Name": name, "Status": status,
            "Options": [{"TrackingOptionID": demo_id("option", f"{name}/{option}"), "Name": option, "Status": s}
                        for option, s in options]}


def _tracking_categories() -> list[dict]:
    return [
        _category("Partner", "ACTIVE", [(p, "ACTIVE") for p in PARTNERS]),
        _category("Department", "ACTIVE", [(d, "ACTIVE") for d in DEPARTMENTS] + [(ARCHIVED_DEPARTMENT, "ARCHIVED")]),
        _category(ARCHIVED_CATEGORY, "ARCHIVED", [(o, "ACTIVE") for o in ARCHIVED_CATEGORY_OPTIONS]),
    ]


def _contact(name: str, updated_ms: int, *, customer: bool, status: str = "ACTIVE", currency: str = "GBP") -> dict:
    slug = "".join(ch for ch in name.lower() if ch.isalnum())[:20]
    return {"ContactID": demo_id("contact", name), "ContactStatus": status, "Name": name,
            "EmailAddress": f"accounts@{slug}.example", "IsSupplier": not customer, "IsCustomer": customer,
            "DefaultCurrency": currency, "Addresses": [], "Phones": [], "ContactGroups": [], "ContactPersons": [],
            "HasAttachments": False, "HasValidationErrors": False, "UpdatedDateUTC": xero_date(updated_ms)}


def _contacts(names: list[str]) -> list[dict]:
    created = ms_of(dt.datetime(2025, 4, 1, 8))
    customers = [_contact(name, created + n * 60_000, customer=True,
                          status="ARCHIVED" if n in ARCHIVED_CLIENTS else "ACTIVE",
                          currency=FOREIGN.get(name, ("GBP",))[0]) for n, name in enumerate(names)]
    return customers + [_contact(name, created, customer=False) for name in SUPPLIERS]


def _items() -> list[dict]:
    updated = ms_of(dt.datetime(2025, 4, 2, 10))
    return [{"ItemID": demo_id("item", code), "Code": code, "Name": name, "Description": name,
             "IsSold": True, "IsPurchased": False, "IsTrackedAsInventory": False,
             "SalesDetails": {"UnitPrice": float(price), "AccountCode": "200", "TaxType": "OUTPUT2"},
             "PurchaseDetails": {}, "UpdatedDateUTC": xero_date(updated)} for code, name, price, _ in SERVICES]


def _accounts() -> list[dict]:
    updated = xero_date(ms_of(dt.datetime(2019, 4, 1, 9, 30)))
    return [{"AccountID": demo_id("account", code), "Code": code, "Name": name, "Type": kind, "Class": kind,
             "Status": "ACTIVE", "TaxType": "OUTPUT2" if kind == "REVENUE" else "INPUT2",
             "UpdatedDateUTC": updated} for code, name, kind in ACCOUNTS]


def _tag(categories: list[dict], category: str, option: str) -> dict:
    found = next(c for c in categories if c["Name"] == category)
    chosen = next(o for o in found["Options"] if o["Name"] == option)
    return {"Name": category, "Option": option, "TrackingCategoryID": found["TrackingCategoryID"],
            "TrackingOptionID": chosen["TrackingOptionID"]}


def _line_tracking(rng: random.Random, categories, plan: dict, department: str | None) -> list[dict]:
    """Half the lines untagged; the rest tagged rightly, wrongly, or with an archived option."""
    roll = rng.random()
    if roll < 0.5:
        return []
    if roll < 0.8:
        tags = []
        if plan["partner"]:
            tags.append(_tag(categories, "Partner", plan["partner"]))
        if department:
            tags.append(_tag(categories, "Department", department))
        return tags
    if roll < 0.93:
        return [_tag(categories, "Partner", rng.choice(PARTNERS)),
                _tag(categories, "Department", rng.choice(DEPARTMENTS))]
    if roll < 0.97:
        return [_tag(categories, "Department", ARCHIVED_DEPARTMENT)]
    return [_tag(categories, ARCHIVED_CATEGORY, rng.choice(ARCHIVED_CATEGORY_OPTIONS))]


def _service_lines(rng: random.Random, categories, plan: dict, currency: str, invoice_no: int) -> list[dict]:
    count = rng.choice([1, 1, 2, 2, 3, 3, 4, 5, 6, 8])
    picks = rng.sample(SERVICES, count)
    lines = []
    for position, (code, name, price, department) in enumerate(picks):
        hourly = "per hour" in name
        line = {"LineItemID": demo_id("line", f"{invoice_no}/{position}"), "Description": name,
                "Quantity": float(rng.choice([1.5, 2, 3, 4.25, 6]) if hourly else 1),
                "UnitAmount": float(price + rng.choice([0, 0, 0, 5, 10, -5])), "ItemCode": code,
                "AccountCode": "200", "TaxType": "ZERORATEDOUTPUT" if currency != "GBP" else "OUTPUT2",
                "Tracking": _line_tracking(rng, categories, plan, department)}
        discount = rng.random()
        if discount < 0.05:
            line["DiscountRate"] = 10.0
        elif discount < 0.08:
            line["DiscountAmount"] = 25.0
        lines.append(line)
    if rng.random() < 0.15:  # an alignment fee on top
        lines.append({"LineItemID": demo_id("line", f"{invoice_no}/align"), "Description": "Alignment fee",
                      "Quantity": 1.0, "UnitAmount": 75.0, "ItemCode": ALIGNMENT_FEE_CODE, "AccountCode": "200",
                      "TaxType": "ZERORATEDOUTPUT" if currency != "GBP" else "OUTPUT2",
                      "Tracking": _line_tracking(rng, categories, plan, None)})
    return lines[:8]


def _status(rng: random.Random, month_index: int) -> str:
    age = MONTHS - 1 - month_index
    roll = rng.random()
    if roll < 0.03:
        return "VOIDED"
    if roll < 0.035:
        return "DELETED"
    if age >= 3:
        return "PAID" if roll < 0.85 else ("PARTPAID" if roll < 0.92 else "AUTHORISED")
    if age >= 1:
        return ["PAID", "AUTHORISED", "PARTPAID", "SUBMITTED"][int(roll * 4)]
    return ["DRAFT", "SUBMITTED", "AUTHORISED", "DRAFT"][int(roll * 4)]


def _invoice(number: int, kind: str, contact: dict, day: dt.date, status: str, lines: list[dict],
             rng: random.Random, *, currency: str = "GBP", rate: float = 1.0, amount_types: str = "Exclusive") -> dict:
    invoice = {
        "Type": kind, "InvoiceID": demo_id("invoice", number),
        "InvoiceNumber": f"INV-{number:04d}" if kind == "ACCREC" else f"BILL-{number}",
        "Reference": f"{day:%b %Y} services" if kind == "ACCREC" else "",
        "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]},
        **date_fields("Date", day), **date_fields("DueDate", day + dt.timedelta(days=30)),
        "Status": "AUTHORISED" if status == "PARTPAID" else status, "LineAmountTypes": amount_types,
        "LineItems": lines, "CurrencyCode": currency, "CurrencyRate": rate,
        "AmountPaid": 0.0, "AmountCredited": 0.0, "HasAttachments": False, "HasErrors": False,
        "SentToContact": status not in ("DRAFT", "DELETED"), "Payments": [], "CreditNotes": [],
        "Prepayments": [], "Overpayments": [],
    }
    settle(invoice)
    updated = dt.datetime.combine(day, dt.time(9)) + dt.timedelta(days=rng.randrange(0, 3), minutes=rng.randrange(600))
    if status in ("PAID", "PARTPAID") and invoice["Total"] > 0:
        paid_on = day + dt.timedelta(days=rng.randrange(5, 45))
        paid = invoice["Total"] if status == "PAID" else money(invoice["Total"] * rng.choice([0.25, 0.5]))
        invoice["AmountPaid"] = paid
        invoice["Payments"] = [{"PaymentID": demo_id("payment", number), "Date": xero_date(ms_of(paid_on)),
                                "Amount": paid, "Reference": "", "CurrencyRate": rate, "HasAccount": False,
                                "HasValidationErrors": False}]
        if status == "PAID":
            invoice["FullyPaidOnDate"] = xero_date(ms_of(paid_on))
        settle(invoice)
        updated = dt.datetime.combine(paid_on, dt.time(15))
    invoice.update(updated_fields(ms_of(min(updated, dt.datetime(2026, 11, 1, 8)))))
    return invoice


def demo_state() -> dict:
    """The demo practice, the same on every call (a fresh dict each time)."""
    return json.loads(_demo_json())


@functools.cache
def _demo_json() -> str:
    rng = random.Random(2026)
    categories = _tracking_categories()
    names = _client_names()
    contacts = _contacts(names)
    customers = [c for c in contacts if c["IsCustomer"]]
    invoices, number = [], 0
    for month_index in range(MONTHS):
        first = dt.date(FIRST_MONTH.year + (FIRST_MONTH.month - 1 + month_index) // 12,
                        (FIRST_MONTH.month - 1 + month_index) % 12 + 1, 1)
        for _ in range(83):
            client = rng.randrange(len(customers))
            contact, plan = customers[client], _client_plan(client)
            currency, rate = FOREIGN.get(contact["Name"], ("GBP", 1.0))
            if contact["ContactStatus"] == "ARCHIVED" and month_index > 9:
                continue
            number += 1
            day = first + dt.timedelta(days=rng.randrange(27))
            amount_types = ("Exclusive" if currency != "GBP" or rng.random() < 0.9
                            else rng.choice(["Inclusive", "NoTax"]))
            invoices.append(_invoice(number, "ACCREC", contact, day, _status(rng, month_index),
                                     _service_lines(rng, categories, plan, currency, number), rng,
                                     currency=currency, rate=rate, amount_types=amount_types))
        for supplier in contacts[-len(SUPPLIERS):]:
            number += 1
            bill_line = {"LineItemID": demo_id("line", f"{number}/0"), "Description": f"{supplier['Name']} {first:%B}",
                         "Quantity": 1.0, "UnitAmount": float(rng.choice([89, 240, 1250])), "AccountCode": "429",
                         "TaxType": "INPUT2", "Tracking": []}
            invoices.append(_invoice(number, "ACCPAY", supplier, first + dt.timedelta(days=2),
                                     "PAID" if month_index < MONTHS - 1 else "AUTHORISED", [bill_line], rng))
    credit_notes = _credit_notes(random.Random(2027), invoices)
    return json.dumps({"Credentials": dict(CREDENTIALS), "Organisation": _organisation(), "Accounts": _accounts(),
                       "TrackingCategories": categories, "Contacts": contacts, "Items": _items(), "Invoices": invoices,
                       "CreditNotes": credit_notes, "ManualJournals": []})


def _credit_notes(rng: random.Random, invoices: list[dict]) -> list[dict]:
    """A credit note for one line (whole or half) of a share of the invoices that count as revenue, dated
    days to weeks after its invoice. An allocation to an unpaid invoice is also recorded on that invoice."""
    counted = [i for i in invoices if i["Type"] == "ACCREC" and i["Status"] in ("AUTHORISED", "PAID")]
    chosen = sorted(rng.sample(range(len(counted)), round(len(counted) * CREDITED_SHARE)))
    return [_credit_note(number, counted[n], rng) for number, n in enumerate(chosen, 1)]


def _credit_note(number: int, invoice: dict, rng: random.Random) -> dict:
    invoice_day = dt.date.fromisoformat(invoice["DateString"][:10])
    day = min(invoice_day + dt.timedelta(days=rng.randrange(3, 40)), DEMO_END)
    credited = rng.choice(invoice["LineItems"])
    line = {key: value for key, value in credited.items() if key not in ("LineAmount", "TaxAmount")}
    line.update(LineItemID=demo_id("credit line", number), Description=f"Credit: {credited['Description']}",
                Tracking=[dict(t) for t in credited["Tracking"]])
    if rng.random() < 0.25:
        line["Quantity"] = line["Quantity"] / 2
    note = {
        "Type": "ACCRECCREDIT", "CreditNoteID": demo_id("credit note", number),
        "CreditNoteNumber": f"CN-{number:04d}", "Reference": f"Credit for {invoice['InvoiceNumber']}",
        "Contact": dict(invoice["Contact"]), **date_fields("Date", day), "Status": "AUTHORISED",
        "LineAmountTypes": invoice["LineAmountTypes"], "LineItems": [line], "CurrencyCode": invoice["CurrencyCode"],
        "CurrencyRate": invoice["CurrencyRate"], "Allocations": [], "Payments": [], "HasAttachments": False,
        "HasErrors": False, "SentToContact": True,
    }
    settle_credit_note(note)
    recent = (DEMO_END - day).days < 90
    roll = rng.random()
    if roll < 0.05:
        note["Status"] = "VOIDED"
    elif recent and roll < 0.35:
        note.update(Status="DRAFT", SentToContact=False)
    elif invoice["Status"] == "AUTHORISED" and invoice["AmountDue"] > note["Total"] and roll < 0.6:
        _allocate(note, invoice, day, whole=rng.random() < 0.6)
    elif roll < 0.7:
        note["Payments"] = [{"PaymentID": demo_id("refund", number), "Date": xero_date(ms_of(day)),
                             "Amount": note["Total"], "Reference": "Refund", "CurrencyRate": note["CurrencyRate"],
                             "HasAccount": False, "HasValidationErrors": False}]
    settle_credit_note(note)
    if note["RemainingCredit"] == 0:
        note.update(Status="PAID", FullyPaidOnDate=xero_date(ms_of(day)))
    note.update(updated_fields(ms_of(dt.datetime.combine(day, dt.time(11)))))
    return note


def _allocate(note: dict, invoice: dict, day: dt.date, *, whole: bool) -> None:
    """Apply the credit, whole or half of it, to its invoice (which has more than that still due)."""
    amount = note["Total"] if whole else money(note["Total"] / 2)
    note["Allocations"] = [{"AllocationID": demo_id("allocation", note["CreditNoteID"]), "Amount": amount,
                            "Date": xero_date(ms_of(day)),
                            "Invoice": {"InvoiceID": invoice["InvoiceID"], "InvoiceNumber": invoice["InvoiceNumber"]}}]
    invoice["AmountCredited"] = money(invoice["AmountCredited"] + amount)
    invoice["CreditNotes"].append({"CreditNoteID": note["CreditNoteID"], "CreditNoteNumber": note["CreditNoteNumber"],
                                   "AppliedAmount": amount, "Date": note["Date"], "Total": note["Total"]})
    settle(invoice)
    updated = max(ms_from_xero(invoice["UpdatedDateUTC"]), ms_of(dt.datetime.combine(day, dt.time(11))))
    invoice.update(updated_fields(updated))


def _scaled_id(kind: int, seed: int, n: int) -> str:
    return f"{kind:08x}-{seed & 0xffff:04x}-4000-8000-{n:012x}"


def scaled_state(invoices: int, *, lines_per_invoice: int | tuple[int, int] = 10, seed: int = 0) -> dict:
    """A big organisation for benchmarks: the demo's categories and services, `invoices` sales
    invoices over the demo's 18 months, each of `lines_per_invoice` lines (a number, or a
    (fewest, most) range drawn per invoice). Random numbers are
    drawn in bulk and lines built from templates (whole-pound prices, 20% VAT, so amounts are
    exact without Decimal): 100,000 invoices of 10 lines take seconds. Lines share their
    `Tracking` lists: replace them, never change them in place."""
    rng = random.Random(seed)
    categories = _tracking_categories()
    tags = [[_tag(categories, "Partner", p)] for p in PARTNERS] + \
        [[_tag(categories, "Partner", p), _tag(categories, "Department", d)] for p in PARTNERS for d in DEPARTMENTS]
    tag_choices = [[]] * len(tags) + tags  # about half the lines untagged
    clients = max(CLIENT_COUNT, invoices // 50)
    created = ms_of(dt.datetime(2025, 4, 1, 8))
    contacts = [{**_contact(f"Client {n:05d} Ltd", created, customer=True), "ContactID": _scaled_id(1, seed, n)}
                for n in range(clients)]
    templates = [{"Description": name, "Quantity": float(quantity), "UnitAmount": float(price), "ItemCode": code,
                  "AccountCode": "200", "TaxType": "OUTPUT2", "TaxAmount": quantity * price / 5,
                  "LineAmount": float(quantity * price)}
                 for code, name, price, _ in SERVICES for quantity in (1, 2, 3)]
    day_ms, first_ms = 86_400_000, ms_of(FIRST_MONTH)
    days = [(xero_date(first_ms + d * day_ms), iso_of(first_ms + d * day_ms)) for d in
            range((dt.date(2026, 10, 31) - FIRST_MONTH).days + 1 + 30)]
    statuses = ["PAID"] * 5 + ["AUTHORISED"] * 3 + ["DRAFT", "SUBMITTED", "VOIDED"]
    fewest, most = (lines_per_invoice, lines_per_invoice) if isinstance(lines_per_invoice, int) else lines_per_invoice
    line_counts = rng.choices(range(fewest, most + 1), k=invoices)
    line_count = sum(line_counts)
    line_templates = rng.choices(templates, k=line_count)
    line_tags = rng.choices(tag_choices, k=line_count)
    invoice_days = rng.choices(range(len(days) - 30), k=invoices)
    invoice_statuses = rng.choices(statuses, k=invoices)
    invoice_contacts = rng.choices(contacts, k=invoices)
    line_prefix, invoice_prefix = _scaled_id(3, seed, 0)[:-12], _scaled_id(2, seed, 0)[:-12]
    records, first = [], 0
    for n in range(invoices):
        lines = [{"LineItemID": f"{line_prefix}{k:012x}", **line_templates[k], "Tracking": line_tags[k]}
                 for k in range(first, first + line_counts[n])]
        first += line_counts[n]
        sub_total = sum(line["LineAmount"] for line in lines)
        total, status, day = sub_total + sub_total / 5, invoice_statuses[n], invoice_days[n]
        second = n % 36_000
        paid = total if status == "PAID" else 0.0
        contact = invoice_contacts[n]
        records.append({
            "Type": "ACCREC", "InvoiceID": f"{invoice_prefix}{n:012x}", "InvoiceNumber": f"INV-{n + 1:06d}",
            "Reference": "", "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]},
            "Date": days[day][0], "DateString": days[day][1], "DueDate": days[day + 30][0],
            "DueDateString": days[day + 30][1], "Status": status, "LineAmountTypes": "Exclusive",
            "LineItems": lines, "SubTotal": sub_total, "TotalTax": sub_total / 5, "Total": total,
            "TotalDiscount": 0.0, "IsDiscounted": False, "AmountDue": total - paid, "AmountPaid": paid,
            "AmountCredited": 0.0, "CurrencyCode": "GBP", "CurrencyRate": 1.0, "HasAttachments": False,
            "HasErrors": False, "SentToContact": status != "DRAFT", "Payments": [], "CreditNotes": [],
            "Prepayments": [], "Overpayments": [],
            "UpdatedDateUTC": xero_date(first_ms + day * day_ms + 28_800_000 + second * 1000),
            "UpdatedDateUTCString": f"{days[day][1][:11]}{8 + second // 3600:02d}:{second // 60 % 60:02d}:"
                                    f"{second % 60:02d}Z"})
    return {"Credentials": dict(CREDENTIALS), "Organisation": _organisation(), "TrackingCategories": categories,
            "Contacts": contacts, "Items": _items(), "Invoices": records}


SEEDED_TABLES = ("slots", "team_members", "client_settings", "services", "line_overrides")


def seed_settings(con, state: dict) -> bool:
    """Fill the app-owned settings for `state` (the demo or a scaled org) so every rule has
    examples; does nothing (returns False) when any of those tables already has rows."""
    if any(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in SEEDED_TABLES):
        return False
    categories = {c["Name"]: c for c in state["TrackingCategories"]}

    def option_id(category: str, name: str | None) -> str | None:
        return next((o["TrackingOptionID"] for o in categories[category]["Options"] if o["Name"] == name), None)

    with store.transaction(con):
        con.executemany("INSERT INTO slots (slot, category_id) VALUES (?, ?)",
                        [[1, categories["Partner"]["TrackingCategoryID"]],
                         [2, categories["Department"]["TrackingCategoryID"]]])
        members = {}
        for name, department in TEAM:
            email = name.lower().replace(" ", ".") + "@demopractice.example"
            members[name] = con.execute(
                "INSERT INTO team_members (name, email, tc2_option_id) VALUES (?, ?, ?) RETURNING member_id",
                [name, email, option_id("Department", department)]).fetchone()[0]
        customers = [c for c in state["Contacts"] if c.get("IsCustomer")]
        con.executemany(
            "INSERT INTO client_settings (contact_id, owner_id, tc1_option_id, tc2_option_id, consolidate) "
            "VALUES (?, ?, ?, ?, ?)",
            [[contact["ContactID"], members.get(plan["owner"]), option_id("Partner", plan["partner"]),
              option_id("Department", plan["department"]), plan["consolidate"]]
             for contact, plan in ((c, _client_plan(n)) for n, c in enumerate(customers))])
        con.executemany("INSERT INTO services (item_code, tc2_option_id, alignment_fee) VALUES (?, ?, ?)",
                        [[code, option_id("Department", department), code == ALIGNMENT_FEE_CODE]
                         for code, _, _, department in SERVICES])
        con.executemany(
            "INSERT INTO line_overrides (line_id, tc1_override, tc1_option_id, tc2_override, tc2_option_id, note) "
            "VALUES (?, ?, ?, ?, ?, ?)", _override_examples(state, option_id))
    return True


def _override_examples(state: dict, option_id) -> list[list]:
    """Three line overrides on editable invoices: a TC1 option, a TC2 option, and an explicit TC2 clear."""
    lines = [invoice["LineItems"][0]["LineItemID"] for invoice in state["Invoices"]
             if invoice["Type"] == "ACCREC" and invoice["Status"] in ("DRAFT", "SUBMITTED")
             and invoice["LineItems"]][:3]
    examples = [[True, option_id("Partner", PARTNERS[2]), False, None, "Work done by Clara's team"],
                [False, None, True, option_id("Department", "Advisory"), "Advisory project, not bookkeeping"],
                [False, None, True, None, "No department for this disbursement"]]
    return [[line_id, *example] for line_id, example in zip(lines, examples)]


def new_invoices(count: int, *, seed: int) -> list[dict]:
    """`count` new draft sales invoices for the demo practice, as PUT /Invoices takes them (no ids: Xero
    gives them): today's date, one to three of the practice's services, no tracking and no discounts, for
    clients in pounds that are not archived. The same `seed` gives the same invoices."""
    rng = random.Random(seed)
    customers = [name for n, name in enumerate(_client_names()) if n not in ARCHIVED_CLIENTS and name not in FOREIGN]
    return [{"Type": "ACCREC", "Status": "DRAFT", "LineAmountTypes": "Exclusive", "Reference": "New work",
             "Contact": {"ContactID": demo_id("contact", rng.choice(customers))},
             "LineItems": [{"Description": service, "Quantity": 1.0, "UnitAmount": float(price), "ItemCode": code,
                            "AccountCode": "200", "TaxType": "OUTPUT2"}
                           for code, service, price, _ in rng.sample(SERVICES, rng.randint(1, 3))]}
            for _ in range(count)]


def create_new_invoices(gw, count: int) -> list[str]:
    """Create `count` new draft invoices in the demo Xero through `gw` (50 a call); their numbers.

    Only for the demo organisation: the caller checks that `gw` talks to the sandbox."""
    seed = time.time_ns()
    numbers = []
    for batch, start in enumerate(range(0, count, INVOICES_PER_UPDATE)):
        created = gw.create_invoices(new_invoices(min(INVOICES_PER_UPDATE, count - start), seed=seed + batch),
                                     idempotency_key=f"td-demo-{seed}-{batch}")
        numbers += [invoice["InvoiceNumber"] for invoice in created if not invoice.get("HasErrors")]
    return numbers
