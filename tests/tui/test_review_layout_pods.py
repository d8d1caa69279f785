"""The pods table on narrow and wide terminals: names stay distinguishable (their end always
shows), the numbers that matter (%, ETA) stay when columns give way, and the footer keeps
``? help`` and ``q quit`` (review findings 2 and 3)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rich.text import Text

from collectors.model import ClusterSnapshot, ModelState
from tests.actions.world import World
from tests.tui.conftest import Recorder, make_app
from tests.tui.fakes import FakeFeed, GiB, MiB, pod, progress, sample_snapshot
from tests.tui.screen import screen_text
from tests.tui.test_e2e_scenarios import dashboard, until
from tui.format import ColumnFit, fit_columns, progress_fit, shorten_middle
from tui.screens.overview import OverviewScreen
from tui.widgets.pods import PodsTable

BURST = "lightning-asr-burst-64c95596b9-"
SUFFIXES = ("x2k9f", "x2k9g", "lzvq2", "r2wq2")


def burst_snapshot() -> ClusterSnapshot:
    """Four downloading pods whose names differ only in their last characters."""
    total = 24 * GiB
    pods = tuple(
        pod(
            BURST + s,
            ModelState.DOWNLOADING,
            node=f"ip-10-0-1-{i}.ec2.internal",
            progress=progress(int(total * 0.42), total, 85 * MiB),
        )
        for i, s in enumerate(SUFFIXES)
    )
    return sample_snapshot(pods=pods, volumes=(), jobs=())


def pod_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "lightning-asr-" in line]


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (160, 40), (200, 50)])
async def test_names_that_differ_only_at_the_end_are_distinguishable(
    size: tuple[int, int],
) -> None:
    app = make_app(FakeFeed(burst_snapshot()))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.pause()
        lines = pod_lines(screen_text(app))
        for suffix in SUFFIXES:
            assert sum(f"64c95596b9-{suffix}" in line for line in lines) == 1, (suffix, lines)
        table = app.screen.query_one(PodsTable)
        # Wide enough for the whole name: it is shown whole, not cut with free room left.
        if size[0] >= 160:
            assert all(BURST + s in screen_text(app) for s in SUFFIXES)
        # The cursor still finds rows by the full pod name (the shortened one is only shown).
        assert table.select_key(BURST + SUFFIXES[2])
        assert app.selected_pod() == BURST + SUFFIXES[2]


@pytest.mark.parametrize("size", [(100, 30), (80, 24)])
async def test_narrow_overview_keeps_percent_eta_and_the_help_and_quit_keys(
    size: tuple[int, int],
) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.pause()
        text = screen_text(app)
        (row,) = [line for line in text.splitlines() if "↓ downloading" in line]
        assert "42%" in row and "ETA 2m48s" in row, row
        footer = text.splitlines()[-1]
        assert "? help" in footer and "q quit" in footer, footer


async def test_re_sorting_after_a_resize_keeps_the_rows_and_the_cursor() -> None:
    feed = FakeFeed(burst_snapshot())
    app = make_app(feed)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(PodsTable)
        table.select_key(BURST + SUFFIXES[3])
        await pilot.resize_terminal(90, 30)
        await pilot.pause()
        await pilot.pause()
        # A newly failed pod moves to the top: the table re-sorts by its hidden key column.
        snap = burst_snapshot()
        failed = pod(BURST + "zzzzz", ModelState.FAILED)
        feed.push(sample_snapshot(pods=(*snap.pods, failed), volumes=(), jobs=()))
        await until(pilot, lambda: table.row_count == 5, "the failed pod listed")
        assert app.selected_pod() == BURST + SUFFIXES[3]
        first = table.get_row_at(0)
        assert first[0].plain == BURST + "zzzzz"
        assert isinstance(first[1], Text) and first[1].plain.endswith("zzzzz")


def test_progress_gives_way_bytes_first_then_rate_then_the_bar() -> None:
    p = progress(int(24 * GiB * 0.42), 24 * GiB, 85 * MiB)
    full = progress_fit(p, ModelState.DOWNLOADING, 51).plain
    assert "GiB " in full and "MiB/s" in full and "ETA" in full
    no_bytes = progress_fit(p, ModelState.DOWNLOADING, 40).plain
    assert "GiB " not in no_bytes and "MiB/s" in no_bytes and "42%" in no_bytes
    short = progress_fit(p, ModelState.DOWNLOADING, 20).plain
    assert "MiB/s" not in short and "42%" in short and "ETA" in short
    bare = progress_fit(p, ModelState.DOWNLOADING, 15).plain
    assert bare.startswith("42%") and "ETA" in bare and len(bare) <= 15


def test_shorten_middle_keeps_the_replicaset_hash_and_suffix() -> None:
    name = "lightning-asr-burst-64c95596b9-x2k9f"
    assert shorten_middle(name, 40) == name
    assert shorten_middle(name, 32) == "lightning-asr-…-64c95596b9-x2k9f"
    assert shorten_middle(name, 12) == "…" + name[-11:]  # too narrow for "head…tail"
    assert len(shorten_middle(name, 20)) == 20 and shorten_middle(name, 20).endswith("-x2k9f")


def test_fit_columns_drops_the_least_important_first() -> None:
    fits = [
        ColumnFit("name", 10, 20, 30, grow=0),
        ColumnFit("extra", 5, 5, 5, drop=2),
        ColumnFit("useful", 5, 5, 5, drop=1),
        ColumnFit("key", 8, 8, 8),
    ]
    assert fit_columns(100, fits) == {"name": 30, "extra": 5, "useful": 5, "key": 8}
    assert fit_columns(40, fits) == {"name": 21, "extra": 0, "useful": 5, "key": 8}
    assert fit_columns(30, fits) == {"name": 18, "extra": 0, "useful": 0, "key": 8}


async def test_efs_shared_at_100x30_shows_percent_and_eta_while_downloading(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A slow model server (32 s for the model), so that the download is seen moving even when
    # a loaded machine takes seconds to draw the first view.
    world = start("efs-shared", model_size=64 * MiB, speed=2 * MiB)
    app = dashboard(world, recorder, monkeypatch)
    async with app.run_test(size=(100, 30), message_hook=recorder.hook) as pilot:

        def downloading_row() -> str | None:
            if not isinstance(app.screen, OverviewScreen):
                return None
            rows = [ln for ln in screen_text(app).splitlines() if "↓ downloading" in ln]
            return next((r for r in rows if "%" in r and "ETA" in r), None)

        row = await until(pilot, downloading_row, "a downloading row with % and ETA", 60)
        assert "lightning-asr-" in row
        footer = screen_text(app).splitlines()[-1]
        assert "? help" in footer and "q quit" in footer, footer
