"""The confirmation and help dialogs on small terminals: the buttons and the closing hint stay on
screen, and what does not fit scrolls (review finding: at 100x30 both were clipped)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.widget import Widget

from actions.plan import ActionPlan, ApiCall
from tests.actions.world import NS, World
from tests.tui.conftest import CORRUPT, Recorder, make_app
from tests.tui.fakes import FakeActions, sample_plan
from tests.tui.screen import screen_text
from tests.tui.test_e2e_scenarios import confirmation, dashboard, select, until
from tui.app import AsrCacheApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen

SMALL = [(100, 30), (80, 24)]


class LongPlans(FakeActions):
    """Plans as long as a pre-warm's: many steps, each with a body that wraps."""

    def plan(self, action_id: str, snapshot: Any, pod_name: str | None) -> ActionPlan:
        plan = super().plan(action_id, snapshot, pod_name)
        body = {
            "spec": {"env": [{"name": f"MODEL_SETTING_{i}", "value": "x" * 30} for i in range(6)]}
        }
        steps = tuple(
            ApiCall("create", "jobs", NS, name=f"step-{i}", body=body, note=f"last step {i}")
            for i in range(12)
        )
        return sample_plan(action_id, pod_name, steps=steps, refused=plan.refused)


def on_screen(app: AsrCacheApp, widget: Widget) -> bool:
    """The widget is shown whole, inside the terminal and inside its dialog box."""
    screen = Region(0, 0, *app.size)
    return (
        widget.region.area > 0
        and screen.contains_region(widget.region)
        and widget.parent is not None
        and isinstance(widget.parent, Widget)
        and widget.parent.region.contains_region(widget.region)
    )


async def assert_buttons_and_plan_end_visible(app: AsrCacheApp, pilot: Any) -> None:
    assert isinstance(app.screen, ConfirmScreen)
    buttons = app.screen.query_one("#confirm-buttons", Widget)
    assert on_screen(app, buttons), (buttons.region, app.size, screen_text(app))
    text = screen_text(app)
    assert "Confirm (y)" in text or "Close (esc)" in text, text
    assert "Cancel (n)" in text or "Close (esc)" in text, text
    # The plan scrolls: its last line can be brought on screen, above the buttons.
    plan = app.screen.query_one("#confirm-plan", VerticalScroll)
    plan.scroll_end(animate=False)
    await pilot.pause()
    assert plan.region.bottom <= buttons.region.y, (plan.region, buttons.region)
    last = app.screen.plan.describe().splitlines()[-1]
    assert last[-20:] in screen_text(app).replace("\n", ""), last


@pytest.mark.parametrize("size", SMALL)
@pytest.mark.parametrize("key", ["p", "d"])
async def test_confirmation_buttons_stay_on_screen_with_a_long_plan(
    size: tuple[int, int], key: str
) -> None:
    app = make_app(actions=LongPlans())
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        app.screen.query_one("PodsTable").select_key(CORRUPT)  # type: ignore[attr-defined]
        await pilot.press(key)
        await app.workers.wait_for_complete()
        await pilot.pause()
        await assert_buttons_and_plan_end_visible(app, pilot)


@pytest.mark.parametrize("size", SMALL)
async def test_help_closing_hint_stays_on_screen(size: tuple[int, int]) -> None:
    app = make_app(actions=FakeActions())
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        foot = app.screen.query_one("#help-foot", Widget)
        assert on_screen(app, foot), (foot.region, screen_text(app))
        assert "esc / q / ? close" in screen_text(app)
        keys = app.screen.query_one(VerticalScroll)
        keys.scroll_end(animate=False)
        await pilot.pause()
        assert keys.region.bottom <= foot.region.y
        assert "Blue-green switch" in screen_text(app)  # the last key listed


async def test_efs_shared_prewarm_and_delete_confirmations_fit_100x30(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = start("efs-shared")
    app = dashboard(world, recorder, monkeypatch)
    async with app.run_test(size=(100, 30), message_hook=recorder.hook) as pilot:
        pods = await until(pilot, lambda: app.snapshot and app.snapshot.pods, "pods listed")
        for key in ("p", "d"):
            select(app, pods[0].name)
            await confirmation(pilot, key)
            await assert_buttons_and_plan_end_visible(app, pilot)
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "closed")
