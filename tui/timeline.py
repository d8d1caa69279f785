"""The timeline's model: what happened in the namespace, across every pod, oldest first.

Every ASR pod's log lines and the namespace's events about our objects (pods, claims, jobs,
releases), merged in time order and bounded (``TIMELINE_LINES``; the oldest go first). Lines
reach it twice over: from the feed's rings, read once when the timeline opens, and live from
the bridge; a line that comes both ways is kept once. A pod's run of progress lines is kept as
its latest line only, so a download that logs every second cannot push the errors of ten
minutes ago out of the bound. No Textual here: the screen draws it, tests drive it directly.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, insort
from collections import Counter
from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass

from collectors.model import ClusterSnapshot, EventInfo, LogLine
from tui.logtext import log_matches

TIMELINE_LINES = 1000  # lines kept, log lines and events together

# How an event's object is named beside the pods (a pod by its name alone).
_OBJECT_PREFIX = {
    "Pod": "",
    "PersistentVolumeClaim": "pvc/",
    "Job": "job/",
    "CronJob": "cronjob/",
    "Deployment": "deploy/",
    "ReplicaSet": "rs/",
}


@dataclass(frozen=True)
class Entry:
    """One line of the timeline: a pod's log line, or an event about one of our objects."""

    at: float  # when the line was written (else received), the event's last_seen
    seq: int  # arrival order: what came first stays first within one second
    source: LogLine | EventInfo
    labelled: bool = False  # its pod logs from more than one container: name it
    repeats: int = 0  # earlier progress lines of its pod folded into this one

    @property
    def kind(self) -> str:
        """plain | progress | warning | error: a Warning event is marked as a warning line."""
        if isinstance(self.source, LogLine):
            return self.source.kind
        return "warning" if self.source.type == "Warning" else "plain"

    @property
    def pod(self) -> str | None:
        """The pod it is about (None for an event about a claim, a job, a release)."""
        if isinstance(self.source, LogLine):
            return self.source.pod
        return self.source.object_name if self.source.object_kind == "Pod" else None

    @property
    def who(self) -> str:
        """Whose line it is, as labelled: a pod's name, else ``pvc/NAME``, ``job/NAME``…"""
        if isinstance(self.source, LogLine):
            return self.source.pod
        prefix = _OBJECT_PREFIX.get(self.source.object_kind, f"{self.source.object_kind}/")
        return prefix + self.source.object_name

    def matches(self, needle: str) -> bool:
        """The ``/`` filter: text, container, pod or event reason, any case."""
        wanted = needle.casefold()
        if wanted in self.who.casefold():
            return True
        if isinstance(self.source, LogLine):
            return log_matches(self.source, needle)
        hay = f"event {self.source.reason} {self.source.message}"
        return wanted in hay.casefold()


def _key(source: LogLine | EventInfo) -> Hashable:
    """What makes two arrivals one line. A log line is equal in every field to itself only:
    lines of one read share their receive time, lines of two reads do not. An event is one
    occurrence per last_seen (its count moves with it)."""
    if isinstance(source, LogLine):
        return source
    return (
        source.object_kind,
        source.object_name,
        source.type,
        source.reason,
        source.message,
        source.last_seen,
    )


def _order(entry: Entry) -> tuple[float, int]:
    return (entry.at, entry.seq)


class Timeline:
    """The merged, bounded lines; add to it on the event loop (or before handing it over)."""

    def __init__(self, limit: int = TIMELINE_LINES) -> None:
        self.limit = limit
        self._entries: list[Entry] = []  # sorted by (at, seq)
        self._held: Counter[Hashable] = Counter()  # keys of what ``_entries`` holds
        self._latest: dict[str, Entry] = {}  # pod -> its newest log line held
        self._pods: Counter[str] = Counter()  # pod -> how many of ``_entries`` are about it
        self._seq = itertools.count()

    @property
    def entries(self) -> Sequence[Entry]:
        return self._entries

    def pods(self) -> set[str]:
        """The pods the timeline has lines or events of (kept count of, not searched for: asked
        on every redraw and every batch of lines)."""
        return set(self._pods)

    def add_lines(self, lines: Sequence[LogLine], labelled: Collection[str] = ()) -> bool:
        """Add the lines not held yet; True when anything changed.

        The same line n times in one call is n lines (a read's lines share their time), so of
        each only as many are added as are not held already: a line read from a ring and then
        received live, or the other way round, is kept once. ``labelled``: pods with more than
        one container.
        """
        wanted = Counter(_key(line) for line in lines)
        changed = False
        for line in lines:
            key = _key(line)
            if self._held[key] >= wanted[key]:
                continue
            repeats = 0
            before = self._latest.get(line.pod)
            if line.kind == "progress" and before is not None and before.kind == "progress":
                self._remove(before)  # the run goes on: its latest line stands for it
                repeats = before.repeats + 1
                changed = True
            entry = Entry(line.when, next(self._seq), line, line.pod in labelled, repeats)
            if self._insert(entry, key):
                self._latest[line.pod] = entry
                changed = True
        return self._trim() or changed

    def add_events(self, events: Iterable[EventInfo]) -> bool:
        """Add the events not held yet (each snapshot offers them all again)."""
        changed = False
        for event in events:
            key = _key(event)
            if not self._held[key]:
                changed = (
                    self._insert(Entry(event.last_seen, next(self._seq), event), key) or changed
                )
        return self._trim() or changed

    def _insert(self, entry: Entry, key: Hashable) -> bool:
        """Put it in its place; when full, what would be dropped at once is not added (so an
        event dropped for its age is not added back by the next snapshot)."""
        entries = self._entries
        if len(entries) >= self.limit and entries and entry.at <= entries[0].at:
            return False
        insort(entries, entry, key=_order)
        self._held[key] += 1
        if (pod := entry.pod) is not None:
            self._pods[pod] += 1
        return True

    def _remove(self, entry: Entry) -> None:
        at = bisect_left(self._entries, _order(entry), key=_order)
        del self._entries[at]
        self._forget(entry)

    def _forget(self, entry: Entry) -> None:
        key = _key(entry.source)
        self._held[key] -= 1
        if self._held[key] <= 0:
            del self._held[key]
        pod = entry.pod
        if pod is None:
            return
        self._pods[pod] -= 1
        if self._pods[pod] <= 0:
            del self._pods[pod]
        if self._latest.get(pod) is entry:  # only a log line is ever a pod's latest
            del self._latest[pod]

    def _trim(self) -> bool:
        excess = len(self._entries) - self.limit
        if excess <= 0:
            return False
        for entry in self._entries[:excess]:
            self._forget(entry)
        del self._entries[:excess]
        return True


def our_events(snapshot: ClusterSnapshot, pods: Collection[str] = ()) -> list[EventInfo]:
    """The snapshot's events about our objects: the pods in it (and ``pods``, gone since),
    the pre-warm jobs' pods, the cache claims, the jobs, the releases and their ReplicaSets
    (where a quota refusal is told). The namespace's other workloads are not ours."""
    names: dict[str, set[str]] = {
        "Pod": {p.name for p in snapshot.pods} | set(pods),
        "PersistentVolumeClaim": {v.name for v in snapshot.volumes if v.kind == "pvc"},
        "Job": {j.name for j in snapshot.jobs if j.kind == "Job"},
        "CronJob": {j.name for j in snapshot.jobs if j.kind == "CronJob"},
        "Deployment": {r.name for r in snapshot.rollouts},
    }
    names["Pod"].update(p for j in snapshot.jobs for p in j.pods)
    releases = tuple(f"{r.name}-" for r in snapshot.rollouts)
    return [
        e
        for e in snapshot.events
        if e.object_name in names.get(e.object_kind, ())
        or (e.object_kind == "ReplicaSet" and e.object_name.startswith(releases))
    ]
