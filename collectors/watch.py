"""List-then-watch of one kind in one namespace, kept alive until told to stop.

The list gives the whole picture and a ``resourceVersion``; the watch carries every change
from there. A watch the server ends is resumed from the last version seen (no new list); a
410 Gone (history expired) means list again. Errors back off (0.5 s doubling to 10 s, with
jitter) and are reported once per outage. The event stream is read in chunks with a bounded
line buffer, and ``interrupt()`` wakes a reader blocked on the socket, so ``stop`` is prompt.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import urllib3
from kubernetes.client.exceptions import ApiException

from collectors.cluster import Cluster, api_trouble
from collectors.held import HeldResponse

MAX_EVENT_BYTES = 32 * 1024 * 1024  # one watch event (one object) larger than this is refused
READ_CHUNK = 64 * 1024


class WatchSink(Protocol):
    """Receives what a watcher learns; called from the watcher's thread."""

    def replaced(self, kind: str, items: list[dict[str, Any]]) -> None:
        """A (re)list: these are all the objects now."""

    def changed(self, kind: str, event_type: str, obj: dict[str, Any]) -> None:
        """ADDED, MODIFIED or DELETED."""

    def failed(self, kind: str, message: str, trouble: str = "unreachable") -> None:
        """The API could not be reached or refused (``trouble`` says how, in a few words);
        the watcher retries on its own."""

    def recovered(self, kind: str) -> None:
        """A request succeeded again after ``failed``."""

    def forbidden(self, kind: str, message: str) -> None:
        """RBAC forbids this (optional) kind: the view goes on without it."""


@dataclass(frozen=True)
class KindSpec:
    kind: str  # plural resource name, as RBAC and the counters call it
    api: str  # attribute of Cluster: core | apps | batch
    list_method: str


KINDS: dict[str, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec("pods", "core", "list_namespaced_pod"),
        KindSpec("deployments", "apps", "list_namespaced_deployment"),
        KindSpec("replicasets", "apps", "list_namespaced_replica_set"),
        KindSpec("jobs", "batch", "list_namespaced_job"),
        KindSpec("cronjobs", "batch", "list_namespaced_cron_job"),
        KindSpec("persistentvolumeclaims", "core", "list_namespaced_persistent_volume_claim"),
        KindSpec("events", "core", "list_namespaced_event"),
    )
}


MAX_RETRY_AFTER = 60.0  # a server's Retry-After is honoured up to this many seconds


def retry_delay(exc: BaseException, backoff: float) -> float:
    """How long to wait before asking again: the back-off, or longer when the server said
    when to come back (a 429 from API Priority and Fairness, a 503, with Retry-After)."""
    if not isinstance(exc, ApiException) or exc.status not in (429, 503) or not exc.headers:
        return backoff
    try:
        said = float(exc.headers.get("Retry-After") or 0)
    except ValueError:  # an HTTP date: the back-off will do
        return backoff
    return max(backoff, min(said, MAX_RETRY_AFTER))


class _Expired(Exception):
    """The server no longer has the history we asked to resume from (410)."""


class _Broken(Exception):
    """The event stream broke in a way that calls for a reconnect (bad JSON, huge event)."""


def _rv(obj: Any) -> str | None:
    md = obj.get("metadata") if isinstance(obj, dict) else None
    value = md.get("resourceVersion") if isinstance(md, dict) else None
    return value if isinstance(value, str) and value else None


class KindWatcher:
    """Keeps one kind's objects flowing into ``sink`` until ``stop`` is set."""

    def __init__(
        self,
        cluster: Cluster,
        kind: str,
        sink: WatchSink,
        stop: threading.Event,
        *,
        label_selector: str | None = None,
        page_size: int = 500,
        watch_seconds: tuple[int, int] = (240, 300),
        backoff: tuple[float, float] = (0.5, 10.0),
        max_iterations: int | None = None,
        forbidden_retry: float = 300.0,
    ) -> None:
        self.cluster = cluster
        self.spec = KINDS[kind]
        self.kind = kind
        self.sink = sink
        self.stop = stop
        self.label_selector = label_selector
        self.page_size = page_size
        self.watch_seconds = watch_seconds
        self.backoff = backoff
        self.max_iterations = max_iterations
        self.forbidden_retry = forbidden_retry
        self.resource_version: str | None = None
        self.lists = 0
        self.watches = 0
        self._held = HeldResponse(stop)
        self._failing = False

    # -- control --------------------------------------------------------------------------

    def interrupt(self) -> None:
        """Wake the thread if it is blocked reading (call after setting ``stop``)."""
        self._held.interrupt()

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        delay = self.backoff[0]
        iterations = 0
        while not self.stop.is_set():
            if self.max_iterations is not None and iterations >= self.max_iterations:
                return
            iterations += 1
            try:
                if self.resource_version is None:
                    self._list()
                else:
                    self._watch()
                delay = self.backoff[0]
            except _Expired:
                self.resource_version = None
            except _Broken:
                continue
            except urllib3.exceptions.ReadTimeoutError:
                # A quiet watch outlived its read timeout: resume, nothing is wrong.
                continue
            except Exception as exc:
                if self.stop.is_set():
                    return
                if isinstance(exc, ApiException) and exc.status == 410:
                    self.resource_version = None
                    continue
                if isinstance(exc, ApiException) and exc.status == 403 and self.kind != "pods":
                    # Only pods are essential; a role without (say) events still gets a view.
                    message = self.cluster.describe_error(exc, "list", self.kind)
                    self.sink.forbidden(self.kind, message)
                    self.resource_version = None
                    if self.max_iterations is None or iterations < self.max_iterations:
                        self.stop.wait(self.forbidden_retry)
                    continue
                verb = "watch" if self.resource_version else "list"
                self._failing = True
                self.sink.failed(
                    self.kind, self.cluster.describe_error(exc, verb, self.kind), api_trouble(exc)
                )
                self.stop.wait(retry_delay(exc, delay * random.uniform(0.8, 1.2)))
                delay = min(self.backoff[1], delay * 2)
            finally:
                self._held.release()

    def _ok(self) -> None:
        if self._failing:
            self._failing = False
            self.sink.recovered(self.kind)

    def _call(self, **kwargs: Any) -> Any:
        api = getattr(self.cluster, self.spec.api)
        method = getattr(api, self.spec.list_method)
        if self.label_selector:
            kwargs["label_selector"] = self.label_selector
        return method(self.cluster.namespace, _preload_content=False, **kwargs)

    def _list(self) -> None:
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "limit": self.page_size,
                "_request_timeout": self.cluster.timeout,
            }
            if token:
                kwargs["_continue"] = token
            resp = self._call(**kwargs)
            self._held.hold(resp)
            body = json.loads(resp.data or b"{}")
            self._held.release()
            items.extend(i for i in body.get("items") or [] if isinstance(i, dict))
            md = body.get("metadata") or {}
            token = md.get("continue") or None
            if not token:
                break
            if self.stop.is_set():
                return
        self.lists += 1
        self.resource_version = md.get("resourceVersion") or "0"
        self._ok()
        self.sink.replaced(self.kind, items)

    def _watch(self) -> None:
        seconds = random.randint(*self.watch_seconds)
        resp = self._call(
            watch=True,
            allow_watch_bookmarks=True,
            resource_version=self.resource_version,
            timeout_seconds=seconds,
            _request_timeout=self.cluster.stream_timeout(seconds + 15),
        )
        self._held.hold(resp)
        self.watches += 1
        self._ok()
        buffer = bytearray()
        while not self.stop.is_set():
            chunk = resp.read1(READ_CHUNK)
            if not chunk:
                return  # the server ended the watch: resume from resource_version
            buffer += chunk
            while True:
                end = buffer.find(b"\n")
                if end < 0:
                    if len(buffer) > MAX_EVENT_BYTES:
                        raise _Broken(f"a {self.kind} watch event exceeds {MAX_EVENT_BYTES} bytes")
                    break
                line = bytes(buffer[:end])
                del buffer[: end + 1]
                if line.strip():
                    self._event(line)

    def _event(self, line: bytes) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            raise _Broken("a watch event is not JSON") from None
        if not isinstance(event, dict):
            raise _Broken("a watch event is not an object")
        kind = event.get("type")
        obj = event.get("object")
        if not isinstance(obj, dict):
            raise _Broken("a watch event has no object")
        if kind == "ERROR":
            code = obj.get("code")
            if code == 410 or obj.get("reason") in ("Expired", "Gone"):
                raise _Expired()
            message = str(obj.get("message") or "watch error")
            raise ApiException(status=code if isinstance(code, int) else 500, reason=message)
        rv = _rv(obj)
        if kind == "BOOKMARK":
            if rv:
                self.resource_version = rv
            return
        if kind in ("ADDED", "MODIFIED", "DELETED"):
            self.sink.changed(self.kind, kind, obj)
            if rv:
                self.resource_version = rv
