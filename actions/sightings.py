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
from dataclasses import dataclass

from actions.options import CacheFacts

KEEP_SECONDS = 120.0
MAX_KEPT = 100


@dataclass(frozen=True)
class Sighting:
    facts: CacheFacts
    pod: str  # the pod the fix was for
    evidence: str  # what the look was confirmed on (the pod's words of running out of room)


class CacheSightings:
    """Thread-safe, bounded map of (namespace, claim, cache root) to the latest look's listing."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str, str], Sighting] = {}
        self._clock = clock

    def put(
        self, namespace: str, claim: str, facts: CacheFacts, pod: str = "", evidence: str = ""
    ) -> None:
        key = (namespace, claim, facts.root)
        with self._lock:
            self._seen.pop(key, None)
            self._seen[key] = Sighting(facts, pod, evidence)
            while len(self._seen) > MAX_KEPT:
                self._seen.pop(next(iter(self._seen)))

    def get(self, namespace: str, claim: str, root: str) -> CacheFacts | None:
        """The listing of a look younger than ``KEEP_SECONDS``, else None."""
        with self._lock:
            seen = self._seen.get((namespace, claim, root))
        return seen.facts if seen is not None and self._fresh(seen) else None

    def evidence_for(self, namespace: str, pod: str) -> str | None:
        """What a fresh look for ``pod`` was confirmed on: a pod whose init container is
        trying again shows no fault for a moment, yet it is the same full volume."""
        with self._lock:
            found = [s for k, s in self._seen.items() if k[0] == namespace and s.pod == pod]
        return next((s.evidence for s in reversed(found) if s.evidence and self._fresh(s)), None)

    def _fresh(self, seen: Sighting) -> bool:
        return self._clock() - seen.facts.read_at <= KEEP_SECONDS

    def forget(self, namespace: str) -> None:
        """Files were removed in ``namespace``: what was seen there no longer holds."""
        with self._lock:
            for key in [k for k in self._seen if k[0] == namespace]:
                del self._seen[key]
