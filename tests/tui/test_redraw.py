"""Live without flicker: only the cells that changed are drawn again."""

from __future__ import annotations

import dataclasses

from collectors.model import ClusterSnapshot, ModelState
from tests.tui.conftest import SIZE, make_app
from tests.tui.fakes import FakeFeed, GiB, MiB, pod, progress, sample_snapshot
from tests.tui.screen import screen_text
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
