"""Pod detail: the live log (following, bounded), a rate sparkline, df of the cache mount, the
cache files with their verification, and the pod's events.

Listing the cache runs ``df``/``ls`` in the pod, which blocks: it runs in a thread worker that
only posts a message, and the next listing is armed only after the last one answered.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Input, RichLog, Sparkline, Static

from collectors.model import (
    CacheFile,
    ClusterSnapshot,
    EventInfo,
    LogLine,
    ModelState,
    PodInfo,
    VolumeUsage,
)
from collectors.redact import redact_text
from collectors.state import relapsing
from collectors.units import format_bytes, format_duration
from tui import commands
from tui.format import (
    STATE_STYLE,
    ColumnFit,
    failure_gist,
    format_age,
    format_rate,
    progress_cell,
    shorten_middle,
    state_cell,
)
from tui.logtext import log_matches, log_text, several_containers
from tui.messages import CacheListed, RecentLogLoaded
from tui.screens.base import DataScreen
from tui.widgets.filter_box import FilterBox
from tui.widgets.fitted_table import FittedTable, fitted
from tui.widgets.header import ClusterHeader, StaleBanner

LOG_LINES = 1000  # lines kept in the log view
SIDE_WIDTH = 62  # the cache panel's width, when the log keeps LOG_MIN_WIDTH beside it (tcss)
LOG_MIN_WIDTH = 58
EVENTS_SHOWN = 12
EVIDENCE_SHOWN = 4
SAME_CAUSE_MIN = 16  # characters: a shorter cause ("ready") may sit inside another by chance


class CacheFilesTable(FittedTable):
    """The cache directory's files; on a narrow cache panel the age, then the size give way
    (the name shortens in its middle, its status stays): no horizontal scrollbar."""

    COLUMNS = (
        ("key", "", 0),
        ("name", "FILE", 26),
        ("size", "SIZE", 10),
        ("modified", "AGE", 4),
        ("status", "STATUS", 10),
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._longest = 26  # the longest file name shown
        self._last: tuple[Sequence[CacheFile], float] = ((), 0.0)

    def column_fits(self) -> Sequence[ColumnFit]:
        return (
            ColumnFit("name", 8, 20, self._longest, grow=0),
            ColumnFit("size", 9, 10, 10, drop=1, grow=1),
            ColumnFit("modified", 4, 4, 4, drop=2, grow=2),
            ColumnFit("status", 10, 10, 10),
        )

    def show(self, files: Sequence[CacheFile], now: float) -> bool:
        self._last = (files, now)
        self._longest = max((len(f.name) for f in files), default=8)
        self.fit()
        layout = self.column_layout
        rows = [(f.name, (f, format_age(now - f.modified_at), layout)) for f in files]
        return self.sync(rows, _file_cells)

    def redraw(self) -> None:
        self.show(*self._last)


def _file_cells(source: Any) -> tuple[Any, ...]:
    f, age, layout = source
    if f.partial:
        status = Text("partial", style="cyan")
    elif f.verified is True:
        status = Text("✓ verified", style="green")
    elif f.verified is False:
        status = Text("✗ mismatch", style="bold red")
    else:
        status = Text("unverified", style="grey62")
    name = shorten_middle(f.name, dict(layout)["name"])
    return (f.name, *fitted((name, format_bytes(f.size), age, status), layout[1:]))


def telling_evidence(pod: PodInfo) -> list[str]:
    """The evidence lines that add something. A server's wrapper, the downloader's retry line
    and its error often quote one cause ("no space left …"); it is shown once, on the progress
    line when that has it, and the bullets keep room for what else is known."""
    shown = [pod.progress.message] if pod.progress is not None and pod.progress.message else []
    telling: list[str] = []
    for line in pod.evidence:
        cause = failure_gist(line.removeprefix("log: "))
        if len(cause) >= SAME_CAUSE_MIN and any(cause in seen for seen in shown):
            continue
        shown.append(line)
        telling.append(line)
    return telling


def summary_text(pod: PodInfo | None, name: str, now: float) -> Text:
    if pod is None:
        return Text(f"{name}: gone from the namespace (deleted or replaced).", style="bold red")
    text = Text()
    text.append(pod.name, style="bold")
    text.append("  ")
    text.append_text(state_cell(pod.model_state, again=relapsing(pod)))
    status = pod.kubectl_status or pod.phase  # in kubectl's words, as the pods table
    text.append(f"   {status}{' ready' if pod.ready else ''}  restarts {pod.restarts}")
    text.append(f"  node {pod.node or '-'}  age {format_age(now - pod.created_at)}")
    m = pod.model
    text.append(f"\nmodel {m.version or '-'}  ", style="grey70")
    text.append(f"cache {m.cache_dir or '-'}", style="grey70")
    where = pod.cache_claim or pod.cache_volume or "-"
    text.append(f" on {pod.cache_kind or '?'} {where}", style="grey70")
    if m.url:
        text.append(f"\nurl {m.url}", style="grey50")
    bounded = next((c for c in pod.containers if not c.init and c.start_limit), None)
    if bounded is not None and bounded.start_limit is not None and not pod.ready:
        # Whether a long download will be killed: the first thing to know of a slow start.
        probe = bounded.start_limit
        text.append(
            f"\n{bounded.name}'s {probe.kind} probe allows a start about "
            f"{format_duration(probe.allows)} ({probe.settings})",
            style="grey70",
        )
    if pod.progress is not None:
        text.append("\n")
        text.append_text(progress_cell(pod.progress, pod.model_state, width=20))
        if pod.progress.attempt:
            text.append(f"  attempt {pod.progress.attempt}")
        if pod.progress.message:
            text.append(f"  {redact_text(pod.progress.message)}", style="italic")
    if pod.verification is not None:
        v = pod.verification
        style = "green" if v.ok else STATE_STYLE[pod.model_state]
        mark = "✓ checksum verified" if v.ok else "✗ checksum mismatch"
        text.append(f"\n{mark} {v.path}", style=style)
        if v.message:
            text.append(f"  {v.message}", style=style)
    for line in telling_evidence(pod)[:EVIDENCE_SHOWN]:
        text.append(f"\n• {redact_text(line)}", style="grey70")
    if pod.previous_run:
        text.append(f"\n↻ {redact_text(pod.previous_run)}", style="grey50")
    return text


_NOT_STARTED = (ModelState.BLOCKED, ModelState.PENDING)


def moving(pod: PodInfo | None) -> bool:
    """Bytes are arriving now: a download that is running and not stalled."""
    return (
        pod is not None
        and pod.progress is not None
        and pod.progress.in_flight
        and pod.model_state is not ModelState.STALLED
    )


def rate_label(rates: Sequence[float], pod: PodInfo | None) -> Text:
    """The rate now only while bytes move; after the download (or while it is stalled) the
    last sample is history, not "now"."""
    label = Text("download rate ", style="bold")
    if not rates:
        # A pod that found the model cached, or finished before the dashboard started, has
        # no rate to show, and will never have one: "yet" would promise one.
        wait = "no samples yet" if moving(pod) else "none (not downloading while watched)"
        if pod is not None and pod.model_state in _NOT_STARTED:
            wait = "none (the pod has not started)"
        label.append(wait, style="grey50")
        return label
    if moving(pod) and rates[-1] > 0:
        label.append(f"now {format_rate(rates[-1])}  ")
    else:
        label.append("not moving  ", style="grey62")
    label.append(f"peak {format_rate(max(rates))}")
    label.append(f"  ({len(rates)} samples)", style="grey50")
    return label


def failures_text(failed: dict[str, str]) -> str:
    """``df failed: …; listing failed: …``, or one sentence when both failed for one reason
    (no running container sees the volume): the same paragraph twice reads as two faults."""
    reasons = set(failed.values())
    if len(failed) > 1 and len(reasons) == 1:
        return f"{' and '.join(failed)} failed: {reasons.pop()}"
    return "; ".join(f"{what} failed: {why}" for what, why in failed.items())


def df_text(mount: str, usage: VolumeUsage | None, error: str | None) -> Text:
    if error:
        return Text(f"df {mount}: {error}", style="red")
    if usage is None:
        return Text(f"df {mount}: measuring…", style="grey50")
    text = Text(f"df {mount}  ", style="bold")
    used = format_bytes(usage.used_bytes) if usage.used_bytes is not None else "?"
    if usage.capacity_meaningful and usage.capacity_bytes:
        full = usage.fraction_full or 0.0
        text.append(f"{used} of {format_bytes(usage.capacity_bytes)} ({full:.0%} full)")
    else:
        text.append(f"{used} used (size not meaningful)")
    if usage.available_bytes is not None and usage.capacity_meaningful:
        text.append(f", {format_bytes(usage.available_bytes)} free")
    text.append(f"  [{usage.source}]", style="grey62")
    if usage.note:
        text.append(f"\n{usage.note}", style="italic grey62")
    return text


def events_text(events: Sequence[EventInfo], now: float) -> Text:
    if not events:
        return Text("no events", style="grey50")
    text = Text()
    for i, e in enumerate(events):
        if i:
            text.append("\n")
        style = "yellow" if e.type == "Warning" else ""
        text.append(f"{format_age(now - e.last_seen):>4} ", style="grey62")
        text.append(f"{e.type:<7} ", style=style)
        text.append(f"{e.reason:<18} ", style=style or "bold")
        if e.count > 1:
            text.append(f"x{e.count} ", style="grey62")
        text.append(redact_text(e.message))
    return text


class PodDetailScreen(DataScreen):
    BINDINGS: ClassVar[list[BindingType]] = list(commands.bindings("detail"))
    # Below this width the cache panel's 62 columns would leave the log too narrow to read:
    # the panel then takes a share of the width instead (app.tcss, ``.-narrow``).
    HORIZONTAL_BREAKPOINTS = [
        (0, "-narrow"),
        (SIDE_WIDTH + LOG_MIN_WIDTH, "-wide"),
    ]

    def __init__(self, pod: str) -> None:
        super().__init__(id="detail")
        self.pod_name = pod
        self._history_loaded = False
        self._early: deque[LogLine] = deque(maxlen=LOG_LINES)
        self._replay: Counter[str] = Counter()
        self._usage: VolumeUsage | None = None
        self._files: tuple[CacheFile, ...] = ()
        self._cache_error: str | None = None
        self._last_texts: dict[str, str] = {}
        self._labelled = False  # once lines name their container, they all do
        self._kept: deque[LogLine] = deque(maxlen=LOG_LINES)  # what the log shows unfiltered
        self.log_needle = ""
        self.log_lines_written = 0

    def compose(self) -> ComposeResult:
        yield ClusterHeader(id="header")
        yield StaleBanner(id="stale")
        with VerticalScroll(id="summary-box"):  # long evidence scrolls, never cut
            yield Static(id="summary")
        with Horizontal(id="detail-body"):
            with Vertical(id="side"):
                yield Static(id="rate-label")
                yield Sparkline([], id="rate")
                yield Static(id="df")
                yield CacheFilesTable(id="files", show_cursor=False)
            with Vertical(id="log-pane"):
                yield FilterBox(
                    "filter the log: text in a line, e.g. error", returns_to="#log", id="log-filter"
                )
                # Long lines (downloader JSON, validation errors) wrap at the pane's width,
                # however narrow (min_width would otherwise wrap them at 78 and cut them).
                yield RichLog(id="log", max_lines=LOG_LINES, wrap=True, min_width=20, markup=False)
        yield Static(id="events")
        yield Static(id="activity")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#summary-box").border_title = f"Pod {self.pod_name}"
        self.query_one("#side").border_title = "Cache"
        self.query_one("#log").border_title = "Log (following)"
        self.query_one("#events").border_title = "Events"
        self.query_one("#activity", Static).display = False
        self.query_one("#log", RichLog).focus()
        self.dash.bridge.follow(self.pod_name)
        self.run_worker(self._load_log, thread=True, group="detail-log", name="recent-log")
        self._list_cache()
        self.ready = True
        self.show(self.dash.snapshot, self.dash.now())

    def on_unmount(self) -> None:
        self.dash.bridge.follow(None)
        self.dash.feed.unfollow_pod(self.pod_name)

    @property
    def selected_pod(self) -> str | None:
        return self.pod_name

    def action_back(self) -> None:
        """Esc clears the log filter first, as in the overview; then goes back."""
        if self.query_one("#log-filter", FilterBox).close():
            self._set_log_needle("")
            return
        self.dismiss()

    # The log filter --------------------------------------------------------------------------
    def action_filter(self) -> None:
        self.query_one("#log-filter", FilterBox).open()

    @on(Input.Changed, "#log-filter")
    def _log_filter_changed(self, event: Input.Changed) -> None:
        self._set_log_needle(event.value.strip())

    def _set_log_needle(self, needle: str) -> None:
        """Show the kept lines again, only those that match (all for an empty needle)."""
        if needle == self.log_needle:
            return
        self.log_needle = needle
        log = self.query_one("#log", RichLog)
        log.clear()
        shown = [ln for ln in self._kept if log_matches(ln, needle)] if needle else self._kept
        for line in shown:
            log.write(log_text(line, self._labelled))
        self._title_log(len(shown) if needle else None)

    def _title_log(self, shown: int | None) -> None:
        title = "Log (following)"
        if shown is not None:
            title = f"Log (following · filter {self.log_needle!r}: {shown} of {len(self._kept)})"
        self.query_one("#log", RichLog).border_title = title

    # Snapshot and clock ----------------------------------------------------------------------
    def draw(self, snapshot: ClusterSnapshot | None, now: float) -> None:
        pod = snapshot.pod(self.pod_name) if snapshot else None
        self._set("#summary", summary_text(pod, self.pod_name, now) if snapshot else Text(""))
        rates = self.dash.history.rates(self.pod_name)
        spark = self.query_one("#rate", Sparkline)
        if list(spark.data or []) != rates:
            spark.data = rates
        # One sample, or only zeros, would draw as a full bar: show the line only with a shape.
        shape = len(rates) > 1 and max(rates) > 0
        if spark.display != shape:
            spark.display = shape
        self._set("#rate-label", rate_label(rates, pod))
        mount = (pod.model.cache_dir if pod else None) or "cache"
        self._set("#df", df_text(mount, self._usage, self._cache_error))
        self.query_one(CacheFilesTable).show(self._files, now)
        events = [
            e
            for e in (snapshot.events if snapshot else ())
            if e.object_kind == "Pod" and e.object_name == self.pod_name
        ]
        events.sort(key=lambda e: e.last_seen, reverse=True)
        self._set("#events", events_text(events[:EVENTS_SHOWN], now))

    def _set(self, selector: str, text: Text) -> None:
        """Update a Static only when its content changed (no redraw otherwise)."""
        key = text.markup
        if self._last_texts.get(selector) != key:
            self._last_texts[selector] = key
            self.query_one(selector, Static).update(text)

    # The log ---------------------------------------------------------------------------------
    def _load_log(self) -> None:
        """Thread: make sure the feed follows this pod, then fetch what it kept."""
        feed = self.dash.feed
        try:
            feed.follow_pod(self.pod_name)
            lines = tuple(feed.recent_log(self.pod_name))
        except Exception as exc:  # the feed's failure is shown, never raised into the UI
            lines = (LogLine(self.pod_name, "", f"log unavailable: {exc}", kind="error"),)
        self.post_message(RecentLogLoaded(self.pod_name, lines))

    def on_recent_log_loaded(self, message: RecentLogLoaded) -> None:
        lines = message.lines[-LOG_LINES:]
        self._replay = Counter(ln.text for ln in lines)
        self._history_loaded = True
        self._write(lines)
        early = list(self._early)
        self._early.clear()
        self.add_log_lines(early)

    def add_log_lines(self, lines: Sequence[LogLine]) -> None:
        """Live lines from the feed (via the app).

        Following a pod may make the feed stream its log again from the tail: until the first
        line the history does not hold, lines already shown are skipped.
        """
        if not self._history_loaded:
            self._early.extend(lines)
            return
        fresh: list[LogLine] = []
        for line in lines:
            if self._replay and self._replay[line.text] > 0:
                self._replay[line.text] -= 1
                continue
            self._replay.clear()  # caught up: everything from here on is new
            fresh.append(line)
        self._write(fresh)

    def _write(self, lines: Sequence[LogLine]) -> None:
        log = self.query_one("#log", RichLog)
        if not self._labelled:
            snapshot = self.dash.snapshot
            pod = snapshot.pod(self.pod_name) if snapshot else None
            self._labelled = several_containers(pod, lines)
        self._kept.extend(lines)
        needle = self.log_needle
        shown = [ln for ln in lines if log_matches(ln, needle)] if needle else lines
        for line in shown:
            log.write(log_text(line, self._labelled))
        self.log_lines_written += len(lines)
        if needle:
            self._title_log(sum(1 for ln in self._kept if log_matches(ln, needle)))

    # The cache listing -----------------------------------------------------------------------
    def _list_cache(self) -> None:
        self.run_worker(
            self._fetch_cache, thread=True, exclusive=True, group="detail-cache", name="cache-ls"
        )

    def _fetch_cache(self) -> None:
        """Thread: ``df`` and the file listing through the feed (exec in the pod)."""
        feed = self.dash.feed
        usage: VolumeUsage | None = None
        files: Sequence[CacheFile] | None = None
        failed: dict[str, str] = {}
        try:
            usage = feed.disk_usage(self.pod_name)
        except Exception as exc:
            failed["df"] = str(exc)
        try:
            files = feed.cache_files(self.pod_name)
        except Exception as exc:
            failed["listing"] = str(exc)
        error = redact_text(failures_text(failed)) if failed else None
        self.post_message(CacheListed(self.pod_name, usage, files, error))

    def on_cache_listed(self, message: CacheListed) -> None:
        self._usage = message.usage
        if message.files is not None:
            self._files = message.files
        self._cache_error = message.error
        self.show(self.dash.snapshot, self.dash.now())
        self.set_timer(self.dash.cache_refresh, self._list_cache)
