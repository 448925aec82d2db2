"""When a call to Xero is tried again, and after how long: one policy for every request the gateway makes.

A 429 for the minute limit waits what Retry-After says (60 s when it says nothing readable) and goes on, at
most `rate_limit_waits` times on one call; 5xx answers, timeouts and dropped connections are tried `attempts`
times in all, waiting `base_delay` seconds, doubled after each failure (never more than `max_delay`).
The day limit, a 401 and every other 4xx are not retried here (docs/xero-behaviours.md).
"""
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

TRIES = 4  # for 5xx and timeouts
RETRY_AFTER_SECONDS = 60.0  # a 429 whose Retry-After is missing or unreadable


@dataclass(frozen=True)
class RetryPolicy:
    """The limits and waits of every retry; tests give their own `sleep` to see the waits without taking them."""
    attempts: int = TRIES
    base_delay: float = 1  # doubled after each failed try
    max_delay: float = 60
    rate_limit_waits: int = 10  # minute-limit 429s waited out on one call before giving up
    sleep: Callable[[float], None] = time.sleep

    def wait(self, failures: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait after the `failures`-th failure of its kind on one call, or None to give up.

        `retry_after` is the wait a minute-limit 429 asked for (those are counted apart); without it the
        failure was a 5xx or a timeout, and the wait grows with each."""
        if retry_after is not None:
            return retry_after if failures <= self.rate_limit_waits else None
        if failures >= self.attempts:
            return None
        return min(self.max_delay, self.base_delay * 2 ** (failures - 1))


def retry_after(headers: Mapping[str, str]) -> float:
    """The seconds a 429's Retry-After header asks for."""
    try:
        return max(0.0, float(headers.get("Retry-After", RETRY_AFTER_SECONDS)))
    except ValueError:
        return RETRY_AFTER_SECONDS
