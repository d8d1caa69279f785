"""Kubernetes Events (core/v1) recorded by the simulated controllers and kubelets.

A repeat of the same event on the same object bumps `count` and `lastTimestamp` instead of
adding an object, as the client-go event correlator does, so a crash loop does not flood the
store; each namespace keeps at most `MAX_EVENTS_PER_NAMESPACE` (oldest dropped first), as
real clusters expire events after an hour.
"""

from __future__ import annotations

import contextlib
import logging
import time
import weakref
from collections import OrderedDict
from typing import Any

from simcluster.errors import ApiError
from simcluster.store import Store, now_rfc3339

log = logging.getLogger(__name__)

MAX_EVENTS_PER_NAMESPACE = 1000

_Key = tuple[str, str, str, str, str, str]
# Per store: aggregation key -> (namespace, event name), in creation order per namespace.
_INDEX: weakref.WeakKeyDictionary[Store, dict[str, OrderedDict[_Key, str]]] = (
    weakref.WeakKeyDictionary()
)


def involved_ref(obj: dict[str, Any], field_path: str | None = None) -> dict[str, Any]:
    """The `involvedObject` reference for an object (pod, job, pvc, node, ...)."""
    meta = obj.get("metadata") or {}
    ref: dict[str, Any] = {
        "kind": obj.get("kind", ""),
        "name": meta.get("name", ""),
        "uid": meta.get("uid", ""),
        "apiVersion": obj.get("apiVersion", "v1"),
        "resourceVersion": meta.get("resourceVersion", ""),
    }
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    if field_path:
        ref["fieldPath"] = field_path
    return ref


def record_event(
    store: Store,
    involved: dict[str, Any],
    reason: str,
    message: str,
    type: str = "Normal",
    component: str = "kubelet",
    field_path: str | None = None,
    host: str | None = None,
) -> dict[str, Any]:
    """Record (or aggregate into) an Event about `involved` and return it.

    `involved` is the object itself or an already built involvedObject reference.
    """
    ref = involved_ref(involved, field_path) if "metadata" in involved else dict(involved)
    if field_path and "fieldPath" not in ref:
        ref["fieldPath"] = field_path
    namespace = ref.get("namespace") or "default"
    key: _Key = (
        str(ref.get("uid", "")),
        reason,
        message,
        type,
        component,
        str(ref.get("fieldPath", "")),
    )
    per_ns = _INDEX.setdefault(store, {}).setdefault(namespace, OrderedDict())
    now = now_rfc3339()
    existing = per_ns.get(key)
    if existing is not None and store.peek("events", namespace, existing) is not None:

        def bump(ev: dict[str, Any]) -> None:
            ev["count"] = int(ev.get("count", 1)) + 1
            ev["lastTimestamp"] = now

        per_ns.move_to_end(key)
        return store.mutate("events", namespace, existing, bump)
    source: dict[str, Any] = {"component": component}
    if host:
        source["host"] = host
    event = {
        "metadata": {
            "name": f"{ref.get('name', 'unknown')}.{time.time_ns():x}",
            "namespace": namespace,
        },
        "involvedObject": ref,
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": type,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": host or "",
    }
    try:
        created = store.create("events", event)
    except ApiError as exc:  # e.g. the namespace is being deleted: lose the event, not the caller
        log.debug("event %s on %s not recorded: %s", reason, ref.get("name"), exc.message)
        return event
    per_ns[key] = created["metadata"]["name"]
    while len(per_ns) > MAX_EVENTS_PER_NAMESPACE:
        _, oldest = per_ns.popitem(last=False)
        with contextlib.suppress(ApiError):
            store.remove("events", namespace, oldest)
    return created
