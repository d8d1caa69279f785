"""Pod detail: opened with Enter, live log (marked, bounded), sparkline, df, files, events."""

from __future__ import annotations

import dataclasses
import threading

from textual.widgets import RichLog, Sparkline, Static

from collectors.model import LogLine
from tests.polling import pilot_until
from tests.tui.conftest import CORRUPT, SIZE, STALLED, Recorder, make_app
from tests.tui.fakes import NOW, FakeFeed, progress, sample_log, sample_snapshot
from tests.tui.screen import screen_text
from tui.messages import CacheListed, LogLinesReceived
from tui.screens.detail import LOG_LINES, CacheFilesTable, PodDetailScreen
from tui.screens.overview import OverviewScreen


async def open_stalled(pilot) -> PodDetailScreen:
    await pilot.pause()
    await pilot.press("j", "enter")  # the second row: the stalled pod
    await pilot.pause()
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, PodDetailScreen)
    # The log's history is read in a worker thread: wait for it, not for a fixed pause.
    await pilot_until(pilot, lambda: screen._history_loaded)
    await pilot.pause()
    return screen


async def test_enter_opens_the_detail_and_escape_goes_back(recorder: Recorder) -> None:
    feed = FakeFeed(sample_snapshot(), logs={STALLED: sample_log(STALLED)})
    app = make_app(feed, recorder=recorder)
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        screen = await open_stalled(pilot)
        assert screen.pod_name == STALLED
        assert feed.followed == [STALLED] and feed.unfollowed == []
        # df of the cache mount and the files are listed in a worker thread too
        await pilot_until(pilot, lambda: "df /app/models  34.0 GiB" in screen_text(app))
        text = screen_text(app)
        assert "‼ stalled" in text and "no new bytes for 130s (threshold 60s)" in text
        assert "40% 9.6/24.0 GiB stalled" in text
        # df of the cache mount and the files, listed in a worker thread, not on the loop
        assert "df /app/models  34.0 GiB used (size not meaningful)" in text
        assert "v1/model.bin.part" in text and "partial" in text and "✓ verified" in text
        assert feed.listing_threads and all(n != "MainThread" for n in feed.listing_threads)
        assert recorder.of(CacheListed)
        # its events, newest first, and no other pod's
        assert "DownloadStalled" in text and "BackOff" not in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)
        assert feed.unfollowed == [STALLED]  # its stream is the feed's choice again


async def test_the_log_marks_errors_and_highlights_progress() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_stalled(pilot)
        log = screen.query_one("#log", RichLog)
        lines = [strip.text for strip in log.lines]
        assert any(t.startswith("» model.bin  40%") for t in lines)
        assert any(t.startswith("✗ ERROR download stalled") for t in lines)
        assert any(t.startswith("! WARNING") for t in lines)
        error_strip = next(s for s in log.lines if s.text.startswith("✗"))
        assert any("red" in str(seg.style) for seg in error_strip)


async def test_live_lines_follow_and_the_log_is_bounded(recorder: Recorder) -> None:
    feed = FakeFeed(sample_snapshot(), logs={STALLED: sample_log(STALLED)})
    app = make_app(feed, recorder=recorder)
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        screen = await open_stalled(pilot)
        history = sample_log(STALLED)
        # a line the history already holds is not written twice
        feed.push_logs(
            STALLED, [history[-1], LogLine(STALLED, "c", "INFO resumed", "plain", NOW + 1)]
        )
        feed.push_logs(CORRUPT, [LogLine(CORRUPT, "c", "not this pod")])
        await pilot.pause()
        log = screen.query_one("#log", RichLog)
        texts = [s.text for s in log.lines]
        assert texts[-1].endswith("INFO resumed")
        assert sum("download stalled" in t for t in texts) == 1
        assert not any("not this pod" in t for t in texts)
        for i in range(30):
            feed.push_logs(
                STALLED,
                [LogLine(STALLED, "c", f"line {i}.{j}", "plain", NOW + 2 + i) for j in range(100)],
            )
        # The bridge hands the lines over in batches, one after the app wrote the last.
        await pilot_until(pilot, lambda: log.lines[-1].text.endswith("line 29.99"))
        assert len(log.lines) <= LOG_LINES
        assert all(ln.pod == STALLED for m in recorder.of(LogLinesReceived) for ln in m.lines)


async def test_the_rate_sparkline_has_bounded_history() -> None:
    feed = FakeFeed(sample_snapshot())
    app = make_app(feed)
    downloading = "lightning-asr-7d9f8c6b5-8mz2p"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        snap = sample_snapshot()
        for i in range(150):
            pods = tuple(
                dataclasses.replace(
                    p, progress=progress(i * 2**20, 2**34, float(i + 1), updated=NOW + i)
                )
                if p.name == downloading
                else p
                for p in snap.pods
            )
            feed.push(dataclasses.replace(snap, pods=pods))
        await pilot.pause()
        await pilot.press("j", "j", "enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, PodDetailScreen) and screen.pod_name == downloading
        spark = screen.query_one("#rate", Sparkline)
        data = list(spark.data or [])
        assert 0 < len(data) <= app.history.samples
        assert data[-1] == 150.0
        assert "download rate now 150 B/s" in screen_text(app)


async def test_listing_failure_is_shown_not_raised() -> None:
    feed = FakeFeed(sample_snapshot(), fail_listing="exec forbidden: pods/exec")
    app = make_app(feed)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_stalled(pilot)
        df = screen.query_one("#df", Static)
        said = "df and listing failed: exec forbidden: pods/exec"
        await pilot_until(pilot, lambda: said in str(df.render()))
        assert str(df.render()).count("exec forbidden") == 1  # one reason, said once


async def test_a_slow_listing_never_blocks_the_keys() -> None:
    gate = threading.Event()

    class SlowFeed(FakeFeed):
        def cache_files(self, pod):
            gate.wait(5)
            return super().cache_files(pod)

    feed = SlowFeed(sample_snapshot())
    app = make_app(feed)
    async with app.run_test(size=SIZE) as pilot:
        await open_stalled(pilot)
        assert "measuring…" in screen_text(app)
        await pilot.press("escape")  # answered while the listing still hangs
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)
        gate.set()


async def test_l_opens_the_log_of_the_selected_pod() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("j", "l")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, PodDetailScreen) and screen.pod_name == STALLED
        assert screen.query_one("#log", RichLog).has_focus
        # Listed in a worker thread; the downloader's .part.json is folded into its .part row.
        await pilot_until(pilot, lambda: screen.query_one(CacheFilesTable).row_count == 2)


async def test_the_pod_going_away_is_said() -> None:
    feed = FakeFeed(sample_snapshot())
    app = make_app(feed)
    async with app.run_test(size=SIZE) as pilot:
        await open_stalled(pilot)
        snap = sample_snapshot()
        feed.push(dataclasses.replace(snap, pods=tuple(p for p in snap.pods if p.name != STALLED)))
        await pilot.pause()
        assert "gone from the namespace" in screen_text(app)


def log_shown(screen: PodDetailScreen) -> list[str]:
    return [strip.text.strip() for strip in screen.query_one("#log", RichLog).lines]


async def test_slash_filters_the_log_and_escape_clears_it_before_going_back() -> None:
    feed = FakeFeed(sample_snapshot(), logs={STALLED: sample_log(STALLED)})
    app = make_app(feed)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_stalled(pilot)
        everything = log_shown(screen)
        assert len(everything) == 6, everything
        await pilot.press("slash", *"ERROR")
        await pilot_until(pilot, lambda: screen.log_needle == "ERROR")
        assert log_shown(screen) == ["✗ ERROR download stalled: no bytes for 120s"]
        title = str(screen.query_one("#log", RichLog).border_title)
        assert "filter 'ERROR': 1 of 6" in title, title
        await pilot.press("enter")  # the filter stays, the log has the keys again
        assert screen.query_one("#log", RichLog).has_focus
        # A live line: kept whatever the filter, shown only if it matches.
        feed.push_logs(STALLED, [LogLine(STALLED, "lightning-asr", "INFO still here")])
        feed.push_logs(STALLED, [LogLine(STALLED, "lightning-asr", "ERROR again", kind="error")])
        await pilot_until(pilot, lambda: len(log_shown(screen)) == 2)
        assert log_shown(screen)[-1] == "✗ ERROR again"
        await pilot.press("escape")  # clears the filter: every line, the new ones too
        await pilot_until(pilot, lambda: len(log_shown(screen)) == 8)
        assert isinstance(app.screen, PodDetailScreen)
        assert str(screen.query_one("#log", RichLog).border_title) == "Log (following)"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)
