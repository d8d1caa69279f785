"""Verification results kept after a verify ran, so the dashboard shows them with the pod.

Collectors cannot import actions, so the results are merged into snapshots here, on the way up
to the UI (``apply``); keyed by pod uid, so a replacement pod starts unverified.
"""

from __future__ import annotations

import dataclasses
import threading

from collectors.model import ClusterSnapshot, VerificationResult

MAX_KEPT = 1000


class VerificationStore:
    """Thread-safe, bounded map of pod uid to its latest ``VerificationResult``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_uid: dict[str, VerificationResult] = {}

    def put(self, pod_uid: str, result: VerificationResult) -> None:
        with self._lock:
            self._by_uid.pop(pod_uid, None)
            self._by_uid[pod_uid] = result
            while len(self._by_uid) > MAX_KEPT:
                self._by_uid.pop(next(iter(self._by_uid)))

    def get(self, pod_uid: str) -> VerificationResult | None:
        with self._lock:
            return self._by_uid.get(pod_uid)

    def apply(self, snapshot: ClusterSnapshot) -> ClusterSnapshot:
        """The snapshot with each verified pod's ``verification`` filled in."""
        with self._lock:
            known = dict(self._by_uid)
        if not known or not any(p.uid in known for p in snapshot.pods):
            return snapshot
        pods = tuple(
            dataclasses.replace(p, verification=known[p.uid]) if p.uid in known else p
            for p in snapshot.pods
        )
        return dataclasses.replace(snapshot, pods=pods)
