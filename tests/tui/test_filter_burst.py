"""`/` then a word typed in one burst (as a terminal delivers a fast typist's keys, or a paste)
goes to the filter whole: not a key of it may reach the list, where `r`, `d` and `f` plan
actions and `y` confirms one."""

from __future__ import annotations

import pytest
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


@pytest.mark.parametrize(
    ("opening", "word", "box"),
    [
        pytest.param((), "ready", "#filter", id="overview"),
        pytest.param(("enter",), "error", "#log-filter", id="detail"),
        pytest.param(("t",), "ready", "#timeline-filter", id="timeline"),
    ],
)
async def test_a_word_typed_after_slash_is_all_filter(
    opening: tuple[str, ...], word: str, box: str
) -> None:
    actions = FakeActions()
    app = make_app(actions=actions)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        if opening:  # the detail (the selected pod's) or the timeline
            await pilot.press(*opening)
            await pilot.pause()
        _burst(app, f"/{word}")
        await pilot.pause()
        await pilot.pause()
        assert app.screen.query_one(box, Input).value == word
        assert actions.plan_calls == [] and not isinstance(app.screen, ConfirmScreen)
