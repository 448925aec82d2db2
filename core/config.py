"""Configuration: one place that reads the environment and `.streamlit/secrets.toml`.

Secrets are read here and handed to the code that needs them; nothing below `core/`
reads the environment for credentials on its own.
"""
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = ROOT / "data" / "tracking.duckdb"
SECRETS_FILE = ROOT / ".streamlit" / "secrets.toml"


class ConfigError(Exception):
    """Configuration is missing or wrong; the message says what to fix."""


@dataclass(frozen=True)
class XeroConfig:
    client_id: str
    client_secret: str
    tenant_id: str = ""
    api_url: str | None = None
    identity_url: str | None = None

    def __repr__(self) -> str:  # never show the secret, not even in a traceback
        return f"XeroConfig(client_id={self.client_id!r}, client_secret='***', tenant_id={self.tenant_id!r})"


def db_path() -> Path:
    return Path(os.environ.get("TRACKING_DB") or DEFAULT_DB)


def _secrets_section(name: str) -> dict:
    if not SECRETS_FILE.exists():
        return {}
    try:
        with SECRETS_FILE.open("rb") as f:
            return tomllib.load(f).get(name, {}) or {}
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{SECRETS_FILE} is not valid TOML: {e}") from None


def xero_config() -> XeroConfig | None:
    """The Xero connection to use, or None when no credentials are configured (demo mode)."""
    section = _secrets_section("xero")

    def value(key: str) -> str:
        return os.environ.get(f"XERO_{key.upper()}") or str(section.get(key, "") or "")

    client_id, client_secret = value("client_id"), value("client_secret")
    if not client_id and not client_secret:
        return None
    if not client_id or not client_secret:
        raise ConfigError("Set both XERO_CLIENT_ID and XERO_CLIENT_SECRET (or [xero] client_id and client_secret "
                          "in .streamlit/secrets.toml); only one of them is set.")
    return XeroConfig(client_id, client_secret, value("tenant_id"),
                      value("api_url") or None, value("identity_url") or None)
