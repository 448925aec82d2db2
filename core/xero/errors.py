"""What can go wrong talking to Xero: every message is written for people (core/ui.py shows it as it is)."""
from datetime import datetime


class XeroError(Exception):
    """Talking to Xero failed; the message says what happened in plain words."""


class XeroAuthError(XeroError):
    """Xero refused the credentials or the token."""


class NotConnected(XeroAuthError):
    """No organisation has been connected with "Connect to Xero" (or none chosen yet)."""


class ReconnectNeeded(XeroAuthError):
    """The saved connection no longer works (refresh token refused or too old): connect again."""


class XeroUnavailable(XeroError):
    """Xero could not be reached, or kept failing after the retries."""


class DayLimitReached(XeroError):
    """The organisation's daily API allowance is used up; `retry_at` says when it comes back."""

    def __init__(self, message: str, retry_at: datetime):
        super().__init__(message)
        self.retry_at = retry_at


class XeroBadResponse(XeroError):
    """Xero answered with something that is not the JSON we expect."""
