"""The ResourceQuota controller: keeps each quota's `status.hard` (a copy of spec.hard) and
`status.used` (what the namespace's pods are charged, see simcluster.quota) current.

Event-driven, no polling: a quota is recomputed when it changes and when a pod of its
namespace comes, goes, or turns terminal (Succeeded/Failed pods stop counting). Pod events in
namespaces without a quota cost one dict lookup, so big scenarios without quotas do not pay.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from simcluster.controllers.base import Controller, Key
from simcluster.quota import namespace_usage, quota_status, terminal
from simcluster.store import ADDED, DELETED, Store, WatchEvent


class ResourceQuotaController(Controller):
    name = "resourcequota"
    plural = "resourcequotas"

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self._by_namespace: dict[str, set[str]] = {}  # namespace -> quota names

    def start(self) -> None:
        for q in self.store.list("resourcequotas", copy=False)[0]:
            meta = q["metadata"]
            self._by_namespace.setdefault(meta["namespace"], set()).add(meta["name"])
        super().start()

    def keys_for(self, plural: str, ev: WatchEvent) -> Iterable[Key]:
        meta = ev.object["metadata"]
        ns = meta.get("namespace", "")
        if plural == "resourcequotas":
            names = self._by_namespace.setdefault(ns, set())
            if ev.type == DELETED:
                names.discard(meta["name"])
                if not names:
                    del self._by_namespace[ns]
                return ()
            names.add(meta["name"])
            return [(ns, meta["name"])]
        if plural != "pods" or ns not in self._by_namespace:
            return ()
        if ev.type in (ADDED, DELETED) or (
            ev.old is not None and terminal(ev.old) != terminal(ev.object)
        ):
            return [(ns, name) for name in sorted(self._by_namespace[ns])]
        return ()

    def reconcile(self, key: Key) -> float | None:
        quota = self.store.peek("resourcequotas", key[0], key[1])
        if quota is None:
            return None
        pods = self.store.list("pods", key[0], copy=False)[0]
        status = quota_status(quota, namespace_usage(pods))

        def write(o: dict[str, Any]) -> None:
            o["status"] = status

        self.store.mutate("resourcequotas", key[0], key[1], write)
        return None
