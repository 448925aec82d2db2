"""Configuration: one place that reads the environment and `.streamlit/secrets.toml`.

Secrets are read here and handed to the code that needs them; nothing below `core/`
reads the environment for credentials on its own.
"""
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = ROOT / "data" / "tracking.duckdb"
SECRETS_FILE = ROOT / ".streamlit" / "secrets.toml"


class ConfigError(Exception):
    """Configuration is missing or wrong; the message says what to fix."""


SECRETS_FIX = "write it as in .streamlit/secrets.toml.example, or remove it to run the demo."


class AuthMode(StrEnum):
    """How the app reaches Xero; the value is what XERO_AUTH (or [xero] auth) says."""
    CLIENT_CREDENTIALS = "client_credentials"
    CODE = "code"




@dataclass(frozen=True)
class XeroConfig:
    """How to reach Xero. `auth` is CLIENT_CREDENTIALS (a custom connection: id and secret, one organisation)
    or CODE (an app people connect with "Connect to Xero": client id, a secret only for a confidential app,
    tokens and the organisation chosen saved in `token_file`)."""
    client_id: str
    client_secret: str
    tenant_id: str = ""
    api_url: str | None = None
    identity_url: str | None = None
    auth: AuthMode = AuthMode.CLIENT_CREDENTIALS
    login_url: str | None = None
    redirect_uri: str | None = None
    token_file: Path | None = None

    def __repr__(self) -> str:  # never show the secret, not even in a traceback
        return (f"XeroConfig(auth={self.auth!r}, client_id={self.client_id!r}, client_secret='***', "
                f"tenant_id={self.tenant_id!r})")


def db_path() -> Path:
    return Path(os.environ.get("TRACKING_DB") or DEFAULT_DB)


def secrets() -> dict:
    """`.streamlit/secrets.toml` as a dict ({} when there is none); ConfigError says what is wrong with it."""
    try:
        data = SECRETS_FILE.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ConfigError(f"{SECRETS_FILE} cannot be read ({e.strerror}): {SECRETS_FIX}") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{SECRETS_FILE} is not a text file (it is not UTF-8): {SECRETS_FIX}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{SECRETS_FILE} is not valid TOML ({e}): {SECRETS_FIX}") from None


def secrets_section(name: str) -> Mapping:
    """One table of `.streamlit/secrets.toml` ({} when absent)."""
    return table(name, secrets().get(name, {}))


def table(name: str, section: Any) -> Mapping:
    """`section`, checked to be the table `[name]` of secrets.toml."""
    if not isinstance(section, Mapping):
        raise ConfigError(f"{SECRETS_FILE}: {name} must be a table (a [{name}] line, then key = \"value\" lines), "
                          f"not {type(section).__name__}: {SECRETS_FIX}")
    return section


def xero_config() -> XeroConfig | None:
    """The Xero connection to use, or None when no credentials are configured (demo mode).

    With `auth = "code"` (XERO_AUTH=code) and no client id, the code flow runs against the local
    sandbox (`connection.xero_config()` fills in its client id and addresses).
    """
    section = secrets_section("xero")

    def value(key: str) -> str:
        setting = section.get(key, "")
        if isinstance(setting, dict | list):
            raise ConfigError(f"{SECRETS_FILE}: [xero] {key} must be text in quotes, not a "
                              f"{'table' if isinstance(setting, dict) else 'list'}: {SECRETS_FIX}")
        return os.environ.get(f"XERO_{key.upper()}") or str(setting or "")

    auth = value("auth").strip().lower() or AuthMode.CLIENT_CREDENTIALS
    if auth not in tuple(AuthMode):
        raise ConfigError(f"XERO_AUTH (or [xero] auth) is {auth!r}: use {AuthMode.CODE.value!r} for Connect to "
                          f"Xero, or {AuthMode.CLIENT_CREDENTIALS.value!r} (the default) for a custom connection.")
    client_id, client_secret = value("client_id"), value("client_secret")
    urls = dict(api_url=value("api_url") or None, identity_url=value("identity_url") or None)
    if auth == AuthMode.CODE:
        if client_secret and not client_id:
            raise ConfigError("XERO_CLIENT_SECRET is set but XERO_CLIENT_ID is not (or [xero] client_secret "
                              "without client_id in .streamlit/secrets.toml).")
        token_file = Path(value("token_file")) if value("token_file") else default_token_file()
        return XeroConfig(client_id, client_secret, "", **urls, auth=AuthMode.CODE,
                          login_url=value("login_url") or None,
                          redirect_uri=value("redirect_uri") or None, token_file=token_file)
    if not client_id and not client_secret:
        return None
    if not client_id or not client_secret:
        raise ConfigError("Set both XERO_CLIENT_ID and XERO_CLIENT_SECRET (or [xero] client_id and client_secret "
                          "in .streamlit/secrets.toml); only one of them is set. An app connected with "
                          "Connect to Xero also needs XERO_AUTH=code (or [xero] auth = \"code\").")
    return XeroConfig(client_id, client_secret, value("tenant_id"), **urls)


def default_token_file() -> Path:
    """The saved Connect-to-Xero connection lives beside the database (never inside it, never tracked by git)."""
    db = db_path()
    return db.with_name(f"{db.stem}.xero-tokens.json")
