"""Watch streams: one JSON event per line over a chunked response, as kube-apiserver sends.

A watch starts from the client's resourceVersion (replayed from the store's history; an
expired one is answered with an `ERROR` event holding a 410 Status), or without one from a
synthetic `ADDED` per existing object. With selectors an object that stops matching is a
`DELETED` for that watcher and one that starts matching an `ADDED`. BOOKMARKs carry the
current resourceVersion when asked for; the stream ends after `timeoutSeconds`, when the
store closes the subscription (a dropped watch) or when the client goes away.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from simcluster import errors
from simcluster.apiserver import tables
from simcluster.resources import ResourceType
from simcluster.selectors import FieldSelector, LabelSelector
from simcluster.store import ADDED, DELETED, MODIFIED, Store, Subscription, WatchEvent

MIN_REQUEST_TIMEOUT = 1800.0
_BATCH = 256
_POLL = 1.0  # how often an idle watch checks that its client is still there


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


@dataclass
class WatchOptions:
    resource_version: str
    timeout: float
    bookmarks: bool
    send_initial: bool
    as_table: bool
    include_object: str
    bookmark_interval: float


def _truthy(v: str | None) -> bool:
    return v in ("1", "true", "True")


def options_from_query(
    query: Any, as_table: bool, include_object: str, bookmark_interval: float
) -> WatchOptions:
    raw_timeout = query.get("timeoutSeconds")
    if raw_timeout is not None:
        try:
            timeout = float(int(raw_timeout))
        except ValueError:
            raise errors.bad_request(
                f'invalid timeoutSeconds "{raw_timeout}": must be an integer'
            ) from None
        if timeout <= 0:
            timeout = MIN_REQUEST_TIMEOUT
    else:
        timeout = MIN_REQUEST_TIMEOUT * (1 + random.random())
    return WatchOptions(
        resource_version=query.get("resourceVersion", ""),
        timeout=timeout,
        bookmarks=_truthy(query.get("allowWatchBookmarks")),
        send_initial=_truthy(query.get("sendInitialEvents")),
        as_table=as_table,
        include_object=include_object,
        bookmark_interval=bookmark_interval,
    )


class _Encoder:
    """Turns store events into this watcher's lines (selector transitions, Table form)."""

    def __init__(
        self, rtype: ResourceType, labels: LabelSelector, fields: FieldSelector, opts: WatchOptions
    ) -> None:
        self.rtype = rtype
        self.labels = labels
        self.fields = fields
        self.opts = opts
        self.plain = labels.empty and fields.empty and not opts.as_table
        self.headers_sent = False

    def _match(self, obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        return self.labels.matches(obj["metadata"].get("labels")) and self.fields.matches(obj)

    def line(self, typ: str, obj: dict[str, Any]) -> bytes:
        if self.opts.as_table:
            body: Any = tables.table(
                self.rtype.plural,
                [obj],
                obj["metadata"].get("resourceVersion"),
                self.opts.include_object,
                headers=not self.headers_sent,
            )
            self.headers_sent = True
            return _dumps({"type": typ, "object": body})
        return _dumps({"type": typ, "object": obj})

    def event(self, ev: WatchEvent) -> bytes | None:
        if self.plain:
            return ev.line
        new_ok = self._match(ev.object) if ev.type != DELETED else False
        old_ok = self._match(ev.old)
        if ev.type == ADDED:
            return self.line(ADDED, ev.object) if new_ok else None
        if ev.type == MODIFIED:
            if new_ok:
                return self.line(MODIFIED if old_ok else ADDED, ev.object)
            return self.line(DELETED, ev.object) if old_ok else None
        return self.line(DELETED, ev.object) if (old_ok or self._match(ev.object)) else None

    def bookmark(self, rv: int, initial_end: bool = False) -> bytes:
        meta: dict[str, Any] = {"resourceVersion": str(rv), "creationTimestamp": None}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return _dumps(
            {
                "type": "BOOKMARK",
                "object": {
                    "kind": self.rtype.kind,
                    "apiVersion": self.rtype.api_version,
                    "metadata": meta,
                },
            }
        )


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def serve_watch(
    request: web.Request,
    store: Store,
    rtype: ResourceType,
    namespace: str | None,
    labels: LabelSelector,
    fields: FieldSelector,
    opts: WatchOptions,
    on_open: Callable[[Subscription], None] | None = None,
) -> web.StreamResponse:
    enc = _Encoder(rtype, labels, fields, opts)
    initial: list[dict[str, Any]] = []
    sub: Subscription | None = None
    expired: errors.ApiError | None = None
    rv_text = opts.resource_version
    if rv_text in ("", "0") or opts.send_initial:
        initial, _ = store.list(rtype.plural, namespace, labels, fields, copy=False)
        sub = store.subscribe(rtype.plural, namespace, None)
    else:
        try:
            since = int(rv_text)
        except ValueError:
            raise errors.bad_request(
                f'resourceVersion: Invalid value: "{rv_text}": must be an integer'
            ) from None
        try:
            sub = store.subscribe(rtype.plural, namespace, since)
        except errors.ApiError as exc:
            if exc.code != 410:
                raise
            expired = exc
    resp = web.StreamResponse(
        status=200,
        headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"},
    )
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    if expired is not None:
        await resp.write(_dumps({"type": "ERROR", "object": expired.to_status()}))
        await resp.write_eof()
        return resp
    assert sub is not None
    if on_open is not None:
        on_open(sub)
    try:
        if initial:
            chunk = b"".join(enc.line(ADDED, o) for o in initial)
            await resp.write(chunk)
        if opts.send_initial:
            await resp.write(enc.bookmark(store.resource_version, initial_end=True))
        await _pump(request, resp, store, sub, enc, opts)
        await resp.write_eof()
    except ConnectionResetError:
        pass  # the client went away mid-write: nothing left to tell it
    finally:
        sub.close()
    return resp


async def _pump(
    request: web.Request,
    resp: web.StreamResponse,
    store: Store,
    sub: Subscription,
    enc: _Encoder,
    opts: WatchOptions,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + opts.timeout
    next_bookmark = loop.time() + opts.bookmark_interval
    while True:
        now = loop.time()
        if now >= deadline or _client_gone(request):
            return
        wait = min(deadline - now, _POLL)
        if opts.bookmarks:
            wait = min(wait, max(0.0, next_bookmark - now))
        try:
            ev = await sub.next(wait)
        except StopAsyncIteration:
            return
        if ev is None:
            if opts.bookmarks and loop.time() >= next_bookmark:
                await resp.write(enc.bookmark(store.resource_version))
                next_bookmark = loop.time() + opts.bookmark_interval
            continue
        parts = []
        line = enc.event(ev)
        if line is not None:
            parts.append(line)
        for _ in range(_BATCH):
            more = sub.get_nowait()
            if more is None:
                break
            line = enc.event(more)
            if line is not None:
                parts.append(line)
        if parts:
            await resp.write(b"".join(parts))


__all__ = ["WatchOptions", "options_from_query", "serve_watch"]
