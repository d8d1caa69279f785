"""A fix with nothing to fix, on the dashboard: said so, not called a refusal, not in red."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.widgets import Static

from tests.actions.world import World
from tests.tui.conftest import SIZE, Recorder
from tests.tui.test_e2e_scenarios import confirmation, dashboard, in_state, select, until
from tui.screens.confirm import ConfirmScreen


async def test_a_fix_with_nothing_to_fix_says_so_not_refused(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = start("efs-shared")
    app = dashboard(world, recorder, monkeypatch, "--refresh", "1")
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        ready = await until(pilot, lambda: in_state(app, "ready"), "a ready pod")
        select(app, ready[0])
        dialog, text = await confirmation(pilot, "f")
        assert isinstance(dialog, ConfirmScreen) and dialog.plan.nothing_to_do
        said = str(dialog.query_one("#confirm-refused", Static).content)
        assert said == f"Nothing to fix: Pod {ready[0]} is ready.", said
        assert "Refused" not in text and "Close (esc)" in text and "Confirm (y)" not in text
        assert not dialog.query_one("#confirm-box").has_class("refused")
