"""The timeline (``t``): what happened, and in which pod. Every ASR pod's log and the
namespace's events about our objects, merged oldest first, newest at the bottom, following.

How its lines arrive: the feed's rings are read once, in a thread worker that also builds the
first model off the loop; from then on the bridge forwards every pod's new lines while the
timeline is open, through the one path the detail's log takes (one message in flight, a
bounded backlog). Re-reading every ring on a timer would copy up to 64 rings of 500 lines
twice a second to find a few new ones, and would have to tell new lines from old by position
in rings that drop and overwrite lines; the bridge hands over exactly the new ones, in order.
The bridge is told first, then the rings are read, so no line falls between the two; a line
that comes both ways is kept once (``tui.timeline``).
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Collection, Sequence
from functools import partial
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.css.query import NoMatches
from textual.widgets import Footer, Input, Static

from collectors.model import ClusterSnapshot, LogLine
from tui import commands
from tui.logtext import several_containers
from tui.messages import TimelineLoaded
from tui.screens.base import DataScreen
from tui.timeline import TIMELINE_LINES, Entry, Timeline, our_events
from tui.widgets.filter_box import FilterBox
from tui.widgets.header import ClusterHeader, StaleBanner
from tui.widgets.timeline_view import TimelineView, whole_text

READING = "reading the pods' logs…"


def labelled_pods(snapshot: ClusterSnapshot | None) -> frozenset[str]:
    """Pods whose lines name their container: those with more than one."""
    if snapshot is None:
        return frozenset()
    return frozenset(p.name for p in snapshot.pods if several_containers(p, ()))


def pods_to_read(snapshot: ClusterSnapshot | None) -> list[str]:
    """Every pod whose kept log the timeline starts from: the ASR pods and the pre-warm jobs'."""
    if snapshot is None:
        return []
    names = [p.name for p in snapshot.pods]
    names += [p for j in snapshot.jobs for p in j.pods if p not in names]
    return names


class TimelineScreen(DataScreen):
    BINDINGS: ClassVar[list[BindingType]] = list(commands.bindings("timeline"))

    def __init__(self) -> None:
        super().__init__(id="timeline")
        self.model: Timeline | None = None  # None until the rings are read
        self._early: deque[LogLine] = deque(maxlen=TIMELINE_LINES)  # live lines before that
        self.show_progress = False
        self.needle = ""
        self._labelled: tuple[ClusterSnapshot | None, frozenset[str]] = (None, frozenset())
        self._events_of: tuple[ClusterSnapshot | None, set[str]] = (None, set())  # drawn from

    def compose(self) -> ComposeResult:
        yield ClusterHeader(id="header")
        yield StaleBanner(id="stale")
        yield FilterBox(
            "filter the timeline: text, pod or reason, e.g. error",
            returns_to="#timeline-lines",
            id="timeline-filter",
        )
        yield TimelineView(id="timeline-lines")
        # The line under the cursor, whole: the list cuts long lines at its width.
        yield Static(Text(READING, style="grey50"), id="timeline-line")
        yield Static(id="activity")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#activity", Static).display = False
        self.query_one(TimelineView).focus()
        # First the bridge, then the rings: a line logged between the two comes both ways
        # (and is kept once), never neither.
        self.dash.bridge.follow_every_pod(True)
        snapshot = self.dash.snapshot
        self.run_worker(
            partial(self._load, snapshot), thread=True, group="timeline", name="timeline-history"
        )
        self.ready = True
        self._title()
        self.show(snapshot, self.dash.now())

    def on_unmount(self) -> None:
        self.dash.bridge.follow_every_pod(False)

    @property
    def selected_pod(self) -> str | None:
        """The pod of the line under the cursor, while it exists (actions and ``l`` use it)."""
        entry = self.query_one(TimelineView).current
        snapshot = self.dash.snapshot
        pod = entry.pod if entry is not None else None
        if pod is None or snapshot is None or snapshot.pod(pod) is None:
            return None
        return pod

    # Lines in --------------------------------------------------------------------------------
    def _load(self, snapshot: ClusterSnapshot | None) -> None:
        """Thread: every pod's kept log and the events, merged into the first model."""
        feed = self.dash.feed
        lines: list[LogLine] = []
        for pod in pods_to_read(snapshot):
            try:
                lines.extend(feed.recent_log(pod))
            except Exception as exc:  # the feed's failure is shown, never raised into the UI
                at = self.dash.now()
                lines.append(LogLine(pod, "", f"log unavailable: {exc}", "error", at))
        lines.sort(key=lambda line: line.when)  # stable: each pod's order stays
        model = Timeline()
        model.add_lines(lines, labelled_pods(snapshot))
        if snapshot is not None:
            model.add_events(our_events(snapshot))
        self.post_message(TimelineLoaded(model))

    def on_timeline_loaded(self, message: TimelineLoaded) -> None:
        self.model = message.timeline
        early = list(self._early)
        self._early.clear()
        self.model.add_lines(early, self._labelled_now())
        if self.dash.snapshot is not None:
            self.model.add_events(our_events(self.dash.snapshot, self.model.pods()))
        self._show_lines()

    def add_log_lines(self, lines: Sequence[LogLine]) -> None:
        """Live lines of any pod (via the app)."""
        if self.model is None:
            self._early.extend(lines)
        elif self.model.add_lines(lines, self._labelled_now()):
            with contextlib.suppress(NoMatches):  # the app is closing: its widgets are gone
                self._show_lines()

    def draw(self, snapshot: ClusterSnapshot | None, now: float) -> None:
        """The snapshot's events, when it or the pods they may be about changed (the clock
        redraws every second with the same snapshot: nothing new in it)."""
        model = self.model
        if model is None or snapshot is None:
            return
        pods = model.pods()
        if snapshot is self._events_of[0] and pods == self._events_of[1]:
            return
        self._events_of = (snapshot, pods)
        if model.add_events(our_events(snapshot, pods)):
            self._show_lines()

    def _labelled_now(self) -> Collection[str]:
        snapshot = self.dash.snapshot
        if self._labelled[0] is not snapshot:
            self._labelled = (snapshot, labelled_pods(snapshot))
        return self._labelled[1]

    # What is shown ---------------------------------------------------------------------------
    def _show_lines(self) -> None:
        view = self.query_one(TimelineView)
        kept = self._kept()
        needle = self.needle
        view.show([e for e in kept if e.matches(needle)] if needle else kept)
        self._title(len(kept))
        self._show_current()

    def _kept(self) -> list[Entry]:
        """The lines before the text filter: all, or all but progress."""
        entries = self.model.entries if self.model is not None else ()
        if self.show_progress:
            return list(entries)
        return [e for e in entries if e.kind != "progress"]

    def _title(self, kept: int = 0) -> None:
        view = self.query_one(TimelineView)
        if self.model is None:
            view.border_title = f"Timeline · {READING}"
            return
        pods = len(self.model.pods())
        title = f"Timeline · {pods} pod{'' if pods == 1 else 's'} · progress "
        title += "shown (a: hide)" if self.show_progress else "hidden (a: show)"
        if self.needle:
            title += f" · filter {self.needle!r}: {len(view.rows)} of {kept}"
        view.border_title = title

    @on(TimelineView.Moved)
    def _show_current(self) -> None:
        """The line under the cursor, whole, under the list (or why there is none)."""
        view = self.query_one(TimelineView)
        entry = view.current
        if entry is not None:
            said = whole_text(entry, view.colours[entry.who])
        else:
            empty = "no line matches" if self.needle else "no lines yet"
            said = Text(READING if self.model is None else empty, style="grey50")
        self.query_one("#timeline-line", Static).update(said)
        view.border_subtitle = "following" if view.following else "end: follow"

    # Keys ------------------------------------------------------------------------------------
    def action_toggle_progress(self) -> None:
        self.show_progress = not self.show_progress
        self._show_lines()

    def action_filter(self) -> None:
        self.query_one("#timeline-filter", FilterBox).open()

    @on(Input.Changed, "#timeline-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._set_needle(event.value.strip())

    def _set_needle(self, needle: str) -> None:
        if needle != self.needle:
            self.needle = needle
            self._show_lines()

    def action_back(self) -> None:
        """Esc clears the filter first, as in the detail; then goes back."""
        if self.query_one("#timeline-filter", FilterBox).close():
            self._set_needle("")
            return
        self.dismiss()

    @on(TimelineView.Chosen)
    def _chosen(self, message: TimelineView.Chosen) -> None:
        self.open_entry(message.entry)

    def open_current(self) -> None:
        """``l``: the detail of the pod under the cursor."""
        entry = self.query_one(TimelineView).current
        if entry is None:
            self.notify("No line to open yet.", severity="warning")
        else:
            self.open_entry(entry)

    def open_entry(self, entry: Entry) -> None:
        """The pod's detail, if the pod still exists; else say why not."""
        pod = entry.pod
        snapshot = self.dash.snapshot
        if pod is None:
            self.notify(f"{entry.who} is not a pod: its events are all there is.", timeout=4)
        elif snapshot is None or snapshot.pod(pod) is None:
            self.notify(f"{pod} is gone (deleted or replaced).", severity="warning", timeout=4)
        else:
            self.dash.open_detail(pod)
