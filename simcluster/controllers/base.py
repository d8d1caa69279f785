"""The reconcile loop the simulated controllers share: store changes queue keys, one task
works them off, failures retry with backoff, and a periodic resync catches time-based work.

Listeners only queue (they run inside store writes, where writing again would re-enter the
store); all reconciling happens in the controller's task on the cluster's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from simcluster.errors import ApiError
from simcluster.store import Store, WatchEvent

log = logging.getLogger("simcluster.controllers")

Key = tuple[str, str]  # (namespace, name)


def owner_keys(ev: WatchEvent, kind: str) -> list[Key]:
    """(namespace, name) of the `kind` controllers owning the event's object (old or new)."""
    keys: list[Key] = []
    for obj in (ev.object, ev.old):
        if obj is None:
            continue
        meta = obj["metadata"]
        for ref in meta.get("ownerReferences") or ():
            if ref.get("kind") == kind and ref.get("controller"):
                key = (meta.get("namespace", ""), ref.get("name", ""))
                if key not in keys:
                    keys.append(key)
    return keys


def owner_ref(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def controlled_by(obj: dict[str, Any], owner_uid: str) -> bool:
    return any(
        r.get("uid") == owner_uid and r.get("controller")
        for r in obj["metadata"].get("ownerReferences") or ()
    )


class Controller:
    """Subclasses set `name`, `plural` (their own resource) and implement `keys_for` and
    `reconcile`; `reconcile` may return seconds after which to look at the key again."""

    name = "controller"
    plural = ""
    resync: float | None = None
    max_backoff = 5.0

    def __init__(self, store: Store) -> None:
        self.store = store
        self._dirty: dict[Key, None] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._failures: dict[Key, int] = {}

    def start(self) -> None:
        self.store.add_listener(self._on_event)
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"controller-{self.name}"
        )
        for obj in self.store.list(self.plural, copy=False)[0] if self.plural else ():
            self.enqueue((obj["metadata"].get("namespace", ""), obj["metadata"]["name"]))

    async def stop(self) -> None:
        self.store.remove_listener(self._on_event)
        for t in self._timers:
            t.cancel()
        self._timers.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def keys_for(self, plural: str, ev: WatchEvent) -> Iterable[Key]:
        if plural == self.plural:
            meta = ev.object["metadata"]
            return [(meta.get("namespace", ""), meta["name"])]
        return ()

    def _on_event(self, plural: str, ev: WatchEvent) -> None:
        for key in self.keys_for(plural, ev):
            self.enqueue(key)

    def enqueue(self, key: Key) -> None:
        self._dirty[key] = None
        self._wake.set()

    def enqueue_after(self, key: Key, delay: float) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            if handle is not None:
                self._timers.discard(handle)
            self.enqueue(key)

        handle = loop.call_later(max(0.0, delay), fire)
        self._timers.add(handle)

    def reconcile(self, key: Key) -> float | None:
        raise NotImplementedError

    def resync_keys(self) -> Iterable[Key]:
        """Keys to look at on every resync (default: every object of `plural`)."""
        return [
            (o["metadata"].get("namespace", ""), o["metadata"]["name"])
            for o in self.store.list(self.plural, copy=False)[0]
        ]

    async def _run(self) -> None:
        while True:
            if not self._dirty:
                self._wake.clear()
                if self.resync is None:
                    await self._wake.wait()
                else:
                    try:
                        await asyncio.wait_for(self._wake.wait(), self.resync)
                    except asyncio.TimeoutError:
                        for key in self.resync_keys():
                            self._dirty.setdefault(key, None)
            batch = list(self._dirty)
            self._dirty.clear()
            for key in batch:
                self._reconcile_one(key)
                await asyncio.sleep(0)  # let the API server breathe between keys

    def _reconcile_one(self, key: Key) -> None:
        try:
            again = self.reconcile(key)
        except ApiError as exc:
            n = self._failures.get(key, 0) + 1
            self._failures[key] = n
            if exc.code not in (404, 409):
                log.warning("%s: reconcile %s/%s: %s", self.name, key[0], key[1], exc.message)
            self.enqueue_after(key, min(self.max_backoff, 0.05 * 2**n))
            return
        except Exception:
            n = self._failures.get(key, 0) + 1
            self._failures[key] = n
            log.exception("%s: reconcile %s/%s failed", self.name, key[0], key[1])
            self.enqueue_after(key, min(self.max_backoff, 0.1 * 2**n))
            return
        self._failures.pop(key, None)
        if again is not None:
            self.enqueue_after(key, again)
