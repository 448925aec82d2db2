"""One line's verdict in words: which rule decided each slot, and what the line's status means.

The rules themselves live in core/rules.py; this module only puts into words the source label
each slot carries in `line_rules` (the table in docs/rules.md), with the names that
label points at (the client, its owner, the line's service) read from `preview.line_detail`.
"""
from collections.abc import Mapping

# A line's status as people read it. A status without an entry is shown as it is stored.
STATUS_WORDS = {"same": "Xero has it", "change": "Will change", "blocked": "Blocked", "locked": "Locked",
                "may be refused": "May be refused"}
STATUS_MEANING = {
    "same": "Xero already has what the rules want: a push leaves this line alone.",
    "change": "A push will write this line's new tracking to Xero.",
    "blocked": "A push will not send this line",
    "locked": "Xero's API cannot change this invoice",
    "may be refused": "Xero may refuse this line",
}


def status_words(status: str) -> str:
    return STATUS_WORDS.get(status, status)


def sentence(line: Mapping) -> str:
    """E.g. "Partner = Alice Morgan from the client; Department = Audit because service 'Statutory audit'
    (item AUD) sets it." `line` is a `preview.line_detail` row."""
    return "; ".join(_slot(line, slot) for slot in (1, 2)) + "."


def status_sentence(line: Mapping) -> str:
    """What the line's status means, with its full reason when it has one."""
    meaning = STATUS_MEANING.get(line["status"], status_words(line["status"]))
    return f"{meaning.rstrip('.')}: {line['reason'].rstrip('.')}." if line.get("reason") else meaning


def _slot(line: Mapping, slot: int) -> str:
    category = line[f"tc{slot}_category_name"] or f"Tracking Category {slot}"
    wanted, source = line[f"tc{slot}_wanted_name"], line[f"tc{slot}_source"]
    current = line[f"tc{slot}_current_name"]
    kept = f"Xero's {current} stays" if current else "the line keeps no option"
    service = f"'{line['service_name'] or line['item_code']}'"
    if source == "line":
        return (f"{category} is cleared because this line's own override says None" if wanted is None
                else f"{category} = {wanted} because this line has its own override")
    if source == "client":
        return f"{category} = {wanted} from the client"
    if source == "consolidated" and slot == 1:
        first = "because the client consolidates its lines and the invoice's first line"
        return (f"{category} is cleared {first} has an override of None" if wanted is None
                else f"{category} = {wanted} {first} has it by override")
    if source == "consolidated":
        return f"{category}: no rule sets it, because the client consolidates its lines, so {kept}"
    if source == "service":
        return f"{category} = {wanted} because service {service} (item {line['item_code']}) sets it"
    if source == "owner":
        owner = line["owner_name"] or "the client's owner"
        if line["alignment_fee"]:
            return f"{category} = {wanted} because {service} is an alignment fee, which takes the owner's ({owner})"
        return f"{category} = {wanted} from the client's owner, {owner}"
    if source == "none" and line["alignment_fee"] and slot == 2:
        return f"{category}: {service} is an alignment fee and the client's owner has none, so {kept}"
    return f"{category}: no rule sets it, so {kept}"
