"""The overview on deterministic data: order, colours, filter, and redrawing only what changed."""

from __future__ import annotations

import dataclasses

from collectors.model import ModelState
from tests.polling import pilot_until
from tests.tui.conftest import CORRUPT, SIZE, STALLED, Recorder, make_app
from tests.tui.fakes import FakeActions, FakeFeed, GiB, MiB, progress, sample_snapshot
from tests.tui.screen import screen_text
from tui.app import AsrCacheApp
from tui.messages import SnapshotUpdated
from tui.widgets.pods import PodsTable

DOWNLOADING = "lightning-asr-7d9f8c6b5-8mz2p"
READY = "lightning-asr-7d9f8c6b5-2kq9x"


def pod_rows(app) -> list[str]:
    table = app.screen.query_one(PodsTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


async def test_pods_are_sorted_by_urgency_then_name(recorder: Recorder) -> None:
    app = make_app(recorder=recorder)
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        await pilot.pause()
        assert pod_rows(app) == [
            CORRUPT,
            STALLED,
            DOWNLOADING,
            "lightning-asr-7d9f8c6b5-h8r3t",
            "lightning-asr-v2-5c4b7d9f6-x7k2m",
            READY,
        ]
        text = screen_text(app)
        assert "ctx kind-asr" in text and "ns smallest" in text
        assert "1/6 ready · 1 corrupt · 1 stalled · 1 downloading" in text
        assert "42% 10.1/24.0 GiB 85.0 MiB/s ETA 2m48s" in text
        assert "✗ checksum mismatch" in text
        assert "73% 36.5/50.0 GB quota" in text  # EFS usage against the quota
        assert "EFS reports 8 EiB; shown against the cache quota" in text
        assert "◀ live" in text and "api-server → http://lightning-asr:2269" in text
        assert "Scheduled 3✓" in text and "0 8 * * *" in text
        assert "model-preload-v2-9f3k" in text and "25% 120.0 MiB/s ETA 2m" in text
        assert "3: 2kq9x, 8mz2p, c4w7d" in text  # the pods on the shared volume
        assert len(recorder.of(SnapshotUpdated)) == 1


async def test_state_colours_the_state_and_progress_cells() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one(PodsTable)
        corrupt_state = table.get_cell(CORRUPT, "state")
        ready_state = table.get_cell(READY, "state")
        assert "red" in str(corrupt_state.style) and "green" in str(ready_state.style)
        stalled_bar = table.get_cell(STALLED, "progress")
        assert "dark_orange" in str(stalled_bar.style)


async def test_a_progress_tick_updates_only_the_changed_cells() -> None:
    feed = FakeFeed(sample_snapshot())
    app = make_app(feed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one(PodsTable)
        before_cells, before_sorts = table.cell_updates, table.sorts
        snap = sample_snapshot()
        pods = tuple(
            dataclasses.replace(p, progress=progress(int(0.5 * 24 * GiB), 24 * GiB, 90 * MiB))
            if p.name == DOWNLOADING
            else p
            for p in snap.pods
        )
        feed.push(dataclasses.replace(snap, pods=pods))
        await pilot.pause()
        assert table.cell_updates - before_cells == 1  # the progress cell, nothing else
        assert table.sorts == before_sorts
        assert "50%" in table.get_cell(DOWNLOADING, "progress").plain
        feed.push(dataclasses.replace(snap, pods=pods))  # the same data again
        await pilot.pause()
        assert table.cell_updates - before_cells == 1


async def test_the_cursor_follows_its_pod_when_the_order_changes() -> None:
    feed = FakeFeed(sample_snapshot())
    app = make_app(feed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one(PodsTable)
        sorts = table.sorts
        await pilot.press("j", "j")  # corrupt -> stalled -> downloading
        assert table.selected_key == DOWNLOADING
        snap = sample_snapshot()
        pods = tuple(
            dataclasses.replace(p, model_state=ModelState.FAILED) if p.name == DOWNLOADING else p
            for p in snap.pods
        )
        feed.push(dataclasses.replace(snap, pods=pods))
        await pilot.pause()
        assert pod_rows(app)[1] == DOWNLOADING  # failed sorts before stalled now
        assert table.selected_key == DOWNLOADING
        assert table.sorts == sorts + 1
        await pilot.press("k")
        assert table.selected_key == CORRUPT


async def test_pods_that_leave_are_removed_and_new_ones_inserted_in_order() -> None:
    feed = FakeFeed(sample_snapshot())
    app = make_app(feed)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        snap = sample_snapshot()
        replacement = dataclasses.replace(
            next(p for p in snap.pods if p.name == CORRUPT),
            name="lightning-asr-7d9f8c6b5-aaaaa",
            model_state=ModelState.DOWNLOADING,
        )
        pods = (*(p for p in snap.pods if p.name != CORRUPT), replacement)
        feed.push(dataclasses.replace(snap, pods=pods))
        await pilot.pause()
        rows = pod_rows(app)
        assert CORRUPT not in rows
        assert rows[:3] == [STALLED, "lightning-asr-7d9f8c6b5-8mz2p", replacement.name]


async def test_slash_filters_and_escape_clears() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        await pilot.press(*"node-b")
        await pilot.pause()
        assert pod_rows(app) == [STALLED, DOWNLOADING]
        assert "2 of 6 (filter: 'node-b')" in screen_text(app)
        await pilot.press("enter")  # keep the filter, back to the table
        assert app.screen.query_one(PodsTable).has_focus
        assert len(pod_rows(app)) == 2
        await pilot.press("escape")
        await pilot.pause()
        assert len(pod_rows(app)) == 6
        await pilot.press("slash", *"READY")
        await pilot.pause()
        assert pod_rows(app) == [READY]


async def test_ages_move_with_the_injected_clock() -> None:
    now = [1_800_000_000.0]
    app = make_app(clock=lambda: now[0], tick=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.screen.query_one(PodsTable)
        assert table.get_cell(READY, "age").plain == "2h"
        now[0] += 3600  # the next tick (every 0.05 s) redraws with the new time
        await pilot_until(pilot, lambda: table.get_cell(READY, "age").plain == "3h")
        assert table.get_cell(CORRUPT, "age").plain == "2h"


async def test_no_data_yet_says_connecting() -> None:
    app = make_app(FakeFeed(None), server="https://127.0.0.1:6443")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "Connecting to https://127.0.0.1:6443… no data yet." in text
        assert pod_rows(app) == []


async def jobs_subtitle(app: AsrCacheApp) -> str:
    async with app.run_test(size=SIZE) as pilot:
        panel = app.screen.query_one("#jobs-panel")
        return str(await pilot_until(pilot, lambda: panel.border_subtitle))


async def test_the_jobs_panel_counts_its_jobs_or_says_how_to_make_one() -> None:
    none_yet = dataclasses.replace(sample_snapshot(), jobs=())
    assert await jobs_subtitle(make_app(FakeFeed(none_yet), actions=FakeActions())) == (
        "none · p pre-warms"
    )
    read_only = make_app(FakeFeed(none_yet), actions=FakeActions(), read_only=True)
    assert await jobs_subtitle(read_only) == "none"
    some = await jobs_subtitle(make_app(actions=FakeActions()))
    assert some == str(len(sample_snapshot().jobs)) and some != "0"


async def test_the_volumes_panel_says_which_volume_needs_room_and_why() -> None:
    """The header counts volumes that need room; the panel names them, first, in red."""
    efs, empty_dir = sample_snapshot().volumes
    assert efs.usage is not None and efs.quota_bytes
    over = dataclasses.replace(
        efs, usage=dataclasses.replace(efs.usage, used_bytes=efs.quota_bytes + GiB)
    )
    app = make_app(FakeFeed(sample_snapshot(volumes=(over, empty_dir))))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
        lines = [line for line in text.splitlines() if "models-aws-efs-pvc:" in line]
        assert "⚠ 51.1 GB used, over the cache quota of 50.0 GB" in lines[0], lines
        assert "EFS reports 8 EiB" in lines[1], "the explanation of the number comes after"
        assert "1 volume needs room" in text
