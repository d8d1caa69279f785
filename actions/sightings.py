"""What a fix's look saw in a cache no running pod sees, kept briefly for the plan that follows.

A full volume whose only pods do not run can only be looked at through a helper pod, and
planning never starts one. So a fix there goes in two steps: a confirmed look (the helper pod
comes, lists the cache, goes), then the eviction planned from what it saw. The listing is kept
here between the two, keyed by the claim and cache root, for ``KEEP_SECONDS``: older, it no
longer says what the cache holds, and the fix looks again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from actions.options import CacheFacts

KEEP_SECONDS = 120.0
MAX_KEPT = 100


class CacheSightings:
    """Thread-safe, bounded map of (namespace, claim, cache root) to the latest look's listing."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str, str], CacheFacts] = {}
        self._clock = clock

    def put(self, namespace: str, claim: str, facts: CacheFacts) -> None:
        key = (namespace, claim, facts.root)
        with self._lock:
            self._seen.pop(key, None)
            self._seen[key] = facts
            while len(self._seen) > MAX_KEPT:
                self._seen.pop(next(iter(self._seen)))

    def get(self, namespace: str, claim: str, root: str) -> CacheFacts | None:
        """The listing of a look younger than ``KEEP_SECONDS``, else None."""
        with self._lock:
            seen = self._seen.get((namespace, claim, root))
        return seen if seen is not None and self._clock() - seen.read_at <= KEEP_SECONDS else None

    def forget(self, namespace: str) -> None:
        """Files were removed in ``namespace``: what was seen there no longer holds."""
        with self._lock:
            for key in [k for k in self._seen if k[0] == namespace]:
                del self._seen[key]
