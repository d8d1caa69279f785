"""Timestamps as the progress lines and the manifest write them: RFC 3339, UTC, milliseconds."""

from __future__ import annotations

import time
from datetime import datetime, timezone


def rfc3339(ts: float | None = None) -> str:
    """``2026-11-27T10:00:00.123Z`` for ``ts`` (default: now)."""
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch for a timestamp written by `rfc3339` (0.0 when unreadable)."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return 0.0
