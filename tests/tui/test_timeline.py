"""The timeline (``t``): every pod's log and the events about our objects, merged oldest first,
labelled, following live, progress hidden until asked for, filtered with ``/``, bounded; from
a line to its pod's detail; offered read-only; and on the real simulator through the real
feed, a crash-looping pod's error beside its Warning event."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from collectors.model import EventInfo, LogLine
from tests.actions.world import World
from tests.polling import pilot_until
from tests.tui.conftest import CORRUPT, SIZE, STALLED, Recorder, make_app
from tests.tui.fakes import NOW, FakeActions, FakeFeed, sample_log, sample_snapshot
from tests.tui.screen import screen_text
from tui.app import AsrCacheApp
from tui.messages import LogLinesReceived
from tui.palette import palette_commands
from tui.screens.detail import PodDetailScreen
from tui.screens.help import HelpScreen
from tui.screens.overview import OverviewScreen
from tui.screens.timeline import TimelineScreen
from tui.timeline import TIMELINE_LINES, Entry
from tui.widgets.timeline_view import TimelineView, clock_time

DOWNLOADING = "lightning-asr-7d9f8c6b5-8mz2p"


def line(pod: str, text: str, at: float, kind: str = "plain") -> LogLine:
    return LogLine(pod, "lightning-asr", text, kind, at)


def text_of(entry: Entry) -> str:
    return entry.source.text if isinstance(entry.source, LogLine) else entry.source.message


def two_pods_feed() -> FakeFeed:
    """The stalled pod's sample log (NOW-200…NOW-195) and the corrupt pod's lines between."""
    logs = {
        STALLED: sample_log(STALLED),
        CORRUPT: [
            line(CORRUPT, "INFO validating /app/models/v1/model.bin", NOW - 199.5),
            line(CORRUPT, "ERROR checksum mismatch", NOW - 196.5, "error"),
        ],
    }
    return FakeFeed(sample_snapshot(), logs=logs)


async def open_timeline(pilot: Pilot[int]) -> TimelineScreen:
    await pilot.pause()
    await pilot.press("t")
    screen = await pilot_until(
        pilot, lambda: s if isinstance(s := pilot.app.screen, TimelineScreen) else None
    )
    # The rings are read in a worker thread: wait for the model, not for a fixed pause.
    await pilot_until(pilot, lambda: screen.model is not None)
    await pilot.pause()
    return screen


def shown(app: AsrCacheApp) -> list[str]:
    """The timeline's lines as on screen, in order."""
    lines = (ln.strip("│ ") for ln in screen_text(app).splitlines() if ln.startswith("│"))
    return [ln for ln in lines if ln]


def index_of(lines: list[str], text: str) -> int:
    found = [i for i, ln in enumerate(lines) if text in ln]
    assert len(found) == 1, (text, lines)
    return found[0]


async def test_two_pods_and_events_merge_in_time_order_with_labels() -> None:
    app = make_app(two_pods_feed())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_timeline(pilot)
        lines = shown(app)
        order = [
            "event Started",  # NOW-880
            "INFO starting lightning-asr",  # stalled, NOW-200
            "INFO validating",  # corrupt, NOW-199.5
            "INFO model cache",  # stalled, NOW-199
            "ERROR checksum mismatch",  # corrupt, NOW-196.5
            "WARNING no bytes received",  # stalled, NOW-196
        ]
        at = {text: index_of(lines, text) for text in order}
        assert at["event Started"] < at["INFO starting lightning-asr"] < at["INFO validating"]
        assert at["INFO validating"] < at["INFO model cache"] < at["ERROR checksum mismatch"]
        assert at["ERROR checksum mismatch"] < at["WARNING no bytes received"]
        assert index_of(lines, "event BackOff") < index_of(lines, "event DownloadStalled")
        assert index_of(lines, "event DownloadStalled") == len(lines) - 1  # newest at the bottom
        # Each line: its time, its pod, then the line marked as the detail marks it.
        error = lines[at["ERROR checksum mismatch"]]
        assert error.startswith(f"{clock_time(NOW - 196.5)}  {CORRUPT}  ✗ ERROR"), error
        stalled = lines[index_of(lines, "ERROR download stalled")]
        assert stalled.startswith(f"{clock_time(NOW - 195)}  {STALLED}  ✗ ERROR"), stalled
        backoff = lines[index_of(lines, "event BackOff")]
        assert backoff.startswith(f"{clock_time(NOW - 30)}  {CORRUPT}  ! event BackOff x12"), (
            backoff
        )
        assert "Timeline · 2 pods · progress hidden (a: show)" in screen_text(app)
        # A colour per pod, the same on each of its lines, another for the other pod.
        view = screen.query_one(TimelineView)
        colours: dict[str, set[str]] = {}
        for row, entry in enumerate(view.rows):
            colours.setdefault(entry.who, set()).add(label_colour(view, row))
        assert len(colours[STALLED]) == 1 and colours[STALLED] != colours[CORRUPT]


def label_colour(view: TimelineView, row: int) -> str:
    """The colour the pod's name is drawn in on a row (as rendered for the screen)."""
    strip = view.render_line(row - round(view.scroll_y))
    segment = next(seg for seg in strip if seg.text.startswith("lightning-asr"))
    assert segment.style is not None and segment.style.color is not None
    return segment.style.color.name


async def test_progress_is_hidden_until_a_shows_it_folded() -> None:
    app = make_app(two_pods_feed())
    async with app.run_test(size=SIZE) as pilot:
        await open_timeline(pilot)
        assert not any("model.bin  " in ln for ln in shown(app))
        await pilot.press("a")
        await pilot.pause()
        text = screen_text(app)
        assert "progress shown (a: hide)" in text
        progress = [ln for ln in shown(app) if "» model.bin" in ln]
        # Two progress lines in a row of one pod: the latest stands for both.
        assert len(progress) == 1 and "40%" in progress[0] and "(+1 earlier)" in progress[0]
        await pilot.press("a")
        await pilot.pause()
        assert "progress hidden (a: show)" in screen_text(app)
        assert not any("» model.bin" in ln for ln in shown(app))


async def test_slash_filters_text_pod_or_reason_and_esc_clears_then_goes_back() -> None:
    app = make_app(two_pods_feed())
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_timeline(pilot)
        view = screen.query_one(TimelineView)
        everything = len(view.rows)
        await pilot.press("slash", *"BACKOFF")  # a reason, any case
        await pilot.pause()
        assert [e.who for e in view.rows] == [CORRUPT] and "event BackOff" in shown(app)[0]
        assert f"filter 'BACKOFF': 1 of {everything}" in screen_text(app)
        await pilot.press("ctrl+u", *"tq5vn")  # a pod
        await pilot.pause()
        assert len(view.rows) == 3 and {e.who for e in view.rows} == {CORRUPT}
        await pilot.press("ctrl+u", *"bytes")  # text in a line or an event
        await pilot.pause()
        assert len(view.rows) == 3  # the warning, the error, the DownloadStalled event
        await pilot.press("ctrl+u", *"nothing like it")
        await pilot.pause()
        assert not view.rows and "no line matches" in screen_text(app)
        await pilot.press("ctrl+u", *"bytes")
        await pilot.pause()
        await pilot.press("enter")  # the filter stays, the list has the keys
        await pilot.pause()
        assert view.has_focus and len(view.rows) == 3
        await pilot.press("escape")  # clears the filter first
        await pilot.pause()
        assert len(view.rows) == everything and isinstance(app.screen, TimelineScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)


async def test_live_lines_follow_once_and_the_bound_holds(recorder: Recorder) -> None:
    feed = two_pods_feed()
    app = make_app(feed, recorder=recorder)
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        screen = await open_timeline(pilot)
        view = screen.query_one(TimelineView)
        colours = {pod: view.colours[pod] for pod in (STALLED, CORRUPT)}
        history = sample_log(STALLED)  # equal to the ring's lines, as the feed sends them
        feed.push_logs(STALLED, [history[-1], line(STALLED, "INFO resumed", NOW + 1)])
        feed.push_logs(DOWNLOADING, [line(DOWNLOADING, "ERROR lost the server", NOW + 2, "error")])
        await pilot_until(pilot, lambda: "ERROR lost the server" in shown(app)[-1])
        lines = shown(app)
        assert sum("download stalled" in ln for ln in lines) == 1  # ring and live: once
        assert "INFO resumed" in lines[-2] and view.following
        assert "Timeline · 3 pods" in screen_text(app)
        # A new pod gets a colour of its own; the others keep theirs.
        assert {pod: view.colours[pod] for pod in colours} == colours
        assert view.colours[DOWNLOADING] not in colours.values()
        # While the cursor is up, new lines do not move it; at the end again, it follows.
        await pilot.press("k")
        before = view.current
        feed.push_logs(CORRUPT, [line(CORRUPT, "INFO again", NOW + 3)])
        await pilot_until(pilot, lambda: text_of(view.rows[-1]) == "INFO again")
        assert view.current is before and not view.following
        assert "end: follow" in screen_text(app)
        await pilot.press("end")
        assert view.following and view.current is view.rows[-1]
        for i in range(30):
            feed.push_logs(
                DOWNLOADING,
                [line(DOWNLOADING, f"line {i}.{j}", NOW + 10 + i) for j in range(100)],
            )
        await pilot_until(pilot, lambda: text_of(view.rows[-1]) == "line 29.99")
        assert screen.model is not None and len(screen.model.entries) == TIMELINE_LINES
        assert len(view.rows) <= TIMELINE_LINES and view.following
        await pilot.pause()
        assert "line 29.99" in shown(app)[-1]  # scrolled along
        assert "ERROR checksum mismatch" not in {text_of(e) for e in view.rows}  # the oldest
        # Every pod's lines came through the bridge, one message at a time.
        pods = {ln.pod for m in recorder.of(LogLinesReceived) for ln in m.lines}
        assert {STALLED, CORRUPT, DOWNLOADING} <= pods


async def test_a_long_line_is_cut_in_the_list_and_shown_whole_under_it() -> None:
    feed = two_pods_feed()
    app = make_app(feed)
    async with app.run_test(size=SIZE) as pilot:
        await open_timeline(pilot)
        long = "ERROR validation failed: " + "x" * 200 + " THE END"
        feed.push_logs(CORRUPT, [line(CORRUPT, long, NOW + 1, "error")])
        await pilot_until(pilot, lambda: shown(app)[-1].endswith("…"))
        assert "THE END" not in shown(app)[-1]
        assert "THE END" in screen_text(app)  # the cursor's line, whole, under the list


async def test_enter_opens_the_pod_of_a_line_and_says_why_not(recorder: Recorder) -> None:
    gone = "lightning-asr-7d9f8c6b5-gone1"
    snapshot = sample_snapshot()
    events = (
        *snapshot.events,
        EventInfo("Pod", gone, "Warning", "Evicted", "low on resource: memory", 1, NOW - 5),
        EventInfo(
            "PersistentVolumeClaim",
            "models-aws-efs-pvc",
            "Normal",
            "Resizing",
            "External resizer is resizing volume",
            1,
            NOW - 4,
        ),
    )
    feed = FakeFeed(dataclasses.replace(snapshot, events=events), logs={gone: []})
    app = make_app(feed, recorder=recorder)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_timeline(pilot)
        view = screen.query_one(TimelineView)
        # A pod that went: its lines (sent before it went) and then its events are shown.
        feed.push_logs(gone, [line(gone, "ERROR killed", NOW - 6, "error")])
        await pilot_until(pilot, lambda: any("event Evicted" in ln for ln in shown(app)))
        lines = shown(app)
        assert "ERROR killed" in lines[-3] and "event Evicted" in lines[-2]
        assert lines[-1].endswith("event Resizing  External resizer is resizing volume")
        assert "pvc/models-aws-efs-pvc" in lines[-1]
        await pilot.press("enter")  # the claim's event: not a pod
        await pilot.pause()
        assert isinstance(app.screen, TimelineScreen)
        assert "pvc/models-aws-efs-pvc is not a pod" in recorder.texts()
        await pilot.press("k", "enter")  # the gone pod's event
        await pilot.pause()
        assert view.current is not None and view.current.pod == gone
        assert f"{gone} is gone" in recorder.texts()
        assert isinstance(app.screen, TimelineScreen)
        await pilot.press("k", "k", "enter")  # DownloadStalled, about the stalled pod
        detail = await pilot_until(
            pilot, lambda: s if isinstance(s := app.screen, PodDetailScreen) else None
        )
        assert detail.pod_name == STALLED
        await pilot.press("escape")  # back to the timeline, its cursor where it was
        await pilot.pause()
        assert app.screen is screen and view.current is not None
        assert view.current.pod == STALLED
        await pilot.press("l")  # the same with l
        await pilot_until(pilot, lambda: isinstance(app.screen, PodDetailScreen))
        await pilot.press("t")  # from the detail: back to the one timeline
        await pilot_until(pilot, lambda: app.screen is screen)
        assert [type(s) for s in app.screen_stack[1:]] == [OverviewScreen, TimelineScreen]
        await pilot.press("home")
        await pilot.click("#timeline-lines", offset=(3, 2))  # the second row (a border above)
        assert view.cursor == 1 and not view.following
        await pilot.double_click("#timeline-lines", offset=(3, 2))
        detail = await pilot_until(
            pilot, lambda: s if isinstance(s := app.screen, PodDetailScreen) else None
        )
        assert detail.pod_name == view.rows[1].pod


async def test_read_only_offers_the_timeline_and_help_lists_its_keys() -> None:
    app = make_app(two_pods_feed(), actions=FakeActions(), read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "t timeline" in screen_text(app)  # in the overview's footer
        assert "timeline" in {c.id for c, _ in palette_commands(app)}
        await open_timeline(pilot)
        assert {"timeline-progress", "log-filter"} <= {
            c.id for c, _ in palette_commands(app, "timeline")
        }
        text = screen_text(app)
        assert "a progress" in text and "/ filter" in text and "v verify" not in text
        assert "t timeline" not in text  # not offered where it already is
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        assert "Timeline: every pod's log and events" in text and "  t " in text
        assert "Show or hide progress lines" in text and "  a " in text


async def test_on_the_simulator_an_error_line_beside_its_warning_event(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.tui.test_e2e_scenarios import dashboard, in_state, until

    world = start("corrupt-model")
    app = dashboard(world, recorder, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: in_state(app, "corrupt"), "a pod shown corrupt")
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TimelineScreen), "the timeline")

        def error_and_event() -> tuple[str, str] | None:
            """A pod's error line and a BackOff Warning event about the same pod."""
            lines = shown(app)
            errors = [ln for ln in lines if "✗ ERROR: Model validation failed" in ln]
            events = [ln for ln in lines if "! event BackOff" in ln]
            return next(
                ((e, w) for e in errors for w in events if e.split()[1] == w.split()[1]), None
            )

        error, event = await until(pilot, error_and_event, "an error and its event", timeout=60)
        time_, pod = error.split()[:2]
        assert pod.startswith("lightning-asr-") and time_.count(":") == 2, error
        assert "Back-off restarting failed container" in event, event
