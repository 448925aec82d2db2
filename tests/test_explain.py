"""The selected line's explanation: one sentence from the source labels the rules stored, worked by hand."""
import pytest

from core import explain, preview, rules
from tests.line_ids import line_id

# Partner (slot 1) and Department (slot 2). Ann Smith (Tax) owns Acme; Bob Jones (no Department) owns Beta;
# Cons Ltd consolidates its lines. TAX-RET is a service (Tax); ALIGN an alignment fee.
PRACTICE = [
    """INSERT INTO tracking_categories VALUES ('cat-p', 'Partner', 'ACTIVE', 0), ('cat-d', 'Department', 'ACTIVE', 1)""",
    """INSERT INTO tracking_options VALUES ('ann', 'cat-p', 'Ann', 'ACTIVE'), ('bob', 'cat-p', 'Bob', 'ACTIVE'),
        ('tax', 'cat-d', 'Tax', 'ACTIVE'), ('audit', 'cat-d', 'Audit', 'ACTIVE'), ('old', 'cat-d', 'Old', 'ARCHIVED')""",
    """INSERT INTO contacts (contact_id, name) VALUES ('acme', 'Acme Ltd'), ('beta', 'Beta LLC'), ('cons', 'Cons Ltd')""",
    """INSERT INTO items (item_id, code, name) VALUES ('i1', 'TAX-RET', 'Tax return'), ('i2', 'ALIGN', 'Alignment fee')""",
    """INSERT INTO team_members (name, tc2_option_id) VALUES ('Ann Smith', 'tax'), ('Bob Jones', NULL)""",
    """INSERT INTO client_settings VALUES ('acme', 1, 'ann', NULL, false), ('beta', 2, NULL, 'audit', false),
        ('cons', NULL, 'bob', NULL, true)""",
    """INSERT INTO services VALUES ('TAX-RET', 'tax', false), ('ALIGN', NULL, true)""",
    """INSERT INTO invoices (invoice_id, number, contact_id, date, status, currency_code, updated_utc) VALUES
        ('ia', 'INV-A', 'acme', DATE '2026-01-05', 'AUTHORISED', 'GBP', now()),
        ('ib', 'INV-B', 'beta', DATE '2026-01-06', 'PAID', 'GBP', now()),
        ('ic', 'INV-C', 'cons', DATE '2026-01-07', 'DRAFT', 'GBP', now())""",
    """INSERT INTO invoice_lines (line_id, invoice_id, position, description, item_code) VALUES
        (line_id('service'), 'ia', 0, 'Tax return', 'TAX-RET'), (line_id('fee'), 'ia', 1, 'Alignment', 'ALIGN'),
        (line_id('owner'), 'ia', 2, 'Advice', NULL), (line_id('cleared'), 'ia', 3, 'Advice', NULL),
        (line_id('client'), 'ib', 0, 'Audit', NULL), (line_id('fee-none'), 'ib', 1, 'Alignment', 'ALIGN'),
        (line_id('first'), 'ic', 0, 'Accounts', NULL), (line_id('second'), 'ic', 1, 'Accounts', NULL)""",
    """INSERT INTO line_tracking (line_id, category_id, option_id) VALUES (line_id('second'), 'cat-d', 'audit')""",
    """INSERT INTO line_overrides VALUES (line_id('cleared'), false, NULL, true, NULL, 'no department'),
        (line_id('first'), true, 'ann', false, NULL, NULL)""",
]


@pytest.fixture
def practice(seeded):
    return seeded(PRACTICE)


@pytest.mark.parametrize(("name", "sources", "said"), [
    ("service", ("client", "service"),
     "Partner = Ann from the client; Department = Tax because service 'Tax return' (item TAX-RET) sets it."),
    ("fee", ("client", "owner"),
     "Partner = Ann from the client; Department = Tax because 'Alignment fee' is an alignment fee, "
     "which takes the owner's (Ann Smith)."),
    ("owner", ("client", "owner"), "Partner = Ann from the client; Department = Tax from the client's owner, Ann Smith."),
    ("cleared", ("client", "line"),
     "Partner = Ann from the client; Department is cleared because this line's own override says None."),
    ("client", ("none", "client"),
     "Partner: no rule sets it, so the line keeps no option; Department = Audit from the client."),
    ("fee-none", ("none", "none"),
     "Partner: no rule sets it, so the line keeps no option; Department: 'Alignment fee' is an alignment fee and "
     "the client's owner has none, so the line keeps no option."),
    ("first", ("line", "consolidated"),
     "Partner = Ann because this line has its own override; Department: no rule sets it, because the client "
     "consolidates its lines, so the line keeps no option."),
    ("second", ("consolidated", "consolidated"),
     "Partner = Ann because the client consolidates its lines and the invoice's first line has it by override; "
     "Department: no rule sets it, because the client consolidates its lines, so Xero's Audit stays."),
])
def test_the_sentence_follows_each_source_label(practice, name, sources, said):
    line = preview.line_detail(practice, line_id(name))
    assert (line["tc1_source"], line["tc2_source"]) == sources
    assert explain.sentence(line) == said


def test_every_source_label_is_worded_in_some_line(practice):
    worded = {preview.line_detail(practice, line)[f"tc{slot}_source"]
              for (line,) in practice.execute("SELECT line_id FROM line_rules").fetchall() for slot in (1, 2)}
    assert worded == set(rules.SOURCES)


@pytest.mark.parametrize(("name", "said"), [
    ("service", "A push will write this line's new tracking to Xero."),
    ("client", "Xero's API cannot change this invoice: Invoice is PAID in Xero and cannot be edited."),
])
def test_the_status_sentence_gives_the_whole_reason(practice, name, said):
    assert explain.status_sentence(preview.line_detail(practice, line_id(name))) == said


def test_a_blocked_line_and_a_status_without_words_of_its_own():
    blocked = {"status": "blocked", "reason": "Option 'Old' is archived in Xero"}
    assert explain.status_sentence(blocked) == "A push will not send this line: Option 'Old' is archived in Xero."
    refusable = {"status": "change", "reason": "Xero may refuse this invoice: line 2 keeps archived option 'Old'"}
    assert explain.status_sentence(refusable) == ("A push will write this line's new tracking to Xero: Xero may refuse"
                                                  " this invoice: line 2 keeps archived option 'Old'.")
    assert explain.status_words("may be refused") == "May be refused"


def test_no_such_line(practice):
    assert preview.line_detail(practice, "nope") is None
