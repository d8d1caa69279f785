"""Live without flicker: only the cells that changed are drawn again, new data is drawn at a
bounded rate that always ends on the latest snapshot, and the heap is settled once."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from typing import Any

from collectors.model import ClusterSnapshot, ModelState
from tests.polling import pilot_until
from tests.tui.conftest import SIZE, make_app
from tests.tui.fakes import FakeFeed, GiB, MiB, pod, progress, sample_snapshot
from tests.tui.screen import screen_text
from tui import heap
from tui.app import AsrCacheApp
from tui.widgets.pods import PodsTable

DOWNLOADING = "lightning-asr-7d9f8c6b5-8mz2p"


def with_progress(snap: ClusterSnapshot, percent: int) -> ClusterSnapshot:
    """The sample snapshot with the downloading pod at ``percent`` of 24 GiB."""
    done = int(percent / 100 * 24 * GiB)
    pods = tuple(
        dataclasses.replace(p, progress=progress(done, 24 * GiB, 90 * MiB))
        if p.name == DOWNLOADING
        else p
        for p in snap.pods
    )
    return dataclasses.replace(snap, pods=pods)


def line_of(app: AsrCacheApp, needle: str) -> str:
    return next(line for line in screen_text(app).splitlines() if needle in line)


wait_until = functools.partial(pilot_until, timeout=5.0, every=0.02)


async def test_a_progress_tick_renders_only_the_changed_cell_again() -> None:
    feed = FakeFeed(sample_snapshot())
    app = make_app(feed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one(PodsTable)
        screen_text(app)  # everything on screen has been rendered once
        cells, lines = table.cells_rendered, table.lines_rendered
        feed.push(with_progress(sample_snapshot(), 50))
        await pilot.pause()
        # One line repainted; of its cells, only the changed one rendered through Rich again.
        assert (table.lines_rendered - lines, table.cells_rendered - cells) == (1, 1)
        assert "50% 12.0/24.0 GiB" in line_of(app, DOWNLOADING)
        assert "✗ checksum mismatch" in screen_text(app)
        feed.push(with_progress(sample_snapshot(), 60))  # the same cell again, right away
        await pilot.pause()
        assert "60% 14.4/24.0 GiB" in line_of(app, DOWNLOADING)


async def test_a_row_changed_out_of_view_shows_its_new_content_when_scrolled_to() -> None:
    ready = tuple(
        pod(f"lightning-asr-7d9f8c6b5-r{i:04d}", ModelState.READY, ready=True) for i in range(80)
    )
    snap = dataclasses.replace(sample_snapshot(), pods=(*sample_snapshot().pods, *ready))
    feed = FakeFeed(snap)
    app = make_app(feed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        last = ready[-1].name
        assert last not in screen_text(app)  # far below the fold
        changed = dataclasses.replace(
            ready[-1], model=dataclasses.replace(ready[-1].model, version="v9")
        )
        feed.push(dataclasses.replace(snap, pods=(*snap.pods[:-1], changed)))
        await pilot.pause()
        table = app.screen.query_one(PodsTable)
        table.focus()
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert table.selected_key == last
        assert " v9 " in line_of(app, last)


async def test_a_burst_of_snapshots_is_drawn_once_and_ends_on_the_latest() -> None:
    feed = FakeFeed(with_progress(sample_snapshot(), 10))
    app = make_app(feed, redraw_interval=1.0, tick=3600)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.redraws >= 1 and app.snapshot is not None)
        # The burst must land inside the interval that began at the last redraw, so no idle
        # pause here (pilot.pause() can last up to a second on a busy machine): push at once,
        # and measure from the redraw itself.
        drawn_at = app.redrawn_at
        redraws, received = app.redraws, app.snapshots_received
        for percent in range(20, 70, 5):  # ten snapshots, well inside one interval
            feed.push(with_progress(sample_snapshot(), percent))
        await wait_until(pilot, lambda: app.snapshots_received > received)  # taken in...
        late = time.monotonic() - drawn_at
        assert late < 1.0, f"the burst came {late:.2f} s after the redraw: too slow to test this"
        assert app.redraws == redraws  # ...but not drawn yet: the last redraw was just now
        assert "10% 2.4/24.0 GiB" in line_of(app, DOWNLOADING)
        await wait_until(pilot, lambda: app.redraws > redraws)
        assert app.redrawn_at - drawn_at >= 1.0  # its turn came an interval after the last
        await pilot.pause()
        assert "65% 15.6/24.0 GiB" in line_of(app, DOWNLOADING)  # the latest, not one between
        await asyncio.sleep(1.2)
        assert app.redraws == redraws + 1  # one redraw for the whole burst, none after it


async def test_clock_ticks_are_paced_like_data() -> None:
    app = make_app(tick=0.05, redraw_interval=0.3)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.redraws >= 1)
        redraws, since = app.redraws, app.redrawn_at
        # Ticks do redraw (a tick every 0.05 s)...
        await wait_until(pilot, lambda: app.redraws - redraws >= 3)
        # ...but at most one per 0.3 s. Counting redraws in a fixed sleep would depend on how
        # long the sleep really lasted on a busy machine; the span they took does not.
        drawn, span = app.redraws - redraws, app.redrawn_at - since
        assert span >= drawn * 0.3 - 0.01, (drawn, span)


async def test_the_heap_is_settled_once_the_first_data_is_on_screen(monkeypatch: Any) -> None:
    calls: list[int] = []
    monkeypatch.setattr(heap, "settle", lambda: calls.append(1))
    feed = FakeFeed(None)
    app = make_app(feed, settle_heap=True, tick=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)  # ticks redraw, but there is no data yet
        assert calls == []
        feed.push(sample_snapshot())
        await wait_until(pilot, lambda: calls == [1])
        feed.push(with_progress(sample_snapshot(), 50))
        await pilot.pause(0.3)
        assert calls == [1]


def test_a_redraw_due_after_the_last_screen_is_gone_draws_nothing() -> None:
    """While the app shuts down it awaits the feed's stop, and a redraw timer may still fire
    with no screen left: that must not raise (ScreenStackError at exit)."""
    app = make_app(FakeFeed(sample_snapshot()))
    app._incoming = sample_snapshot()
    app._redraw()
    assert app.snapshot is not None and app.redraws == 1
