"""A pod that cannot start, on the dashboard: the rwo-multi-attach scenario, driven as on-call
would. The row says what stops it, the header counts it, and ``f`` says what to change
instead of planning a restart that would meet the same cause."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.widgets import Static

from tests.actions.world import World
from tests.tui.conftest import SIZE, Recorder
from tests.tui.test_e2e_scenarios import confirmation, dashboard, in_state, rows, select, until
from tui.screens.confirm import ConfirmScreen
from tui.widgets.header import ClusterHeader


async def test_a_pod_blocked_on_a_readwriteonce_volume(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = start("rwo-multi-attach")
    app = dashboard(world, recorder, monkeypatch, "--refresh", "1")
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        (stuck,) = await until(pilot, lambda: in_state(app, "blocked"), "the pod shown blocked")
        row = rows(app)[stuck]
        assert row["state"] == "⊘ blocked" and row["progress"] == "volume attached to another node"
        header = str(app.screen.query_one(ClusterHeader).render())
        assert "1 blocked" in header, header
        select(app, stuck)
        dialog, text = await confirmation(pilot, "f")
        assert isinstance(dialog, ConfirmScreen) and dialog.plan.decision == "cannot-start"
        assert not dialog.plan.runnable and not dialog.plan.steps
        assert "ReadWriteOnce" in text and "Multi-Attach error" in text, text


async def test_a_download_its_liveness_probe_kills_gives_a_command_to_copy(
    start: Callable[..., World], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """liveness-kills-download: the row says the probe kills it; ``f`` is refused with the
    startup probe to set, a whole command apart from the prose, and ``c`` copies it."""
    world = start("liveness-kills-download", speed=640 * 1024)
    app = dashboard(world, recorder, monkeypatch, "--refresh", "1")
    async with app.run_test(size=SIZE, message_hook=recorder.hook) as pilot:
        (pod,) = await until(pilot, lambda: in_state(app, "failed"), "the pod shown failed", 30)
        row = rows(app)[pod]
        assert row["progress"].startswith("killed by liveness probe "), row
        select(app, pod)
        dialog, text = await confirmation(pilot, "f")
        assert isinstance(dialog, ConfirmScreen) and dialog.plan.decision == "probe-kills-start"
        (command,) = dialog.plan.commands
        assert command.startswith("kubectl -n smallest patch deployment lightning-asr -p ")
        shown = str(dialog.query_one("#confirm-commands", Static).content)
        assert shown == command and "run by hand" not in text, text
        assert "Copy command (c)" in text and "Confirm (y)" not in text, text
        await pilot.press("c")
        await pilot.pause()
        assert app.clipboard == command
