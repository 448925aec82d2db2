"""`python -m core set client|service|team|line …`: the settings edits of the pages, for scripts.

Options and owners are given by name (an option within its slot's category; "none" clears it).
Exit 0 when the edit is made (or changes nothing), 2 when it is refused, with the reason.
"""
import sys

from core import access, catalog, edits, store
from core.catalog import UNSET, InvalidChange

USAGE_ERROR = 2
SOURCE = "cli"
BY = access.command_line()  # the command line acts as an admin (core/access.py)
YES_NO = ("yes", "no")


def register(subparsers) -> None:
    parser = subparsers.add_parser("set", help="edit a client, service, team member or line override")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="WHAT")

    client = kinds.add_parser("client", help="a client's owner, TC1, TC2 and consolidation")
    client.add_argument("client", metavar="NAME_OR_ID", help="the client's name or Xero contact ID")
    client.add_argument("--owner", metavar="NAME", help="a team member, or none")
    client.add_argument("--tc1", metavar="OPTION", help="an option of Tracking Category 1, or none")
    client.add_argument("--tc2", metavar="OPTION", help="an option of Tracking Category 2, or none")
    client.add_argument("--consolidate", choices=YES_NO, help="consolidate the client's invoice lines")
    client.set_defaults(handler=run, edit=_client)

    service = kinds.add_parser("service", help="a service's TC2 and alignment-fee flag")
    service.add_argument("code", metavar="CODE", help="the Xero item code")
    service.add_argument("--tc2", metavar="OPTION", help="an option of Tracking Category 2, or none")
    service.add_argument("--alignment-fee", choices=YES_NO, help="lines of this item take the owner's TC2")
    service.set_defaults(handler=run, edit=_service)

    team = kinds.add_parser("team", help="add, change or remove a team member")
    team.add_argument("name", metavar="NAME", help="the team member (added when new)")
    team.add_argument("--email", metavar="E", help="an email address, or none")
    team.add_argument("--tc2", metavar="OPTION", help="an option of Tracking Category 2, or none")
    team.add_argument("--remove", action="store_true", help="remove the member (refused while they own clients)")
    team.set_defaults(handler=run, edit=_team)

    line = kinds.add_parser("line", help="override one invoice line's TC1 and/or TC2")
    line.add_argument("line", metavar="LINE_ID", help="the Xero LineItemID")
    line.add_argument("--tc1", metavar="OPTION", help="an option of Tracking Category 1, or none to clear the slot")
    line.add_argument("--tc2", metavar="OPTION", help="an option of Tracking Category 2, or none to clear the slot")
    line.add_argument("--note", metavar="TEXT", help="why, for the people who read the override")
    line.add_argument("--clear", action="store_true", help="remove the line's override: the rules decide again")
    line.set_defaults(handler=run, edit=_line)


def run(args) -> int:
    with store.connect() as con:
        try:
            with store.transaction(con):
                changes = args.edit(con, args)
        except InvalidChange as e:
            print(f"error: {e}", file=sys.stderr)
            return USAGE_ERROR
    for change in changes:
        blank = "(no override)" if change.entity == "line" else "(none)"
        print(f"{catalog.shorten(change.name)}: {change.field} {catalog.shorten(change.old or blank)} → "
              f"{catalog.shorten(change.new or blank)}")
    if not changes:
        print("No changes.")
    return 0


def _named(cat: catalog.Catalog, field: str, text: str | None):
    """The field's value from what was typed (core/catalog.py `value_of`), or UNSET when it was not given."""
    return UNSET if text is None else catalog.value_of(cat, field, text)


def _client(con, args) -> list[edits.Change]:
    cat = catalog.read(con)
    return edits.set_client(
        con, catalog.find_client(con, args.client), by=BY, source=SOURCE,
        owner_id=_named(cat, "owner_id", args.owner), tc1_option_id=_named(cat, "tc1_option_id", args.tc1),
        tc2_option_id=_named(cat, "tc2_option_id", args.tc2), consolidate=_named(cat, "consolidate", args.consolidate))


def _service(con, args) -> list[edits.Change]:
    cat = catalog.read(con)
    return edits.set_service(con, args.code, by=BY, source=SOURCE, tc2_option_id=_named(cat, "tc2_option_id", args.tc2),
                             alignment_fee=_named(cat, "alignment_fee", args.alignment_fee))


def _team(con, args) -> list[edits.Change]:
    cat = catalog.read(con)
    try:
        member = cat.member_id(args.name)
    except InvalidChange:
        member = None
    email, tc2 = _named(cat, "email", args.email), _named(cat, "tc2_option_id", args.tc2)
    if args.remove:
        if member is None:
            raise InvalidChange(f"There is no team member called {catalog.quote(args.name)}.")
        return edits.remove_team_member(con, member, by=BY, source=SOURCE)
    if member is None:
        added = edits.Edit(None, {"name": args.name, "email": email, "tc2_option_id": tc2})
        outcome = edits.apply_team_edits(con, [added], by=BY, source=SOURCE)
        if outcome.rejections:
            raise InvalidChange(outcome.rejections[0].message)
        return outcome.changes
    return edits.set_team_member(con, member, by=BY, source=SOURCE, email=email, tc2_option_id=tc2)


def _line(con, args) -> list[edits.Change]:
    if args.clear:
        if args.tc1 or args.tc2:
            raise InvalidChange("Give either --clear or --tc1/--tc2, not both.")
        return edits.clear_line_override(con, args.line, by=BY, source=SOURCE)
    cat = catalog.read(con)
    return edits.set_line_override(con, args.line, by=BY, source=SOURCE, tc1=_named(cat, "tc1", args.tc1),
                                   tc2=_named(cat, "tc2", args.tc2), note=args.note)
