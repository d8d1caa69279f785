"""When the terminal bell rings: for news on-call may have looked away from.

The dashboard runs in one window while on-call reads a runbook or a chat in another. The bell
rings when the cluster turns bad or the API is lost after it was fine (never for the first
view: whoever opened it knows why), at most once a ``pause``; and when an action that ran a
while ends (a fix followed until the pods are Ready takes minutes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TROUBLE_PAUSE = 60.0  # seconds: one ring for a burst of new trouble, not one per pod
LONG_ACTION = 5.0  # seconds: an action that ran this long is news when it ends
TROUBLE_LEVELS = frozenset({"bad", "stale"})  # health levels that need on-call


@dataclass
class TroubleBell:
    pause: float = TROUBLE_PAUSE
    _troubled: bool | None = None  # None until the first view
    _rung_at: float = -math.inf

    def should_ring(self, level: str, now: float) -> bool:
        """Whether the health ``level`` just seen (at monotonic ``now``) is news to ring for."""
        troubled = level in TROUBLE_LEVELS
        ring = troubled and self._troubled is False and now - self._rung_at >= self.pause
        if level != "unknown":  # no data says nothing either way
            self._troubled = troubled
        if ring:
            self._rung_at = now
        return ring


def action_ended_is_news(seconds: float, dry_run: bool) -> bool:
    """A real action that ran long enough for on-call to look elsewhere."""
    return not dry_run and seconds >= LONG_ACTION
