"""`/` then a word typed in one burst (as a terminal delivers a fast typist's keys, or a paste)
goes to the filter whole: not a key of it may reach the list, where `r`, `d` and `f` plan
actions and `y` confirms one."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from tests.tui.conftest import SIZE, make_app
from tests.tui.fakes import FakeActions
from tui.app import AsrCacheApp
from tui.screens.confirm import ConfirmScreen


def _burst(app: AsrCacheApp, text: str) -> None:
    """Queue every key at once, before the app handles the first."""
    names = {"/": "slash"}
    for ch in text:
        app.post_message(events.Key(names.get(ch, ch), ch))


async def test_a_word_typed_after_slash_on_the_overview_is_all_filter() -> None:
    actions = FakeActions()
    app = make_app(actions=actions)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        _burst(app, "/ready")
        await pilot.pause()
        await pilot.pause()
        assert app.screen.query_one("#filter", Input).value == "ready"
        assert actions.plan_calls == [] and not isinstance(app.screen, ConfirmScreen)


async def test_a_word_typed_after_slash_in_the_detail_is_all_filter() -> None:
    actions = FakeActions()
    app = make_app(actions=actions)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        _burst(app, "/error")
        await pilot.pause()
        await pilot.pause()
        assert app.screen.query_one("#log-filter", Input).value == "error"
        assert actions.plan_calls == [] and not isinstance(app.screen, ConfirmScreen)


async def test_a_word_typed_after_slash_in_the_timeline_is_all_filter() -> None:
    actions = FakeActions()
    app = make_app(actions=actions)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        _burst(app, "/ready")
        await pilot.pause()
        await pilot.pause()
        assert app.screen.query_one("#timeline-filter", Input).value == "ready"
        assert actions.plan_calls == [] and not isinstance(app.screen, ConfirmScreen)
