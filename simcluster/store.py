"""The simulator's etcd: objects by resource, one resourceVersion counter, watch history.

Everything runs on one asyncio loop and every method here is synchronous, so a list followed
by a subscribe in the same step sees no change slip between them, as a watch from a list's
resourceVersion must. Stored objects are never edited in place: each change stores a new
dict, so watch events and history can share them without copying (treat them as read-only).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import logging
import random
import re
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import Any

from simcluster import errors
from simcluster.errors import ApiError
from simcluster.resources import RESOURCES, STORED_PLURALS, ResourceType
from simcluster.selectors import (
    FieldSelector,
    LabelSelector,
    parse_field_selector,
    parse_label_selector,
    valid_label_key,
    valid_label_value,
)

log = logging.getLogger(__name__)

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"
DEFAULT_HISTORY = 10_000
DEFAULT_QUEUE = 20_000
_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# Top-level sections whose change bumps metadata.generation (status never does).
_STATUS_KEYS = frozenset({"metadata", "status", "kind", "apiVersion"})
# Kinds that carry metadata.generation (bumped when anything but metadata/status changes).
_GENERATION = frozenset({"deployments", "replicasets", "jobs", "cronjobs"})


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def deep_copy(obj: Any) -> Any:
    """A private copy of a JSON-shaped value (faster than copy.deepcopy for plain dicts)."""
    if isinstance(obj, dict):
        return {k: deep_copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [deep_copy(v) for v in obj]
    return obj


def random_suffix(n: int = 5) -> str:
    return "".join(random.choice(_SUFFIX_CHARS) for _ in range(n))


@dataclass(frozen=True)
class WatchEvent:
    """One change: `object` is the stored state after it (for DELETED, the last state with
    the deletion's resourceVersion); `old` the state before (None for ADDED). Both shared:
    do not mutate them."""

    type: str
    object: dict[str, Any]
    rv: int
    old: dict[str, Any] | None = None
    plural: str = ""

    @cached_property
    def line(self) -> bytes:
        """The event as one watch-stream line, serialised once for every watcher."""
        return (
            json.dumps({"type": self.type, "object": self.object}, separators=(",", ":")).encode()
            + b"\n"
        )


class Subscription:
    """An async iterator of WatchEvents for one resource (and namespace).

    A subscriber that falls `maxsize` events behind is closed (its iteration ends), as
    kube-apiserver closes slow watchers; clients resume from their last resourceVersion.
    """

    def __init__(self, store: Store, plural: str, namespace: str | None, maxsize: int) -> None:
        self._store = store
        self.plural = plural
        self.namespace = namespace
        self._queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue()
        self._maxsize = maxsize
        self.closed = False
        self.overflowed = False

    def _push(self, event: WatchEvent) -> None:
        if self.closed:
            return
        if self._queue.qsize() >= self._maxsize:
            self.overflowed = True
            self.close()
            return
        self._queue.put_nowait(event)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(None)
            self._store._unsubscribe(self)

    def pending(self) -> int:
        return self._queue.qsize()

    def get_nowait(self) -> WatchEvent | None:
        """The next queued event, or None when none is queued (or the watch closed)."""
        try:
            ev = self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None
        if ev is None:
            self._queue.put_nowait(None)  # keep the end marker for __anext__
        return ev

    def __aiter__(self) -> AsyncIterator[WatchEvent]:
        return self

    async def __anext__(self) -> WatchEvent:
        ev = await self._queue.get()
        if ev is None:
            self._queue.put_nowait(None)
            raise StopAsyncIteration
        return ev

    async def next(self, timeout: float | None) -> WatchEvent | None:
        """The next event, None on timeout; raises StopAsyncIteration once closed."""
        try:
            return await asyncio.wait_for(self.__anext__(), timeout)
        except asyncio.TimeoutError:
            return None


Listener = Callable[[str, WatchEvent], None]
# admission(plural, new, old): fills defaults into `new` in place, raises ApiError to refuse.
Admission = Callable[[str, dict[str, Any], "dict[str, Any] | None"], None]
# validator(store, plural, new): a validating admission plugin on creates (ResourceQuota): sees
# the defaulted object with its generated name, reads the store, raises ApiError to refuse.
Validator = Callable[["Store", str, dict[str, Any]], None]
# update_validator(store, plural, new, old): the same on updates (PersistentVolumeClaimResize):
# runs after defaulting and validation, as kube-apiserver's validating admission does.
UpdateValidator = Callable[["Store", str, dict[str, Any], dict[str, Any]], None]


@dataclass
class _Table:
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


class Store:
    """All objects of the simulated cluster, keyed by (plural, namespace, name)."""

    def __init__(
        self,
        history: int = DEFAULT_HISTORY,
        watch_queue: int = DEFAULT_QUEUE,
        admission: Admission | None = None,
    ) -> None:
        self._admission = admission
        self._tables: dict[str, _Table] = {p: _Table() for p in STORED_PLURALS}
        self._rv = 1
        self._history: deque[WatchEvent] = deque(maxlen=max(1, history))
        self._compacted_rv = 0  # rv of the newest event dropped from history
        self._subs: dict[str, set[Subscription]] = {p: set() for p in STORED_PLURALS}
        self._listeners: list[Listener] = []
        self._validators: list[Validator] = []
        self._update_validators: list[UpdateValidator] = []
        self._watch_queue = watch_queue

    # -- reading -------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def oldest_rv(self) -> int:
        """The oldest resourceVersion a watch may still start from."""
        return self._compacted_rv

    def _table(self, plural: str) -> _Table:
        try:
            return self._tables[plural]
        except KeyError:
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            ) from None

    def _key(self, rtype: ResourceType, namespace: str | None, name: str) -> tuple[str, str]:
        return ((namespace or "") if rtype.namespaced else "", name)

    def peek(self, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The stored object itself (shared, read-only) or None: for hot read paths."""
        rtype = RESOURCES[plural]
        return self._table(plural).objects.get(self._key(rtype, namespace, name))

    def get(self, plural: str, namespace: str | None, name: str) -> dict[str, Any]:
        return deep_copy(self._stored(plural, namespace, name)[2])

    def _stored(
        self, plural: str, namespace: str | None, name: str
    ) -> tuple[ResourceType, tuple[str, str], dict[str, Any]]:
        """The stored object (shared) with its type and key, or the API's 404."""
        rtype = RESOURCES[plural]
        key = self._key(rtype, namespace, name)
        obj = self._table(plural).objects.get(key)
        if obj is None:
            raise errors.not_found(plural, name, rtype.group)
        return rtype, key, obj

    def list(
        self,
        plural: str,
        namespace: str | None = None,
        label_selector: str | LabelSelector | None = None,
        field_selector: str | FieldSelector | None = None,
        copy: bool = True,
    ) -> tuple[builtins.list[dict[str, Any]], int]:
        """Matching objects sorted by namespace and name, and the store's resourceVersion.

        With copy=False the stored dicts are returned (read-only), for serialising lists fast.
        """
        table = self._table(plural)
        labels = (
            label_selector
            if isinstance(label_selector, LabelSelector)
            else parse_label_selector(label_selector)
        )
        fields = (
            field_selector
            if isinstance(field_selector, FieldSelector)
            else parse_field_selector(field_selector, plural)
        )
        rtype = RESOURCES[plural]
        name = fields.value_of("metadata.name")
        if name is not None:
            candidates: Iterable[dict[str, Any]]
            if rtype.namespaced and namespace:
                one = table.objects.get((namespace, name))
                candidates = [one] if one is not None else []
            else:
                candidates = [o for (_, n), o in table.objects.items() if n == name]
        else:
            candidates = table.objects.values()
        out = []
        for obj in candidates:
            meta = obj["metadata"]
            if namespace and rtype.namespaced and meta.get("namespace") != namespace:
                continue
            if not labels.empty and not labels.matches(meta.get("labels")):
                continue
            if not fields.empty and not fields.matches(obj):
                continue
            out.append(obj)
        out.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        if copy:
            out = [deep_copy(o) for o in out]
        return out, self._rv

    def owned_by(
        self, plural: str, owner_uid: str, namespace: str | None = None
    ) -> builtins.list[dict[str, Any]]:
        """Stored objects (read-only) with an ownerReference to `owner_uid`."""
        out = []
        for obj in self._table(plural).objects.values():
            if namespace and obj["metadata"].get("namespace") != namespace:
                continue
            for ref in obj["metadata"].get("ownerReferences") or ():
                if ref.get("uid") == owner_uid:
                    out.append(obj)
                    break
        return out

    # -- writing -------------------------------------------------------------------------

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _validate_meta(self, rtype: ResourceType, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata")
        name = meta.get("name", "") if isinstance(meta, dict) else ""
        causes: list[tuple[str, str, str]] = []
        if not isinstance(meta, dict):
            causes.append(("metadata", "FieldValueRequired", "Required value"))
        else:
            if not name:
                causes.append(
                    (
                        "metadata.name",
                        "FieldValueRequired",
                        "Required value: name or generateName is required",
                    )
                )
            elif not isinstance(name, str) or len(name) > 253 or not _NAME_RE.match(name):
                causes.append(
                    (
                        "metadata.name",
                        "FieldValueInvalid",
                        f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist '
                        "of lower case alphanumeric characters, '-' or '.', and must start and "
                        "end with an alphanumeric character",
                    )
                )
            labels = meta.get("labels") or {}
            if not isinstance(labels, dict):
                causes.append(
                    ("metadata.labels", "FieldValueInvalid", "Invalid value: must be a map")
                )
            else:
                for k, v in labels.items():
                    if not valid_label_key(str(k)):
                        causes.append(
                            (
                                "metadata.labels",
                                "FieldValueInvalid",
                                f'Invalid value: "{k}": name part must consist of '
                                "alphanumeric characters, '-', '_' or '.'",
                            )
                        )
                    elif not isinstance(v, str) or not valid_label_value(v):
                        causes.append(
                            (
                                "metadata.labels",
                                "FieldValueInvalid",
                                f'Invalid value: "{v}": a valid label must be an empty '
                                "string or consist of alphanumeric characters, '-', '_' or '.'",
                            )
                        )
            ann = meta.get("annotations") or {}
            if not isinstance(ann, dict) or not all(isinstance(v, str) for v in ann.values()):
                causes.append(
                    (
                        "metadata.annotations",
                        "FieldValueInvalid",
                        "Invalid value: values must be strings",
                    )
                )
        if causes:
            raise errors.invalid(rtype.kind, str(name or ""), causes, rtype.group)

    def create(self, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Store a new object; sets uid, creationTimestamp, resourceVersion and generation."""
        rtype = RESOURCES[plural]
        table = self._table(plural)
        obj = deep_copy(obj)
        meta = obj.get("metadata")
        if isinstance(meta, dict) and not meta.get("name") and meta.get("generateName"):
            base = str(meta["generateName"])
            for _ in range(20):
                candidate = base + random_suffix()
                if self._key(rtype, meta.get("namespace"), candidate) not in table.objects:
                    meta["name"] = candidate
                    break
        self._validate_meta(rtype, obj)
        meta = obj["metadata"]
        if rtype.namespaced:
            ns = meta.get("namespace") or ""
            if not ns:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            nsobj = self.peek("namespaces", None, ns)
            if nsobj is None:
                raise errors.not_found("namespaces", ns)
            if nsobj["metadata"].get("deletionTimestamp"):
                raise errors.ApiError(
                    403,
                    "Forbidden",
                    f'{rtype.group_resource} "{meta["name"]}" is forbidden: unable to create new '
                    f"content in namespace {ns} because it is being terminated",
                )
        else:
            meta.pop("namespace", None)
        key = self._key(rtype, meta.get("namespace"), meta["name"])
        if key in table.objects:
            raise errors.already_exists(plural, meta["name"], rtype.group)
        obj["kind"] = rtype.kind
        obj["apiVersion"] = rtype.api_version
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta.pop("deletionTimestamp", None)
        meta.pop("deletionGracePeriodSeconds", None)
        meta.pop("resourceVersion", None)
        if self._admission is not None:
            self._admission(plural, obj, None)
        for validate in self._validators:
            validate(self, plural, obj)
        if plural in _GENERATION:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        rv = self._next_rv()
        meta["resourceVersion"] = str(rv)
        table.objects[key] = obj
        self._emit(plural, WatchEvent(ADDED, obj, rv, None, plural))
        return deep_copy(obj)

    def update(self, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Replace an object; a stale metadata.resourceVersion is a 409 Conflict."""
        rtype = RESOURCES[plural]
        self._table(plural)  # an unknown resource is a 404 before the object is looked at
        new = deep_copy(obj)
        self._validate_meta(rtype, new)
        meta = new["metadata"]
        _, key, old = self._stored(plural, meta.get("namespace"), meta["name"])
        want_rv = meta.get("resourceVersion")
        if want_rv and str(want_rv) != old["metadata"]["resourceVersion"]:
            raise errors.conflict(plural, meta["name"], rtype.group)
        if self._admission is not None:
            self._admission(plural, new, old)
        for validate in self._update_validators:
            validate(self, plural, new, old)
        return self._replace(plural, rtype, key, old, new)

    def mutate(
        self, plural: str, namespace: str | None, name: str, fn: Callable[[dict[str, Any]], Any]
    ) -> dict[str, Any]:
        """Edit a copy with `fn(obj)` and store it; emits MODIFIED only if something changed."""
        rtype, key, old = self._stored(plural, namespace, name)
        new = deep_copy(old)
        fn(new)
        if new == old:
            return deep_copy(old)
        return self._replace(plural, rtype, key, old, new)

    def _replace(
        self,
        plural: str,
        rtype: ResourceType,
        key: tuple[str, str],
        old: dict[str, Any],
        new: dict[str, Any],
    ) -> dict[str, Any]:
        meta, old_meta = new.setdefault("metadata", {}), old["metadata"]
        # Identity fields are the server's, whatever the writer sent.
        for k in (
            "uid",
            "creationTimestamp",
            "name",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ):
            if k in old_meta:
                meta[k] = old_meta[k]
            else:
                meta.pop(k, None)
        if rtype.namespaced:
            meta["namespace"] = old_meta["namespace"]
        new["kind"], new["apiVersion"] = rtype.kind, rtype.api_version
        if "generation" in old_meta:
            gen = old_meta["generation"]
            if any(new.get(k) != old.get(k) for k in set(new) | set(old) if k not in _STATUS_KEYS):
                gen += 1
            meta["generation"] = gen
        meta["resourceVersion"] = old_meta["resourceVersion"]
        if new == old:
            return deep_copy(old)
        rv = self._next_rv()
        meta["resourceVersion"] = str(rv)
        self._table(plural).objects[key] = new
        self._emit(plural, WatchEvent(MODIFIED, new, rv, old, plural))
        if old_meta.get("deletionTimestamp") and not meta.get("finalizers") and plural != "pods":
            self._remove_key(plural, rtype, key)
        return deep_copy(new)

    def delete(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        propagation: str = "Background",
        grace: bool = True,
        grace_seconds: int | None = None,
    ) -> dict[str, Any]:
        """Delete an object and, unless `Orphan`, its dependents (by ownerReferences).

        A pod bound to a node (grace=True) only gets metadata.deletionTimestamp: its kubelet
        stops the containers and then calls `remove`. Objects with finalizers wait for them.
        """
        rtype, key, obj = self._stored(plural, namespace, name)
        if propagation not in ("Background", "Foreground", "Orphan"):
            raise errors.bad_request(f'unsupported propagationPolicy "{propagation}"')
        uid, ns = obj["metadata"]["uid"], obj["metadata"].get("namespace")
        if propagation == "Orphan":
            self._orphan(uid, ns)
        elif propagation == "Foreground":
            self._cascade(uid, ns)
        if plural == "namespaces":
            return self._delete_namespace(name)
        result = self._delete_self(plural, rtype, key, obj, grace, grace_seconds)
        if propagation == "Background":
            self._cascade(uid, ns)
        return result

    def _delete_self(
        self,
        plural: str,
        rtype: ResourceType,
        key: tuple[str, str],
        obj: dict[str, Any],
        grace: bool,
        grace_seconds: int | None,
    ) -> dict[str, Any]:
        graceful_pod = plural == "pods" and grace and bool((obj.get("spec") or {}).get("nodeName"))
        if graceful_pod or obj["metadata"].get("finalizers"):
            if obj["metadata"].get("deletionTimestamp"):
                return deep_copy(obj)
            if grace_seconds is None:
                grace_seconds = int(
                    (obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
                )

            def mark(o: dict[str, Any]) -> None:
                o["metadata"]["deletionTimestamp"] = now_rfc3339()
                o["metadata"]["deletionGracePeriodSeconds"] = grace_seconds

            return self._mark(plural, rtype, key, obj, mark)
        return self._remove_key(plural, rtype, key)

    def _mark(
        self,
        plural: str,
        rtype: ResourceType,
        key: tuple[str, str],
        old: dict[str, Any],
        fn: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        new = deep_copy(old)
        fn(new)
        rv = self._next_rv()
        new["metadata"]["resourceVersion"] = str(rv)
        self._table(plural).objects[key] = new
        self._emit(plural, WatchEvent(MODIFIED, new, rv, old, plural))
        return deep_copy(new)

    def _delete_namespace(self, name: str) -> dict[str, Any]:
        rtype = RESOURCES["namespaces"]
        key = ("", name)
        obj = self._table("namespaces").objects[key]
        if not obj["metadata"].get("deletionTimestamp"):

            def mark(o: dict[str, Any]) -> None:
                o["metadata"]["deletionTimestamp"] = now_rfc3339()
                o.setdefault("status", {})["phase"] = "Terminating"

            obj = self._table("namespaces").objects[key]
            self._mark("namespaces", rtype, key, obj, mark)
        for plural in STORED_PLURALS:
            if not RESOURCES[plural].namespaced:
                continue
            for o in [o for (ns, _), o in self._table(plural).objects.items() if ns == name]:
                m = o["metadata"]
                if m.get("deletionTimestamp"):
                    continue
                with contextlib.suppress(ApiError):
                    self.delete(plural, name, m["name"], "Background")
        finished = self._maybe_finish_namespace(name)
        current = self._table("namespaces").objects.get(key)
        if current is None:  # emptied while deleting its contents
            return finished or deep_copy(obj)
        return deep_copy(current)

    def _maybe_finish_namespace(self, name: str) -> dict[str, Any] | None:
        nsobj = self._table("namespaces").objects.get(("", name))
        if nsobj is None or not nsobj["metadata"].get("deletionTimestamp"):
            return None
        for plural in STORED_PLURALS:
            if RESOURCES[plural].namespaced and any(
                ns == name for ns, _ in self._table(plural).objects
            ):
                return None
        return self._remove_key("namespaces", RESOURCES["namespaces"], ("", name))

    def _cascade(self, owner_uid: str, namespace: str | None) -> None:
        for plural in STORED_PLURALS:
            for child in self.owned_by(
                plural, owner_uid, namespace if RESOURCES[plural].namespaced else None
            ):
                if child["metadata"].get("deletionTimestamp"):
                    continue
                with contextlib.suppress(ApiError):
                    self.delete(
                        plural,
                        child["metadata"].get("namespace"),
                        child["metadata"]["name"],
                        "Background",
                    )

    def _orphan(self, owner_uid: str, namespace: str | None) -> None:
        for plural in STORED_PLURALS:
            for child in self.owned_by(plural, owner_uid, namespace):

                def strip(o: dict[str, Any]) -> None:
                    refs = [
                        r
                        for r in o["metadata"].get("ownerReferences") or ()
                        if r.get("uid") != owner_uid
                    ]
                    if refs:
                        o["metadata"]["ownerReferences"] = refs
                    else:
                        o["metadata"].pop("ownerReferences", None)

                self.mutate(
                    plural, child["metadata"].get("namespace"), child["metadata"]["name"], strip
                )

    def remove(self, plural: str, namespace: str | None, name: str) -> dict[str, Any]:
        """Remove at once (the kubelet's last step of a graceful pod delete); emits DELETED."""
        rtype, key, _ = self._stored(plural, namespace, name)
        return self._remove_key(plural, rtype, key)

    def _remove_key(self, plural: str, rtype: ResourceType, key: tuple[str, str]) -> dict[str, Any]:
        old = self._table(plural).objects.pop(key)
        rv = self._next_rv()
        final = dict(old)
        final["metadata"] = dict(old["metadata"], resourceVersion=str(rv))
        self._emit(plural, WatchEvent(DELETED, final, rv, old, plural))
        if rtype.namespaced and key[0]:
            self._maybe_finish_namespace(key[0])
        return deep_copy(final)

    # -- watching ------------------------------------------------------------------------

    def subscribe(
        self, plural: str, namespace: str | None = None, since_rv: int | None = None
    ) -> Subscription:
        """Events after `since_rv` (replayed from history) and every later one.

        A `since_rv` older than the bounded history raises ApiError 410 Expired.
        """
        self._table(plural)
        if since_rv is not None and since_rv < self._compacted_rv:
            raise errors.expired(since_rv, self._compacted_rv)
        sub = Subscription(self, plural, namespace, self._watch_queue)
        if since_rv is not None and since_rv < self._rv:
            for ev in self._history:
                if ev.rv > since_rv and ev.plural == plural and self._in_ns(ev, namespace):
                    sub._push(ev)
        self._subs[plural].add(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        self._subs.get(sub.plural, set()).discard(sub)

    def close_subscriptions(self) -> int:
        """End every open watch (a test fault); returns how many were open."""
        subs = [s for group in self._subs.values() for s in group]
        for s in subs:
            s.close()
        return len(subs)

    def add_validator(self, fn: Validator) -> None:
        """Run `fn` on every create, after defaulting and validation (see `Validator`)."""
        self._validators.append(fn)

    def add_update_validator(self, fn: UpdateValidator) -> None:
        """Run `fn` on every update, after defaulting and validation (see `UpdateValidator`)."""
        self._update_validators.append(fn)

    def add_listener(self, fn: Listener) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(fn)

    @staticmethod
    def _in_ns(ev: WatchEvent, namespace: str | None) -> bool:
        return not namespace or ev.object["metadata"].get("namespace") == namespace

    def _emit(self, plural: str, ev: WatchEvent) -> None:
        if len(self._history) == self._history.maxlen:
            self._compacted_rv = self._history[0].rv
        self._history.append(ev)
        for sub in list(self._subs[plural]):
            if self._in_ns(ev, sub.namespace):
                sub._push(ev)
        for fn in list(self._listeners):
            try:
                fn(plural, ev)
            except Exception:  # a listener's bug must not break the write that triggered it
                log.exception("store listener %r failed on %s %s", fn, ev.type, plural)

    def compact(self) -> None:
        """Forget all history (a test fault: every older resourceVersion becomes 410)."""
        if self._history:
            self._compacted_rv = self._history[-1].rv
        self._compacted_rv = max(self._compacted_rv, self._rv)
        self._history.clear()


__all__ = [
    "ADDED",
    "DELETED",
    "MODIFIED",
    "Store",
    "Subscription",
    "WatchEvent",
    "deep_copy",
    "now_rfc3339",
]
