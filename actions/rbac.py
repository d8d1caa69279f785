"""Permissions: SelfSubjectAccessReview for each Permission an action needs.

A forbidden action is shown as forbidden with what is missing ("needs delete pods in
smallest"), never offered and then failed. Answers are cached briefly: RBAC rarely changes
while the dashboard runs, and each review is a request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from actions.context import ActionFailed
from actions.kube import KubeGateway
from actions.plan import Permission

CACHE_SECONDS = 60.0


class AccessChecker:
    def __init__(self, kube: KubeGateway, ttl: float = CACHE_SECONDS) -> None:
        self.kube = kube
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[Permission, tuple[float, bool, str]] = {}

    def allowed(self, perm: Permission) -> tuple[bool, str]:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(perm)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1], hit[2]
        ok, reason = self.kube.access_review(
            perm.verb, perm.resource, perm.namespace, perm.group, perm.subresource
        )
        with self._lock:
            self._cache[perm] = (now, ok, reason)
        return ok, reason

    def missing(self, perms: Iterable[Permission]) -> list[Permission]:
        """The permissions the current user lacks (a failed review counts as missing)."""
        lacking = []
        for perm in dict.fromkeys(perms):
            try:
                ok, _ = self.allowed(perm)
            except ActionFailed:
                ok = False
            if not ok:
                lacking.append(perm)
        return lacking


def forbidden_reason(missing: list[Permission]) -> str | None:
    """'needs delete pods in smallest, create pods/exec in smallest' or None when nothing lacks."""
    if not missing:
        return None
    return "needs " + ", ".join(p.describe() for p in missing)
