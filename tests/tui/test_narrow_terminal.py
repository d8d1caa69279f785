"""An 80x24 terminal: the footer keeps the keys that matter at 3 a.m., the pod detail's cache
panel gives way to the log, and the empty pre-warm panel shows nothing stray."""

from __future__ import annotations

from textual.widgets import RichLog

from tests.polling import pilot_until
from tests.tui.conftest import STALLED, make_app
from tests.tui.fakes import FakeActions, FakeFeed, sample_log, sample_snapshot
from tests.tui.screen import screen_text
from tui.screens.detail import CacheFilesTable, PodDetailScreen
from tui.widgets.jobs import JobsTable
from tui.widgets.pods import PodsTable

NARROW = (80, 24)
LEAD = "f fix  ⏎/l detail  / filter  ? help  q quit"


def footer(app) -> str:
    return screen_text(app).splitlines()[-1]


async def test_the_overviews_footer_starts_with_fix_detail_filter_help_quit() -> None:
    app = make_app(actions=FakeActions())
    async with app.run_test(size=NARROW) as pilot:
        await pilot_until(pilot, lambda: app.screen.query_one(PodsTable).row_count)
        await pilot_until(pilot, lambda: "q quit" in footer(app))
        assert footer(app).strip().startswith(LEAD), footer(app)


async def test_read_only_the_footer_starts_with_the_views() -> None:
    app = make_app(actions=FakeActions(), read_only=True)
    async with app.run_test(size=NARROW) as pilot:
        await pilot_until(pilot, lambda: "q quit" in footer(app))
        assert footer(app).strip().startswith("⏎/l detail  / filter  ? help  q quit")
        assert "f fix" not in footer(app)


async def test_the_detail_keeps_fix_help_and_quit_and_the_log_most_of_the_width() -> None:
    feed = FakeFeed(sample_snapshot(), logs={STALLED: sample_log(STALLED)})
    app = make_app(feed, FakeActions())
    async with app.run_test(size=NARROW) as pilot:
        await pilot_until(pilot, lambda: app.screen.query_one(PodsTable).row_count)
        app.open_detail(STALLED)
        screen = await pilot_until(
            pilot,
            lambda: isinstance(app.screen, PodDetailScreen) and app.screen.ready and app.screen,
        )
        await pilot_until(pilot, lambda: "esc back" in footer(app))
        assert footer(app).strip().startswith("f fix  esc back  / filter  ? help  q quit")
        log = screen.query_one("#log", RichLog)
        side = screen.query_one("#side")
        # The cache listing fits its narrower panel: no horizontal scrollbar under it.
        files = screen.query_one(CacheFilesTable)
        await pilot_until(pilot, lambda: files.row_count == 2)
        await pilot_until(pilot, lambda: files.virtual_size.width <= files.size.width - 1)
        await pilot_until(pilot, lambda: not files.show_horizontal_scrollbar)
        assert log.size.width >= 40 and side.size.width < log.size.width, (
            side.size.width,
            log.size.width,
        )
        await pilot.resize_terminal(160, 45)
        await pilot_until(pilot, lambda: side.outer_size.width == 62)  # wide: the whole panel


async def test_an_empty_pre_warm_panel_has_no_stray_scrollbar() -> None:
    app = make_app(FakeFeed(sample_snapshot(jobs=())), FakeActions())
    async with app.run_test(size=NARROW) as pilot:
        await pilot_until(pilot, lambda: app.screen.query_one(PodsTable).row_count)
        await pilot_until(pilot, lambda: "none · p pre-warms" in screen_text(app))
        assert not app.screen.query_one(JobsTable).display
        lines = screen_text(app).splitlines()
        top = next(i for i, line in enumerate(lines) if "Pre-warm jobs" in line)
        left = lines[top].index("╭─ Pre-warm")
        panel = [line[left:] for line in lines[top : top + 3]]
        assert not any(ch in "".join(panel) for ch in "▉▊▋▌▍▎▏"), panel
