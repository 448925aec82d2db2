"""Xero's statuses of a sales invoice or credit note, and which of them the app treats how.

The one definition: the lock rules (core/rules.py), the push's re-check of an invoice, revenue, the
preview's filters and the autopilot take their lists from here, and SQL takes them through `sql_list`.
"""
from collections.abc import Iterable

DRAFT, SUBMITTED, AUTHORISED, PAID, VOIDED, DELETED = "DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED"
ALL = (DRAFT, SUBMITTED, AUTHORISED, PAID, VOIDED, DELETED)
# Xero's API lets the app change a document in these statuses, if nothing is applied to it (rules.EDITABLE).
EDITABLE = (DRAFT, SUBMITTED, AUTHORISED)
# Revenue on the accruals basis, as Xero's reports count it; with drafts, what the revenue filter may choose.
# VOIDED and DELETED are never revenue.
REVENUE = (AUTHORISED, PAID)
REVENUE_CHOICES = (DRAFT, SUBMITTED, AUTHORISED, PAID)


def sql_list(statuses: Iterable[str]) -> str:
    """The statuses as SQL string literals for an IN list: "'AUTHORISED', 'PAID'". Xero's statuses only."""
    statuses = tuple(statuses)
    if unknown := [s for s in statuses if s not in ALL]:
        raise ValueError(f"Not a Xero invoice status: {', '.join(map(repr, unknown))}")
    return ", ".join(f"'{status}'" for status in statuses)
