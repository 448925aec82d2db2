"""Who may do what: the three roles, what each may do, and the check every write makes first.

Roles come from the `[roles]` table of `.streamlit/secrets.toml`: an email address, or a whole
domain written `"@example.com"`, mapped to `viewer`, `editor` or `admin`; an optional `default`
key gives a role to every other signed-in address. Without `default`, a signed-in address that is
not listed has no access at all (a wrong guess must not open the ledger).

- viewer: Overview, Preview and Revenue (reading only).
- editor: also the assignments (Clients, Services, Team, line overrides), CSV imports and the
  History of those edits.
- admin: also push to Xero and undo a push, the slot map and the connection to Xero (Settings).
Every role may sync: it only copies what Xero already has, for everyone to see.

Without sign-in configured, whoever can open the app is the local user, an admin; the app then
listens on localhost only. The command line acts as an admin too: whoever can run it on the
server can already open the database file. Pure: core/ui.py reads Streamlit's sign-in and hands
the plain values to `signed_in`.
"""
import getpass
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from core.config import ConfigError


class Role(StrEnum):
    """A person's role; the value is what `[roles]` says. Each may do everything the ones before it may."""
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"


class Permission(StrEnum):
    VIEW = "view"
    HISTORY = "history"
    EDIT = "edit"
    PUSH = "push"
    ADMINISTER = "administer"


ROLES = tuple(Role)

# Permission → the least role that has it.
NEEDS = {Permission.VIEW: Role.VIEWER, Permission.HISTORY: Role.EDITOR, Permission.EDIT: Role.EDITOR,
         Permission.PUSH: Role.ADMIN, Permission.ADMINISTER: Role.ADMIN}
DOING = {Permission.VIEW: "see the tracking", Permission.HISTORY: "see the change history",
         Permission.EDIT: "change assignments or import CSV files", Permission.PUSH: "push to Xero or undo a push",
         Permission.ADMINISTER: "change the slot map or the connection to Xero"}
DEFAULT_KEY = "default"
ROLES_HELP = "An admin gives people a role under [roles] in .streamlit/secrets.toml."


class Forbidden(Exception):
    """The person acting may not do this; the message says so in plain words."""


@dataclass(frozen=True)
class Actor:
    """Who is acting: `role` is None for a signed-in address without a role."""
    name: str
    email: str | None
    role: Role | str | None  # a Role, or a machine's (AUTOPILOT_ROLE)

    @property
    def who(self) -> str:
        """How the change log and the push log name this person."""
        return self.email or self.name


LOCAL_USER = Actor("Local user", None, Role.ADMIN)
# Not a person: autopilot (core/autopilot.py) may read and push, nothing else; its pushes are "by autopilot".
AUTOPILOT_ROLE = "autopilot"
MACHINE_PERMISSIONS = {AUTOPILOT_ROLE: frozenset({Permission.VIEW, Permission.PUSH})}
AUTOPILOT = Actor("autopilot", None, AUTOPILOT_ROLE)


def command_line() -> Actor:
    return Actor(f"command line ({getpass.getuser()})", None, Role.ADMIN)


def may(actor: Actor, permission: Permission | None) -> bool:
    """Whether `actor` has `permission`; None (a permission nobody named) is had by nobody."""
    if permission is None:
        return False
    if actor.role in MACHINE_PERMISSIONS:
        return permission in MACHINE_PERMISSIONS[actor.role]
    return actor.role in ROLES and ROLES.index(actor.role) >= ROLES.index(NEEDS[permission])


def require(actor: Actor, permission: Permission) -> None:
    """Raise Forbidden unless `actor` has `permission`; every write calls this before writing."""
    if not isinstance(actor, Actor):
        raise Forbidden(f"Say who is acting: {actor!r} is not a person signed in to Tracking Desk.")
    if actor.role is None:
        raise Forbidden(f"{actor.who} has no role in Tracking Desk, so cannot {DOING[permission]}. {ROLES_HELP}")
    if not may(actor, permission):
        raise Forbidden(f"Your role ({actor.role}) cannot {DOING[permission]}. Ask an admin if you need to.")


def roles_table(section: Mapping) -> dict[str, Role]:
    """The `[roles]` table with addresses in lower case; ConfigError names a role that does not exist."""
    table = {str(key).strip().lower(): str(role).strip().lower() for key, role in section.items()}
    wrong = sorted(key for key, role in table.items() if role not in ROLES)
    if wrong:
        raise ConfigError(f"[roles] in .streamlit/secrets.toml: {', '.join(wrong)} must be one of "
                          f"{', '.join(ROLES)}.")
    return {key: Role(role) for key, role in table.items()}


def role_for(email: str | None, roles: Mapping[str, Role]) -> Role | None:
    """The address's role: listed itself, else its domain ("@example.com"), else `default`, else none."""
    address = (email or "").strip().lower()
    if not address:
        return None
    domain = "@" + address.rpartition("@")[2]
    return roles.get(address) or roles.get(domain) or roles.get(DEFAULT_KEY)


def signed_in(user: Mapping, roles: Mapping) -> Actor:
    """The person Streamlit signed in (`st.user`'s claims), with their role from the `[roles]` table.

    An address the identity provider says it has not verified gets no role."""
    email = user.get("email") or None
    role = None if user.get("email_verified") is False else role_for(email, roles_table(roles))
    return Actor(str(user.get("name") or email or "Signed-in user"), email, role)
