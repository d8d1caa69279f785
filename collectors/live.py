"""``LiveFeed``: the running view of one namespace that the dashboard and ``status`` read.

Threads, each with one job: a watcher per kind (list-then-watch), a publisher that merges
what is known into a snapshot when something changed (and once a second while a clock-based
state such as "stalled" could flip), a poller for volume usage, partial files and the serving
release (sequential, so polls never overlap), and one log stream per pod that is or may be
downloading. A container that restarts (a new restartCount or startedAt) begins its pod's
download state afresh: the run before is history (``PodInfo.previous_run``), and a failure it
ended with is the latest word only until the new run gets further (``LogFacts.failed_before``).
When the API is lost the last snapshot stays, marked stale with the time it was lost.
``stop()`` wakes every blocked read and joins every thread within about two seconds.
``collect()`` runs the same pieces once, without watches or follow streams, for
``asr-cache-tui status``.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from typing import Any

from collectors import execs, kube, pods, rollouts
from collectors.cluster import Cluster, ClusterError, ConnectionSettings, connect
from collectors.feed import FeedSink
from collectors.files import list_cache_files
from collectors.logstream import ContainerRun, LogItem, PodLogStream, container_runs
from collectors.model import (
    CacheFile,
    ClusterSnapshot,
    DownloadPhase,
    LogLine,
    ModelState,
    PodInfo,
    VerificationResult,
    VolumeUsage,
)
from collectors.nodes import NodeHealth, NodeReader
from collectors.progress import ProgressTracker, parse_segment
from collectors.redact import redact_text, redact_url
from collectors.selectors import SelectorError, parse_selector
from collectors.snapshot import FeedOptions, ServingInfo, SnapshotBuilder, SnapshotInputs
from collectors.stall import DiskProbe
from collectors.state import DiskFacts, Verdict
from collectors.values import load_values
from collectors.volumes import VolumePoller, VolumeTarget
from collectors.watch import KINDS, KindWatcher

MAX_EVENTS_KEPT = 1000
MAX_LINE_TEXT = 2000
PUBLISH_MIN_INTERVAL = 0.25
# Ready pods whose log was never read get one read to its end (what they did to get the
# model), at most this many at a time.
ONE_SHOT_READS = 4
SERVING_RECHECK = 60.0
# A volume an action changed is measured again at once; while nothing runs to measure it in
# (the action replaced the pods), again each second, this many times in all.
REMEASURE_TRIES = 15
# A volume not measured (nothing ran to measure it in yet: a pod Pending or crash-looping; or
# new since the last poll) is tried again each second, this many times, instead of a whole
# --refresh later. Once per spell of not being measured: one that cannot be measured at all
# costs a few tries, not a poll a second.
UNMEASURED_TRIES = 5
_BYTELESS = (DownloadPhase.STARTING, DownloadPhase.DOWNLOADING, DownloadPhase.RETRYING)


class _NullSink:
    def snapshot_ready(self, snapshot: ClusterSnapshot) -> None:
        pass

    def log_lines_received(self, pod: str, lines: Sequence[LogLine]) -> None:
        pass


def _line_kind(update_kind: str | None, text: str) -> str:
    if update_kind in ("progress", "start", "done", "verify"):
        return "progress"
    if update_kind == "error":
        return "error"
    if update_kind in ("retry", "stall", "wait"):
        return "warning"
    head = text[:40].upper()
    if "ERROR" in head or "FATAL" in head:
        return "error"
    if "WARN" in head:
        return "warning"
    return "plain"


def options_from_args(args: Any) -> FeedOptions:
    """``FeedOptions`` from ``tui.cli``'s flags; raises ``ValueError`` with one sentence."""
    selector = getattr(args, "selector", None) or "app=lightning-asr"
    try:
        parse_selector(selector)
    except SelectorError as exc:
        raise ValueError(f"{exc}.") from None
    stall_after = float(getattr(args, "stall_after", 60.0) or 60.0)
    refresh = float(getattr(args, "refresh", 5.0) or 5.0)
    if stall_after <= 0:
        raise ValueError(f"--stall-after must be more than 0 seconds, not {stall_after:g}.")
    if refresh <= 0:
        raise ValueError(f"--refresh must be more than 0 seconds, not {refresh:g}.")
    values_path = getattr(args, "values", None)
    values = load_values(values_path) if values_path else None
    timeout = float(getattr(args, "request_timeout", 10.0) or 10.0)
    return FeedOptions(
        selector=selector,
        stall_after=stall_after,
        refresh=refresh,
        values=values,
        exec_timeout=timeout,
    )


class LiveFeed:
    """Implements ``collectors.feed.ClusterFeed``."""

    def __init__(
        self,
        cluster: Cluster,
        options: FeedOptions | None = None,
        *,
        clock: Callable[[], float] = time.time,
        owns_cluster: bool = False,
    ) -> None:
        self.cluster = cluster
        self.options = options or FeedOptions()
        self.clock = clock
        self.owns_cluster = owns_cluster
        self.builder = SnapshotBuilder(self.options)
        self._lock = threading.RLock()
        self._objects: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in KINDS}
        self._listed: set[str] = set()
        self._failing: dict[str, str] = {}
        self._notes: dict[str, str] = {}
        self._stale_since: float | None = None
        self._error: str | None = None
        self._trouble = "unreachable"
        self._trackers: dict[str, ProgressTracker] = {}
        self._runs: dict[str, dict[str, ContainerRun]] = {}  # pod -> container -> latest run
        self._run_since: dict[str, float] = {}  # pod -> when its latest restarted run began
        self._rings: dict[str, deque[LogLine]] = {}
        self._read_to: dict[str, dict[str, float]] = {}  # pod -> container -> newest line read
        self._ring_open: dict[str, bool] = {}
        self._streams: dict[str, PodLogStream] = {}
        self._retired: list[PodLogStream] = []
        self._one_shots: dict[str, PodLogStream] = {}  # ready pods' logs, read once
        self._read_once: set[str] = set()
        self._finished: dict[str, str] = {}
        self._followed: set[str] = set()
        self._disk: dict[str, DiskFacts] = {}
        self._disk_due: dict[str, float] = {}
        self._usage: dict[str, VolumeUsage] = {}
        self._serving = ServingInfo()
        self._serving_key: tuple[Any, ...] | None = None
        self._serving_at = 0.0
        self._verifications: dict[str, VerificationResult] = {}
        self._verdicts: dict[str, Verdict] = {}
        self._targets: list[VolumeTarget] = []
        self._snapshot: ClusterSnapshot | None = None
        self._last_published: ClusterSnapshot | None = None
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._poll_now = threading.Event()  # wakes the poller: volumes to measure again
        self._remeasure: dict[str, int] = {}  # volume -> measurements left to try
        self._unmeasured: set[str] = set()  # volumes given their tries, not measured since
        self._synced = threading.Event()
        self._published = threading.Event()
        self._threads: list[threading.Thread] = []
        self._watchers: list[KindWatcher] = []
        self._sink: FeedSink = _NullSink()
        self._follow_logs = True
        self.poller = VolumePoller(
            cluster,
            fallback_interval=max(self.options.refresh, self.options.fallback_interval),
            exec_timeout=self.options.exec_timeout,
            clock=clock,
            cancel=self._stop,
        )
        self.node_reader = NodeReader(cluster)
        self._nodes: dict[str, NodeHealth] = {}
        self.disk_probe = DiskProbe(
            cluster, exec_timeout=self.options.exec_timeout, clock=clock, cancel=self._stop
        )

    @classmethod
    def from_args(cls, args: Any) -> LiveFeed:
        """Connect as ``tui.cli``'s flags say. Raises ``ClusterError`` (connection) or
        ``ValueError`` (a bad flag or values file), each with one sentence."""
        options = options_from_args(args)
        cluster = connect(ConnectionSettings.from_args(args))
        return cls(cluster, options, owns_cluster=True)

    # -- ClusterFeed -----------------------------------------------------------------------------

    def start(self, sink: FeedSink) -> None:
        self._sink = sink
        for kind in KINDS:
            watcher = KindWatcher(self.cluster, kind, self, self._stop)
            self._watchers.append(watcher)
            self._spawn(watcher.run, f"watch {kind}")
        self._spawn(self._publish_loop, "snapshots")
        self._spawn(self._poll_loop, "volume poll")

    def stop(self) -> None:
        self._stop.set()
        self._dirty.set()
        self._poll_now.set()
        for watcher in self._watchers:
            watcher.interrupt()
        with self._lock:
            streams = [*self._streams.values(), *self._retired, *self._one_shots.values()]
            self._streams.clear()
            self._retired = []
            self._one_shots.clear()
        for stream in streams:
            stream.stop()
        deadline = time.monotonic() + 2.0
        for thread in self._threads:
            thread.join(max(0.05, deadline - time.monotonic()))
        for stream in streams:
            stream.join(max(0.05, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]
        if self.owns_cluster:
            self.cluster.close()

    def follow_pod(self, pod: str) -> None:
        with self._lock:
            self._followed.add(pod)
            self._finished.pop(pod, None)
        self._dirty.set()

    def unfollow_pod(self, pod: str) -> None:
        with self._lock:
            self._followed.discard(pod)
        self._dirty.set()

    def recent_log(self, pod: str) -> Sequence[LogLine]:
        with self._lock:
            return tuple(self._rings.get(pod, ()))

    def cache_files(self, pod: str) -> Sequence[CacheFile]:
        info, host, container, path = self._cache_of(pod)
        return list_cache_files(self.cluster, host, container, info.model.cache_dir or path)

    def disk_usage(self, pod: str) -> VolumeUsage:
        info, host, container, path = self._cache_of(pod)
        return self.poller.measure_in_pod(
            host, container, path, None, self.clock(), quota=self._quota_of(info)
        )

    def refresh_volumes(self, names: Sequence[str]) -> None:
        with self._lock:
            self._remeasure.update(dict.fromkeys(names, REMEASURE_TRIES))
        self._poll_now.set()

    # -- beyond the protocol ---------------------------------------------------------------------

    def snapshot(self) -> ClusterSnapshot | None:
        with self._lock:
            return self._snapshot

    def wait_for_snapshot(self, timeout: float) -> ClusterSnapshot | None:
        self._published.wait(timeout)
        return self.snapshot()

    @property
    def last_error(self) -> str | None:
        """The last connection problem, one sentence (None while all is well)."""
        with self._lock:
            return self._error

    def record_verification(self, pod: str, result: VerificationResult) -> None:
        """Keep a verify run's outcome with the pod (a mismatch makes it ``corrupt``)."""
        with self._lock:
            self._verifications[pod] = result
        self._dirty.set()

    def threads(self) -> list[threading.Thread]:
        """Threads still alive (for tests: none after ``stop``)."""
        with self._lock:
            streams = [
                s.thread
                for s in [*self._streams.values(), *self._retired, *self._one_shots.values()]
            ]
        return [t for t in self._threads + streams if t.is_alive()]

    # -- WatchSink ---------------------------------------------------------------------------------

    def replaced(self, kind: str, items: list[dict[str, Any]]) -> None:
        with self._lock:
            fresh = {kube.name_of(i): i for i in items}
            if kind == "events" and len(fresh) > MAX_EVENTS_KEPT:
                fresh = dict(
                    sorted(fresh.items(), key=lambda kv: self._event_time(kv[1]))[-MAX_EVENTS_KEPT:]
                )
            if kind == "pods":
                for gone in set(self._objects["pods"]) - set(fresh):
                    self._forget_pod(gone)
                for name, obj in fresh.items():
                    self._note_runs(name, obj)
            self._objects[kind] = fresh
            self._notes.pop(kind, None)
            self._listed.add(kind)
            if len(self._listed) == len(KINDS):
                self._synced.set()
            if kind == "pods":
                for stream in self._streams.values():
                    stream.wake()
        self._dirty.set()

    def forbidden(self, kind: str, message: str) -> None:
        with self._lock:
            self._objects[kind] = {}
            self._notes[kind] = message
            self._listed.add(kind)
            if len(self._listed) == len(KINDS):
                self._synced.set()
        self._dirty.set()

    def changed(self, kind: str, event_type: str, obj: dict[str, Any]) -> None:
        name = kube.name_of(obj)
        with self._lock:
            store = self._objects[kind]
            if event_type == "DELETED":
                store.pop(name, None)
                if kind == "pods":
                    self._forget_pod(name)
            else:
                store[name] = obj
                if kind == "events" and len(store) > MAX_EVENTS_KEPT:
                    oldest = sorted(store, key=lambda k: self._event_time(store[k]))
                    for key in oldest[: len(store) - MAX_EVENTS_KEPT]:
                        del store[key]
                if kind == "pods":
                    self._note_runs(name, obj)
                    if name in self._streams:
                        self._streams[name].wake()
        self._dirty.set()

    def failed(self, kind: str, message: str, trouble: str = "unreachable") -> None:
        with self._lock:
            if not self._failing and self._stale_since is None:
                self._stale_since = self.clock()
            self._failing[kind] = message
            self._error = message
            self._trouble = trouble
        self._dirty.set()

    def recovered(self, kind: str) -> None:
        with self._lock:
            self._failing.pop(kind, None)
            if not self._failing:
                self._stale_since = None
                self._error = None
        self._dirty.set()

    @staticmethod
    def _event_time(ev: dict[str, Any]) -> float:
        return (
            kube.timestamp(ev.get("lastTimestamp"))
            or kube.timestamp(ev.get("eventTime"))
            or kube.timestamp(kube.meta(ev).get("creationTimestamp"))
            or 0.0
        )

    def _forget_pod(self, name: str) -> None:
        """The pod is gone: its stream stops, its memory goes (lock held)."""
        for stream in (self._streams.pop(name, None), self._one_shots.pop(name, None)):
            if stream is not None:
                stream.stop()
                self._retired.append(stream)
        self._read_once.discard(name)
        self._trackers.pop(name, None)
        self._runs.pop(name, None)
        self._run_since.pop(name, None)
        self._rings.pop(name, None)
        self._read_to.pop(name, None)
        self._ring_open.pop(name, None)
        self._disk.pop(name, None)
        self._disk_due.pop(name, None)
        self._finished.pop(name, None)
        self._verifications.pop(name, None)
        self.disk_probe.forget(name)

    def _note_runs(self, name: str, obj: dict[str, Any]) -> None:
        """A container whose log is read started a new run: the pod's download state begins
        afresh; what the run before said (a checksum mismatch, a full disk) stays the latest
        word only until the new run gets further (lock held)."""
        known = self._runs.setdefault(name, {})
        for container, run in container_runs(obj).items():
            before = known.get(container)
            if before is None:
                known[container] = run
                if run.restarts and run.started_at is not None:
                    # First seen in a later run: its log from now on is that run's, and the
                    # run before (read from the previous instance) is history.
                    self._run_since[name] = run.started_at
                    self._trackers.setdefault(name, ProgressTracker()).new_run(run.exited)
                continue
            if run.started_at is None:
                continue  # waiting between runs: the last run's words still hold
            if run.follows(before):
                known[container] = run
                started = run.started_at
                self._run_since[name] = max(started, self._run_since.get(name, started))
                tracker = self._trackers.get(name)
                if tracker is not None:
                    tracker.new_run(run.exited)
            elif before.started_at is None and run.restarts == before.restarts:
                known[container] = run  # the first start after ContainerCreating

    # -- log segments (called from log threads) ----------------------------------------------

    def log_segments(self, pod: str, container: str, items: list[LogItem]) -> None:
        out: list[LogLine] = []
        now = self.clock()
        with self._lock:
            if pod not in self._objects["pods"]:
                return
            tracker = self._trackers.setdefault(pod, ProgressTracker())
            ring = self._rings.setdefault(pod, deque(maxlen=self.options.ring_lines))
            open_last = self._ring_open.get(pod, False)
            since = self._run_since.get(pod)
            read_to = self._read_to.setdefault(pod, {})
            for at, seg, text, written in items:
                if written is not None and read_to.get(container, 0.0) < written:
                    read_to[container] = written
                if since is not None and written is not None and written < since:
                    # Written before the latest restart (a late read of an earlier run):
                    # shown, and it may say how that run ended, but it is no longer evidence
                    # of the pod's download.
                    update = parse_segment(text)
                    tracker.late_line(text, at)
                else:
                    update = tracker.feed_text(text, at)
                shown = text if len(text) <= MAX_LINE_TEXT else text[:MAX_LINE_TEXT] + " …"
                if "://" in shown:
                    shown = redact_text(shown)
                kind = _line_kind(update.kind if update else None, text)
                written_at = at if written is not None else None
                line = LogLine(pod, container, shown, kind, now, written_at)
                replace = open_last and not seg.line_start
                if replace and ring:
                    ring[-1] = line
                else:
                    ring.append(line)
                if replace and out:
                    out[-1] = line
                else:
                    out.append(line)
                open_last = seg.overwritten
            self._ring_open[pod] = open_last
        self._dirty.set()
        if out and self._follow_logs:
            self._sink.log_lines_received(pod, out)

    # -- publishing --------------------------------------------------------------------------------

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=f"asr-cache-tui {name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _inputs(
        self,
    ) -> tuple[SnapshotInputs, float | None, str | None, str | None, tuple[str, ...]]:
        with self._lock:
            inputs = SnapshotInputs(
                objects={k: dict(v) for k, v in self._objects.items()},
                facts={p: t.facts() for p, t in self._trackers.items()},
                disk=dict(self._disk),
                usage=dict(self._usage),
                serving=self._serving,
                verifications=dict(self._verifications),
                nodes=dict(self._nodes),
            )
            order = [*KINDS, "nodes", "poll", "publish"]
            notes = tuple(self._notes[k] for k in order if k in self._notes)
            trouble = self._trouble if self._stale_since is not None else None
            return inputs, self._stale_since, self._error, trouble, notes

    def build_snapshot(self) -> ClusterSnapshot:
        inputs, stale_since, error, trouble, notes = self._inputs()
        snapshot, verdicts, targets = self.builder.build(
            inputs,
            now=self.clock(),
            context=self.cluster.context,
            namespace=self.cluster.namespace,
            server=self.cluster.server,
            stale_since=stale_since,
            error=error,
        )
        if notes or trouble:
            snapshot = dataclasses.replace(snapshot, notes=notes, trouble=trouble)
        with self._lock:
            self._verdicts = verdicts
            self._targets = targets
            self._snapshot = snapshot
        return snapshot

    def _publish_loop(self) -> None:
        last = 0.0
        while not self._stop.is_set():
            fired = self._dirty.wait(1.0)
            if self._stop.is_set():
                return
            if fired:
                # Coalesce a burst (a relist, a chunk of log) into one snapshot.
                wait = PUBLISH_MIN_INTERVAL - (time.monotonic() - last)
                if wait > 0 and self._stop.wait(wait):
                    return
            self._dirty.clear()
            if not self._synced.is_set():
                continue
            try:
                snapshot = self.build_snapshot()
                self._reconcile_streams(snapshot)
                with self._lock:
                    self._notes.pop("publish", None)
            except Exception as exc:  # a bug must not kill the feed; say it in the snapshot
                with self._lock:
                    self._notes["publish"] = f"collecting failed: {type(exc).__name__}: {exc}"
                continue
            last = time.monotonic()
            previous = self._last_published
            if previous is not None and dataclasses.replace(snapshot, taken_at=0.0) == (
                dataclasses.replace(previous, taken_at=0.0)
            ):
                continue
            self._last_published = snapshot
            self._published.set()
            self._sink.snapshot_ready(snapshot)

    def _reconcile_streams(self, snapshot: ClusterSnapshot) -> None:
        """Follow the pods that are or may be downloading (and any asked for); stop the rest."""
        with self._lock:
            followed = set(self._followed)
            wanted: list[PodInfo] = []
            for pod in snapshot.pods:
                if not pod.reachable:
                    continue
                if pod.name in followed or not pod.model_state.settled:
                    wanted.append(pod)
            wanted.sort(key=lambda p: (p.name not in followed, p.model_state.urgency, p.name))
            keep = {p.name for p in wanted[: self.options.max_streams]}
            for name, stream in list(self._streams.items()):
                if not stream.thread.is_alive():
                    del self._streams[name]
                    rv = kube.meta(self._objects["pods"].get(name) or {}).get("resourceVersion")
                    self._finished[name] = str(rv)
                elif name not in keep:
                    stream.stop()
                    del self._streams[name]
                    self._retired.append(stream)
            self._retired = [s for s in self._retired if s.thread.is_alive()]
            for name in sorted(keep - set(self._streams)):
                obj = self._objects["pods"].get(name)
                if obj is None:
                    continue
                rv = str(kube.meta(obj).get("resourceVersion"))
                if self._finished.get(name) == rv:
                    continue
                self._finished.pop(name, None)
                stream = self._new_stream(name, follow=True)
                self._streams[name] = stream
                stream.start()
            self._read_ready_once(snapshot)

    def _read_ready_once(self, snapshot: ClusterSnapshot) -> None:
        """A pod already Ready (or done) when first seen (a baked model, a restart of the
        dashboard, a completed pre-warm Job) has its log read once, so its download state is
        known as for the pods watched while they got the model, not only for the one whose
        detail was opened (lock held)."""
        self._one_shots = {n: s for n, s in self._one_shots.items() if s.thread.is_alive()}
        for pod in snapshot.pods:
            if len(self._one_shots) >= ONE_SHOT_READS:
                return
            name = pod.name
            if (
                not pod.model_state.settled
                or pod.deleting
                or not pod.node
                or name in self._read_once
                or name in self._streams
                or name in self._trackers
            ):
                continue
            self._read_once.add(name)
            stream = self._new_stream(name, follow=False)
            self._one_shots[name] = stream
            stream.start()

    def _new_stream(self, name: str, follow: bool) -> PodLogStream:
        def get_pod() -> dict[str, Any] | None:
            with self._lock:
                return self._objects["pods"].get(name)

        with self._lock:
            read_to = dict(self._read_to.get(name, {}))
        return PodLogStream(
            self.cluster,
            name,
            get_pod,
            self,
            follow=follow,
            tail_lines=self.options.tail_lines,
            clock=self.clock,
            last_seen=read_to,
        )

    # -- polling -----------------------------------------------------------------------------------

    def _poll_loop(self) -> None:
        next_volumes = 0.0
        while not self._stop.is_set():
            self._poll_now.clear()
            if self._synced.is_set() and self.snapshot() is not None:
                try:
                    now = self.clock()
                    with self._lock:
                        asked, self._remeasure = self._remeasure, {}
                    if now >= next_volumes:
                        self.poll_nodes()
                        self.poll_volumes(fresh=set(asked))
                        next_volumes = self.clock() + self.options.refresh
                    elif asked:
                        self.poll_volumes(set(asked), fresh=set(asked))
                    self._remeasure_unmeasured(asked)
                    self._retry_unmeasured()
                    self.poll_disks()
                    self.poll_serving()
                    with self._lock:
                        self._notes.pop("poll", None)
                except Exception as exc:  # keep polling; the snapshot says what went wrong
                    with self._lock:
                        self._notes["poll"] = f"polling failed: {type(exc).__name__}: {exc}"
                    self._dirty.set()
            delay = min(1.0, max(0.05, next_volumes - self.clock()))
            self._poll_now.wait(delay)

    def poll_nodes(self) -> None:
        """Read the nodes our pods run on: one whose kubelet stopped reporting took its pods'
        downloads with it. Their names come from the pods as listed, not from a snapshot:
        the first read needs none built."""
        with self._lock:
            names = {
                str(node)
                for pod in self._objects["pods"].values()
                if self.builder.relevant(pod) and (node := kube.spec(pod).get("nodeName"))
            }
        nodes = self.node_reader.read(names)
        with self._lock:
            changed = nodes != self._nodes
            self._nodes = nodes
            if self.node_reader.forbidden:
                self._notes["nodes"] = (
                    f"{self.node_reader.forbidden} A node that stops reporting is not told apart."
                )
        if changed:
            self._dirty.set()

    def poll_volumes(self, only: set[str] | None = None, fresh: Collection[str] = ()) -> None:
        """Measure every cache volume, or only those named in ``only`` (kept with the rest);
        those in ``fresh`` again even if a fallback measured them lately."""
        with self._lock:
            targets = [t for t in self._targets if only is None or t.key in only]
        if not targets:
            return
        with self._lock:
            lost = {name for name, node in self._nodes.items() if node.lost}
        usage = self.poller.poll(targets, fresh=fresh, lost=lost)
        if self._stop.is_set():
            return
        with self._lock:
            self._usage = usage if only is None else {**self._usage, **usage}
        self._dirty.set()

    def _remeasure_unmeasured(self, asked: dict[str, int]) -> None:
        """Ask again for a volume the last try could not measure (no container ran), while
        tries are left."""
        with self._lock:
            for key, left in asked.items():
                usage = self._usage.get(key)
                if left > 1 and (usage is None or usage.source == "none"):
                    self._remeasure.setdefault(key, left - 1)

    def _retry_unmeasured(self) -> None:
        """A volume that has just become not measured (the poll could not, or none has yet)
        is asked again within a second, UNMEASURED_TRIES times, and only those volumes."""
        with self._lock:
            unmeasured = {
                t.key
                for t in self._targets
                if (usage := self._usage.get(t.key)) is None or usage.source == "none"
            }
            for key in unmeasured - self._unmeasured:
                self._remeasure.setdefault(key, UNMEASURED_TRIES)
            self._unmeasured = unmeasured

    def _needs_disk_check(self, pod: PodInfo) -> bool:
        """Running (or initialising) and the log gives no byte counts."""
        if pod.ready or not pod.reachable or pod.phase not in ("Running", "Pending"):
            return False
        if not any(c.state == "running" for c in pod.containers):
            return False
        with self._lock:
            tracker = self._trackers.get(pod.name)
            facts = tracker.facts() if tracker else None
        if facts is None or facts.phase is None:
            # A silent log: look until the file shows a download, and then keep looking (its
            # growth is all there is: the rate, and whether it stalled).
            on_disk = pod.progress is not None and pod.progress.source == "disk"
            return on_disk or (
                pod.model_state is ModelState.UNKNOWN
                and (pod.model.url is not None or pod.phase == "Pending")
            )
        return facts.phase in _BYTELESS and not facts.has_bytes

    def poll_disks(self, force: bool = False) -> None:
        snapshot = self.snapshot()
        if snapshot is None:
            return
        now = self.clock()
        for pod in snapshot.pods:
            if self._stop.is_set():
                return
            if not self._needs_disk_check(pod):
                continue
            if not force and self._disk_due.get(pod.name, 0.0) > now:
                continue
            self._disk_due[pod.name] = now + self.options.disk_interval
            container, _ = self._cache_mount(pod)
            facts = self.disk_probe.check(pod.name, container, pod.model)
            with self._lock:
                if pod.name in self._objects["pods"]:
                    self._disk[pod.name] = facts
            self._dirty.set()

    def poll_serving(self, force: bool = False) -> None:
        with self._lock:
            deployments = dict(self._objects["deployments"])
        api = rollouts.find_api_server(deployments.values())
        key = (
            kube.name_of(api) if api else None,
            kube.meta(api).get("resourceVersion") if api else None,
            tuple(sorted(deployments)),
        )
        now = self.clock()
        if not force and key == self._serving_key and now - self._serving_at < SERVING_RECHECK:
            return
        self._serving_key, self._serving_at = key, now
        if api is None:
            serving = ServingInfo()
        else:
            url = rollouts.template_env(api).get(rollouts.BASE_URL_ENV)
            if url is None:
                url = self._url_from_configmaps(api)
            selector = self._service_selector(url) if url else None
            serving = ServingInfo(
                url=redact_url(url) if url else None,
                deployment=rollouts.serving_deployment(url, deployments.values(), selector),
                api_server=kube.name_of(api),
            )
        with self._lock:
            changed = serving != self._serving
            self._serving = serving
        if changed:
            self._dirty.set()

    def _url_from_configmaps(self, api: kube.Obj) -> str | None:
        for name in rollouts.configmap_names(api):
            try:
                cm = self.cluster.get_json(
                    self.cluster.core.read_namespaced_config_map, name, self.cluster.namespace
                )
            except Exception:  # noqa: S112 - no access or gone: try the next one
                continue
            url = rollouts.url_from_configmap(cm)
            if url:
                return url
        return None

    def _service_selector(self, url: str) -> dict[str, str] | None:
        service = rollouts.service_name(url)
        if not service:
            return None
        try:
            obj = self.cluster.get_json(
                self.cluster.core.read_namespaced_service, service, self.cluster.namespace
            )
            selector = (obj.get("spec") or {}).get("selector")
        except Exception:
            return None
        return dict(selector) if isinstance(selector, dict) else None

    def _cache_mount(self, pod: PodInfo) -> tuple[str | None, str | None]:
        """(container, mount path) to read the pod's cache in, one choice for both: a running
        container that mounts it (main ones first; an init container filling it counts), as
        the volume poller picks (``pods.mount_path_of``); else the first that mounts it while
        none runs, else the first running one."""
        with self._lock:
            obj = self._objects["pods"].get(pod.name)
        if obj is None:
            return None, None
        running = [c.name for c in pod.containers if c.state == "running"]
        where = (
            pods.mount_path_of(obj, pod.cache_volume, prefer=running) if pod.cache_volume else None
        )
        if where is not None and (where[0] in running or not running):
            return where
        return (running[0] if running else None), (where[1] if where else None)

    def _quota_of(self, info: PodInfo) -> int | None:
        """The quota the overview shows the pod's cache volume against, else the pod's own."""
        snapshot = self.snapshot()
        key = info.cache_claim if info.cache_kind == "pvc" else f"{info.name}/{info.cache_volume}"
        volume = next((v for v in snapshot.volumes if v.name == key), None) if snapshot else None
        if volume is not None and volume.quota_bytes:
            return volume.quota_bytes
        return info.model.max_cache_size

    def _cache_of(self, pod: str) -> tuple[PodInfo, str, str | None, str]:
        """The pod's cache and where to read it: (pod info, pod to exec in, container, path).

        The pod itself while a container that mounts the cache runs; else, for a claim, a
        running pod that mounts the same claim at the same path (the same files). A crash
        loop that stops every such container is said in words, not as the API's 400."""
        snapshot = self.snapshot()
        info = snapshot.pod(pod) if snapshot else None
        if snapshot is None or info is None:
            raise execs.ExecError(
                f"pod {pod} is not in the current view of {self.cluster.namespace}"
            )
        container, mounted_at = self._cache_mount(info)
        path = mounted_at or info.model.cache_dir or "/app/models"
        if self._running(info, container):
            return info, pod, container, path
        for other in snapshot.pods:
            if other.name == pod or not info.cache_claim or other.cache_claim != info.cache_claim:
                continue
            theirs, their_path = self._cache_mount(other)
            if their_path == path and self._running(other, theirs):
                return info, other.name, theirs, path
        where = f"claim {info.cache_claim}" if info.cache_claim else "its cache"
        raise execs.ExecError(
            f"no running container sees {where} to read it in (pod {pod}'s container is not "
            "running; a verify or delete reads it through a helper pod)"
        )

    @staticmethod
    def _running(info: PodInfo, container: str | None) -> bool:
        return any(c.name == container and c.state == "running" for c in info.containers)

    # -- once, for `status` ------------------------------------------------------------------------

    def collect(self, timeout: float = 30.0) -> ClusterSnapshot:
        """One complete snapshot without watching: list every kind, read the logs of pods that
        are not Ready, measure volumes, then build. Raises ``ClusterError`` when the API
        cannot be used."""
        deadline = time.monotonic() + timeout
        self._follow_logs = False
        watchers = [
            KindWatcher(self.cluster, kind, self, self._stop, max_iterations=1, backoff=(0.0, 0.0))
            for kind in KINDS
        ]
        threads = [
            threading.Thread(target=w.run, name=f"asr-cache-tui list {w.kind}", daemon=True)
            for w in watchers
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(0.1, deadline - time.monotonic()))
        with self._lock:
            missing = [k for k in KINDS if k not in self._listed]
            failure = next((self._failing[k] for k in KINDS if k in self._failing), None)
        if missing:
            self._stop.set()
            for w in watchers:
                w.interrupt()
            raise ClusterError(failure or f"listing {missing[0]} did not finish in {timeout:g} s.")
        with self._lock:
            self._failing.clear()
            self._stale_since = None
            self._error = None
        self.poll_nodes()  # before the logs: a lost node's kubelet would not answer for them
        first = self.build_snapshot()
        streams = [
            self._new_stream(p.name, follow=False)
            for p in first.pods
            if p.reachable and not p.model_state.settled
        ]
        for batch_start in range(0, len(streams), 16):
            batch = streams[batch_start : batch_start + 16]
            for s in batch:
                s.start()
            for s in batch:
                s.join(max(0.1, deadline - time.monotonic()))
                s.stop()
        self.build_snapshot()
        self.poll_disks(force=True)
        self.poll_serving(force=True)
        self.build_snapshot()
        self.poll_volumes()
        snapshot = self.build_snapshot()
        self._stop.set()
        for s in streams:
            s.join(0.5)
        if self.owns_cluster:
            self.cluster.close()
        return snapshot
