"""One pod's log, followed: which container to read, reading it in chunks, reconnecting.

A pod's download may happen in an init container (``s3-init``) or the server container, and a
crash-looping container's last words are in its *previous* instance; ``choose_target`` picks
what to read next from the pod object. ``PodLogStream`` reads it with kubelet timestamps
(``timestamps=true``), so a reconnect resumes with ``sinceSeconds`` and drops what it already
saw, and so the stall clock runs on when a line was written, not when it was received.
Reading is chunked through a bounded ``LineAssembler``: a line of megabytes does not grow
memory. ``stop()`` wakes a blocked read at once.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import urllib3
from kubernetes.client.exceptions import ApiException

from collectors import kube
from collectors.cluster import Cluster
from collectors.held import HeldResponse
from collectors.lines import LineAssembler, Segment

READ_CHUNK = 64 * 1024
STOP = "stop"


@dataclass(frozen=True)
class LogTarget:
    container: str
    previous: bool = False  # the last terminated instance (a crash loop's last words)
    follow: bool = True  # False: read what is there and end
    key: tuple[str, int, str] = ("", 0, "")  # identifies a one-time read (done once read)


# (when written, capped at now for the stall clock; the segment; its text without the
# timestamp; the kubelet's own timestamp, uncapped, on the node's clock, or None)
LogItem = tuple[float, Segment, str, float | None]


class SegmentSink(Protocol):
    def log_segments(self, pod: str, container: str, items: list[LogItem]) -> None:
        """``items``: what was read, in order (see ``LogItem``)."""


@dataclass(frozen=True)
class ContainerRun:
    """Which run of a container the pod object shows.

    ``restartCount`` grows when a new instance is created; ``startedAt`` (of the running or
    terminated state) names the instance, and is absent while the container waits between
    runs (CrashLoopBackOff).
    """

    restarts: int
    started_at: float | None  # the node's clock; None while waiting
    exited: str | None = None  # how the run before ended, from lastState: "exit code 1 (Error)"

    def follows(self, before: ContainerRun) -> bool:
        """Whether this is a newer instance of the container than ``before``."""
        if self.started_at is None or self.restarts < before.restarts:
            return False
        if self.restarts > before.restarts:
            return True
        return before.started_at is not None and self.started_at > before.started_at


def _model_container_name(pod: kube.Obj) -> str | None:
    containers = [c for c in kube.items(kube.spec(pod).get("containers")) if isinstance(c, Mapping)]
    for c in containers:
        if any(k.startswith("MODEL_") for k in kube.env_of(c)):
            return str(c.get("name"))
    return str(containers[0].get("name")) if containers else None


def _statuses(pod: kube.Obj, key: str) -> dict[str, Mapping[str, Any]]:
    return {
        str(s.get("name")): s
        for s in kube.items(kube.status(pod).get(key))
        if isinstance(s, Mapping)
    }


def container_runs(pod: kube.Obj) -> dict[str, ContainerRun]:
    """The run each container whose log is read (init containers, the model container) is in."""
    spec_init = [
        str(c.get("name"))
        for c in kube.items(kube.spec(pod).get("initContainers"))
        if isinstance(c, Mapping)
    ]
    main = _model_container_name(pod)
    statuses = {**_statuses(pod, "initContainerStatuses"), **_statuses(pod, "containerStatuses")}
    out: dict[str, ContainerRun] = {}
    for name in [*spec_init, *([main] if main else [])]:
        st = statuses.get(name)
        if st is None:
            continue
        raw_state = st.get("state")
        state: Mapping[str, Any] = raw_state if isinstance(raw_state, Mapping) else {}
        started = kube.dig(state, "running", "startedAt") or kube.dig(
            state, "terminated", "startedAt"
        )
        last = kube.dig(st, "lastState", "terminated")
        exited = None
        if isinstance(last, Mapping) and isinstance(last.get("exitCode"), int):
            reason = last.get("reason")
            exited = f"exit code {last['exitCode']}" + (
                f" ({reason})" if isinstance(reason, str) and reason else ""
            )
        out[name] = ContainerRun(int(st.get("restartCount") or 0), kube.timestamp(started), exited)
    return out


def choose_target(
    pod: kube.Obj | None, done: set[tuple[str, int, str]], follow: bool
) -> LogTarget | str | None:
    """What to read next from ``pod``: a target, ``None`` (nothing now) or ``STOP``.

    In follow mode: the running init container, else the model container while it runs;
    a terminated container is read once to its end; a crash-looping one's previous
    instance once. Without follow every container that has output is read once, then STOP.
    """
    if pod is None:
        return STOP
    spec_init = [
        str(c.get("name"))
        for c in kube.items(kube.spec(pod).get("initContainers"))
        if isinstance(c, Mapping)
    ]
    init_st = _statuses(pod, "initContainerStatuses")
    main_st = _statuses(pod, "containerStatuses")
    main = _model_container_name(pod)
    order = [(name, init_st.get(name)) for name in spec_init]
    if main:
        order.append((main, main_st.get(main)))
    for name, st in order:
        if st is None:
            if follow:
                break  # not started; later containers cannot have started either
            continue
        restarts = int(st.get("restartCount") or 0)
        raw_state = st.get("state")
        state: Mapping[str, Any] = raw_state if isinstance(raw_state, Mapping) else {}
        if "running" in state:
            prev = (name, restarts, "prev")
            if follow and restarts and prev not in done:
                # How the run before ended, first: the kubelet restarts a crashed container at
                # once the first time, before its last lines may have been read (or the pod was
                # first seen in a later run). What was read already is skipped.
                return LogTarget(name, previous=True, follow=False, key=prev)
            key = (name, restarts, "run")
            if follow:
                return LogTarget(name, follow=True, key=key)
            if key not in done:
                return LogTarget(name, follow=False, key=key)
            continue
        if "terminated" in state:
            key = (name, restarts, "end")
            if key not in done:
                return LogTarget(name, follow=False, key=key)
            continue
        # waiting: its last instance, if any, once
        if kube.dig(st, "lastState", "terminated"):
            key = (name, restarts, "prev")
            if key not in done:
                return LogTarget(name, previous=True, follow=False, key=key)
        if follow:
            break
    if not follow:
        return STOP
    phase = kube.status(pod).get("phase")
    if phase in ("Succeeded", "Failed") or kube.meta(pod).get("deletionTimestamp"):
        return STOP
    return None


def split_timestamp(text: str) -> tuple[float | None, str]:
    """``2026-11-27T10:00:00.123456789Z rest`` -> (epoch, "rest"); no timestamp -> (None, text)."""
    if len(text) >= 20 and text[4:5] == "-" and text[10:11] == "T":
        stamp, sep, rest = text.partition(" ")
        when = kube.timestamp(stamp)
        if when is not None:
            return when, rest if sep else ""
    return None, text


class PodLogStream:
    """Reads one pod's log in a thread of its own until the pod goes or ``stop()``."""

    def __init__(
        self,
        cluster: Cluster,
        pod: str,
        get_pod: Callable[[], kube.Obj | None],
        sink: SegmentSink,
        *,
        follow: bool = True,
        tail_lines: int = 200,
        read_timeout: float = 120.0,
        backoff: tuple[float, float] = (0.5, 5.0),
        max_segment: int = 16 * 1024,
        clock: Callable[[], float] = time.time,
        last_seen: Mapping[str, float] | None = None,
    ) -> None:
        self.cluster = cluster
        self.pod = pod
        self.get_pod = get_pod
        self.sink = sink
        self.follow = follow
        self.tail_lines = tail_lines
        self.read_timeout = read_timeout
        self.backoff = backoff
        self.max_segment = max_segment
        self.clock = clock
        self.done: set[tuple[str, int, str]] = set()
        # container -> timestamp of its newest line; given, a new stream for a pod goes on
        # where the last one stopped instead of reading (and appending) the log again.
        self.last_seen: dict[str, float] = dict(last_seen or {})
        self.connects = 0
        self.bytes_read = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._held = HeldResponse(self._stop)
        name = f"asr-cache-tui log {pod}"
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    # -- control --------------------------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        """The pod changed: look again at what to read."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._held.interrupt()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def join(self, timeout: float | None = None) -> None:
        if self.thread.is_alive():
            self.thread.join(timeout)

    def _pause(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    # -- the loop -------------------------------------------------------------------------

    def _run(self) -> None:
        delay = self.backoff[0]
        while not self._stop.is_set():
            target = choose_target(self.get_pod(), self.done, self.follow)
            if target == STOP:
                return
            if not isinstance(target, LogTarget):
                self._pause(2.0)
                continue
            try:
                self._read(target)
                delay = self.backoff[0]
                if not target.follow or target.previous:
                    self.done.add(target.key)
            except ApiException as exc:
                if exc.status in (400, 404):
                    # Not started yet, already gone, or no previous instance: look again later.
                    if target.previous:
                        self.done.add(target.key)
                    self._pause(delay)
                else:
                    self._pause(delay)
                delay = min(self.backoff[1], delay * 2)
            except urllib3.exceptions.ReadTimeoutError:
                continue  # quiet log: reconnect from where it was
            except Exception:
                if self._stop.is_set():
                    return
                self._pause(delay)
                delay = min(self.backoff[1], delay * 2)
            finally:
                self._held.release()

    def _read(self, target: LogTarget) -> None:
        kwargs: dict[str, Any] = {
            "container": target.container,
            "timestamps": True,
            "tail_lines": self.tail_lines,
        }
        if target.previous:
            kwargs["previous"] = True
        seen = self.last_seen.get(target.container)
        if seen is not None and not target.previous:
            kwargs["since_seconds"] = max(1, math.ceil(self.clock() - seen) + 1)
        if target.follow:
            kwargs["follow"] = True
            timeout = self.cluster.stream_timeout(self.read_timeout)
        else:
            timeout = self.cluster.timeout
        resp = self.cluster.core.read_namespaced_pod_log(
            self.pod,
            self.cluster.namespace,
            _preload_content=False,
            _request_timeout=timeout,
            **kwargs,
        )
        self._held.hold(resp)
        if self._stop.is_set():
            return
        self.connects += 1
        asm = LineAssembler(self.max_segment)
        skipping = False
        while not self._stop.is_set():
            chunk = resp.read1(READ_CHUNK)
            if not chunk:
                break
            self.bytes_read += len(chunk)
            skipping = self._deliver(target, asm.feed(chunk), seen, skipping)
        if not self._stop.is_set():
            self._deliver(target, asm.flush(), seen, skipping)

    def _deliver(
        self, target: LogTarget, segments: list[Segment], seen: float | None, skipping: bool
    ) -> bool:
        if not segments:
            return skipping
        now = self.clock()
        items: list[LogItem] = []
        when = now
        written: float | None = None  # the physical line's timestamp, for its later segments
        for seg in segments:
            text = seg.text
            if seg.line_start:
                stamp, text = split_timestamp(text)
                written = stamp
                if stamp is not None:
                    # Already delivered before a reconnect: skip the whole physical line.
                    skipping = seen is not None and stamp <= seen
                    if self.last_seen.get(target.container, 0.0) < stamp:
                        self.last_seen[target.container] = stamp
                    when = min(stamp, now)
                else:
                    skipping = False
                    when = now
            if skipping or not text:
                continue
            items.append((when, seg, text, written))
        if items:
            self.sink.log_segments(self.pod, target.container, items)
        return skipping
