"""How long to wait before the next attempt: exponential backoff with jitter, or Retry-After."""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime

BASE_DELAY = 0.5
MAX_DELAY = 30.0
MAX_RETRY_AFTER = 600.0


def backoff_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt ``attempt`` (2, 3, ...). A server's Retry-After wins."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_RETRY_AFTER)
    ceiling = min(MAX_DELAY, BASE_DELAY * (2 ** max(0, attempt - 2)))
    # "Equal jitter": at least half the ceiling, so retries never bunch up at zero.
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date; None when absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, when - (time.time() if now is None else now))
